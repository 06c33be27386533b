"""The painted gap under a photo's own upper teeth (`pipeline.mouth_paint`): a lower row and a
cavity shaded towards the throat, only for photos that show upper teeth but no lower ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.lower_row_sheet import figures, gap_profiles
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.geometric import PreviewSettings
from pipeline.mouth import MouthInterior, MouthMotion
from pipeline.mouth_paint import fine_paint, paint_mouth

FACE = 150.0  # face size, crop pixels
SIZE = 160  # crop side
ACROSS = np.linspace(0.06, 0.94, 24)
TEETH = np.array([232.0, 222.0, 208.0], np.float32)
LUMA = np.array([0.299, 0.587, 0.114])


def _curve(y: float, bulge: float) -> np.ndarray:
    xs = np.linspace(50.0, 110.0, 9)
    return np.stack([xs, y + bulge * np.sin(np.linspace(0.0, np.pi, 9))], axis=1)


def _smile(lower_teeth: bool = False, lower_share: float = 0.0, lower_row: bool = True) -> MouthMotion:
    """A photo whose 8 px opening shows upper teeth down to its lower lip (split 1), opened to 26 px."""
    interior = MouthInterior(
        ACROSS,
        np.ones(24),
        np.array([40.0, 16.0, 18.0], np.float32),
        TEETH,
        lower_teeth,
        np.full(24, lower_share),
    )
    source = (_curve(96.0, -2.0), _curve(96.0, 8.0))
    target = (_curve(96.0, -2.0), _curve(96.0, 26.0))
    return MouthMotion(interior, source, target, lower_row=lower_row)


def _paint(mouth: MouthMotion) -> tuple[np.ndarray, np.ndarray, bool]:
    out = np.full((SIZE, SIZE, 3), (190, 150, 130), np.uint8)
    cover = np.zeros((SIZE, SIZE), np.float32)
    drew = paint_mouth(out, cover, mouth, FACE, 1.0)
    return out, cover, drew


def test_a_smile_without_lower_teeth_gets_a_lower_row_and_a_shaded_cavity() -> None:
    out, cover, drew = _paint(_smile())
    assert drew  # its own teeth: worth drawing again at the photo's resolution
    luma = out.astype(np.float64) @ LUMA
    chroma = np.ptp(out.astype(np.float64), axis=2)
    column = slice(70, 90)  # the middle of the mouth; its inner lower lip lies at y 122
    teeth = (luma > 0.5 * float(TEETH @ LUMA)) & (chroma < 60.0) & (cover > 0.5)
    assert teeth[114:123, column].mean() > 0.3  # the lower row above the lower lip
    assert not teeth[104:112, column].any()  # not in the cavity above it
    # Darkest towards the throat, not right under the upper teeth (where the gap starts: y ~ 102).
    inside = luma[104:118, column].mean(axis=1)
    assert inside[0] > inside.min() + 8.0, np.round(inside, 1)
    assert 104 + int(np.argmin(inside)) >= 107
    assert (luma[104:118, column] < 20.0).mean() < 0.05  # no pure black band


def _lower_teeth(out: np.ndarray, cover: np.ndarray) -> float:
    """Share of tooth-like pixels (bright, little saturated) above the lower lip's middle (y 122)."""
    pixels = out.astype(np.float64)
    teeth = (pixels @ LUMA > 0.5 * float(TEETH @ LUMA)) & (np.ptp(pixels, axis=2) < 60.0) & (cover > 0.5)
    return float(teeth[114:123, 70:90].mean())


def test_without_the_setting_the_gap_is_painted_as_before() -> None:
    """Without `lower_row` (on by default in `PreviewSettings`, off in a bare `MouthMotion`): no
    lower row, no finer paint."""
    smile = _smile()
    assert PreviewSettings().lower_row
    assert not MouthMotion(smile.interior, smile.source_lips, smile.target_lips).lower_row
    off, cover, drew = _paint(_smile(lower_row=False))
    assert not drew and _lower_teeth(off, cover) < 0.1
    assert _lower_teeth(*_paint(_smile())[:2]) > 0.3


