"""The skin under an opened mouth's lower lip, squeezed instead of folded under the lip (issue #17).

The open_mouth direction drops the lower lip as a whole and holds the chin still
(`reconstruction.control_directions`): the mesh folds at the lip's outer contour, the lip's
triangles (drawn in front) cover the skin under it, and down a column the backward flow skips the
photo's strip under its lower lip (its shadow, the crease above the chin) in one output row. The
lip then ends in a hard edge over the chin, and the light blur of the mesh's flow reads single
pixels of the skipped strip along it: a beaded seam that makes lip and chin look pasted
(docs/LIP_SEAM.md).

`unfold_under_lower_lip` spreads each such skip evenly down the column from the lip's outer
contour: the photo's strip is shown squeezed (a crease under a lip pushed down), each column's
reads keep their ends, and the flow stays continuous, so the photo's resolution draws skin.
Behind `PreviewSettings.lip_seam`, off: it lost docs/LIP_SEAM.md's rule twice (round 2: seams
along the jaw, the neck squeezed 1.505x on a 256 px photo, x1.06 per preview).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.face_paint import curve_y
from pipeline.mouth import MouthMotion, corners_x, opening_columns

__all__ = ["EDGE", "OUTER_LOWER", "REACH", "SHEAR", "SPREAD", "unfold_under_lower_lip"]

#: How far past a skip it is spread, evenly (`_kernel`), in mouth widths: a skip of s rows squeezes
#: the skin under the lip and the chin by s / (SPREAD x width) each (round 1's t exp(-t / 0.3 w)
#: piled 1.2 s / width onto the chin and squeezed the neck up to 2.1x: docs/LIP_SEAM.md round 2).
SPREAD = 2.4
#: Mesh vertices of the lower lip's outer contour (image left to right) and how many crop pixels
#: above it the spread begins: the lip's body keeps its reads (round 1 began 1 px under the inner
#: lip, and along the rows it spread a turned lip's own foreshortening, drawing it out 2x).
OUTER_LOWER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291], dtype=np.int64)
EDGE = 3.0
#: The skips spread: those up to [0] mouth widths beside the mouth's corners (the lower lip's outer
#: corners lie beyond its inner ones) and down to [1] mouth widths under the target's inner lower
#: lip (the lip and its contour, not the jaw's edge), fading out over the last [2].
REACH = (0.4, 0.8, 0.15)
#: Along the rows, steps are spread below the band where the columns' spread moved the reads by
#: this many crop pixels (fully; less, in proportion).
SHEAR = 0.5


def unfold_under_lower_lip(flow: np.ndarray, mouth: MouthMotion, target_points: np.ndarray) -> None:
    """Spread the skips under the target's lower lip (the (H, W, 2) backward flow, in place; from
    `EDGE` px above the lip's outer contour, `OUTER_LOWER` of `target_points`, (N, 2+) crop px):
    down each column (the lip's lower contour), then along each row outwards from the mouth's middle
    (its sides). What a step reads beyond its own pixel, as far as it is longer than a pixel, is
    moved onto the pixels past it (`_kernel`, `SPREAD` mouth widths), each line's total kept, so the
    reads at the region's ends do not change. Only steps that read further along the
    photo in the scan's direction are spread; the opening above the inner lip is not touched."""
    upper, lower = mouth.target_lips
    left, right = corners_x(upper)
    width = right - left
    reach = SPREAD * width
    if reach < 2.0 or not opening_columns(np.linspace(left, right, 9), mouth).extra.any():
        return  # a mouth that opens no wider than the photo's drops no lip over its chin
    h, w = flow.shape[:2]
    # The band whose skips are spread, and round it the room they are spread into (none lost).
    room = reach + 2.0
    x0, x1 = (
        max(int(np.floor(left - REACH[0] * width - room)), 0),
        min(int(np.ceil(right + REACH[0] * width + room)) + 1, w),
    )
    xs = np.arange(x0, x1, dtype=np.float64)
    lip = curve_y(lower, np.clip(xs, left, right))  # (w',)
    y0 = max(int(np.floor(lip.min())) + 1, 0)
    y1 = min(int(np.ceil(lip.max() + REACH[1] * width + room)) + 1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    region = flow[
        y0:y1, x0:x1
    ]  # a pixel's read is its place plus its flow: steps differ by the scan's one pixel
    depth = (np.arange(y0, y1, dtype=np.float64)[:, None] - lip[None, :]).astype(np.float32)
    outer = target_points[OUTER_LOWER, :2]
    edge = curve_y(outer, np.clip(xs, outer[0, 0], outer[-1, 0])) - lip - EDGE  # depth of the band's top
    fade = REACH[2] * width
    beside = np.clip(((0.5 + REACH[0]) * width - np.abs(xs - 0.5 * (left + right))) / fade, 0.0, 1.0)
    cols = np.flatnonzero(beside > 0.0)
    if len(cols) < 2:
        return
    c0, c1 = int(cols[0]), int(cols[-1]) + 1  # the band's columns (the rest is room for the rows)
    top = np.maximum(edge[None, c0:c1], 1.0)
    under = (depth[:, c0:c1] >= top) * beside[None, c0:c1].astype(np.float32)
    band = under * np.clip((REACH[1] * width - depth[:, c0:c1]) / fade, 0.0, 1.0)
    kernel, behind = _kernel(reach)
    change = _spread_skips(region[:, c0:c1], band, (0.0, 1.0), kernel, behind)  # down the columns
    # Along the rows: the lip's steep sides, and wherever the columns' spread moved the skin (beside
    # the lip's side it stops, and the skin under the lip would shear against the skin beside it).
    sideways = np.zeros(region.shape[:2], np.float32)
    sideways[:, c0:c1] = band
    if change is not None:
        moved = np.maximum(np.abs(change[..., 0]), np.abs(change[..., 1])) / SHEAR
        sideways[1:, c0:c1] = under[1:] * np.clip(np.maximum(band[1:], moved), 0.0, 1.0)
        # a pixel wider under the lip: the step from the last moved pixel to a still one is the shear
        np.maximum(sideways[:, 1:], sideways[:, :-1].copy(), out=sideways[:, 1:])
        np.maximum(sideways[:, :-1], sideways[:, 1:].copy(), out=sideways[:, :-1])
        sideways[:, :c0], sideways[:, c1:] = 0.0, 0.0
        sideways[:, c0:c1] *= under > 0.0
    rows = np.flatnonzero(sideways.any(axis=1))
    if len(rows):
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        middle = int(np.clip(round(0.5 * (left + right)) - x0, 1, x1 - x0 - 2))
        for half, inside, outwards in (
            (region[r0:r1, middle:], sideways[r0:r1, middle:], (1.0, 0.0)),  # right of the middle
            (region[r0:r1, middle::-1], sideways[r0:r1, middle::-1], (-1.0, 0.0)),  # left of it
        ):
            lines = np.ascontiguousarray(half.transpose(1, 0, 2))  # along the rows, as columns
            _spread_skips(lines, np.ascontiguousarray(inside.T), outwards, kernel, behind)
            half[...] = lines.transpose(1, 0, 2)


def _kernel(reach: float) -> tuple[np.ndarray, int]:
    """The spread's (n,) weights at 0 .. `reach` px past a skip, even: nothing lands on the skip
    itself or before it (the lip keeps its reads); the skin under the lip, the chin and the top of
    the neck take one even squeeze, the least any spread of the skip over them can make; and how
    many lie before the skip (0)."""
    kernel = np.ones(int(np.ceil(reach)) + 1, dtype=np.float64)
    kernel[0] = 0.0
    return (kernel / kernel.sum()).astype(np.float32), 0


def _spread_skips(
    flow: np.ndarray, inside: np.ndarray, direction: tuple[float, float], kernel: np.ndarray, behind: int
) -> np.ndarray | None:
    """Spread the skips of the (n, m, 2) backward `flow` along its first axis (in place; a view is
    written through), which runs along `direction` (x, y) in the crop: steps between two pixels of
    `inside` (n, m, weights in [0, 1]) that read further that way and squeeze the photo lend what they
    read beyond their own pixel to the steps around (`kernel`, `behind` of its weights before the
    skip); the first read stays, and so does the last: a kernel cut by the line's end is scaled up to
    keep its sum (a skip that keeps less than a quarter of it is not spread). Returns how the reads
    after the first moved (None: not at all)."""
    steps = np.diff(flow, axis=0)  # (n - 1, m, 2): the reads' steps less the scan's own pixel
    dx, dy = steps[..., 0], steps[..., 1]
    sx, sy = dx + np.float32(direction[0]), dy + np.float32(direction[1])
    # What a step reads beyond the scan's own pixel (dx, dy); of it, as much as the step is longer
    # than a pixel is lent (a skip across the scan keeps its one pixel along it: no streak).
    longer = np.sqrt(np.square(sx) + np.square(sy)) - 1.0
    share = np.clip(longer / np.maximum(np.sqrt(np.square(dx) + np.square(dy)), 1e-6), 0.0, 1.0)
    share *= np.minimum(inside[1:], inside[:-1]) * (sx * direction[0] + sy * direction[1] > 0.0)
    # The kernel's part that lands on a step before the line's end, per step (behind = 0).
    left = np.minimum(len(steps) - 1 - np.arange(len(steps)), len(kernel) - 1)
    fits = np.concatenate([[0.0], np.cumsum(kernel)])[left + 1].astype(np.float32)
    share *= (fits >= 0.25)[:, None]
    if not share.any():
        return None
    excess = steps * share[:, :, None]
    ahead = len(kernel) - 1 - behind
    # filter2D correlates: a step at r lands on r + k with weight kernel[k + behind] (anchor flipped).
    lent = excess / np.maximum(fits, 0.25)[:, None, None]
    spread = cv2.filter2D(lent, -1, kernel[::-1, None], anchor=(0, ahead), borderType=cv2.BORDER_CONSTANT)
    change = np.cumsum(spread - excess, axis=0)  # (n - 1, m, 2) of the reads after the first
    flow[1:] += change
    return change
