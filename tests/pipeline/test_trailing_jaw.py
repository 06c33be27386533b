"""The trailing side of a turn's jaw (`pipeline.trailing_jaw`, `PreviewSettings.trailing_jaw`): the
columns, span and row profile on synthetic fields; on a synthetic face whose jaw rises off the photo's
the neck layer is kept with the flag and dropped without it; and on a real photo (vd025 at yaw +30:
the neck under the trailing jaw no longer slides sideways with the face)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.geometric import GeometricRenderer
from pipeline.jaw_edge import JAW_MARGIN, neck_layer, photo_jaw
from pipeline.neck import JAW_RISE
from pipeline.photo import target_coefficients
from pipeline.preview_settings import PreviewSettings
from pipeline.trailing_jaw import (
    TRAIL_STRETCH,
    TRAIL_TOP,
    in_front,
    trailing_columns,
    trailing_rows,
    trailing_span,
)
from reconstruction.rim_skin import MagnifiedBand

SIZE, FACE = 128, 80.0  # crop pixels; the coarse grid is half as fine


def _ellipse(cx: float, cy: float, rx: float = 30.0, ry: float = 40.0) -> np.ndarray:
    """(64, 2) points on an ellipse: a face's outline (crop pixels)."""
    angle = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
    return np.stack([cx + rx * np.cos(angle), cy + ry * np.sin(angle)], axis=1)


