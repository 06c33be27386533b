"""Mouth and eye refiner: shapes, save/load round trip, bad weights, the output confined to the
region masks (pixels outside equal the warp exactly), no NaN, gradients."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.coefficients import FaceCoefficients
from core.errors import CheckpointError, InputError, WeightsNotFoundError
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.mouth_refiner import (
    EYE,
    MOUTH,
    MouthRefiner,
    MouthRefinerConfig,
    descriptor_for,
    refine_crop,
    region_gates,
    regions_for,
    shut_lid_mask,
)
from pipeline.photo import Canvas, place_frame
from pipeline.renderer import RenderedFrame
from reconstruction.controls import control_set_for
from reconstruction.crop import CropTransform, crop_face, crop_transform_for_face
from reconstruction.detection import FaceDetector
from reconstruction.face_model import load_default_face_model
from reconstruction.fitting import fit_landmarks

TINY = MouthRefinerConfig(expression_nc=4, latent_nc=8, channels=4)


def _model(config: MouthRefinerConfig = TINY, seed: int = 0) -> MouthRefiner:
    torch.manual_seed(seed)
    model = MouthRefiner(config)
    with torch.no_grad():  # the output conv starts at zero (identity); make it do something
        model.out.weight.normal_(0.0, 0.3)
        model.out.bias.normal_(0.0, 0.3)
    return model.eval()


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """An opening's upper and lower curve, left to right: (n, 2) each."""
    t = np.linspace(np.pi, 0.0, n)
    upper = np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)
    lower = np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)
    return upper, lower


def _face(mouth_open: float = 10.0, eyes_open: float = 6.0) -> tuple[np.ndarray, SimpleNamespace]:
    """Points of a synthetic mesh (mouth + two eyes) in a 256 px crop and its layout."""
    curves = [
        _ellipse(128, 180, 30, mouth_open),
        _ellipse(90, 110, 16, eyes_open),
        _ellipse(166, 110, 16, eyes_open),
    ]
    points, index, layout_curves = [], 0, []
    for upper, lower in curves:
        points += [upper, lower]
        layout_curves.append((np.arange(index, index + 8), np.arange(index + 8, index + 16)))
        index += 16
    layout = SimpleNamespace(mouth=layout_curves[0], eyes=tuple(layout_curves[1:]))
    return np.concatenate(points), layout


def _coeffs(value: float = 0.0) -> FaceCoefficients:
    return FaceCoefficients(
        face_model=TINY.face_model,
        expression=np.full(4, value, np.float32),
        angles=np.zeros(3, np.float32),
        translation=np.zeros(3, np.float32),
        crop=np.array([1.0, 112.0, 112.0], np.float32),
    )


def test_forward_shapes_and_identity_at_init() -> None:
    model = MouthRefiner(TINY).eval()
    for kind, (w, h) in ((MOUTH, TINY.mouth_size), (EYE, TINY.eye_size)):
        warp = torch.rand(2, 3, h, w) * 2 - 1
        out = model(
            warp, warp, torch.ones(2, 1, h, w), torch.zeros(2, TINY.descriptor_nc), torch.full((2,), kind)
        )
        assert out.shape == (2, 3, h, w)
        torch.testing.assert_close(out, warp)  # zero-initialised output conv: starts as the warp


def test_gradient_tiny_float64() -> None:
    model = _model().double()
    warp = (torch.rand(1, 3, 8, 8, dtype=torch.float64) * 0.5).requires_grad_()
    mask = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    descriptor = torch.zeros(1, TINY.descriptor_nc, dtype=torch.float64)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return model(x, x, mask, descriptor, torch.tensor([MOUTH]))

    assert torch.autograd.gradcheck(fn, (warp,), eps=1e-6, atol=1e-4)


def test_save_load_round_trip(tmp_path) -> None:
    model = _model()
    model.save_pretrained(tmp_path)
    loaded = MouthRefiner.from_pretrained(tmp_path)
    assert loaded.config == TINY
    warp = torch.rand(1, 3, 64, 64) * 2 - 1
    args = (warp, warp, torch.ones(1, 1, 64, 64), torch.randn(1, TINY.descriptor_nc), torch.tensor([MOUTH]))
    with torch.no_grad():
        torch.testing.assert_close(loaded(*args), model(*args))


