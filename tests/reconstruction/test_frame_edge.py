from __future__ import annotations

import cv2
import numpy as np

from reconstruction.crop import CropTransform, warp_photo
from reconstruction.frame_edge import absolute_reads_in_frame


def test_reads_stay_in_the_frame_and_in_order() -> None:
    """A shift of 20 px out of the photo's bottom edge: every read lands inside the frame, rows keep
    their order (no fold, no repeated row), and far from the edge the shift is untouched."""
    shift = np.zeros((100, 60, 2), np.float32)
    shift[..., 1] = 20.0
    map_x, map_y = absolute_reads_in_frame(shift, (10, 50), (150, 80), reach=20.0)
    assert map_y.max() <= 149.0 + 1e-4
    steps = np.diff(map_y[:, 0])
    assert steps.min() >= 0.49, steps.min()  # stretched by at most 2x
    np.testing.assert_allclose(map_y[:50, 0], np.arange(50, 100) + 20.0)  # 2 x 20 px from the edge
    np.testing.assert_allclose(map_x, np.broadcast_to(np.arange(10, 70, dtype=np.float32), (100, 60)))


def test_inward_shifts_are_untouched() -> None:
    shift = np.full((40, 40, 2), -15.0, np.float32)  # reads up and left, away from the far edges
    map_x, map_y = absolute_reads_in_frame(shift.copy(), (60, 60), (100, 100), reach=15.0)
    np.testing.assert_allclose(map_y[:, 0], np.arange(60, 100) - 15.0)
    np.testing.assert_allclose(map_x[0], np.arange(60, 100) - 15.0)


def test_a_chin_raised_over_the_frames_edge_does_not_streak() -> None:
    """The crop reaches past the photo's bottom edge (a neck cut off by the frame) and the motion
    reads from below it: the photo's bottom rows are stretched, not its last row repeated in
    vertical streaks (the neck under a raised chin, before)."""
    photo = cv2.GaussianBlur(np.random.default_rng(5).integers(0, 256, (300, 300, 3), np.uint8), (0, 0), 1.0)
    t = CropTransform.from_box(150.0, 220.0, 256.0, photo.shape[:2])  # box down to y = 348
    flow = np.zeros((256, 256, 2), np.float32)
    flow[..., 1] = 24.0  # every crop pixel reads 24 crop px (= photo px) lower
    out = warp_photo(photo, flow, t).astype(np.float32)
    bottom = out[270:300, 100:200]
    repeats = np.abs(np.diff(bottom, axis=0)).mean(axis=(1, 2))  # row-to-row change
    assert repeats.min() > 1.5, repeats.round(1)  # 0 where the last row was repeated (2.7 now)
