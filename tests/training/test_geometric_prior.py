"""The project's own renderer (issue 8): a PIRenderer whose warp is the geometric preview's.

Checked on a real face: an untrained refiner returns the geometric preview exactly (its
correction starts at zero), the engine's call shape, saving/loading, the registry choosing it,
the dataset's `warped` input, and a few training steps lowering the loss.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from pirender.config import GeneratorConfig
from pipeline.engines import OWN_NEURAL, EngineRegistry, GeometricEngine, GeometricPriorEngine
from core.errors import InputError
from pirender.generator import PIRenderer
from core.coefficients import DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence

ROWS = 32 + 9  # default face model: 32 expression + angles, translation, crop


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def photo(astronaut: np.ndarray) -> tuple[np.ndarray, FaceCoefficients]:
    """The astronaut's 256 crop and its default-backend coefficients."""
    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.detection import FaceDetector
    from reconstruction.face_model import load_default_face_model
    from reconstruction.fitting import fit_landmarks

    with FaceDetector() as detector:
        face = detector.detect_one(astronaut).face
        crop = crop_face(astronaut, crop_transform_for_face(face, astronaut.shape[:2]))
        landmarks = detector.detect_one(crop).face.landmarks
    return crop, fit_landmarks(load_default_face_model(), landmarks, (crop.shape[1], crop.shape[0]))


def _config(edit_scale: int = 2, refine_warp: bool = False) -> GeneratorConfig:
    return GeneratorConfig.geometric_refiner(ROWS, DEFAULT_FACE_MODEL, edit_scale=edit_scale, refine_warp=refine_warp)


def _turned(coeffs: FaceCoefficients, yaw_degrees: float) -> FaceCoefficients:
    angles = np.array(coeffs.angles, dtype=np.float32)
    angles[1] += np.deg2rad(yaw_degrees)
    return coeffs.replace(angles=angles)


def test_config_validation() -> None:
    config = _config()
    assert config.geometric_warp and not config.refine_warp and config.editing.residual and config.edit_scale == 2
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="warp_source"):
        dataclasses.replace(config, warp_source="optical-flow")
    with pytest.raises(InputError, match="edit_scale"):
        dataclasses.replace(GeneratorConfig.released(), edit_scale=2)
    with pytest.raises(InputError, match="refine_warp"):
        dataclasses.replace(GeneratorConfig.released(), refine_warp=True)
    with pytest.raises(InputError, match="motion_mask"):
        dataclasses.replace(GeneratorConfig.released(), motion_mask=4)
    with pytest.raises(InputError, match="flow_outside_face"):
        dataclasses.replace(config, flow_outside_face=True)  # no residual flow to confine
    hair = GeneratorConfig.geometric_refiner(ROWS, DEFAULT_FACE_MODEL, refine_warp=True, flow_outside_face=True)
    assert GeneratorConfig.from_dict(hair.to_dict()) == hair
    with pytest.raises(InputError, match="colour_correction"):
        dataclasses.replace(config, colour_correction=False)  # nothing left to learn
    with pytest.raises(InputError, match="colour_correction"):
        dataclasses.replace(GeneratorConfig.released(), colour_correction=False)
    with pytest.raises(InputError, match="flow_person_margin"):
        dataclasses.replace(config, flow_person_margin=12)  # no residual flow to confine


