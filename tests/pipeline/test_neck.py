"""The neck's fade to still shoulders: on a synthetic face's flow (the neck's flow is 0 by the shoulder
line, the hair beside the head moves as before) and on a real photo (the collar stays at yaw -20).
The jaw's edge (off by default): on a synthetic face (the neck stays behind a face that slides, and
reads below the photo's own jaw) and on a real photo (the neck band under a turned jaw is not
stretched into a bulge)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.coefficients import DEFAULT_FACE_MODEL
from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.neck import JAW_MARGIN, JAW_RISE, NECK_REACH, jaw_edge, lowest_rows, shoulder_fade
from pipeline.photo import Canvas, place_frame, target_coefficients
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


def _ellipse_points(cx: float, cy: float, rx: float = 30.0, ry: float = 40.0) -> np.ndarray:
    """(64, 2) points on an ellipse: a face's outline (crop pixels)."""
    angle = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
    return np.stack([cx + rx * np.cos(angle), cy + ry * np.sin(angle)], axis=1)


def test_lowest_rows_follow_the_outline_from_below() -> None:
    square = np.array([[10.0, 10.0], [30.0, 10.0], [30.0, 20.0], [10.0, 20.0], [20.0, 15.0]])
    rows = lowest_rows(square, 40)
    np.testing.assert_allclose(rows[10:31], 20.0)
    assert np.all(np.isneginf(rows[:10])) and np.all(np.isneginf(rows[31:]))


def test_the_neck_stays_behind_a_face_that_slides_over_it() -> None:
    """A face moved 8 pixels to the right: below its jaw the neck layer has no horizontal motion and
    reads below the photo's own jaw; the face itself is all front."""
    size, face_size = 128, 80.0
    photo, target = _ellipse_points(64.0, 50.0), _ellipse_points(72.0, 50.0)
    flow = np.zeros((size, size, 2), np.float32)
    flow[..., 0] = -8.0  # the moved photo: everything reads 8 pixels to the left
    layer = jaw_edge(flow, photo, target, face_size)
    assert layer is not None
    back, alpha = layer
    rows = np.arange(size)[:, None]
    bottom = lowest_rows(target, size)
    face = np.isfinite(bottom)[None, :] & (rows <= bottom[None, :])
    assert np.all(alpha[face] == 1.0)
    # Under the jaw where it slides over the neck: the neck alone, not moving sideways, never reading
    # the photo's face.
    for column in (74, 80, 86):
        below = rows[:, 0] > bottom[column] + JAW_MARGIN * face_size + 1
        assert alpha[below, column].max() < 1e-3
        assert np.all(back[below, column, 0] == 0.0)
        reads = rows[below, 0] + back[below, column, 1]
        assert reads.min() >= lowest_rows(photo, size)[column] - 1e-3
        assert np.all(np.diff(reads) > 0.5)  # in order, stretched by less than 2x
    # Beside the face (hair, ears) the moved photo alone.
    assert np.all(alpha[:, :30] == 1.0) and np.all(alpha[:, 105:] == 1.0)


def test_a_jaw_that_rose_far_off_the_photos_leaves_the_fade_in_place() -> None:
    """A nod lifting the jaw by 30 pixels: there is no neck to stretch over that within the shoulder
    line, so no layer."""
    flow = np.zeros((128, 128, 2), np.float32)
    assert jaw_edge(flow, _ellipse_points(64.0, 60.0), _ellipse_points(64.0, 30.0), 80.0) is None


def test_the_jaw_edge_is_off_by_default() -> None:
    assert PreviewSettings().jaw_edge is False


def _det(flow: np.ndarray) -> np.ndarray:
    """det(I + grad flow): photo area per output area."""
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    return (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx


def _magnification(det: np.ndarray, band: np.ndarray) -> float:
    """99th percentile of 1 / det over a band (output area per photo area)."""
    return float(np.percentile(1.0 / np.maximum(det[band], 0.05), 99))


@pytest.mark.realdata
@pytest.mark.slow
def test_a_turned_jaw_passes_over_a_neck_that_stays(shared_data: Path) -> None:
    """Deep3DFaceRecon 015316 (a long neck seen from below) at yaw +30: the neck band under the jaw is
    magnified by at most 0.8 of the default's largest (a smeared bulge: 5x), the collar rows stay
    and the face is unchanged (PSNR >= 45 dB against the default)."""
    registry = EngineRegistry(fast=False)
    name = "sicxu__Deep3DFaceRecon_pytorch__015316.jpg"
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    engine = registry.geometric("default")
    preview = state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values={"yaw": 30.0}), registry=registry)
    canvas = Canvas(state.image, state.crop_transform)
    chin, size = float(preview.points[:, 1].max()), preview.face_size
    ways = {}
    for on in (False, True):
        renderer = GeometricRenderer(
            engine.renderer.face_model, dataclasses.replace(engine.renderer.settings, jaw_edge=on)
        )
        ways[on] = (renderer, renderer.render_frame(preview, target))
    mask = ways[True][0].face_mask(preview, target) > 128
    rows = np.arange(256)[:, None]
    bottom = 255 - np.argmax(mask[::-1], axis=0)
    jaw = mask.any(axis=0) & (bottom >= chin - JAW_RISE * size)
    band = jaw[None, :] & (rows > bottom[None, :]) & (rows <= chin + NECK_REACH * size)
    old, new = ways[False][1], ways[True][1]
    assert new.back_flow is not None and new.front_alpha is not None
    # Each layer's own stretch where it shows (across the edge the two layers do not mix).
    shown = np.where(new.front_alpha >= 0.5, _det(new.flow), _det(new.back_flow))
    assert _magnification(shown, band) < 0.8 * _magnification(_det(old.flow), band)
    blended = new.front_alpha[..., None] * new.flow + (1.0 - new.front_alpha[..., None]) * new.back_flow
    to_photo = np.linalg.inv(state.crop_transform.matrix[:, :2])
    faded = blended * crop_mask(256, feather=0.1, margin=0.0)[:, :, None]
    top = int(np.ceil(chin + NECK_REACH * size))
    assert float(np.linalg.norm(faded[top:] @ to_photo.T, axis=2).mean()) < 0.05
    images = [place_frame(canvas, frame) for frame in (old, new)]
    inverse = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    h, w = state.image.shape[:2]
    face = cv2.warpAffine(mask.astype(np.uint8), state.crop_transform.matrix, (w, h), flags=inverse) > 0
    mse = float(np.mean((images[0][face].astype(float) - images[1][face].astype(float)) ** 2))
    assert mse == 0.0 or 10.0 * np.log10(255.0**2 / mse) >= 45.0
