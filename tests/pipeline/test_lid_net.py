"""The lid network (`pipeline.lid_net`): safe loading, confinement to the lid mask, the bounds of
round 2's output (no colour cast, no flat patch, white balance removed), the flag off leaves the
renderer untouched, and a real photo."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from core.errors import CheckpointError, WeightsNotFoundError
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.geometric import PreviewSettings
from pipeline.lid_net import (
    PATCH,
    LidNet,
    LidNetConfig,
    bundled_lid_net,
    eye_box,
    lay_residual,
    lid_mask,
    net_inputs,
    refine_shut_lids,
    shut_lids,
)

TINY = LidNetConfig(channels=4, latent_nc=8)


def _lids(cx: float, cy: float, half: float, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) (9, 2) lid curves of an eye centred at (cx, cy), `gap` px open at its middle."""
    xs = np.linspace(cx - half, cx + half, 9)
    bump = np.sin(np.linspace(0, np.pi, 9))
    return np.stack([xs, cy - 0.6 * gap * bump], 1), np.stack([xs, cy + 0.4 * gap * bump], 1)


def _busy(model: LidNet, smooth: bool = True, detail: bool = True) -> LidNet:
    """The model with non-zero output layers (a fresh one starts as the identity)."""
    torch.manual_seed(0)
    for head, on in ((model.smooth, smooth), (model.detail, detail)):
        if on:
            torch.nn.init.normal_(head.weight, std=0.5)
            torch.nn.init.normal_(head.bias, std=0.5)
    return model.eval()


def _boxes(n: int = 2, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    x = torch.rand(n, 7, PATCH[1], PATCH[0]) * 1.2 - 0.6
    x[:, 6] = 0.0
    x[:, 6, 8:32, 12:52] = 1.0
    return x


def test_forward_shapes_and_zero_outside_the_mask() -> None:
    model = _busy(LidNet(TINY))
    x = torch.rand(2, 7, PATCH[1], PATCH[0]) * 2 - 1
    x[:, 6] = 0.0
    x[:, 6, 10:30, 20:40] = 1.0
    out = model(x, torch.tensor([[1.0, 1.0], [0.7, 0.8]]))
    assert out.shape == (2, 3, PATCH[1], PATCH[0])
    assert torch.isfinite(out).all()
    assert torch.all(out[:, :, x[0, 6] == 0] == 0) and out.abs().max() > 0
    assert out.abs().max() <= TINY.residual_scale


def test_no_colour_cast_beyond_the_chroma_bound() -> None:
    """On a grey lid, whatever the weights, the residual's colour (its deviation from grey) stays
    within chroma_bound contrast scales: the network cannot tint a lid."""
    model = _busy(LidNet(TINY))
    x = _boxes(4)
    x[:, 1:3] = x[:, 0:1]  # a grey geometric patch
    out = model(x, torch.rand(4, 2))
    tint = (out - out.mean(1, keepdim=True)).norm(dim=1)
    bound = TINY.chroma_bound * TINY.scale_range[1] * 1.001
    assert tint.max() <= bound and out.abs().max() > 0


def test_the_detail_term_has_no_flat_patch() -> None:
    """The detail term alone is high-passed: its own blur is near zero everywhere, so it can draw
    lines and texture but not a patch of one tone (round 1's blotches)."""
    model = _busy(LidNet(TINY), smooth=False)
    x = _boxes(2)
    x[:, 6] = 1.0
    out = model(x, torch.rand(2, 2))
    blurred = torch.nn.functional.avg_pool2d(out, 9, stride=1)
    assert out.abs().max() > 0 and blurred.abs().max() < 0.35 * out.abs().max()


def test_exposure_and_white_balance_are_removed() -> None:
    """The same boxes a little brighter and warmer (one offset per channel, both images) get the
    same residual: the network sees them normalised."""
    model = _busy(LidNet(TINY))
    x = _boxes(2)
    shifted = x.clone()
    shifted[:, 0:3] += torch.tensor([0.08, 0.03, -0.05])[:, None, None]
    shifted[:, 3:6] += torch.tensor([0.08, 0.03, -0.05])[:, None, None]
    c = torch.rand(2, 2)
    assert torch.allclose(model(x, c), model(shifted, c), atol=1e-4)


def test_a_fresh_network_leaves_the_lid_as_it_is() -> None:
    x = torch.rand(1, 7, PATCH[1], PATCH[0])
    assert torch.all(LidNet(TINY)(x, torch.ones(1, 2)) == 0)


def test_gradients_flow_in_float64() -> None:
    """Through the image and through the descriptor's latent (AdaIN)."""
    model = _busy(LidNet(TINY)).double().train()
    x = torch.rand(1, 7, 8, 16, dtype=torch.float64, requires_grad=True)
    c = torch.rand(1, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: model(a, b).sum(), (x, c), eps=1e-6, atol=1e-4)


def test_save_and_load_round_trip(tmp_path) -> None:
    model = _busy(LidNet(TINY))
    model.save_pretrained(tmp_path)
    loaded = LidNet.from_pretrained(tmp_path)
    assert loaded.config == TINY
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_loading_never_unpickles(tmp_path) -> None:
    """A pickle in place of the safetensors file is refused, not run."""
    LidNet(TINY).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps({"weight": [1, 2, 3]}))
    with pytest.raises(CheckpointError, match="safetensors"):
        LidNet.from_pretrained(tmp_path)