@pytest.mark.parametrize(("edit_scale", "refine_warp"), [(1, True), (2, True), (2, False)])
def test_untrained_refiner_returns_the_warp(edit_scale: int, refine_warp: bool) -> None:
    torch.manual_seed(0)
    model = PIRenderer(dataclasses.replace(_config(edit_scale), refine_warp=refine_warp)).eval()
    assert (model.warping_net is not None) == refine_warp
    source, warped = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    out = model(source, torch.randn(2, ROWS, 27), warped=warped)
    if refine_warp:  # residual flow (zero at the start) on the flow grid
        assert out.flow_field.shape == (2, 2, 64 // (4 * edit_scale), 64 // (4 * edit_scale))
        assert out.flow_field.abs().max() == 0
    else:
        assert out.flow_field is None
    torch.testing.assert_close(out.warp_image, warped, atol=1e-4, rtol=0)
    torch.testing.assert_close(out.fake_image, warped, atol=1e-4, rtol=0)
    with torch.no_grad():  # a trained correction changes the output
        model.editing_net.final[0].bias.fill_(0.1)
    assert (model(source, torch.randn(2, ROWS, 27), warped=warped).fake_image - warped).abs().mean() > 0.05


def test_corrections_stay_where_the_preview_moved_something() -> None:
    torch.manual_seed(3)
    model = PIRenderer(_config(refine_warp=True)).eval()
    assert model.config.motion_mask > 0
    with torch.no_grad():  # a "trained" refiner: non-zero flow and correction everywhere
        model.editing_net.final[0].bias.fill_(0.2)
        model.warping_net.flow_out[2].bias.fill_(1.5)
    source = torch.rand(1, 3, 256, 256) * 2 - 1
    warped = source.clone()
    warped[..., 120:136, 120:136] = 0.0  # the preview changed only this square
    out = model(source, torch.randn(1, ROWS, 27), warped=warped)
    far = torch.ones(256, 256, dtype=torch.bool)
    far[64:192, 64:192] = False  # beyond the square grown by the mask (12 px at 128, soft edge, flow cells)
    # the photo is kept (to float rounding of the identity resampling, far below a grey level)
    torch.testing.assert_close(out.fake_image[..., far], warped[..., far], atol=2e-4, rtol=0)
    assert (out.fake_image[..., 120:136, 120:136] - warped[..., 120:136, 120:136]).abs().mean() > 0.1
    open_model = PIRenderer(dataclasses.replace(model.config, motion_mask=0)).eval()
    open_model.load_state_dict(model.state_dict())
    assert (open_model(source, torch.randn(1, ROWS, 27), warped=warped).fake_image[..., far] - warped[..., far]).abs().mean() > 0.1


def test_flow_outside_face_keeps_the_face_where_the_preview_put_it() -> None:
    """With `flow_outside_face`, a trained residual flow moves hair and outline but never the face:
    there the result is the geometric warp plus the colour correction alone."""
    torch.manual_seed(4)
    config = dataclasses.replace(_config(refine_warp=True), flow_outside_face=True, motion_mask=0)
    model = PIRenderer(config).eval()
    with torch.no_grad():  # a "trained" refiner: a 3 px flow everywhere
        model.warping_net.flow_out[2].bias.fill_(3.0)
    source = torch.rand(1, 3, 256, 256) * 2 - 1
    warped = torch.rand(1, 3, 256, 256) * 2 - 1
    face = torch.zeros(1, 1, 256, 256)
    face[..., 64:192, 64:192] = 1.0
    descriptor = torch.randn(1, ROWS, 27)
    out = model(source, descriptor, warped=warped, face_mask=face, warp_only=True)
    inner = (slice(None), slice(None), slice(64, 192), slice(64, 192))  # the whole face, to its edge
    torch.testing.assert_close(out.warp_image[inner], warped[inner], atol=1e-4, rtol=0)
    outer = (slice(None), slice(None), slice(0, 48), slice(0, 48))
    assert (out.warp_image[outer] - warped[outer]).abs().mean() > 0.1  # hair and background do move
    free = PIRenderer(dataclasses.replace(config, flow_outside_face=False)).eval()
    free.load_state_dict(model.state_dict())
    assert (free(source, descriptor, warped=warped, warp_only=True).warp_image[inner] - warped[inner]).abs().mean() > 0.1
    with pytest.raises(InputError, match="face_mask"):
        model(source, descriptor, warped=warped)
    with pytest.raises(InputError, match="shape"):
        model(source, descriptor, warped=warped, face_mask=face[..., :128, :128])


def test_flow_only_generator_returns_the_moved_warp(tmp_path: Path) -> None:
    """Without colour correction there is no editing network; the result is the warp moved by the flow."""
    torch.manual_seed(5)
    config = dataclasses.replace(_config(refine_warp=True), flow_outside_face=True, colour_correction=False)
    model = PIRenderer(config).eval()
    assert model.editing_net is None and model.prepare_source(torch.zeros(1, 3, 64, 64)).edit_feature is None
    with torch.no_grad():
        model.warping_net.flow_out[2].bias.fill_(2.0)
    source, warped = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    face, descriptor = torch.zeros(2, 1, 64, 64), torch.randn(2, ROWS, 27)
    out = model(source, descriptor, warped=warped, face_mask=face)
    assert out.fake_image is out.warp_image and (out.warp_image - warped).abs().mean() > 0.05
    model.save_pretrained(tmp_path / "flow")
    loaded = PIRenderer.from_pretrained(tmp_path / "flow")
    assert loaded.editing_net is None
    torch.testing.assert_close(loaded(source, descriptor, warped=warped, face_mask=face).fake_image, out.fake_image)


def test_flow_stays_near_the_person() -> None:
    """With `flow_person_margin`, background farther than the margin from the person never moves."""
    torch.manual_seed(6)
    config = dataclasses.replace(
        _config(refine_warp=True), colour_correction=False, flow_person_margin=12, motion_mask=0
    )
    model = PIRenderer(config).eval()
    with torch.no_grad():
        model.warping_net.flow_out[2].bias.fill_(3.0)
    source, warped = torch.rand(1, 3, 256, 256) * 2 - 1, torch.rand(1, 3, 256, 256) * 2 - 1
    person = torch.zeros(1, 1, 256, 256)
    person[..., 96:256, 64:192] = 1.0  # a person standing in the middle, background around
    descriptor = torch.randn(2, ROWS, 27)
    out = model(source, descriptor, warped=warped.expand(2, -1, -1, -1), person_mask=person)
    far = (slice(None), slice(None), slice(0, 64), slice(None))  # more than 12 px + a flow cell above the person
    torch.testing.assert_close(out.fake_image[far], warped.expand(2, -1, -1, -1)[far], atol=1e-4, rtol=0)
    near = (slice(None), slice(None), slice(120, 240), slice(80, 176))
    assert (out.fake_image[near] - warped[near]).abs().mean() > 0.1  # the person does move
    with pytest.raises(InputError, match="person_mask"):
        model(source, descriptor, warped=warped.expand(2, -1, -1, -1))
    with pytest.raises(InputError, match="shape"):
        model(source, descriptor, warped=warped.expand(2, -1, -1, -1), person_mask=person[..., :128])


def test_residual_flow_moves_the_warp() -> None:
    from pirender.flow import remap_by_flow

    image = torch.rand(1, 3, 32, 32)
    shift = torch.zeros(1, 2, 8, 8)
    shift[:, 0] = 2.0  # every output pixel shows the image 2 px to its right
    moved = remap_by_flow(image, shift)
    torch.testing.assert_close(moved[..., :, :-2], image[..., :, 2:], atol=1e-4, rtol=0)
    torch.testing.assert_close(remap_by_flow(image, torch.zeros(1, 2, 32, 32)), image, atol=1e-4, rtol=0)


def test_warped_input_is_required_and_checked() -> None:
    model = PIRenderer(_config()).eval()
    source = torch.zeros(1, 3, 64, 64)
    with pytest.raises(InputError, match="geometric"):
        model(source, torch.zeros(1, ROWS, 27))
    with pytest.raises(InputError, match="shape"):
        model(source, torch.zeros(2, ROWS, 27), warped=torch.zeros(1, 3, 64, 64))
    network = PIRenderer(GeneratorConfig.small())
    with pytest.raises(InputError, match="only for geometric"):
        network(torch.zeros(1, 3, 64, 64), torch.zeros(1, 73, 27), warped=torch.zeros(1, 3, 64, 64))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = PIRenderer(_config(refine_warp=True))
    for p in model.parameters():
        p.data.add_(0.01 * torch.randn_like(p))
    model.save_pretrained(tmp_path / "own")
    loaded = PIRenderer.from_pretrained(tmp_path / "own")
    assert loaded.config == model.config and loaded.warping_net is not None
    source, warped, d = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1, torch.randn(1, ROWS, 27)
    torch.testing.assert_close(loaded(source, d, warped=warped).fake_image, model.eval()(source, d, warped=warped).fake_image)


def test_engine_draws_the_preview_then_refines_it(photo) -> None:
    crop, coeffs = photo
    geometric = GeometricEngine(DEFAULT_FACE_MODEL)
    engine = GeometricPriorEngine(PIRenderer(_config()), geometric)
    state = engine.prepare(crop, coeffs)
    target = _turned(coeffs, 12.0)
    preview = geometric.render(geometric.prepare(crop, coeffs), target)
    refined = engine.render(state, target)
    assert refined.shape == crop.shape and refined.dtype == np.uint8
    assert np.abs(refined.astype(int) - preview.astype(int)).max() <= 1  # zero correction: the preview
    assert np.abs(preview.astype(int) - crop.astype(int)).mean() > 1.0  # ... which did turn the head
    motion = MotionSequence.from_frames([coeffs, target, _turned(coeffs, -8.0)])
    done: list[tuple[int, int]] = []
    frames = list(engine.render_sequence(state, motion, batch_size=2, progress=lambda d, t: done.append((d, t))))
    assert len(frames) == 3 and done[-1] == (3, 3)
    np.testing.assert_array_equal(engine.render_motion(state, motion, [1])[0], frames[1])
    with pytest.raises(InputError):
        GeometricPriorEngine(PIRenderer(GeneratorConfig.small()), geometric)


def test_registry_serves_a_geometric_prior_renderer(photo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "weights"))
    PIRenderer(_config()).save_pretrained(tmp_path / "renderer")
    registry = EngineRegistry(own_dir=tmp_path / "renderer", fast=True)
    engine = registry.select("auto", "default", DEFAULT_FACE_MODEL)
    assert isinstance(engine, GeometricPriorEngine) and engine.name == OWN_NEURAL
    crop, coeffs = photo
    assert engine.render(engine.prepare(crop, coeffs), _turned(coeffs, 5.0)).shape == crop.shape


