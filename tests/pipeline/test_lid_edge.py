"""Tests of pipeline/lid_edge.py: the real lid's edge above a lid fitted onto an upturned iris."""

from __future__ import annotations

import numpy as np

from pipeline.eyes import UPWARD_REACH
from pipeline.lid_edge import upward_lid_run

UPPER = np.stack([np.linspace(20.0, 60.0, 9), np.full(9, 50.0)], axis=1)  # 40 px wide, lid at y 50
LOWER = UPPER + [0.0, 13.0]  # a lid gap of 0.33 eye widths: open, not a squint


def _photo(dark_rows: int) -> np.ndarray:
    """Lit skin, the lid line at y 50, a dark run `dark_rows` high right above it (iris top,
    lashes and shadow under the real lid), the opening below it."""
    image = np.full((120, 80, 3), 170, np.uint8)
    image[50 - dark_rows : 51, 15:66] = 25
    image[51:63, 15:66] = 200  # the white of the eye
    return image


def test_a_tall_dark_run_above_the_fitted_lid_is_read_past() -> None:
    """A dark run 0.25 eye widths high (past the lashes' 0.2) in the lid's middle: the run returned
    reaches its top there (to a pixel) and lowers to the lashes at the corners."""
    lashes = np.zeros(9)
    run = upward_lid_run(_photo(10), UPPER, LOWER, lashes)
    assert np.all(np.abs(run[3:6] - 10.0) <= 1.0), run
    assert run[0] == run[-1] == 0.0
    assert run.max() <= UPWARD_REACH * 40.0


def test_lashes_and_squints_are_left_as_they_are() -> None:
    """A thin lash run (the band a shutting lid reads is skin) and a squint keep their lashes."""
    lashes = np.full(9, 3.0)
    assert np.array_equal(upward_lid_run(_photo(3), UPPER, LOWER, lashes), lashes)
    squint = UPPER + [0.0, 8.0]  # a lid gap of 0.2 eye widths
    assert np.array_equal(upward_lid_run(_photo(10), UPPER, squint, lashes), lashes)
