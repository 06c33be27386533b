"""A buccal corridor at the sides of a painted mouth (`pipeline.mouth_corridor`, docs/MOUTH_RIM.md round 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.mouth_corridor_sheet import outline_share, render
from pipeline import EngineRegistry
from pipeline.geometric import PreviewSettings
from pipeline.mouth_corridor import CORRIDOR_SHADE, FADE, PLATEAU, SIDE, buccal_corridor
from pipeline.teeth import FACE_MM

_BASE = np.array([40.0, 20.0, 20.0], np.float32)


def _gap(face_size: float = FACE_MM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 60 x 20 mm rectangular gap (1 crop pixel per mm) painted a flat tooth white, its signed
    distance to the rim (> 0 inside) and its columns; corners at x 0 and 60."""
    xs = np.arange(-5.0, 66.0)
    ys = np.arange(-5.0, 26.0)[:, None]
    distance = np.minimum(np.minimum(xs[None, :], 60.0 - xs[None, :]), np.minimum(ys, 20.0 - ys))
    colour = np.full(distance.shape + (3,), 200.0, np.float32)
    return colour, distance.astype(np.float32), xs


def test_the_corridor_is_even_at_the_sides_and_gone_mid_mouth() -> None:
    colour, distance, xs = _gap()
    out = buccal_corridor(colour, distance, xs, (0.0, 60.0), FACE_MM, _BASE)
    dark = CORRIDOR_SHADE * _BASE
    row = 10 + 5  # mid-height (ys start at -5)
    side = out[row, 5 : 5 + int(PLATEAU)]  # the first PLATEAU mm in from the left side
    assert np.allclose(side, dark, atol=0.5)  # even: no darker band at the rim
    assert np.allclose(out[row, 5 + 30], colour[row, 5 + 30])  # mid-mouth: untouched
    # Along the upper rim mid-mouth (further than SIDE[1] mm from a corner) nothing changes either.
    assert np.allclose(
        out[:, 5 + int(SIDE[1]) + 1 : 5 + 60 - int(SIDE[1])],
        colour[:, 5 + int(SIDE[1]) + 1 : 5 + 60 - int(SIDE[1])],
    )


def test_the_teeth_fade_into_the_corridor_without_a_step() -> None:
    colour, distance, xs = _gap()
    out = buccal_corridor(colour, distance, xs, (0.0, 60.0), FACE_MM, _BASE)
    luma = out[15, 5:35].mean(axis=1)  # from the left side to mid-mouth
    assert np.all(np.diff(luma) >= -1e-3)  # never darker further in
    between = (luma > luma.min() + 0.5) & (luma < 199.5)
    assert between.sum() >= FADE - 1  # a ramp over FADE mm, not an edge


def test_the_corridor_is_millimetres_of_the_face() -> None:
    """The same gap in a face twice as large in crop pixels (sampled every other crop pixel): the
    same corridor, sample for sample."""
    colour, distance, xs = _gap()
    narrow = buccal_corridor(colour, distance, xs, (0.0, 60.0), FACE_MM, _BASE)
    wide = buccal_corridor(colour, 2.0 * distance, 2.0 * xs, (0.0, 120.0), 2.0 * FACE_MM, _BASE)
    assert np.allclose(narrow, wide, atol=1e-3)


def test_the_setting_is_off_by_default() -> None:
    assert PreviewSettings().mouth_corridor is False


@pytest.mark.realdata
@pytest.mark.slow
def test_t1_opened_mouth_has_less_ink_line(shared_data: Path) -> None:
    """t1 at open_mouth 1: main's painted gap is ringed by a near-black line between the lip and the
    teeth (21 % of its rim read as outlined by `outline_share`); with the corridor, under 15 %."""
    registry = EngineRegistry(fast=False)
    result = render(
        "deepinsight__insightface__t1.jpg", shared_data / "images", registry, {"o1": {"open_mouth": 1.0}}
    )
    x0, y0, x1, y1 = result["box"]
    shares = {
        on: outline_share(result["o1"][on][0][y0:y1, x0:x1], result["o1"][on][1], result["scale"])
        for on in (False, True)
    }
    assert shares[False][0] > 0.2, shares  # the fault, as on main
    assert shares[True][0] < 0.15, shares
