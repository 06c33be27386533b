"""Reads kept inside the photo's frame: a motion that pulls content in from beyond the photo's
edge (a raised chin over a neck the frame cuts off, a head moved away from the border it touches)
stretches what the photo has next to its edge instead of repeating the edge's last row or column
as streaks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["absolute_reads_in_frame"]


def absolute_reads_in_frame(
    shift: np.ndarray, origin: tuple[int, int], frame: tuple[int, int], reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """Turn the (h, w, 2) float32 backward shift of the photo region at `origin` (x0, y0) into
    absolute read positions, in place, kept inside the photo (`frame` = (H, W)).

    Near a border, a shift pointing out of the photo is scaled by the room left to the border over
    twice the shift: the read reaches the border exactly at the border and the band in between is
    stretched by at most 2x (monotonic: no fold, no repeated row). Shifts pointing inwards and
    pixels farther from a border than 2 * `reach` (the largest shift, photo pixels) are untouched.

    Returns:
        The x and y read maps: views of `shift`.
    """
    h, w = shift.shape[:2]
    x0, y0 = origin
    height, width = frame
    band = 2.0 * max(float(reach), 0.0)
    for axis, start, size, last in ((0, x0, w, width - 1), (1, y0, h, height - 1)):
        positions = np.arange(start, start + size, dtype=np.float32)
        near = int(np.searchsorted(positions, band, side="right"))  # within the band of the first edge
        far = int(np.searchsorted(positions, last - band, side="left"))  # ... of the last edge
        for lo, hi, outward, room in (
            (0, near, -1.0, positions[:near]),
            (far, size, 1.0, last - positions[far:]),
        ):
            if hi <= lo:
                continue
            part = shift[:, lo:hi, 0] if axis == 0 else shift[lo:hi, :, 1]
            room = room[None, :] if axis == 0 else room[:, None]
            out = np.maximum(part * outward, 0.0)  # the outward part of the shift
            scale = np.minimum(np.maximum(room, 0.0) / np.maximum(2.0 * out, 1e-6), 1.0)
            np.copyto(part, part * scale, where=out > 0.0)
    map_x, map_y = shift[..., 0], shift[..., 1]
    map_x += np.arange(x0, x0 + w, dtype=np.float32)
    map_y += np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    return map_x, map_y
