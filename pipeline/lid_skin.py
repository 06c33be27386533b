"""A shut lid's skin where it is stretched well beyond twice, laid as paint (docs/SHUT_LIDS.md,
"Skin without streaks").

A shut lid (`eyes.refine_eye_flow`) reads the photo's strip of skin above its lashes drawn down
over the eye's opening. On a low crease that strip is a few crop pixels high and is stretched about
3x: at the photo's resolution each photo row (its pores and fine lines) repeats down several output
rows, and long lashes or a liner in the strip are drawn out over the lid. There the lid is painted
instead: its colour is the photo's own lid skin with the hairs averaged out (`lid_colours`, once per
photo) read through the frame's flow, and its fine texture is the photo's own skin above the lid
at the photo's resolution (`reconstruction.skin.lay_skin_texture`, on the coverage returned by
`smooth_shut_lids`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from core.images import LUMA as _LUMA
from pipeline.dark_lids import calm_tile, no_lighter
from pipeline.lid_shape import LidDetail, shape_lids
from pipeline.wide_eyes import white_pixels

__all__ = ["lid_colours", "smooth_shut_lids"]

#: A shut lid's reads advancing less than this many photo rows per output row stretch its skin
#: (pores, fine lines) into vertical streaks at the photo's resolution; fully painted from this
#: less `_STRETCH_RAMP` down.
_STRETCHED = 0.85
_STRETCH_RAMP = 0.25
#: A shut lid is painted only where its middle is stretched this much (its reads advancing at most
#: this many source rows per output row, 10th percentile), fully from `_STREAKS_RAMP` less.
_STREAKS = 0.5
_STREAKS_RAMP = 0.1
#: Lid pixels this many luma levels darker than the lid's skin (this percentile of the skin's luma
#: above the lid line) hardly count towards the painted lid's colour: hairs, a liner.
_HAIR = 25.0
_SKIN = 70.0
#: How softly (crop pixels) the painted lid fades into the photo's skin around it.
_SOFT = 2.0
#: The lid's colour is averaged over this many crop pixels across (x) and down (y), photo frame.
_AVERAGE = (2.0, 1.5)


def lid_colours(source: np.ndarray, uppers: Sequence[np.ndarray], white: Sequence[bool] = ()) -> np.ndarray:
    """(H, W, 3) float32: the (H, W, 3) uint8 crop `source` with the skin above each upper lid
    curve (K, 2) (up to 0.6 eye widths) averaged over `_AVERAGE` crop pixels, pixels well darker
    than the lid's skin (hairs, a liner: `_HAIR`) hardly counting; elsewhere the crop itself.
    What a painted shut lid shows, read through the frame's flow (`smooth_shut_lids`). white: per
    eye, whether the eye's white hardly counts either (`wide_eyes.white_pixels`)."""
    field = source.astype(np.float32)
    h, w = source.shape[:2]
    for k, upper in enumerate(uppers):
        width = float(np.hypot(*(upper[-1] - upper[0])))
        if width < 4.0:
            continue
        x0, x1 = max(int(upper[:, 0].min()) - 3, 0), min(int(upper[:, 0].max()) + 4, w)
        y0, y1 = max(int(upper[:, 1].min() - 0.6 * width), 0), min(int(upper[:, 1].max()) + 3, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        region = field[y0:y1, x0:x1].copy()
        luma = region @ _LUMA
        # The lid's skin: the lighter part of the skin above the lid line (a row of liner or
        # lashes, or a dark corner, is dark all across: no level per row or column would tell).
        above = luma[: max(int(upper[:, 1].min() - 0.1 * width) - y0, 1)]
        level = float(np.percentile(above, _SKIN))
        weight = np.clip(1.0 - (level - luma) / _HAIR, 0.05, 1.0).astype(np.float32)
        if k < len(white) and white[k]:  # a wide-open eye's white above the fitted lid
            weight[white_pixels(region, luma, level)] = 0.05
        sx, sy = _AVERAGE
        # (where next to nothing counts, the crop's own colour: a mean of next to nothing is noise)
        total = cv2.GaussianBlur(region * weight[..., None], (0, 0), sigmaX=sx, sigmaY=sy) + 0.05 * region
        field[y0:y1, x0:x1] = (
            total / (cv2.GaussianBlur(weight, (0, 0), sigmaX=sx, sigmaY=sy) + 0.05)[..., None]
        )
    return field


def smooth_shut_lids(
    out: np.ndarray,
    coverage: np.ndarray,
    paint: np.ndarray,
    flow: np.ndarray,
    hidden: np.ndarray,
    colours: np.ndarray,
    detail: LidDetail | None = None,
    dark: bool = False,
) -> np.ndarray | None:
    """Lay shut lids' stretched skin as paint (in place); return the painted skin's (H, W) float32
    coverage, where `reconstruction.skin.lay_skin_texture` gives it the photo's own fine texture,
    or None where no lid is painted.

    out, paint: (H, W, 3) uint8 crop and overlay colour; coverage: (H, W) float32, with the lids'
    lash lines already painted (`face_paint.paint_lash_line`: they stay over the lids); flow:
    (H, W, 2) backward flow; hidden: (H, W) float32, the photo's eye openings the lids shut
    (`eyes.shut_opening`, all eyes in one mask, side by side); colours: the photo's lid colours
    (`lid_colours`); detail: the photo's `lid_shape.lid_detail`, given when the lids are shaped as
    lids (`lid_shape.shape_lids`, `PreviewSettings.lid_shape`); dark (`PreviewSettings.dark_lids`):
    the paint no paler than its read (`dark_lids.no_lighter`), its texture without blotches
    (`dark_lids.calm_tile`). Above each opening, where the reads
    advance less than `_STRETCHED` source rows per output row (the lid's skin drawn down over the
    opening), on a lid whose middle is stretched beyond about twice, `colours` read through the flow become the overlay, faded in over
    `_STRETCH_RAMP` of that rate and `_SOFT` crop pixels around. One box around all shut eyes: a
    frame's cost is mostly per operation, not per pixel.
    """
    shut = hidden > 0.5
    bx, by, bw, bh = cv2.boundingRect(shut.view(np.uint8))
    if bw < 4 or bh < 1:
        return None
    runs = _runs(np.flatnonzero(shut[by : by + bh, bx : bx + bw].any(axis=0)) + bx)
    width = max(float(b - a) for a, b in runs)
    h, w = hidden.shape
    x0, x1 = max(bx - 2, 0), min(bx + bw + 2, w)
    y0, y1 = max(int(by - 0.6 * width), 0), min(by + bh + 2, h)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    fy = flow[y0:y1, x0:x1, 1]
    advance = np.empty_like(fy)  # source rows per output row
    advance[1:-1] = 1.0 + 0.5 * (fy[2:] - fy[:-2])
    advance[0], advance[-1] = advance[1], advance[-2]
    top = np.where(shut[y0:y1, x0:x1], ys, float(h)).min(axis=0)  # the opening's top row
    lid = ys + fy < top[None, :] - 0.5  # reads the skin above it
    # Only a lid stretched well beyond twice (a thin strip above a lash run or a low crease drawn
    # over a wide opening) streaks: one stretched less keeps the photo's texture, which reads as skin.
    strength = np.zeros(x1 - x0, np.float32)
    for a, b in runs:
        a, b = a - x0, b - x0
        middle = advance[:, a + (b - a) // 4 : b - (b - a) // 4][lid[:, a + (b - a) // 4 : b - (b - a) // 4]]
        if middle.size >= 4:
            strongest = float(np.partition(middle, middle.size // 10)[middle.size // 10])
            strength[max(a - 2, 0) : b + 2] = np.clip((_STREAKS - strongest) / _STREAKS_RAMP, 0.0, 1.0)
    if strength.max() <= 0.0:
        return None
    stretched = np.clip((_STRETCHED - advance) / _STRETCH_RAMP, 0.0, 1.0) * lid * strength[None, :]
    # Faded in softly (a soft mask stays soft at the photo's resolution): no outline of a patch;
    # down to the lid's edge, where the painted lash line lies over it.
    alpha = np.clip(1.5 * cv2.GaussianBlur(stretched, (0, 0), _SOFT), 0.0, 1.0) * lid
    alpha[alpha < 0.05] = 0.0  # the blur's far tails: nothing to see, only a larger box to lay
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    colour = cv2.remap(
        colours, xs + flow[y0:y1, x0:x1, 0], ys + fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if dark:  # no paler than its read, no blotches (docs/DARK_LIDS.md)
        colour = no_lighter(colour, out[y0:y1, x0:x1])
        if detail is not None and detail.tile is not None:
            detail = LidDetail(calm_tile(detail.tile))
    if detail is not None:  # a lid's outline, shading and the photo's texture (docs/LID_SHAPE.md)
        alpha, colour = shape_lids(alpha, colour, coverage[y0:y1, x0:x1], runs, (x0, y0), detail)
    line = coverage[y0:y1, x0:x1]  # the lash lines already painted at the lids' edges
    under = alpha * (1.0 - line)  # under the lash line: the line over the painted lid over the photo
    # (convex mixes of uint8 colours: no clipping needed)
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (region + (colour - region) * under[..., None] + 0.5).astype(np.uint8)
    both = line + under
    region = paint[y0:y1, x0:x1].astype(np.float32)
    share = (under / np.maximum(both, 1e-6))[..., None]  # of the overlay's colour: the lid's
    paint[y0:y1, x0:x1] = (region + (colour - region) * share + 0.5).astype(np.uint8)
    coverage[y0:y1, x0:x1] = both
    skin = np.zeros((h, w), np.float32)
    skin[y0:y1, x0:x1] = under
    return skin


def _runs(cols: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of consecutive column indices in the sorted `cols` (one per eye)."""
    cuts = np.flatnonzero(np.diff(cols) > 1)
    return [
        (int(cols[a]), int(cols[b]) + 1)
        for a, b in zip(np.r_[0, cuts + 1], np.r_[cuts, len(cols) - 1], strict=True)
    ]