@pytest.mark.parametrize(("lower_teeth", "lower_share"), [(True, 0.0), (False, 0.6)])
def test_a_photo_showing_lower_teeth_is_painted_the_same_with_the_setting(
    lower_teeth: bool, lower_share: float
) -> None:
    on = _paint(_smile(lower_teeth, lower_share, lower_row=True))
    off = _paint(_smile(lower_teeth, lower_share, lower_row=False))
    assert np.array_equal(on[0], off[0]) and np.array_equal(on[1], off[1]) and on[2] == off[2]


@pytest.mark.realdata
def test_an_opened_smile_gets_lower_teeth_and_a_photo_with_both_rows_does_not_change(
    shared_data: Path,
) -> None:
    """img22 (upper teeth, no lower ones) at open_mouth 1 with the lower row on: bright, little
    saturated pixels in the lower part of the opening's middle (none by default); img1 (both
    rows): pixel for pixel the same with the setting on and off. The row as docs/TEETH.md drew it
    (`lower_fence` off): with it on, a jaw-dropped mouth shows only the row's tips
    (docs/LOWER_FENCE.md; `tests/pipeline/test_teeth.py` tests that)."""
    registry = EngineRegistry(fast=False)
    request = EditRequest(values={"open_mouth": 1.0}, engine="preview")
    renders = {}
    for name in ("serengil__deepface__img22.jpg", "serengil__deepface__img1.jpg"):
        state = prepare_photo(shared_data / "images" / name, registry=registry)
        renderer = registry.geometric(state.backend).renderer
        for on in (False, True):
            renderer.settings = dataclasses.replace(renderer.settings, lower_row=on, lower_fence=False)
            renders[name, on] = edit(state, request, registry=registry).full_image
        renderer.settings = dataclasses.replace(renderer.settings, lower_row=False, lower_fence=True)
        if name.endswith("img22.jpg"):
            profiles = gap_profiles(state, request.values, registry)
            teeth = float(state.engine_state(registry.geometric(state.backend)).mouth.teeth @ LUMA)
            before, after = (
                figures(renders[name, on], profiles, teeth, 2.0 * len(profiles)) for on in (False, True)
            )
    assert before["lower_row"] == 0.0 and after["lower_row"] > 0.08, (before, after)
    assert after["black"] < before["black"] and after["step"] < before["step"] - 0.1, (before, after)
    assert np.array_equal(
        renders["serengil__deepface__img1.jpg", False], renders["serengil__deepface__img1.jpg", True]
    )


def test_the_finer_paint_draws_only_the_lower_row_again() -> None:
    """`fine_paint` under the photo's own upper teeth: the cavity is the crop's paint upsampled,
    the lower row alone is drawn again at twice the crop's resolution (crisp between its teeth)."""
    mouth = _smile()
    out = np.full((SIZE, SIZE, 3), (190, 150, 130), np.uint8)
    cover = np.zeros((SIZE, SIZE), np.float32)
    paint = out.copy()
    assert paint_mouth(out, cover, mouth, FACE, 1.0, paint=paint)
    fine = fine_paint(paint, cover, mouth, FACE, 1.0, 2)
    upsampled = cv2.resize(paint, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    changed = np.any(fine != upsampled, axis=2)
    assert not changed[2 * 104 : 2 * 110, 2 * 70 : 2 * 90].any()  # the cavity above the row
    row = changed[2 * 114 : 2 * 123, 2 * 70 : 2 * 90]
    assert row.mean() > 0.3  # the row, drawn again
    luma = fine[2 * 114 : 2 * 123, 2 * 70 : 2 * 90].astype(np.float64) @ LUMA
    assert (luma > 0.5 * float(TEETH @ LUMA)).mean() > 0.3