@pytest.fixture(scope="module")
def turning_dataset(photo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short 'videos' made from the real photo: its head turned and its mouth opened by the preview."""
    from pipeline.geometric import GeometricRenderer
    from training.dataset import DatasetManifest, VideoEntry, VideoRecord

    crop, coeffs = photo
    renderer = GeometricRenderer(DEFAULT_FACE_MODEL)
    state = renderer.prepare(crop, coeffs)
    root = tmp_path_factory.mktemp("turning") / "dataset"
    (root / "videos").mkdir(parents=True)
    entries = []
    for number, split in enumerate(("train", "test")):
        records = [_turned(coeffs, float(y)) for y in np.linspace(-10, 10, 6) * (1 if number == 0 else -1)]
        frames = [crop if i == 0 else renderer.render(state, r) for i, r in enumerate(records)]
        records[0] = coeffs
        name = f"turn{number}"
        VideoRecord.from_frames(name, frames, MotionSequence.from_frames(records)).save(root / "videos" / f"{name}.npz")
        entries.append(VideoEntry(name, f"videos/{name}.npz", split, f"id{number}", len(frames), 25.0))
    DatasetManifest(root, DEFAULT_FACE_MODEL, 256, tuple(entries)).save()
    return root


def test_dataset_gives_the_preview_as_warped_input(turning_dataset: Path, photo) -> None:
    from pipeline.geometric import GeometricRenderer
    from training.dataset import PairDataset

    ds = PairDataset(turning_dataset, "train", geometric_warp=True)
    item = ds[3]
    record, _ = ds.video(0)
    renderer = GeometricRenderer(DEFAULT_FACE_MODEL)
    source = record.frame(item["source_frame"])
    expected = renderer.render(
        renderer.prepare(source, record.motion.frame(item["source_frame"])), record.motion.frame(item["target_frame"])
    )
    got = ((item["warped"].permute(1, 2, 0) + 1) * 127.5).round().numpy()
    np.testing.assert_allclose(got, expected, atol=0.51)
    assert "warped" not in PairDataset(turning_dataset, "train")[3]
    assert "face_mask" not in item
    with_face = PairDataset(turning_dataset, "train", geometric_warp=True, face_mask=True, color_jitter=1.0)[3]
    face = with_face["face_mask"]
    assert face.shape == (1, 256, 256) and 0 <= float(face.min()) and float(face.max()) <= 1
    expected_face = renderer.face_mask(
        renderer.prepare(source, record.motion.frame(item["source_frame"])), record.motion.frame(item["target_frame"])
    )
    np.testing.assert_allclose(face[0].numpy() * 255, expected_face, atol=0.51)  # colour jitter leaves it alone
    with pytest.raises(InputError, match="geometric_warp"):
        PairDataset(turning_dataset, "train", face_mask=True)
    from reconstruction.segmentation import PersonSegmenter

    both = PairDataset(turning_dataset, "train", geometric_warp=True, face_mask=True, person_mask=True)[3]
    np.testing.assert_array_equal(both["face_mask"].numpy(), face.numpy())
    with PersonSegmenter() as segmenter:
        expected_person = segmenter.person_mask(source)
    np.testing.assert_allclose(both["person_mask"][0].numpy(), expected_person, atol=0.51 / 255)
    torch.testing.assert_close(both["warped"], item["warped"])


def test_face_mask_covers_the_turned_face(photo) -> None:
    from pipeline.geometric import GeometricRenderer

    crop, coeffs = photo
    renderer = GeometricRenderer(DEFAULT_FACE_MODEL)
    state = renderer.prepare(crop, coeffs)
    here, turned = renderer.face_mask(state, coeffs), renderer.face_mask(state, _turned(coeffs, 20.0))
    assert here.shape == crop.shape[:2] and here.dtype == np.uint8
    area = (here > 127).mean()
    assert 0.12 < area < 0.6  # the face, not the whole crop
    points = state.points[:, :2].round().astype(int)
    assert (here[points[:, 1], points[:, 0]] > 0).all()  # every mesh point of the photo's face is inside
    assert (here != turned).mean() > 0.01  # it follows the target, not the photo


def test_engine_passes_the_face_mask(photo) -> None:
    crop, coeffs = photo
    geometric = GeometricEngine(DEFAULT_FACE_MODEL)
    config = dataclasses.replace(_config(refine_warp=True), flow_outside_face=True)
    engine = GeometricPriorEngine(PIRenderer(config), geometric)
    target = _turned(coeffs, 12.0)
    preview = geometric.render(geometric.prepare(crop, coeffs), target)
    refined = engine.render(engine.prepare(crop, coeffs), target)
    assert np.abs(refined.astype(int) - preview.astype(int)).max() <= 1  # untrained: the preview
    person_engine = GeometricPriorEngine(PIRenderer(dataclasses.replace(config, flow_person_margin=12)), geometric)
    state = person_engine.prepare(crop, coeffs)
    assert state.person_mask.shape == (1, 1, 256, 256) and float(state.person_mask[..., 128, 128]) > 0.9
    assert np.abs(person_engine.render(state, target).astype(int) - preview.astype(int)).max() <= 1


def test_a_few_steps_lower_the_loss(turning_dataset: Path, tmp_path: Path) -> None:
    from training.config import LossConfig, OptimConfig, TrainConfig
    from training.dataset import PairDataset
    from training.trainer import Trainer

    config = TrainConfig(
        warp_iterations=0,
        total_iterations=30,
        batch_size=2,
        num_workers=0,
        image_size=64,
        log_every=100,
        sample_every=1000,
        checkpoint_every=1000,
        tensorboard=False,
        optim=OptimConfig(lr=1e-3, ema_decay=0.0),
        loss=LossConfig(pixel_only=True),
    )
    torch.manual_seed(0)
    model = PIRenderer(GeneratorConfig.geometric_refiner(ROWS, DEFAULT_FACE_MODEL, image_size=64, edit_scale=1, refine_warp=True))
    ds = PairDataset(turning_dataset, "train", image_size=64, geometric_warp=True)
    trainer = Trainer(config, model, ds, tmp_path / "run")
    assert trainer.stage_at(0) == "full"
    batch = {k: torch.stack([ds[i][k] for i in range(6)]) for k in ("source", "descriptor", "warped")}
    batch["target"] = (batch["warped"] + 1) * 0.8 - 1  # a systematic error of the warp to repair
    first = trainer.train_step(batch)
    assert set(first) >= {"l1", "ssim", "warp_l1", "loss"}  # the residual flow has its warp loss
    for _ in range(29):
        last = trainer.train_step(batch)
    assert last["loss"] < 0.7 * first["loss"]


def test_trainer_feeds_the_face_mask(turning_dataset: Path, tmp_path: Path) -> None:
    """A flow-only generator kept off the face and near the person trains from the dataset's face
    and person masks (and the sample grid renders with them)."""
    from cli.train import _for_dataset, _generator_config
    from training.config import LossConfig, OptimConfig, TrainConfig
    from training.dataset import PairDataset
    from training.trainer import Trainer

    config = TrainConfig(
        warp_iterations=0, total_iterations=5, batch_size=2, num_workers=0, image_size=64, log_every=100,
        sample_every=1000, checkpoint_every=1000, tensorboard=False, num_samples=2,
        optim=OptimConfig(lr=1e-3, ema_decay=0.0), loss=LossConfig(pixel_only=True),
    )
    generator = dataclasses.replace(
        _for_dataset(_generator_config("hair-flow-person"), str(turning_dataset)), image_size=64, edit_scale=1
    )
    torch.manual_seed(0)
    ds = PairDataset(turning_dataset, "train", image_size=64, geometric_warp=True, face_mask=True, person_mask=True)
    trainer = Trainer(config, PIRenderer(generator), ds, tmp_path / "run", sample_dataset=ds)
    keys = ("source", "target", "descriptor", "warped", "face_mask", "person_mask")
    batch = {k: torch.stack([ds[i][k] for i in range(4)]) for k in keys}
    for _ in range(5):
        record = trainer.train_step(batch)
    assert np.isfinite(record["loss"]) and record["warp_l1"] > 0
    model = trainer.model.eval()
    with torch.no_grad():
        out = model(
            batch["source"], batch["descriptor"], warped=batch["warped"], face_mask=batch["face_mask"],
            person_mask=batch["person_mask"],
        )
    assert out.flow_field.abs().max() > 0  # it learnt a flow ...
    inside = batch["face_mask"] > 0  # anywhere on the face
    torch.testing.assert_close(out.fake_image[inside.expand_as(out.fake_image)], batch["warped"][inside.expand_as(batch["warped"])], atol=1e-4, rtol=0)
    assert trainer.sample_grid().shape == (2 * 64, 4 * 64, 3)
