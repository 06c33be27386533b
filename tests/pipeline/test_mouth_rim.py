"""The painted gap's rim shaded from the inside (`pipeline.mouth_rim`, docs/MOUTH_RIM.md): no ink line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from benchmarks.mouth_rim_sheet import outline_share, render
from pipeline import EngineRegistry
from pipeline.geometric import PreviewSettings
from pipeline.mouth_rim import BAND, FLOOR, shade_rim

LUMA = np.array([0.299, 0.587, 0.114])


def _gap(inside: float, line: float, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A 40 x 40 sample gap whose rim is its left edge (distance = x - 5): `width` columns of luma
    `line` at the rim, `inside` further in."""
    xs = np.arange(40, dtype=np.float64)
    distance = np.broadcast_to(xs[None, :] - 5.0, (40, 40)).copy()
    colour = np.full((40, 40, 3), inside)
    colour[:, 5 : 5 + width] = line
    colour[:, :5] = line  # the paint laid past the rim
    return colour, distance


def test_a_thin_dark_line_at_the_rim_takes_the_colour_behind_it() -> None:
    colour, distance = _gap(inside=170.0, line=10.0)
    lifted = shade_rim(colour, distance, 1.0)
    assert np.all(lifted[:, 5] >= FLOOR * 170.0 - 1.0)
    assert np.all(lifted[:, 4] >= FLOOR * 170.0 - 1.0)  # the paint just past the rim too


def test_the_band_is_lifted_on_a_fine_grid_as_on_the_crop() -> None:
    colour, distance = _gap(inside=170.0, line=10.0)
    fine_x = np.arange(80) * 0.5
    distance = np.broadcast_to(fine_x[None, :] - 5.0, (80, 80)).copy()
    colour = np.where((distance < 1.0)[:, :, None], 10.0, 170.0) * np.ones((1, 1, 3))
    lifted = shade_rim(colour, distance, 0.5)
    assert np.all(lifted[:, (distance[0] >= 0.0) & (distance[0] < 1.0)] >= FLOOR * 170.0 - 1.0)


def test_a_dark_inside_and_what_lies_deeper_than_the_band_are_kept() -> None:
    colour, distance = _gap(inside=25.0, line=25.0)
    assert np.array_equal(shade_rim(colour, distance, 1.0), colour)  # a dark mouth stays dark
    colour, distance = _gap(inside=170.0, line=10.0, width=12)  # a wide dark region: not a line
    lifted = shade_rim(colour, distance, 1.0)
    deep = distance[0] >= BAND[1]
    assert np.array_equal(lifted[:, deep], colour[:, deep])


def test_the_band_is_never_darkened_and_no_gap_is_unchanged() -> None:
    colour, distance = _gap(inside=40.0, line=200.0)  # a light rim over a dark inside (a tooth)
    assert np.array_equal(shade_rim(colour, distance, 1.0), colour)
    colour = np.full((10, 10, 3), 30.0)
    outside = np.full((10, 10), -50.0)
    assert shade_rim(colour, outside, 1.0) is colour


def test_the_setting_is_off_by_default() -> None:
    assert PreviewSettings().mouth_rim is False


@pytest.mark.realdata
@pytest.mark.slow
def test_t1_opened_mouth_has_less_ink_line(shared_data: Path) -> None:
    """t1 at open_mouth 1: main's painted gap is ringed by a near-black line between the lip and the
    teeth (21 % of its rim read as outlined by `outline_share`); with the setting on, under 16 %."""
    registry = EngineRegistry(fast=False)
    result = render(
        "deepinsight__insightface__t1.jpg", shared_data / "images", registry, {"o1": {"open_mouth": 1.0}}
    )
    x0, y0, x1, y1 = result["box"]
    shares = {
        on: outline_share(result["o1"][on][0][y0:y1, x0:x1], result["o1"][on][1], result["scale"])
        for on in (False, True)
    }
    assert shares[False][0] > 0.18, shares  # the fault, as on main
    assert shares[True][0] < 0.16, shares
    flag = {"mouth_rim": True}
    assert dataclasses.replace(PreviewSettings(), **flag).mouth_rim
