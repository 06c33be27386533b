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
from typing import NamedTuple

import cv2
import numpy as np

from pipeline.eyes import Iris, eye_opening, iris_above_lid, lash_heights
from pipeline.face_paint import lash_colour

__all__ = ["lid_colours", "smooth_shut_lids", "ShutLidParts", "shut_lid_parts"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
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
#: An eye is deep-set (`shut_lid_parts`) where its iris's run (`eyes.iris_above_lid`) reaches this
#: many crop pixels past the photo's lash run above the fitted lid, over the iris's middle (the
#: iris seen above the lashes at all).
_DEEP = 0.5
#: A deep-set eye's lid is painted only in its lowest part: fully where it reads the photo up to
#: `_DEEP_REACH` crop pixels above the top of what it hides (that top row, which it reads down the
#: rest of the lid, `eyes.refine_eye_flow`, and the iris's soft rim above it), fading out over the
#: next `_DEEP_RAMP`; higher up it is the photo's own skin, as on main.
_DEEP_REACH = 2.0
_DEEP_RAMP = 1.0
#: How softly (crop pixels) the painted lid fades into the photo's skin around it.
_SOFT = 2.0
#: A Gaussian of sigma `_SOFT` crop pixels, for smoothing along a row of columns.
_KERNEL = np.exp(-0.5 * (np.arange(-6, 7) / _SOFT) ** 2).astype(np.float32)
_KERNEL /= _KERNEL.sum()
#: The lid's colour is averaged over this many crop pixels across (x) and down (y), photo frame.
_AVERAGE = (2.0, 1.5)


class ShutLidParts(NamedTuple):
    """What a shutting lid needs from the photo, found once per photo (`shut_lid_parts`).

    lashes: per eye, (K,) crop pixels the shut lid hides above each point of the fitted upper lid
    (the lash run, `eyes.lash_heights`, and on a deep-set eye the iris's top, `eyes.iris_above_lid`,
    where it reaches `_DEEP` past the lash run over the iris's middle);
    lash_colours: per eye, the lash line's colour (3,) (`face_paint.lash_colour` of the opening),
    or None; deep: per eye, whether the iris raised that run (a deep-set eye: its lid is read as
    without the run above it, `eyes.refine_eye_flow`, and painted below, `smooth_shut_lids`, its
    texture without the crease's lines); lid_colours: `lid_colours`, leaving out what a raised
    run hides.
    """

    lashes: tuple[np.ndarray, ...]
    lash_colours: tuple[np.ndarray | None, ...]
    deep: tuple[bool, ...]
    lid_colours: np.ndarray


def shut_lid_parts(
    source: np.ndarray,
    points: np.ndarray,
    eyes: Sequence[tuple[np.ndarray, np.ndarray]],
    irises: Sequence[Iris | None],
    deep_lids: bool,
) -> ShutLidParts:
    """`ShutLidParts` of the (H, W, 3) uint8 crop `source` with the fitted mesh's (N, 2+) points
    `points`, each eye's (upper, lower) lid point indices and iris; deep_lids: the iris's top
    above the fitted lid is hidden too (`PreviewSettings.deep_lids`, docs/DEEP_LIDS.md)."""
    runs, colours, deep = [], [], []
    for (u, lo), iris in zip(eyes, irises, strict=True):
        lashes = lash_heights(source, points[u, :2])
        above = iris_above_lid(iris, points[u, :2], source) if deep_lids and iris is not None else lashes
        # Deep-set: over the iris's middle its top reaches past the photo's lash run (a lid fitted
        # on its lashes hides the iris's top with them).
        middle = int(np.argmin(np.abs(points[u, 0] - iris.centre[0]))) if iris is not None else 0
        deep.append(bool(above[middle] > lashes[middle] + _DEEP))
        runs.append(np.maximum(lashes, above) if deep[-1] else lashes)
        opening = eye_opening(points[u, :2], points[lo, :2], source.shape[:2])
        seen = opening is not None and bool(np.any(opening > 0.5))
        colours.append(lash_colour(source, opening) if seen else None)  # (None: the line finds its own)
    hidden = [run if d else None for run, d in zip(runs, deep, strict=True)]
    field = lid_colours(source, [points[u, :2] for u, _ in eyes], hidden)
    return ShutLidParts(tuple(runs), tuple(colours), tuple(deep), field)


def lid_colours(
    source: np.ndarray, uppers: Sequence[np.ndarray], hidden: Sequence[np.ndarray | None] | None = None
) -> np.ndarray:
    """(H, W, 3) float32: the (H, W, 3) uint8 crop `source` with the skin above each upper lid
    curve (K, 2) (up to 0.6 eye widths) averaged over `_AVERAGE` crop pixels, pixels well darker
    than the lid's skin (hairs, a liner: `_HAIR`) hardly counting; elsewhere the crop itself.
    What a painted shut lid shows, read through the frame's flow (`smooth_shut_lids`).
    hidden: per eye, None or (K,) how far above its lid curve the shut lid hides the photo (a
    deep-set eye's iris top, `eyes.iris_above_lid`): nothing below that counts (no iris or
    catchlight smeared into the lid's colour)."""
    field = source.astype(np.float32)
    h, w = source.shape[:2]
    for upper, run in zip(uppers, hidden or [None] * len(uppers), strict=True):
        width = float(np.hypot(*(upper[-1] - upper[0])))
        if width < 4.0:
            continue
        x0, x1 = max(int(upper[:, 0].min()) - 3, 0), min(int(upper[:, 0].max()) + 4, w)
        reach = 3 if run is None else int(0.6 * width)  # a deep-set eye's: down over its opening
        y0, y1 = max(int(upper[:, 1].min() - 0.6 * width), 0), min(int(upper[:, 1].max()) + reach, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        region = field[y0:y1, x0:x1].copy()
        luma = region @ _LUMA
        # The lid's skin: the lighter part of the skin above the lid line (a row of liner or
        # lashes, or a dark corner, is dark all across: no level per row or column would tell).
        above = luma[: max(int(upper[:, 1].min() - 0.1 * width) - y0, 1)]
        level = float(np.percentile(above, _SKIN))
        weight = np.clip(1.0 - (level - luma) / _HAIR, 0.05, 1.0).astype(np.float32)
        below = None
        if run is not None:  # below the top of what the shut lid hides: the eye, not its lid
            order = np.argsort(upper[:, 0], kind="stable")
            top = np.interp(np.arange(x0, x1), upper[order, 0], upper[order, 1] - run[order]) - y0
            below = np.arange(y1 - y0)[:, None] > top[None, :]
            weight[below] = 0.0
        sx, sy = _AVERAGE
        # (where next to nothing counts, the crop's own colour: a mean of next to nothing is noise)
        total = cv2.GaussianBlur(region * weight[..., None], (0, 0), sigmaX=sx, sigmaY=sy) + 0.05 * region
        field[y0:y1, x0:x1] = (
            total / (cv2.GaussianBlur(weight, (0, 0), sigmaX=sx, sigmaY=sy) + 0.05)[..., None]
        )
        if below is not None:  # and there the lid's lowest colour (a lid drawn over it reads it)
            last = np.clip(np.floor(top).astype(int), 0, y1 - y0 - 1)
            rows = np.where(below, last[None, :], np.arange(y1 - y0)[:, None])
            field[y0:y1, x0:x1] = np.take_along_axis(field[y0:y1, x0:x1], rows[..., None], axis=0)
    return field


def smooth_shut_lids(
    out: np.ndarray,
    coverage: np.ndarray,
    paint: np.ndarray,
    flow: np.ndarray,
    hidden: np.ndarray,
    colours: np.ndarray,
    deep: np.ndarray | None = None,
) -> np.ndarray | None:
    """Lay shut lids' stretched skin as paint (in place); return the painted skin's (H, W) float32
    coverage, where `reconstruction.skin.lay_skin_texture` gives it the photo's own fine texture,
    or None where no lid is painted.

    out, paint: (H, W, 3) uint8 crop and overlay colour; coverage: (H, W) float32, with the lids'
    lash lines already painted (`face_paint.paint_lash_line`: they stay over the lids); flow:
    (H, W, 2) backward flow; hidden: (H, W) float32, the photo's eye openings the lids shut
    (`eyes.shut_opening`, all eyes in one mask, side by side); colours: the photo's lid colours
    (`lid_colours`). Above each opening, where the reads advance less than `_STRETCHED` source rows
    per output row (the lid's skin drawn down over the opening), on a lid whose middle is
    stretched beyond about twice, `colours` read through the flow become the overlay, faded in over
    `_STRETCH_RAMP` of that rate and `_SOFT` crop pixels around. One box around all shut eyes: a
    frame's cost is mostly per operation, not per pixel. deep: (H, W) float32, the part of
    `hidden` that shuts deep-set eyes (`ShutLidParts.deep`), or None: there the lid is painted
    however little it is stretched, but only its lowest part, which reads one row: where it reads
    up to `_DEEP_REACH` crop pixels above the top of what it hides (fading out over `_DEEP_RAMP`
    more); it also covers the reads that land in the opening (the lid's soft lower edge, blending
    its reads with the eye's, would show the photo's iris rim), in the lid's lowest colour.
    """
    shut = hidden > 0.5
    bx, by, bw, bh = cv2.boundingRect(shut.view(np.uint8))
    if bw < 4 or bh < 1:
        return None
    runs = _runs(np.flatnonzero(shut[by : by + bh, bx : bx + bw].any(axis=0)) + bx)
    width = max(float(b - a) for a, b in runs)
    h, w = hidden.shape
    x0, x1 = max(bx - 2, 0), min(bx + bw + 2, w)
    box = (slice(by, by + bh), slice(bx, bx + bw))
    only_deep = deep is not None and np.count_nonzero(deep[box] > 0.5) == np.count_nonzero(shut[box])
    # Deep-set eyes only: a lid drawn down reads above itself, so no row further above the
    # opening's top than `_DEEP_REACH` + `_DEEP_RAMP` is painted.
    above = _DEEP_REACH + _DEEP_RAMP + 3.0 if only_deep else 0.6 * width
    y0, y1 = max(int(by - above), 0), min(by + bh + 2, h)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    fy = flow[y0:y1, x0:x1, 1]
    top = np.where(shut[y0:y1, x0:x1], ys, float(h)).min(axis=0)  # the opening's top row
    lid = ys + fy < top[None, :] - 0.5  # reads the skin above it
    soft = None  # (X,) 1 over deep-set eyes' columns, fading out beside them
    if deep is not None:  # a deep-set eye's lid: also what reads its opening (columns it covers)
        bottom = np.where(deep[y0:y1, x0:x1] > 0.5, ys, -1.0).max(axis=0)
        deep_cols = bottom >= 0.0
        soft = _soft_columns(deep_cols) if deep_cols.any() else None
        lid = ys + fy < np.where(deep_cols, bottom + 1.0, top)[None, :] - 0.5
    if only_deep and soft is not None:  # (no stretched lid of an eye that is not deep-set to find)
        alpha = (lid & deep_cols[None, :]).astype(np.float32)
    else:
        alpha = _stretched_lids(fy, lid, runs, x0, soft)
        if alpha is None:
            return None
    if soft is not None:  # a deep-set eye's: only its lowest part, not the brow or a frame
        depth = _smooth_top(top, deep_cols)[None, :] - ys - fy  # crop pixels above the opening
        keep = np.clip((_DEEP_REACH + _DEEP_RAMP - depth) / _DEEP_RAMP, 0.0, 1.0)
        alpha *= 1.0 + (keep - 1.0) * soft[None, :]
    alpha[alpha < 0.05] = 0.0  # the blur's far tails: nothing to see, only a larger box to lay
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if len(rows) == 0:
        return None
    # Only the box of what is painted is laid.
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    alpha, ys, fy = alpha[r0:r1, c0:c1], ys[r0:r1], fy[r0:r1, c0:c1]
    y0, y1, x0, x1 = y0 + r0, y0 + r1, x0 + c0, x0 + c1
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    colour = cv2.remap(
        colours, xs + flow[y0:y1, x0:x1, 0], ys + fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
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


def _stretched_lids(
    fy: np.ndarray, lid: np.ndarray, runs: list[tuple[int, int]], x0: int, soft: np.ndarray | None
) -> np.ndarray | None:
    """(Y, X) float32 coverage of the shut lids stretched enough to streak in a box of the flow's
    vertical part `fy` whose first column is crop column `x0` (`smooth_shut_lids`), or None; lid:
    (Y, X) bool, what reads the lid; runs: each eye's columns; soft: deep-set eyes' columns."""
    advance = np.empty_like(fy)  # source rows per output row
    advance[1:-1] = 1.0 + 0.5 * (fy[2:] - fy[:-2])
    advance[0], advance[-1] = advance[1], advance[-2]
    # Only a lid stretched well beyond twice (a thin strip above a lash run or a low crease drawn
    # over a wide opening) streaks: one stretched less keeps the photo's texture, which reads as skin.
    strength = np.zeros(fy.shape[1], np.float32)
    for a, b in runs:
        a, b = a - x0, b - x0
        middle = advance[:, a + (b - a) // 4 : b - (b - a) // 4][lid[:, a + (b - a) // 4 : b - (b - a) // 4]]
        if middle.size >= 4:
            strongest = float(np.partition(middle, middle.size // 10)[middle.size // 10])
            strength[max(a - 2, 0) : b + 2] = np.clip((_STREAKS - strongest) / _STREAKS_RAMP, 0.0, 1.0)
    if soft is not None:  # a deep-set eye's lowest part reads one row (`eyes.refine_eye_flow`)
        strength = np.maximum(strength, soft)
    if strength.max() <= 0.0:
        return None
    stretched = np.clip((_STRETCHED - advance) / _STRETCH_RAMP, 0.0, 1.0) * lid * strength[None, :]
    # Faded in softly (a soft mask stays soft at the photo's resolution): no outline of a patch;
    # down to the lid's edge, where the painted lash line lies over it.
    return np.clip(1.5 * cv2.GaussianBlur(stretched, (0, 0), _SOFT), 0.0, 1.0) * lid


def _runs(cols: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of consecutive column indices in the sorted `cols` (one per eye)."""
    cuts = np.flatnonzero(np.diff(cols) > 1)
    return [
        (int(cols[a]), int(cols[b]) + 1)
        for a, b in zip(np.r_[0, cuts + 1], np.r_[cuts, len(cols) - 1], strict=True)
    ]


def _soft_columns(on: np.ndarray) -> np.ndarray:
    """(W,) float32 in [0, 1]: 1 on the columns `on`, fading out over `_SOFT` crop pixels beside."""
    return np.clip(2.0 * np.convolve(on.astype(np.float32), _KERNEL, mode="same"), 0.0, 1.0)


def _smooth_top(top: np.ndarray, on: np.ndarray) -> np.ndarray:
    """(W,) the per-column top row `top` smoothed across the columns `on` (the opening's top in
    whole rows steps from column to column: a fade measured from it would step too)."""
    weight = on.astype(np.float32)
    smooth = np.convolve(np.where(on, top, 0.0) * weight, _KERNEL, mode="same")
    return np.where(on, smooth / np.maximum(np.convolve(weight, _KERNEL, mode="same"), 1e-3), top)