def test_loading_refuses_other_shapes_and_missing_files(tmp_path) -> None:
    LidNet(TINY).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"channels": 8, "latent_nc": 8}')
    with pytest.raises(CheckpointError, match="does not match"):
        LidNet.from_pretrained(tmp_path)
    with pytest.raises(WeightsNotFoundError, match="missing"):
        bundled_lid_net("pirender-mesh-v1", tmp_path / "nowhere")


def test_the_residual_stays_inside_the_lid_mask() -> None:
    """Every crop pixel where the lid masks are zero keeps the geometric output; inside them the
    network's residual is added."""
    rng = np.random.default_rng(0)
    out = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    source = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    eyes = [
        (0, _lids(45, 60, 15, 10), _lids(45, 60, 15, 0.5)),
        (1, _lids(85, 60, 15, 10), _lids(85, 60, 15, 0.5)),
    ]
    before = out.copy()
    residual = refine_shut_lids(_busy(LidNet(TINY)), out, source, eyes, 1.0)
    inside = np.zeros((128, 128), bool)
    for _, s, t in eyes:
        mask, (x0, y0, x1, y1) = lid_mask(s, t, (128, 128))
        inside[y0:y1, x0:x1] |= mask > 0
    assert np.array_equal(out[~inside], before[~inside])
    assert np.all(residual[~inside] == 0) and np.any(out[inside] != before[inside])
    assert not inside[:, :25].any() and not inside[:30].any()  # the masks stay around the eyes


def test_the_residual_is_laid_at_the_photos_resolution_inside_its_footprint() -> None:
    """A crop residual on a 3x larger photo: the photo changes only where the residual reaches."""
    residual = np.zeros((64, 64, 3), np.float32)
    residual[20:30, 30:40] = 40.0
    photo = np.full((300, 300, 3), 100, np.uint8)
    to_crop = np.array([[1 / 3, 0.0, -10.0], [0.0, 1 / 3, -5.0]])  # photo (x, y) -> crop
    lay_residual(photo, residual, to_crop)
    changed = np.argwhere(np.any(photo != 100, axis=2))
    (y0, x0), (y1, x1) = changed.min(0), changed.max(0)
    assert 3 * 20 + 15 - 3 <= y0 and y1 <= 3 * 30 + 15 + 3 and 3 * 30 + 30 - 3 <= x0 and x1 <= 3 * 40 + 30 + 3
    assert photo[3 * 25 + 15, 3 * 35 + 30, 0] == 140


def test_without_a_model_nothing_changes() -> None:
    out = np.full((64, 64, 3), 100, np.uint8)
    assert (
        refine_shut_lids(None, out, out.copy(), [(0, _lids(32, 30, 10, 8), _lids(32, 30, 10, 0))], 1.0)
        is None
    )
    assert np.all(out == 100)


