"""Mouth-interior residual network: loading through the safe loader and its typed errors, the
untrained network returning the geometric paint exactly, confinement to the painted gap (every
other pixel equals the warp), a bounded smooth residual, and, on a real photo with teeth, the
photo's teeth kept with the network on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.errors import CheckpointError, WeightsNotFoundError
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.mouth_refiner import (
    MouthRefiner,
    MouthRefinerConfig,
    bundled_refiner,
    mouth_box,
    to_tensor,
)
from reconstruction.controls import control_set_for
from reconstruction.face_model import load_default_face_model
from weights.registry import bundled_dir


def _random_network(folder: Path, seed: int = 0) -> MouthRefiner:
    """A small network whose residual is not zero (a new one starts at zero)."""
    torch.manual_seed(seed)
    model = MouthRefiner(MouthRefinerConfig(channels=8))
    torch.nn.init.normal_(model.out.weight, std=0.5)
    torch.nn.init.constant_(model.out.bias, 0.5)
    model.save_pretrained(folder)
    return model.eval()


def test_a_saved_network_loads_back_the_same(tmp_path: Path) -> None:
    model = _random_network(tmp_path)
    loaded = bundled_refiner("pirender-mesh-v1", tmp_path)
    assert loaded is not None and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert bundled_refiner("bfm09-deep3d", tmp_path) is None  # trained for another face model


def test_missing_or_broken_weights_give_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="missing"):
        bundled_refiner("pirender-mesh-v1", tmp_path)
    _random_network(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        bundled_refiner("pirender-mesh-v1", tmp_path)
    other = tmp_path / "other"
    MouthRefiner(MouthRefinerConfig(channels=4)).save_pretrained(other)
    (other / "config.json").write_text('{"channels": 8}')
    with pytest.raises(CheckpointError, match="shape"):
        bundled_refiner("pirender-mesh-v1", other)


@pytest.fixture(scope="module")
def scene(astronaut: np.ndarray):
    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.detection import FaceDetector
    from reconstruction.fitting import fit_landmarks

    with FaceDetector() as detector:
        face = detector.detect_one(astronaut).face
        crop = crop_face(astronaut, crop_transform_for_face(face, astronaut.shape[:2]))
        landmarks = detector.detect_one(crop).face.landmarks
    model = load_default_face_model()
    coeffs = fit_landmarks(model, landmarks, (crop.shape[1], crop.shape[0]))
    return model, crop, coeffs


def test_the_network_changes_only_the_painted_gap(scene, tmp_path: Path) -> None:
    model, crop, coeffs = scene
    plain = GeometricRenderer(model)
    net = GeometricRenderer(model, PreviewSettings(mouth_net=True))
    net._mouth_net = _random_network(tmp_path)
    state = plain.prepare(crop, coeffs)
    target = control_set_for(model).apply(coeffs, {"open_mouth": 1.0})
    before, after = plain.render_frame(state, target), net.render_frame(state, target)
    assert before.overlay is not None and after.overlay is not None
    gap = before.overlay_alpha > 0.0
    assert gap.any()
    changed = np.any(before.crop != after.crop, axis=2)
    assert changed.any() and not (changed & ~gap).any()  # outside the gap: the warp, exactly
    factor = before.overlay.shape[0] // gap.shape[0]
    near = cv2.dilate(gap.astype(np.uint8), np.ones((3, 3), np.uint8))  # the fine overlay's bilinear reach
    near = cv2.resize(near, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST) > 0
    assert not np.any((before.overlay != after.overlay).any(axis=2) & ~near)
    np.testing.assert_array_equal(before.overlay_alpha, after.overlay_alpha)  # the rim is the renderer's
    np.testing.assert_array_equal(before.flow, after.flow)
    step = np.abs(after.crop.astype(int) - before.crop.astype(int)).max()
    assert 0 < step <= round(255 * MouthRefinerConfig().bound) + 1  # bounded


def test_an_untrained_network_returns_the_geometric_paint(scene) -> None:
    model, crop, coeffs = scene
    plain = GeometricRenderer(model)
    net = GeometricRenderer(model, PreviewSettings(mouth_net=True))
    net._mouth_net = MouthRefiner(MouthRefinerConfig(channels=8)).eval()  # last layer at zero
    state = plain.prepare(crop, coeffs)
    target = control_set_for(model).apply(coeffs, {"open_mouth": 1.0})
    before, after = plain.render_frame(state, target), net.render_frame(state, target)
    np.testing.assert_array_equal(before.crop, after.crop)
    np.testing.assert_array_equal(before.overlay, after.overlay)


def test_a_closed_mouth_never_runs_the_network(scene, tmp_path: Path) -> None:
    model, crop, coeffs = scene
    net = GeometricRenderer(model, PreviewSettings(mouth_net=True))
    net._mouth_net = _random_network(tmp_path)
    state = net.prepare(crop, coeffs)
    target = control_set_for(model).apply(coeffs, {"smile": 0.5})
    plain = dataclasses.replace(net.settings, mouth_net=False)
    out = net.render_frame(state, target).crop
    net.settings = plain
    np.testing.assert_array_equal(out, net.render_frame(state, target).crop)


def test_the_residual_is_coarse_bounded_and_confined_to_the_cover() -> None:
    torch.manual_seed(0)
    model = MouthRefiner(MouthRefinerConfig(channels=8))
    torch.nn.init.normal_(model.out.weight, std=5.0)
    model.eval()
    image = torch.rand(2, 3, 96, 96) * 2 - 1
    cover = torch.zeros(2, 1, 96, 96)
    cover[:, :, 30:60, 20:76] = 1.0
    lips, condition = torch.zeros(2, 1, 96, 96), torch.zeros(2, 5)
    residual = model(image, cover, lips, condition)
    assert residual.shape == (2, 3, 24, 24)
    assert residual.abs().max() <= 2 * model.config.bound + 1e-6
    out = model.correct(image, cover, lips, condition)
    outside = (cover == 0).expand_as(out)
    torch.testing.assert_close(out[outside], image[outside])


def test_the_box_follows_the_inner_lips(scene) -> None:
    model, crop, coeffs = scene
    renderer = GeometricRenderer(model)
    state = renderer.prepare(crop, coeffs)
    box = mouth_box(state.points, renderer.projector.layout.mouth, MouthRefinerConfig())
    assert box.lips.shape == (96, 96) and 0.02 < box.lips.mean() < 0.5
    ys, xs = np.nonzero(box.lips > 0.5)
    assert abs(xs.mean() - 48) < 6 and abs(ys.mean() - 48) < 6  # centred on the lips
    assert to_tensor(cv2.warpAffine(crop, box.matrix, (96, 96))).shape == (1, 3, 96, 96)


def test_the_shipped_files_load() -> None:
    model = bundled_refiner("pirender-mesh-v1")
    assert model is not None and model.config == MouthRefinerConfig()
    assert sum(p.numel() for p in model.parameters()) < 500_000
    assert (bundled_dir() / "mouth_refiner" / "model.safetensors").stat().st_size < 2_000_000


@pytest.mark.realdata
def test_an_opened_mouth_keeps_the_photos_teeth_with_the_network_on(shared_data: Path) -> None:
    """`test_geometric.py::test_an_opened_mouth_keeps_the_photos_teeth`'s dark gap, network on (the
    shipped weights)."""
    from pipeline import EngineRegistry
    from pipeline.photo import EditRequest, edit, prepare_photo
    from reconstruction.detection import FaceDetector

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "serengil__deepface__img1.jpg", registry=registry)
    renderer = registry.geometric(state.backend).renderer
    renderer.settings = dataclasses.replace(renderer.settings, mouth_net=True)
    out = edit(state, EditRequest(values={"open_mouth": 0.6}, engine="preview"), registry=registry).full_image
    with FaceDetector() as detector:
        lm = detector.detect_one(out).face.landmarks[:, :2].astype(np.float64)
    top, bottom, width = lm[13], lm[14], lm[308, 0] - lm[78, 0]
    height = bottom[1] - top[1]
    xs = slice(int(top[0] - 0.2 * width), int(top[0] + 0.2 * width))
    middle = out[int(top[1] + 0.4 * height) : int(top[1] + 0.6 * height), xs].astype(np.float32)
    lower = out[int(bottom[1] - 0.15 * height) : int(bottom[1]), xs].astype(np.float32)
    assert lower.mean() > middle.mean() + 30.0, (middle.mean(), lower.mean())