def test_bad_weights_raise_typed_errors(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError):
        MouthRefiner.from_pretrained(tmp_path / "absent")
    _model().save_pretrained(tmp_path / "truncated")
    (tmp_path / "truncated" / "model.safetensors").write_bytes(b"\x00\x01 not safetensors")
    with pytest.raises(CheckpointError):
        MouthRefiner.from_pretrained(tmp_path / "truncated")
    _model().save_pretrained(tmp_path / "other")
    other = MouthRefinerConfig(expression_nc=4, latent_nc=8, channels=6)
    (tmp_path / "other" / "config.json").write_text(json.dumps(other.to_dict()))
    with pytest.raises(CheckpointError, match="shape"):
        MouthRefiner.from_pretrained(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_text('{"colour": 3}')
    with pytest.raises(CheckpointError, match="unknown"):
        MouthRefiner.from_pretrained(tmp_path / "other")


def test_descriptor_checks_the_expression_size() -> None:
    assert descriptor_for(_coeffs(1.0), _coeffs(0.0), TINY).shape == (TINY.descriptor_nc,)
    wrong = FaceCoefficients(TINY.face_model, np.zeros(7), np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(InputError, match="expression"):
        descriptor_for(wrong, _coeffs(), TINY)


def test_regions_and_masks() -> None:
    points, layout = _face()
    regions = regions_for(points, layout, TINY)
    assert [r.kind for r in regions] == [MOUTH, EYE, EYE]
    for r in regions:
        w, h = r.size
        assert r.mask.shape == (h, w) and r.mask.dtype == np.float32
        assert r.mask.max() == pytest.approx(1.0, abs=1e-3) and r.mask.min() == 0.0
        assert not r.mask[:2].any() and not r.mask[-2:].any() and not r.mask[:, :2].any()


def test_output_confined_to_the_masks() -> None:
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    source = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    target_points, layout = _face(mouth_open=14.0, eyes_open=1.0)
    source_points, _ = _face(mouth_open=1.0, eyes_open=6.0)
    descriptor = descriptor_for(_coeffs(1.0), _coeffs(), TINY)
    refined, cover, detail = refine_crop(
        _model(), crop, source, target_points, source_points, layout, descriptor
    )
    assert refined.shape == crop.shape and refined.dtype == np.uint8
    assert cover.shape == (256, 256) and np.isfinite(cover).all()
    outside = cover <= 0.0
    assert outside.mean() > 0.8  # the regions are small
    np.testing.assert_array_equal(refined[outside], crop[outside])
    assert (refined[cover > 0.5] != crop[cover > 0.5]).any()  # it does change the regions
    assert cover[180, 128] > 0.9 and cover[110, 90] > 0.9 and cover[110, 166] > 0.9  # mouth, eyes
    assert cover[30, 30] == 0.0 and cover[250, 128] == 0.0
    assert detail[110, 90] == 1.0 and detail[180, 128] == 0.0  # the lids keep the photo's grain
    assert not detail[outside].any()


def test_eyes_that_open_wider_keep_the_warp() -> None:
    crop = np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    target_points, layout = _face(mouth_open=1.0, eyes_open=12.0)
    source_points, _ = _face(mouth_open=1.0, eyes_open=6.0)
    assert shut_lid_mask(target_points, source_points, layout, (256, 256)).max() == 0.0
    descriptor = descriptor_for(_coeffs(1.0), _coeffs(), TINY)
    refined, cover, _ = refine_crop(_model(), crop, crop, target_points, source_points, layout, descriptor)
    np.testing.assert_array_equal(refined, crop)
    assert not cover.any()


def test_place_frame_keeps_the_photos_detail_under_a_refined_lid() -> None:
    rng = np.random.default_rng(4)
    photo = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)  # 4 photo pixels per crop pixel
    transform = CropTransform.from_box(512.0, 512.0, 1024.0, (1024, 1024), crop_size=256)
    flow = np.zeros((256, 256, 2), np.float32)
    flow[100:140, 100:140] = 0.5
    overlay = np.full((256, 256, 3), 128, np.uint8)
    alpha = np.zeros((256, 256), np.float32)
    alpha[110:130, 110:130] = 1.0
    canvas = Canvas(photo, transform)
    flat = place_frame(canvas, RenderedFrame(overlay, flow, overlay, alpha))
    kept = place_frame(canvas, RenderedFrame(overlay, flow, overlay, alpha, overlay_detail=alpha))
    inside = (slice(460, 500), slice(460, 500))
    assert kept[inside].std() > 5.0 * flat[inside].std()  # the photo's grain on the overlay's tone
    assert abs(float(kept[inside].mean()) - 128.0) < 8.0
    np.testing.assert_array_equal(kept[:300], flat[:300])  # outside the lid: as without


def test_unchanged_openings_keep_the_warp() -> None:
    crop = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    points, layout = _face()
    moved = points + [3.0, -2.0]  # the head moves, the openings keep their shape
    assert region_gates(moved, points, layout) == [0.0, 0.0, 0.0]
    descriptor = descriptor_for(_coeffs(), _coeffs(), TINY)
    refined, cover, _ = refine_crop(_model(), crop, crop, moved, points, layout, descriptor)
    np.testing.assert_array_equal(refined, crop)
    assert not cover.any()


def test_painted_coverage_limits_the_mouth() -> None:
    rng = np.random.default_rng(2)
    crop = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    target_points, layout = _face(mouth_open=14.0)
    source_points, _ = _face(mouth_open=1.0)
    painted = np.zeros((256, 256), np.float32)
    painted[176:184, 110:146] = 1.0  # only the middle of the gap was synthesised
    descriptor = descriptor_for(_coeffs(1.0), _coeffs(), TINY)
    _, cover, _ = refine_crop(
        _model(), crop, crop, target_points, source_points, layout, descriptor, painted=painted
    )
    assert cover[180, 128] > 0.9
    assert cover[180, 100] == 0.0  # in the opening, but the photo's own pixels: kept


def test_no_nan_on_extreme_input() -> None:
    model = _model()
    for value in (-1.0, 1.0):
        warp = torch.full((2, 3, 32, 48), value)
        out = model(
            warp,
            -warp,
            torch.ones(2, 1, 32, 48),
            torch.full((2, TINY.descriptor_nc), 1e3),
            torch.tensor([EYE, EYE]),
        )
        assert torch.isfinite(out).all() and out.abs().max() <= 1.0


def test_geometric_renderer_lays_the_refined_regions_into_its_overlay(astronaut: np.ndarray) -> None:
    detector = FaceDetector()
    try:
        face = detector.detect_one(astronaut).face
        crop = crop_face(astronaut, crop_transform_for_face(face, astronaut.shape[:2]))
        landmarks = detector.detect_one(crop).face.landmarks
    finally:
        detector.close()
    model = load_default_face_model()
    coeffs = fit_landmarks(model, landmarks, (crop.shape[1], crop.shape[0]))
    config = MouthRefinerConfig(expression_nc=coeffs.expression.shape[0], latent_nc=8, channels=4)
    settings = PreviewSettings(refine=True, refine_regions=(MOUTH, EYE))
    refined = GeometricRenderer(model, settings, refiner=_model(config))
    plain = GeometricRenderer(model, PreviewSettings(refine=False))
    assert plain.refiner is None
    state = plain.prepare(crop, coeffs)
    target = control_set_for(model).apply(coeffs, {"open_mouth": 1.0, "close_eyes": 1.0})
    with_net, without = refined.render_frame(state, target), plain.render_frame(state, target)
    np.testing.assert_array_equal(with_net.flow, without.flow)
    alpha = with_net.overlay_alpha
    assert alpha is not None and np.all(alpha >= without.overlay_alpha)
    outside = alpha <= 0.0
    np.testing.assert_array_equal(with_net.crop[outside], without.crop[outside])
    assert (with_net.crop[alpha > 0.5] != without.crop[alpha > 0.5]).any()
