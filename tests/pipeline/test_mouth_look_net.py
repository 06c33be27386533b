"""Mouth look network: loading through the safe loader and its typed errors, every output inside
its range, the default look pixel-identical to the painter's own constants, and a chosen look
confined to the painted mouth (every other pixel equals the default rendering)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.errors import CheckpointError, WeightsNotFoundError
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.mouth_look import LOOK_RANGES, MouthLook, look_size
from pipeline.mouth_look_net import MouthLookConfig, MouthLookNet, bundled_look_net, source_patch
from pipeline.teeth import TOOTH_COLOUR
from reconstruction.controls import control_set_for
from reconstruction.face_model import load_default_face_model


def _random_network(folder: Path | None = None, seed: int = 0) -> MouthLookNet:
    """A small network whose outputs reach far from the default look."""
    torch.manual_seed(seed)
    model = MouthLookNet(MouthLookConfig(channels=4))
    torch.nn.init.normal_(model.head[-1].weight, std=2.0)
    if folder is not None:
        model.save_pretrained(folder)
    return model.eval()


def test_a_saved_network_loads_back_the_same(tmp_path: Path) -> None:
    model = _random_network(tmp_path)
    loaded = bundled_look_net("pirender-mesh-v1", tmp_path)
    assert loaded is not None and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert bundled_look_net("bfm09-deep3d", tmp_path) is None  # trained for another face model


def test_missing_broken_or_mismatched_weights_give_clear_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="missing"):
        bundled_look_net("pirender-mesh-v1", tmp_path)
    _random_network(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        bundled_look_net("pirender-mesh-v1", tmp_path)
    other = tmp_path / "other"
    MouthLookNet(MouthLookConfig(channels=4)).save_pretrained(other)
    (other / "config.json").write_text('{"channels": 8}')
    with pytest.raises(CheckpointError, match="does not match"):
        bundled_look_net("pirender-mesh-v1", other)
    (other / "config.json").write_text('{"colour": 8}')
    with pytest.raises(CheckpointError, match="unknown keys"):
        bundled_look_net("pirender-mesh-v1", other)


def test_every_output_lies_in_its_range() -> None:
    model = _random_network()
    patch = torch.rand(8, 3, 64, 64) * 2 - 1
    condition = torch.randn(8, MouthLookConfig.condition_nc) * 5
    unit = model(patch, condition)
    assert unit.shape == (8, look_size()) and unit.min() >= 0 and unit.max() <= 1
    for look in model.to_looks(unit):
        v = look.to_vector()
        assert np.all(v >= LOOK_RANGES[:, 0] - 1e-9) and np.all(v <= LOOK_RANGES[:, 1] + 1e-9)
    with pytest.raises(ValueError, match="out of range"):
        MouthLook(floor=5.0)
    clipped = MouthLook.from_vector(np.full(look_size(), 1e4))
    np.testing.assert_allclose(clipped.to_vector(), LOOK_RANGES[:, 1])


def test_the_default_look_is_the_painters_own_constants() -> None:
    assert np.array_equal(np.array(MouthLook().teeth), TOOTH_COLOUR)
    assert MouthLook.from_vector(MouthLook().to_vector()) == MouthLook()


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
    renderer = GeometricRenderer(model)
    state = renderer.prepare(crop, coeffs)
    target = control_set_for(model).apply(coeffs, {"open_mouth": 1.0})
    return model, state, target


def test_the_default_look_renders_pixel_identical(scene) -> None:
    model, state, target = scene
    plain = GeometricRenderer(model).render_frame(state, target)
    looked = GeometricRenderer(model, PreviewSettings(mouth_look=MouthLook())).render_frame(state, target)
    assert plain.overlay is not None
    np.testing.assert_array_equal(plain.crop, looked.crop)
    np.testing.assert_array_equal(plain.overlay, looked.overlay)
    np.testing.assert_array_equal(plain.overlay_alpha, looked.overlay_alpha)


def test_a_network_look_changes_only_the_painted_mouth(scene, tmp_path: Path) -> None:
    model, state, target = scene
    plain = GeometricRenderer(model)
    net = GeometricRenderer(model, PreviewSettings(mouth_net=True))
    net._look_net = _random_network(tmp_path)
    before, after = plain.render_frame(state, target), net.render_frame(state, target)
    gap = before.overlay_alpha > 0.0
    changed = np.any(before.crop != after.crop, axis=2)
    assert changed.any() and not (changed & ~gap).any()  # outside the painted gap: the default
    # The overlay's paint reaches a few crop pixels past the coverage (its bicubic reads there).
    factor = before.overlay.shape[0] // gap.shape[0]
    near = cv2.dilate(gap.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    fine_near = np.kron(near, np.ones((factor, factor), bool))
    fine_changed = np.any(before.overlay != after.overlay, axis=2)
    assert fine_changed.any() and not (fine_changed & ~fine_near).any()
    np.testing.assert_array_equal(before.overlay_alpha, after.overlay_alpha)  # the rim is the renderer's
    np.testing.assert_array_equal(before.flow, after.flow)


def test_the_photo_patch_is_centred_on_the_lips(scene) -> None:
    model, state, _ = scene
    layout = GeometricRenderer(model).projector.layout
    patch = source_patch(state.source, state.points, layout.mouth, MouthLookConfig())
    assert patch.shape == (64, 64, 3) and patch.dtype == np.uint8


def test_a_closed_mouth_is_the_same_with_any_look(scene) -> None:
    model, state, target = scene
    closed = dataclasses.replace(target, expression=state.coeffs.expression)
    plain = GeometricRenderer(model).render_frame(state, closed)
    look = MouthLook(cavity=(120.0, 90.0, 90.0), teeth=(100.0, 100.0, 100.0))
    other = GeometricRenderer(model, PreviewSettings(mouth_look=look)).render_frame(state, closed)
    np.testing.assert_array_equal(plain.crop, other.crop)


def test_the_shipped_files_load() -> None:
    model = bundled_look_net("pirender-mesh-v1")
    assert model is not None and model.config == MouthLookConfig()
    assert sum(p.numel() for p in model.parameters()) < 200_000


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
    renderer.settings = dataclasses.replace(renderer.settings, mouth_net=False)
    with FaceDetector() as detector:
        lm = detector.detect_one(out).face.landmarks[:, :2].astype(np.float64)
    top, bottom, width = lm[13], lm[14], lm[308, 0] - lm[78, 0]
    height = bottom[1] - top[1]
    xs = slice(int(top[0] - 0.2 * width), int(top[0] + 0.2 * width))
    middle = out[int(top[1] + 0.4 * height) : int(top[1] + 0.6 * height), xs].astype(np.float32)
    lower = out[int(bottom[1] - 0.15 * height) : int(bottom[1]), xs].astype(np.float32)
    assert lower.mean() > middle.mean() + 30.0, (middle.mean(), lower.mean())
