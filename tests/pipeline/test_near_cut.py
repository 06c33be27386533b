"""The near cheek's silhouette at a turn: a synthetic row whose rim is magnified past `NEAR_CAP` is
held to it (monotone, ends kept, eyes' boxes and folds left alone), and on a real photo the near rim
of a yaw -30 turn is no longer over-magnified (docs/NEAR_CUT.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pipeline.near_cut import NEAR_CAP, hold_near_rim

FACE = 40.0  # face size, grid pixels (one grid pixel per crop pixel)


def _turn(width: int = 96, rows: int = 24, fold: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(rows, width, 2) flow and (rows, width) cover of a face over columns 20..59 whose outer 6
    columns read only 1.2 photo columns (5x), then an extension fading back to the photo by column 90."""
    x = np.arange(width, dtype=np.float32)
    reads = x.copy()
    reads[20:54] = 20 + (x[20:54] - 20) * 1.0  # the cheek, 1:1
    reads[54:60] = 54 + (x[54:60] - 54) * 0.2  # the grazing strip, 5x
    end = 90
    t = (x[60:end] - 59) / (end - 59)
    reads[60:end] = reads[59] + (end - reads[59]) * t  # the extension, back to the photo at `end`
    if fold:
        reads[70] = reads[68]  # a read that steps back
    flow = np.zeros((rows, width, 2), np.float32)
    flow[..., 0] = reads - x
    cover = np.zeros((rows, width), np.float32)
    cover[:, 20:60] = 1.0
    return flow, cover


def _slopes(flow: np.ndarray) -> np.ndarray:
    return np.diff(flow[..., 0] + np.arange(flow.shape[1]), axis=1)


def test_the_grazing_strip_is_held_to_the_cap_and_the_rest_takes_the_width() -> None:
    flow, cover = _turn()
    out = hold_near_rim(flow, cover, (1.0, 1.0), FACE, [])
    slopes = _slopes(out)[12]
    assert slopes.min() > 0.0  # still in order
    assert 1.0 / slopes[50:62].min() < NEAR_CAP * 1.3  # was 5x
    assert 1.0 / _slopes(flow)[12, 50:62].min() > 4.0
    # The window's ends read what they read: the photo beyond the fade, the cheek inside.
    np.testing.assert_allclose(out[12, 90:, 0], flow[12, 90:, 0], atol=1e-4)
    np.testing.assert_allclose(out[12, :20, 0], flow[12, :20, 0], atol=1e-4)


def test_the_eyes_boxes_and_a_fold_are_left_alone() -> None:
    flow, cover = _turn()
    box = (np.array([0.0, -5.0]), np.array([60.0, 30.0]))  # covers the strip: no window inside it
    np.testing.assert_array_equal(hold_near_rim(flow, cover, (1.0, 1.0), FACE, [box]), flow)
    folded, cover = _turn(fold=True)
    np.testing.assert_array_equal(hold_near_rim(folded, cover, (1.0, 1.0), FACE, []), folded)


def test_no_face_or_no_strip_changes_nothing() -> None:
    flow, cover = _turn()
    np.testing.assert_array_equal(hold_near_rim(flow, np.zeros_like(cover), (1.0, 1.0), FACE, []), flow)
    still = np.zeros_like(flow)
    np.testing.assert_array_equal(hold_near_rim(still, cover, (1.0, 1.0), FACE, []), still)


def test_the_image_left_side_is_held_as_the_right() -> None:
    flow, cover = _turn()
    mirrored = flow[:, ::-1].copy()
    mirrored[..., 0] *= -1.0
    out = hold_near_rim(mirrored, cover[:, ::-1].copy(), (1.0, 1.0), FACE, [])
    back = out[:, ::-1].copy()
    back[..., 0] *= -1.0
    np.testing.assert_allclose(back, hold_near_rim(flow, cover, (1.0, 1.0), FACE, []), atol=1e-4)


@pytest.mark.realdata
@pytest.mark.slow
def test_the_near_cheek_of_a_turn_is_not_over_magnified(shared_data: Path) -> None:
    from benchmarks.near_cut_sheet import near_band, over_share
    from pipeline import EditRequest, EngineRegistry, prepare_photo
    from pipeline.photo import target_coefficients

    registry = EngineRegistry(fast=False)
    state = prepare_photo(
        shared_data / "images" / "justadudewhohacks__face-api.js__surprised.jpg", registry=registry
    )
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    target = target_coefficients(state, EditRequest({"yaw": -30.0}, engine="preview"), registry=registry)
    band = near_band(renderer, prepared, target, -30.0)
    base = renderer.settings
    try:
        renderer.settings = dataclasses.replace(base, near_cut=True)
        assert over_share(renderer.render_flow(prepared, target), band) <= 0.02  # main: 0.121
    finally:
        renderer.settings = base
