"""The near cheek's silhouette drawn at a moderate magnification, not cut straight by the mesh.

At a turn towards the camera the fitted mesh's outermost band on that side, seen almost edge-on in
the photo, opens up: along the rows its few photo pixels (the photo's silhouette: skin against hair,
background or neck) are magnified 4-9x. The photo's curved, soft edge is spread over a band whose
ends follow the mesh's grazing line: a straight vertical cut down the cheek, a diagonal at the jaw's
corner, the hair just beside the cheek smeared (docs/NEAR_CUT.md). Here, per row and side of the
face, the reads of a window from the eyes' and mouth's full-resolution boxes out to where the flow
has faded are re-parametrised along the row (a monotone map of the window onto itself): no photo
column is magnified more than `NEAR_CAP`, the width saved goes to the rest of the window in
proportion, mostly to the hair and background beside the cheek, which move out with it. Used by the
geometric renderer (`pipeline.geometric`) on its coarse grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["NEAR_CAP", "NEAR_INNER", "NEAR_SMOOTH", "hold_near_rim"]

#: At most this many output columns per photo column along a row in the window.
NEAR_CAP = 2.0
#: The window starts at most this many face sizes inside the face's rim ...
NEAR_INNER = 0.25
#: ... and its change is smoothed down the columns over this many face sizes (Gaussian sigma).
NEAR_SMOOTH = 0.02
#: The window ends outside where the flow has faded below this (grid pixels).
_FADED = 0.05


def hold_near_rim(
    flow: np.ndarray,
    cover: np.ndarray,
    grid: tuple[float, float],
    face_size: float,
    boxes: Sequence[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """(h, w, 2) float32: `flow` with its reads re-parametrised along the rows beside the face so
    that no photo column is magnified much more than `NEAR_CAP` (the window's rest, scaled to give
    the width back, lowers the cap's slope by a few per cent).

    flow: (h, w, 2) backward flow in crop pixels on a grid of `grid` (x, y) grid pixels per crop
    pixel; cover: (h, w) > 0.5 on the target's face; face_size: crop pixels; boxes: (lo, hi) (x, y)
    crop-pixel boxes where the flow is set again at full resolution (eyes, mouth): no window reaches
    into them.
    """
    step = np.asarray(grid, np.float64)
    scale = float(step.min())
    face_size = face_size * scale
    boxes = [((lo + 0.5) * step - 0.5, (hi + 0.5) * step - 0.5) for lo, hi in boxes]
    h, w = cover.shape
    face = cover > 0.5
    if not face.any():
        return flow
    # Per row, the columns the boxes cover: no window's inner end lies inside them.
    lo_x, hi_x = np.full(h, np.inf, np.float32), np.full(h, -np.inf, np.float32)
    for lo, hi in boxes:
        rows = slice(max(int(np.floor(lo[1])), 0), max(int(np.ceil(hi[1])) + 1, 0))
        lo_x[rows] = np.minimum(lo_x[rows], lo[0])
        hi_x[rows] = np.maximum(hi_x[rows], hi[0])
    shift = flow * scale  # grid pixels
    still = np.abs(shift[..., 0]) < _FADED
    inner = NEAR_INNER * face_size
    right = _hold_side(shift[..., 0], shift[..., 1], still, face, hi_x, inner)
    # The image-left side as the right side of the mirrored grid (x and its shift change sign).
    left = _hold_side(
        -shift[:, ::-1, 0], shift[:, ::-1, 1], still[:, ::-1], face[:, ::-1], (w - 1) - lo_x, inner
    )
    if right is None and left is None:
        return flow
    change = np.zeros((h, w, 2), np.float32)
    if right is not None:
        rows, cols, dx, dy = right
        change[rows, cols, 0], change[rows, cols, 1] = dx, dy
    if left is not None:
        rows, cols, dx, dy = left
        change[rows, w - 1 - cols, 0], change[rows, w - 1 - cols, 1] = -dx, dy
    sigma = NEAR_SMOOTH * face_size
    if sigma >= 0.3:
        size = 2 * int(np.ceil(3.0 * sigma)) + 1
        change = cv2.sepFilter2D(
            change, -1, np.ones(1, np.float32), cv2.getGaussianKernel(size, sigma, cv2.CV_32F)
        )
    return (flow + change / scale).astype(np.float32, copy=False)


def _hold_side(
    shift_x: np.ndarray,
    shift_y: np.ndarray,
    still: np.ndarray,
    face: np.ndarray,
    box_end: np.ndarray,
    inner: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The change of the reads on the image-right side of the face: rows, columns, dx, dy (grid
    pixels) of the changed cells, or None.

    shift_x, shift_y: (h, w) the flow in grid pixels; still: (h, w) where it has faded; face:
    (h, w) bool; box_end: (h,) the right end of the boxes per row (-inf: none)."""
    h, w = face.shape
    rim = w - 1 - np.argmax(face[:, ::-1], axis=1)  # (h,) last face column per row
    start = np.maximum(np.ceil(np.maximum(rim - inner, box_end + 1.0)), 0).astype(np.int64)
    # The window's outer end: the first column beyond the rim where the flow has faded.
    faded = (np.arange(w)[None, :] > rim[:, None]) & still
    end = np.where(faded.any(axis=1), np.argmax(faded, axis=1), w - 1)
    rows = np.flatnonzero(face.any(axis=1) & (end - start >= 4) & (start < rim))
    if len(rows) == 0:
        return None
    # Only the windows' rows and columns from here on (a fraction of the grid).
    c0, c1 = int(start[rows].min()), int(end[rows].max()) + 1
    start, end = start[rows, None] - c0, end[rows, None] - c0
    x = shift_x[rows, c0:c1] + np.arange(c0, c1, dtype=np.float32)  # the photo column each cell reads
    slope = np.diff(x, axis=1)  # slope j between columns j and j + 1
    span = np.arange(c1 - c0 - 1)[None, :]
    inside = (span >= start) & (span < end)
    floor = np.float32(1.0 / NEAR_CAP)
    # A fold in the window (a read that steps back) is an occlusion edge: left alone.
    ok = ~np.any(inside & (slope <= 0.0), axis=1) & np.any(inside & (slope < floor), axis=1)
    if not ok.any():
        return None
    inside &= ok[:, None]
    held = np.where(inside, np.maximum(slope, floor), 0.0)
    total = np.where(inside, slope, 0.0).sum(axis=1)
    held *= (total / np.maximum(held.sum(axis=1), 1e-6))[:, None]
    # New reads along the window: from its inner end's read, the held steps added up.
    new_x = x.copy()
    new_x[:, 1:] = np.where(inside, np.take_along_axis(x, start, axis=1) + held.cumsum(axis=1), x[:, 1:])
    # Where along the old row each new read lies (the map's inverse), rows kept apart by an offset.
    window = np.zeros(x.shape, bool)
    window[:, 1:] = inside
    window |= (np.arange(c1 - c0)[None, :] == start) & ok[:, None]
    r, c = np.nonzero(window)
    offset = r * 4.0 * (c1 - c0 + float(np.abs(x).max()) + 1.0)
    at = np.interp(new_x[r, c] + offset, x[r, c] + offset, c + offset) - offset  # old column of each new read
    y = shift_y[rows, c0:c1]
    dy = np.interp(at + offset, c + offset, y[r, c]) - y[r, c]
    return rows[r], c + c0, new_x[r, c] - x[r, c], dy