def _cover(points: np.ndarray) -> np.ndarray:
    """(64, 64) float32 coverage of the points' hull on the coarse grid."""
    cover = np.zeros((SIZE // 2, SIZE // 2), np.float32)
    hull = cv2.convexHull(((points + 0.5) * 0.5 - 0.5).astype(np.float32))
    cv2.fillConvexPoly(cover, np.round(hull * 16).astype(np.int32), 1.0, shift=4)
    return cover


def test_the_trailing_columns_are_where_the_moved_face_reaches_low_enough() -> None:
    bottom = np.array([-np.inf, 10.0, 60.0, 80.0, 95.0])
    found = trailing_columns(bottom, chin=100.0, face_size=100.0, margin=3.0)
    np.testing.assert_array_equal(found.found, [0.0, 0.0, 0.0, 1.0, 1.0])  # from 100 - TRAIL_TOP * 100
    assert TRAIL_TOP == 0.35 and np.isnan(found.edge[:3]).all()
    np.testing.assert_allclose(found.edge[3:], [83.0, 98.0])


def test_the_span_is_long_enough_for_the_stretch_bound() -> None:
    """The steepest slope of the profile (1.5 for jaw_edge's smoothstep, 1 for the linear ramp) times
    rise / span stays within 1 - 1 / TRAIL_STRETCH."""
    rise = np.array([10.0, 10.0, 10.0])
    trail = np.array([0.0, 0.5, 1.0])
    span = trailing_span(rise, trail)
    slope = 1.5 - 0.5 * trail
    np.testing.assert_allclose(slope * rise / span, 1.0 - 1.0 / TRAIL_STRETCH)


def test_the_profile_is_linear_on_the_trailing_side_and_the_layer_whole_below_the_jaw() -> None:
    rows = np.arange(0, 60, dtype=np.float32)[:, None]
    edge, span = np.float32([20.0, 20.0]), np.float32([30.0, 30.0])
    trail = np.float32([0.0, 1.0])
    corner = np.zeros((60, 1), np.float32)
    s, ramp = trailing_rows(rows, edge, span, trail, corner, 100.0)
    t = np.clip((rows[:, 0] - 20.0) / 30.0, 0.0, 1.0)
    np.testing.assert_allclose(s[:, 1], t, atol=1e-6)  # linear
    np.testing.assert_allclose(s[:, 0], t * t * (3.0 - 2.0 * t), atol=1e-6)  # jaw_edge's smoothstep
    assert ramp[:, 0].max() == 0.0  # off the trailing side: the corner's ramp (0 here)
    assert ramp[15:, 1].min() == 1.0 and ramp[:10, 1].max() == 0.0  # whole from 0.05 face sizes above


def test_the_rims_texture_is_laid_only_where_the_front_shows() -> None:
    band = MagnifiedBand(np.ones((4, 4), np.float32), np.full((4, 4), 0.5, np.float32))
    front = np.ones((4, 4), np.float32)
    front[2:] = 0.0
    assert in_front(band, None) is band and in_front(None, front) is None
    masked = in_front(band, front)
    assert masked.weight[:2].min() == 1.0 and masked.weight[2:].max() == 0.0


def test_the_layer_is_kept_under_a_jaw_that_rose_far_off_the_photos() -> None:
    """A face moved up by 14 crop pixels and right by 6 over a spread flow moving everything with it:
    jaw_edge alone drops the layer (the neck cannot be stretched within its bound); with the trailing
    side the still neck shows under the moved jaw, read from below the photo's own jaw."""
    photo = photo_jaw(_ellipse(64.0, 50.0), np.full((SIZE, SIZE, 3), (200, 150, 120), np.uint8), 0.5, FACE)
    target = _ellipse(70.0, 36.0)
    spread = np.zeros((64, 64, 2), np.float32)
    spread[..., 0], spread[..., 1] = -6.0, 14.0
    off = neck_layer(spread, _cover(target), target, photo, (SIZE, SIZE))
    on = neck_layer(spread, _cover(target), target, photo, (SIZE, SIZE), trailing=True)
    assert off == (None, None)
    alpha, back = on
    assert alpha is not None and back is not None
    below = (slice(82, 90), slice(66, 74))  # just under the moved chin (row 76 + margin)
    assert alpha[below].max() < 0.01
    assert np.abs(back[below][..., 0]).max() < 0.3  # the neck stays (the spread flow: 6 pixels)
    rows = np.arange(82, 90)[:, None] + back[below][..., 1]
    assert rows.min() >= 90.0 + JAW_MARGIN * FACE - 1.0  # read below the photo's jaw (row 90)
    assert alpha[:60].min() == 1.0  # the face and all above it: the moved photo alone


def test_the_trailing_jaw_is_off_by_default() -> None:
    """docs/TRAILING_JAW.md: its rule was not met."""
    assert not PreviewSettings().trailing_jaw


def _slide(shared_data: Path, trailing: bool) -> float:
    """vd025 at yaw +30: the median |horizontal flow| (face sizes) of the shown flow over the photo's
    face below the jaw's corners that the moved face uncovers (docs/TRAILING_JAW.md's measure)."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(
        shared_data / "images" / "sicxu__Deep3DFaceRecon_pytorch__vd025.png", registry=registry
    )
    engine = registry.geometric("default")
    preview = state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values={"yaw": 30.0}), registry=registry)
    settings = dataclasses.replace(engine.renderer.settings, trailing_jaw=trailing)
    frame = GeometricRenderer(engine.renderer.face_model, settings).render_frame(preview, target)
    chin, size = float(preview.points[:, 1].max()), preview.face_size
    own = engine.renderer.face_mask(preview, preview.coeffs) > 128
    margin = round(JAW_MARGIN * size)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    moved = cv2.dilate((engine.renderer.face_mask(preview, target) > 128).astype(np.uint8), kernel) > 0
    rows = np.arange(own.shape[0])[:, None]
    wedge = own & ~moved & (rows >= chin - JAW_RISE * size)
    shown = frame.flow
    if frame.back_flow is not None and frame.front_alpha is not None:
        shown = np.where((frame.front_alpha >= 0.5)[:, :, None], frame.flow, frame.back_flow)
    return float(np.median(np.abs(shown[..., 0][wedge]))) / size


@pytest.mark.realdata
@pytest.mark.slow
def test_the_neck_under_the_trailing_jaw_stays(shared_data: Path) -> None:
    """Deep3DFaceRecon vd025 at yaw +30: under the image-left jaw the neck slides sideways with the
    face by 0.155 face sizes without the flag (the long diagonal from the ear into the collar), by
    under 0.05 with it."""
    assert _slide(shared_data, trailing=True) < 0.05
