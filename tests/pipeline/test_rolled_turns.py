"""A rolled head's flow beyond the face made in its level frame: the frame levels the head, upright
heads get none, stages that change nothing change nothing, a flow rotated with the head comes back
as it went, and on a real photo rotated by 20 degrees a turn's jaw and neck are no more stretched
than on the upright photo (docs/ROLLED_TURNS.md)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.rolled_turns import LEVEL_ROLL, LevelFrame, level_frame

SIZE = 64


def _crop() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)


def _frame(roll_degrees: float) -> LevelFrame | None:
    points = np.array([[20.0, 20.0, 0.0], [44.0, 20.0, 0.0], [32.0, 50.0, 0.0]])
    return level_frame(math.radians(roll_degrees), _crop(), points, 0.5, 30.0, jaw=False)


def test_an_upright_head_has_no_level_frame() -> None:
    assert _frame(LEVEL_ROLL * 0.9) is None
    assert _frame(-LEVEL_ROLL * 0.9) is None
    assert _frame(LEVEL_ROLL * 1.1) is not None


def test_the_level_frame_undoes_the_roll() -> None:
    # Points on a line rolled as a head with a positive roll shows its eyes (the right one higher).
    frame = _frame(20.0)
    assert frame is not None
    angle = math.radians(-20.0)
    line = np.array([[32.0 + t * math.cos(angle), 32.0 + t * math.sin(angle)] for t in (-10.0, 10.0)])
    level = frame.points(line)
    assert abs(level[1, 1] - level[0, 1]) < 1e-6 * SIZE
    assert level[1, 0] > level[0, 0]


def _identity(flow, cover, points, target, boxes, jaw, size):  # noqa: ANN001, ANN202
    """Stages that change nothing on the face (and carry nothing beyond it)."""
    return flow * (cover[..., None] > 0.5), (None, None)


def test_stages_that_change_nothing_leave_the_face_as_it_was() -> None:
    frame = _frame(25.0)
    assert frame is not None
    rh = SIZE // 2
    gy, gx = np.mgrid[0:rh, 0:rh].astype(np.float32)
    cover = (((gx - 16) ** 2 + (gy - 16) ** 2) < 8.0**2).astype(np.float32)
    flow = np.stack([0.1 * (gx - 16), 0.05 * (gy - 16)], axis=-1).astype(np.float32) * cover[..., None]
    points = np.zeros((3, 3))
    out, layer = frame.run(_identity, flow, cover, points, points, [], (SIZE, SIZE))
    assert layer == (None, None)
    inner = cv2.erode(cover, np.ones((3, 3), np.uint8), iterations=2) > 0.5
    np.testing.assert_allclose(out[inner], flow[inner], atol=1e-5)
    assert np.abs(out[cover < 0.5]).max() < 0.5  # beyond: what the stages carried there (nothing)


def test_a_flow_beyond_the_face_comes_back_rotated_with_the_head() -> None:
    # Stages that set a constant flow along the level frame's x axis beyond the face: on the crop it
    # points along the head's rolled x axis.
    frame = _frame(30.0)
    assert frame is not None
    rh = SIZE // 2
    cover = np.zeros((rh, rh), np.float32)
    cover[12:20, 12:20] = 1.0

    def along_x(flow, cover, points, target, boxes, jaw, size):  # noqa: ANN001, ANN202
        out = flow.copy()
        out[cover < 0.5] = (2.0, 0.0)
        return out, (None, None)

    points = np.zeros((3, 3))
    out, _ = frame.run(along_x, np.zeros((rh, rh, 2), np.float32), cover, points, points, [], (SIZE, SIZE))
    vector = out[2, 2]
    angle = math.degrees(math.atan2(vector[1], vector[0]))
    assert abs(float(np.hypot(*vector)) - 2.0) < 1e-3
    assert abs(angle - (-30.0)) < 0.5  # the head's x axis as the crop shows it (y down)


@pytest.mark.realdata
@pytest.mark.slow
def test_a_rolled_photo_turns_like_the_upright_one(shared_data: Path) -> None:
    """img1 rotated by +20 degrees, yaw +30: the jaw/neck band's over-magnified share exceeds the
    upright photo's by at most 0.02 (main: 0.060)."""
    from benchmarks.rolled_turns_measure import measure_case, padded
    from pipeline import EngineRegistry, prepare_photo

    registry = EngineRegistry(fast=False)
    renderer = registry.geometric("default").renderer
    base = renderer.settings
    photo = cv2.cvtColor(
        cv2.imread(str(shared_data / "images" / "serengil__deepface__img1.jpg")), cv2.COLOR_BGR2RGB
    )
    image, _ = padded(photo)
    try:
        renderer.settings = dataclasses.replace(base, rolled_turns=True)
        x0, y0, x1, y1 = prepare_photo(image, registry=registry).crop_transform.box
        centre = (0.5 * (x0 + x1), 0.5 * (y0 + y1))
        upright, reference = measure_case(image, centre, 0.0, 30.0, registry, None)
        rolled, _ = measure_case(image, centre, 20.0, 30.0, registry, reference)
    finally:
        renderer.settings = base
    assert rolled.over - upright.over <= 0.02