def test_eye_box_puts_the_eye_level_and_centred() -> None:
    """A tilted eye comes out level, its width 40 px, centred across the box."""
    turn = np.array([[0.96, 0.28], [-0.28, 0.96]])
    upper, lower = (curve @ turn for curve in _lids(50, 40, 20, 8))
    matrix = eye_box(upper, lower)
    a, b = (matrix[:, :2] @ p + matrix[:, 2] for p in (upper[0], upper[-1]))
    assert abs(a[1] - b[1]) < 1e-6 and abs((b[0] - a[0]) - 40.0) < 1e-6
    assert abs((a[0] + b[0]) / 2 - PATCH[0] / 2) < 1e-6
    crop = np.zeros((96, 96, 3), np.uint8)
    made = net_inputs(crop, crop, _lids(50, 40, 20, 8), _lids(50, 40, 20, 0.5))
    assert made is not None and made[0].shape == (PATCH[1], PATCH[0], 7)


def test_an_open_eye_is_not_shut() -> None:
    points = np.zeros((20, 2))
    up, lo = np.arange(9), np.arange(9, 18)
    points[up], points[lo] = _lids(40, 40, 15, 10)
    assert shut_lids(points, points, ((up, lo),), (96, 96)) == []


@pytest.fixture(scope="module")
def registry() -> EngineRegistry:
    return EngineRegistry(fast=False)


def test_the_flag_is_off_by_default_and_then_never_runs(astronaut, registry, monkeypatch) -> None:
    """Off (the default), the renderer never reaches the network: its output is the renderer's of
    before the flag existed."""
    assert not PreviewSettings().lid_net

    def refuse(*args, **kwargs):
        raise AssertionError("the lid network ran with the flag off")

    monkeypatch.setattr("pipeline.geometric.net_residual", refuse)
    state = prepare_photo(astronaut, registry=registry)
    out = edit(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry).full_image
    assert out.shape == astronaut.shape


@pytest.mark.realdata
@pytest.mark.slow
def test_a_real_photo_changes_only_its_shut_lids(shared_data, registry, monkeypatch) -> None:
    """SadTalker people_0 (a made-up lid), close_eyes 1 with the flag on (a network with busy
    output layers, so the test does not hang on the shipped weights): the crop differs from the
    geometric one only inside the lid masks, and the photo only around the eyes."""
    monkeypatch.setattr("pipeline.lid_net.shared_lid_net", lambda face_model: _busy(LidNet(TINY)))
    state = prepare_photo(shared_data / "images" / "OpenTalker__SadTalker__people_0.png", registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    settings = renderer.settings
    request = EditRequest({"close_eyes": 1.0}, engine="preview")
    frames, images = [], []
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(settings, lid_net=on)
            result = edit(state, request, registry=registry)
            frames.append(result.crop)
            images.append(result.full_image)
    finally:
        renderer.settings = settings
    preview = state.engine_state(engine)
    target = engine.renderer.projector.project(result.coeffs, preview.coeffs.identity, preview.size)
    eyes = shut_lids(preview.points, target, renderer.projector.layout.eyes, preview.size)
    assert len(eyes) == 2
    inside = np.zeros(preview.size, bool)
    for _, s, t in eyes:
        mask, (x0, y0, x1, y1) = lid_mask(s, t, preview.size)
        inside[y0:y1, x0:x1] |= mask > 0
    assert np.array_equal(frames[0][~inside], frames[1][~inside])
    assert np.abs(frames[0][inside].astype(int) - frames[1][inside]).max() > 0
    changed = np.any(images[0] != images[1], axis=2)
    ys, xs = np.nonzero(changed)
    lm = state.crop_transform.inverse_points(np.concatenate([t[0] for _, _, t in eyes]))
    assert ys.min() > lm[:, 1].min() - 0.6 * np.ptp(lm[:, 0]) and ys.max() < lm[:, 1].max() + 0.3 * np.ptp(
        lm[:, 0]
    )
