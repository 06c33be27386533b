"""A rising mouth corner lifts the skin further around it (docs/SMILE_FROWN.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.mouth import CORNER_EXTENT, CORNER_REACH, MouthInterior, MouthMotion, carry_corners
from pipeline.mouth_corners import LIFTED_REACH, carry_lift, corner_rise, corner_weight, lifted_reach

LUMA_SPLIT = np.full(24, 0.5)


def _upper(left: tuple[float, float], right: tuple[float, float]) -> np.ndarray:
    xs, ys = np.linspace(left[0], right[0], 7), np.linspace(left[1], right[1], 7)
    return np.stack([xs, ys - 3.0 * np.sin(np.linspace(0, np.pi, 7))], axis=1)


def _motion(lift: float, lifted: bool) -> MouthMotion:
    """A 40 px mouth whose corners rise `lift` px (its middle still), the photo's lips posed as they were."""
    interior = MouthInterior(np.linspace(0.06, 0.94, 24), LUMA_SPLIT, None, None, False)
    upper = _upper((40.0, 60.0), (80.0, 60.0))
    source = (upper, upper + [0.0, 6.0])
    rise = np.stack([np.zeros(7), lift * np.abs(np.cos(np.pi * np.linspace(0, 1, 7)))], axis=1)
    target = (source[0] - rise, source[1] - rise)
    return MouthMotion(interior, source, target, posed_lips=source, lifted_corners=lifted)


def test_a_corner_rise_is_read_against_the_skull_in_mouth_widths() -> None:
    posed = _upper((40.0, 60.0), (80.0, 60.0))
    raised = posed.copy()
    raised[[0, -1], 1] -= [4.0, 2.0]  # image-left corner 4 px up, the other 2 px
    np.testing.assert_allclose(corner_rise(posed, raised), [0.1, 0.05], atol=2e-3)
    np.testing.assert_allclose(corner_rise(raised, posed), [-0.1, -0.05], atol=2e-3)


def test_the_reach_grows_with_the_rise_and_never_shrinks() -> None:
    posed = _upper((40.0, 60.0), (80.0, 60.0))
    usual = CORNER_REACH[1:]
    still = lifted_reach(posed, posed, usual)
    assert still == ((usual[0], usual[1], usual[1]),) * 2
    assert lifted_reach(None, posed, usual) == still
    raised = posed.copy()
    raised[[0, -1], 1] -= [4.0, 2.2]  # 0.1 mouth widths (the full reach) and 0.055 (half of it)
    full, half = lifted_reach(posed, raised, usual)
    np.testing.assert_allclose(full, LIFTED_REACH)
    np.testing.assert_allclose(
        half, [(u + r) / 2 for u, r in zip(still[0], LIFTED_REACH, strict=True)], rtol=0.05
    )


def test_lips_rising_as_a_whole_or_a_little_keep_the_usual_reach() -> None:
    posed = _upper((40.0, 60.0), (80.0, 60.0))
    usual = CORNER_REACH[1:]
    still = lifted_reach(posed, posed, usual)
    assert lifted_reach(posed, posed - [0.0, 3.0], usual) == still  # an opening mouth's upper lip
    raised = posed.copy()
    raised[[0, -1], 1] -= 1.0  # 0.025 mouth widths: below LIFT[0]
    assert lifted_reach(posed, raised, usual) == still


def test_the_weight_reaches_further_below_than_above() -> None:
    side = np.array([[-20.0], [0.0], [20.0]], np.float32)
    along = np.zeros((3, 1), np.float32)
    weight = corner_weight(along, side, (5.0, 10.0, 10.0, 20.0), True, CORNER_EXTENT)
    assert weight[1, 0] == pytest.approx(1.0) and weight[2, 0] > weight[0, 0]  # side > 0: below
    flipped = corner_weight(along, side, (5.0, 10.0, 10.0, 20.0), False, CORNER_EXTENT)
    assert flipped[0, 0] == pytest.approx(weight[2, 0])
    far = corner_weight(
        np.zeros((1, 1), np.float32), np.full((1, 1), 60.0, np.float32), (5.0, 10.0, 10.0, 20.0), True, 2.5
    )
    assert far[0, 0] == 0.0  # 3 sigmas below: past the extent


def test_carry_lift_with_equal_weights_is_the_usual_carry() -> None:
    rng = np.random.default_rng(0)
    region = rng.normal(size=(9, 7, 2)).astype(np.float32)
    dx, dy = np.arange(7, dtype=np.float32)[None, :] - 3, np.arange(9, dtype=np.float32)[:, None] - 4
    motion, slope = np.array([1.0, -2.0], np.float32), np.array([[0.1, -0.2], [0.2, 0.1]], np.float32)
    weight = rng.uniform(size=(9, 7)).astype(np.float32)
    wanted = motion + np.stack(np.broadcast_arrays(dx, dy), axis=-1) @ slope.T
    usual = region + weight[:, :, None] * (wanted - region)
    carry_lift(region, (dx, dy), motion, slope, (weight, weight), np.array([0.0, 1.0], np.float32))
    np.testing.assert_allclose(region, usual, atol=1e-5)


def test_a_rising_corner_lifts_the_skin_further_below_it_and_moves_it_along_as_before() -> None:
    flows = {}
    for lifted in (False, True):
        flows[lifted] = np.zeros((140, 120, 2), np.float32)
        carry_corners(flows[lifted], _motion(6.0, lifted))
    below = flows[True][60 + 14, 40], flows[False][60 + 14, 40]  # 0.35 mouth widths under the target corner
    assert below[0][1] > below[1][1] + 1.0  # read further down: the skin there rises more
    np.testing.assert_allclose(flows[True][..., 0], flows[False][..., 0], atol=0.2)  # x: about the usual
    np.testing.assert_allclose(flows[True][54, 40], flows[False][54, 40], atol=1e-4)  # the corner itself
    assert np.abs(flows[True][5, 5]).max() < 1e-6  # far away: nothing


def test_a_falling_corner_is_carried_as_before() -> None:
    flows = []
    for lifted in (False, True):
        flow = np.zeros((140, 120, 2), np.float32)
        carry_corners(flow, _motion(-6.0, lifted))
        flows.append(flow)
    np.testing.assert_array_equal(flows[0], flows[1])


@pytest.mark.realdata
@pytest.mark.slow
def test_a_smile_on_a_sad_mouth_does_not_stretch_hooks_under_the_corners(shared_data: Path) -> None:
    """Smile 1 on face-api.js sad.jpg: the corner smear (photo detail magnified beyond 3x around the
    corners, `benchmarks.smile_frown_measure`) was 0.455 (the corners' shadows stretched into hooks);
    0.054 with the corners lifting the skin further."""
    from benchmarks.smile_frown_measure import smear_of
    from pipeline import EngineRegistry, prepare_photo

    registry = EngineRegistry(fast=False)
    state = prepare_photo(
        shared_data / "images" / "justadudewhohacks__face-api.js__sad.jpg", registry=registry
    )
    default = registry.geometric(state.backend).renderer.settings.smile_corners
    assert smear_of(state, registry, {"smile": 1.0}, default) < 0.15
