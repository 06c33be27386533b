"""The neck's fade to still shoulders: on a synthetic face's flow (the neck's flow is 0 by the shoulder
line, the hair beside the head moves as before) and on a real photo (the collar stays at yaw -20)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.coefficients import DEFAULT_FACE_MODEL
from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.neck import JAW_RISE, NECK_REACH, shoulder_fade
from pipeline.photo import target_coefficients
from reconstruction.crop import crop_mask


def _face(size: int = 128, shift: tuple[float, float] = (6.0, 0.0)) -> tuple[np.ndarray, np.ndarray, float]:
    """A face-like ellipse on a (size, size) grid moving by `shift` crop pixels (one grid pixel per
    crop pixel): its (h, w, 2) flow (0 outside), (h, w) cover and chin row."""
    cover = np.zeros((size, size), np.float32)
    cv2.ellipse(cover, (size // 2, 50), (24, 32), 0, 0, 360, 1.0, -1)
    flow = np.zeros((size, size, 2), np.float32)
    flow[cover > 0.5] = shift
    return flow, cover, float(np.nonzero(cover)[0].max())


def _renderer(neck: bool) -> GeometricRenderer:
    return GeometricRenderer(DEFAULT_FACE_MODEL, PreviewSettings(neck=neck))


def test_the_neck_stops_at_the_shoulder_line_and_the_hair_beside_the_head_moves_as_before() -> None:
    flow, cover, chin = _face()
    face_size = 64.0
    old = _renderer(neck=False)._extend(flow, cover, face_size, 1.0)
    new = _renderer(neck=True)._extend(flow, cover, face_size, 1.0, chin)
    shoulders = int(np.ceil(chin + NECK_REACH * face_size))
    assert np.abs(old[shoulders:, 40:88]).max() > 1.0  # the current fade reaches into the clothes
    assert np.abs(new[shoulders:]).max() < 0.01
    # Beside the head above the jaw (hair, ears) and the face itself: unchanged.
    above_jaw = int(chin - JAW_RISE * face_size)
    np.testing.assert_allclose(new[:above_jaw], old[:above_jaw], atol=1e-5)
    assert np.abs(new[30:50, 30:38, 0]).min() > 1.0  # ... where the hair does move
    # The neck under the chin moves with the chin and fades smoothly (no step from row to row).
    column = new[int(chin) + 1 : shoulders + 1, 64, 0]
    assert column[0] > 5.0 and np.all(np.diff(column) <= 1e-6)
    assert np.abs(np.diff(column)).max() < 1.5 * 6.0 / (NECK_REACH * face_size) + 0.05


def test_a_nod_fades_over_a_long_enough_neck() -> None:
    """The vertical motion fades over at least 4.5 times the jaw's lift: the neck stretches <= 1.5x."""
    flow, cover, chin = _face(shift=(0.0, 8.0))
    fade = shoulder_fade(flow, cover, chin, 64.0, 4.5)
    assert fade is not None
    rows = np.arange(128, dtype=np.float64)
    below = int(chin) + 1
    v = 8.0 * fade[below:, 64, 1]
    reads = rows[below:] + v  # the photo row each output row shows
    assert np.diff(reads).min() > 1.0 / 1.5 - 1e-3 and np.diff(reads).max() < 1.5
    assert fade[below + int(NECK_REACH * 64), 64, 1] > 0.1  # longer than the shoulder line
    assert shoulder_fade(flow, np.zeros_like(cover), chin, 64.0, 4.5) is None


@pytest.mark.realdata
@pytest.mark.slow
def test_the_collar_stays_when_the_head_turns(shared_data: Path) -> None:
    """carell at yaw -20: the photo rows of the crop from the chin + 0.2 face sizes down (the collar and
    the shirt) move < 1 photo pixel on average (the fade alike in every direction: about 3)."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "cmusatyalab__openface__carell.jpg", registry=registry)
    engine = registry.geometric("default")
    preview = state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values={"yaw": -20.0}), registry=registry)
    top = int(np.ceil(preview.points[:, 1].max() + NECK_REACH * preview.face_size))
    to_photo = np.linalg.inv(state.crop_transform.matrix[:, :2])
    moved = {}
    for neck in (False, True):
        renderer = GeometricRenderer(
            engine.renderer.face_model, dataclasses.replace(engine.renderer.settings, neck=neck)
        )
        flow = (
            renderer.render_frame(preview, target).flow * crop_mask(256, feather=0.1, margin=0.0)[:, :, None]
        )
        moved[neck] = float(np.linalg.norm(flow[top:] @ to_photo.T, axis=2).mean())
    assert moved[False] > 2.0, moved
    assert moved[True] < 1.0, moved
