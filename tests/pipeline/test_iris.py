"""Tests of pipeline/iris.py: the gaze moves the photo's iris disc rigidly at the image's own
resolution (a synthetic eye), and on a real photo its catchlight stays a small round spot (the
crop-resolution flow stretched it into a bar; docs/GAZE_IRIS.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from benchmarks.gaze_iris_measure import measure, photo_eyes
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.eyes import Iris
from pipeline.iris import GLINT_TRAVEL, EyeToTurn, eyes_to_turn, turn_irises

_LUMA = np.array([0.299, 0.587, 0.114])


def _eye(size: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray, Iris]:
    """A synthetic eye: skin, an almond opening with a white, a dark iris (radius 12) with a pupil
    and a 3 x 3 catchlight up-left of its centre (60, 60); its lid curves."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    x = np.linspace(20, 100, 17)
    bulge = 1.0 - ((x - 60) / 40) ** 2
    upper, lower = np.stack([x, 60 - 16 * bulge], 1), np.stack([x, 60 + 14 * bulge], 1)
    image = np.full((size, size, 3), [200, 160, 140], np.float64)
    top, bottom = np.interp(xs, x, upper[:, 1]), np.interp(xs, x, lower[:, 1])
    opening = (ys > top) & (ys < bottom) & (xs > 20) & (xs < 100)
    image[opening] = [225, 222, 218]
    d = np.hypot(xs - 60, ys - 60)
    image[opening & (d <= 12)] = [90, 60, 40]
    image[opening & (d <= 5)] = [15, 12, 12]
    image[56:59, 56:59] = 255
    return image.astype(np.uint8), upper, lower, Iris(np.array([60.0, 60.0]), 12.0)


def test_the_iris_moves_as_a_disc_and_its_catchlight_a_fraction():
    image, upper, lower, iris = _eye()
    shift = np.array([8.0, 0.0])
    out = turn_irises(image, np.eye(2, 3), [EyeToTurn(iris, upper, lower, shift)])
    luma = out.astype(np.float64) @ _LUMA
    # The pupil's row: dark from 63 to 73 (the pupil moved by 8), the white where it was left.
    dark = np.nonzero(luma[60, 40:90] < 30)[0] + 40
    assert dark.min() == pytest.approx(55 + 8, abs=1) and dark.max() == pytest.approx(65 + 8, abs=1)
    assert luma[60, 47] > 180  # the iris's old left edge shows white
    # The catchlight: still a 3 x 3 spot, moved GLINT_TRAVEL of the shift, not smeared.
    bright = np.argwhere(luma > 240)
    assert 6 <= len(bright) <= 12
    np.testing.assert_allclose(bright.mean(0), [57.0, 57.0 + GLINT_TRAVEL * 8], atol=0.6)
    assert np.ptp(bright[:, 0]) <= 3 and np.ptp(bright[:, 1]) <= 3
    # Nothing outside the opening changes (the lids and the skin).
    top = np.interp(np.arange(120), upper[:, 0], upper[:, 1])
    above = np.arange(120)[:, None] < top[None, :] - 1
    assert np.array_equal(out[above], image[above])


def test_the_turn_works_at_any_resolution():
    """The image twice the crop's size: the same move, twice as many pixels."""
    big, upper, lower, iris = _eye()
    half = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]])  # big image pixels -> crop pixels
    eye = EyeToTurn(Iris(iris.centre / 2, iris.radius / 2), upper / 2, lower / 2, np.array([4.0, 0.0]))
    out = turn_irises(big, half, [eye]).astype(np.float64) @ _LUMA
    dark = np.nonzero(out[60, 40:90] < 30)[0] + 40
    assert dark.min() == pytest.approx(63, abs=1) and dark.max() == pytest.approx(73, abs=1)


def test_no_turn_without_an_open_eye_or_a_shift():
    _, upper, lower, iris = _eye()
    assert eyes_to_turn([None], [(upper, lower)], np.array([1.0, 0.0])) is None
    assert eyes_to_turn([iris], [(upper, lower)], np.array([0.0, 0.0])) is None
    turn = eyes_to_turn([iris, None], [(upper, lower)] * 2, np.array([0.0, -1.0]))
    assert turn is not None and len(turn.eyes) == 1 and turn.eyes[0].shift[1] > 0  # gaze down: y grows


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("on", [pytest.param(False, marks=pytest.mark.xfail(strict=True)), True])
def test_looking_down_keeps_the_catchlight_a_spot(shared_data: Path, on: bool) -> None:
    """people_0 (SadTalker), gaze_y -1 and gaze_x +-1 at full resolution: each eye's catchlight
    keeps the photo's area and shape within a factor 2 (`gaze_iris_measure`: main stretches it
    into a bar, or loses it). The flag off (main) fails: strict xfail."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "OpenTalker__SadTalker__people_0.png", registry=registry)
    renderer = registry.geometric(state.backend).renderer
    default = renderer.settings
    renderer.settings = dataclasses.replace(default, rigid_iris=on)
    try:
        photo, eyes = np.asarray(state.image), photo_eyes(state, registry)
        assert len(eyes) == 2
        for gaze in ((0.0, -1.0), (1.0, 0.0), (-1.0, 0.0), (0.0, 0.5), (0.0, 1.0)):
            values = {"gaze_x": gaze[0], "gaze_y": gaze[1]}
            out = np.asarray(edit(state, EditRequest(values, engine="preview"), registry=registry).full_image)
            for eye in eyes:
                m = measure(photo, out, eye, np.array(gaze))
                assert 0.5 <= m["A"] <= 2.0 and 0.5 <= m["E"] <= 2.0, (gaze, m)
    finally:
        renderer.settings = default
