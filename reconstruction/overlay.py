"""Painted content laid over the moved photo at the photo's own resolution (used by `crop.warp_photo`).

A renderer that moves the photo's pixels paints only what the photo never showed (an opened
mouth's gap) on its crop, and the photo can be many times larger than the crop around the face
(12 photo pixels per crop pixel on a 3500 px portrait). Three things keep that paint from looking
like an enlarged crop:

- `photo_alpha`: the coverage is taken to the photo's resolution along its own contour: an edge
  the renderer drew sharp (a ramp of a few crop pixels) becomes a ramp of about a photo pixel
  (`edge_feather`) on the same, smooth contour (the coverage's signed distance, which bilinear
  interpolation keeps straight), instead of a blur or the crop's pixel steps; soft masks stay soft;
- `softness.soften_layer`: on a photo softer than that edge (a blurred or upscaled photo), the
  paint is blurred to the photo's own sharpness (`softness.photo_blur`), not left a sticker;
- `add_grain`: the flat painted colour gets grain as fine as the photo's, as strong as the
  photo's own fine detail next to it;
- `hidden_exits` / `leave_hidden`: where the source must not show (the eyeball behind a shut
  lid), a read that the upsampled flow would place there (the flow jumps at a lid's edge and its
  interpolation between two crop pixels reads everything between) is moved to the nearer edge
  of the hidden part in its column: the lash line above, the lower lid below;
- `lid_edges` / `along_lid_edges`: where the flow jumps across a hidden run (a shut lid's edge),
  each side's motion is carried on to an edge placed per column to a fraction of a crop pixel and
  interpolated between columns, so the lid ends on a smooth curve at the photo's resolution, not in
  crop-pixel steps with the lower lid's rim repeated in small windows.

Coordinates follow `reconstruction.crop`: pixel (col, row) has its centre at (x, y).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from core.errors import InputError
from core.images import LUMA as _LUMA
from reconstruction.folds import node_grid
from reconstruction.softness import paint_extra_blur, soften_layer

__all__ = [
    "behind_layer",
    "lay_behind",
    "edge_feather",
    "photo_alpha",
    "add_grain",
    "lay_overlay",
    "hidden_mask",
    "hidden_exits",
    "reads_near",
    "leave_hidden",
    "LidEdges",
    "lid_edges",
    "along_lid_edges",
]

#: Ramp (crop pixels) up to which an overlay's edge counts as drawn sharp (kept sharp at the photo's
#: resolution); above twice this, the coverage is a soft mask and is only interpolated.
_SHARP_RAMP = 4.0
#: Two vertically neighbouring crop pixels whose reads lie further apart than this many source rows,
#: on either side of a hidden run, meet at a lid's edge (`lid_edges`).
_LID_JUMP = 1.5
#: Each side's motion is carried this many crop rows past the edge (neighbouring columns' edges may
#: lie a few rows apart where the lid slopes).
_LID_REACH = 3
#: Output pixels this many crop pixels around a hidden run's box are looked at for its edge.
_LID_WINDOW = 8
#: A lid's edge is averaged over this many crop columns (odd).
_LID_SMOOTH = 7
#: Reads in the upper part of a hidden run (this fraction of it) leave it upwards, the rest downwards.
_EXIT_UP = 0.5


def edge_feather(scale: float) -> float:
    """Width (photo pixels) of a sharp overlay edge at `scale` photo pixels per crop pixel: about a
    pixel, a little wider on large photos (where the photo's own edges are a little soft too)."""
    return 0.75 + 0.1 * max(scale, 0.0)


def photo_alpha(alpha: np.ndarray, to_crop: np.ndarray, size: tuple[int, int], scale: float) -> np.ndarray:
    """The (c, c) float32 coverage `alpha` in [0, 1] at the photo's resolution.

    to_crop: (2, 3) region pixel -> crop pixel; size: (width, height) of the region; scale: photo
    pixels per crop pixel. Returns (height, width) float32 in [0, 1].
    """
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    up = cv2.warpAffine(alpha, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    slope = _largest_slope(alpha)
    slope_up = cv2.warpAffine(slope, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    distance = (up - 0.5) / np.maximum(slope_up, 1e-3)  # crop pixels to the 0.5 contour, inside > 0
    sharp = (distance * (scale / edge_feather(scale)) + 0.5).clip(0.0, 1.0)
    edge = ((slope_up * _SHARP_RAMP - 0.5) / 0.5).clip(0.0, 1.0)  # 1 for ramps <= _SHARP_RAMP
    return (up + edge * (sharp - up)).astype(np.float32)


def _largest_slope(alpha: np.ndarray) -> np.ndarray:
    """(c, c) float32: the largest central-difference slope (per crop pixel) of `alpha` in each pixel's
    3 x 3 neighbourhood (the ramp's foot has a small central difference).

    Computed on the box of alpha's nonzero pixels grown by 3 only: beyond it every difference is 0,
    and inside it each difference and maximum is the same operation on the same numbers as over the
    whole grid (a mouth's coverage is a small part of the crop)."""
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    slope = np.zeros(alpha.shape, np.float32)
    if len(rows) == 0:
        return slope
    h, w = alpha.shape
    y0, y1 = max(int(rows[0]) - 3, 0), min(int(rows[-1]) + 4, h)
    x0, x1 = max(int(cols[0]) - 3, 0), min(int(cols[-1]) + 4, w)
    if y1 - y0 < 2 or x1 - x0 < 2:  # np.gradient needs two samples a side: the whole grid then
        y0, y1, x0, x1 = 0, h, 0, w
    gy, gx = np.gradient(alpha[y0:y1, x0:x1])
    slope[y0:y1, x0:x1] = cv2.dilate(np.hypot(gx, gy).astype(np.float32), np.ones((3, 3), np.uint8))
    return slope


def add_grain(
    colour: np.ndarray, photo: np.ndarray, cover: np.ndarray, scale: float, seed: int = 0
) -> np.ndarray:
    """(H, W, 3) uint8 `colour` (upsampled paint) with grain matched to `photo`'s own fine detail.

    cover: (H, W) float32 coverage of the paint. The grain's strength is that of the photo's detail
    finer than a crop pixel just outside the paint, scaled by the paint's brightness against the
    photo's there (a dark gap shows less grain); fixed `seed`, so a still edit is reproducible and
    a video's grain does not flicker. Returns `colour` unchanged when a crop pixel is no larger
    than about a photo pixel (the paint is as fine as the photo then).
    """
    if scale < 1.5 or not np.any(cover > 0.0):
        return colour
    photo_luma = photo.astype(np.float32) @ _LUMA
    detail = photo_luma - cv2.GaussianBlur(photo_luma, (0, 0), 0.5 * scale)
    ring = (cover <= 0.0) & (cv2.dilate((cover > 0.0).astype(np.uint8), None, iterations=int(2 * scale)) > 0)
    if ring.sum() < 16:
        return colour
    # Robust spread of the skin's fine detail (edges of lips or teeth next to the paint do not count).
    strength = 1.4826 * float(np.median(np.abs(detail[ring])))
    paint_luma = colour.astype(np.float32) @ _LUMA
    gain = 0.7 * np.clip(paint_luma / max(float(np.mean(photo_luma[ring])), 1.0), 0.2, 1.0)
    noise = np.random.default_rng(seed).standard_normal(cover.shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7)
    noise *= strength / max(float(noise.std()), 1e-6) * gain
    return np.clip(colour.astype(np.float32) + noise[:, :, None] + 0.5, 0, 255).astype(np.uint8)


def lay_overlay(
    patch: np.ndarray,
    overlay: np.ndarray,
    alpha: np.ndarray,
    to_crop: np.ndarray,
    scale: float,
    blur: float = 0.0,
) -> np.ndarray:
    """(H, W, 3) uint8 photo `patch` with the (f c, f c, 3) uint8 `overlay` of coverage `alpha` (c, c)
    laid over it at the photo's resolution (edges as sharp as the photo's, the photo's grain).

    to_crop: (2, 3) patch pixel -> crop pixel; scale: photo pixels per crop pixel. The overlay may be
    drawn finer than the crop (an integer f samples per crop pixel, sample u at crop x (u + 0.5) / f - 0.5).
    blur: the photo's own blur (Gaussian sigma, patch pixels; `softness.photo_blur`): where it is
    softer than the paint's edge, the paint is blurred to match (`softness.paint_extra_blur`).
    """
    size = (patch.shape[1], patch.shape[0])
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    factor = overlay.shape[0] / alpha.shape[0]
    to_overlay = to_crop * factor
    to_overlay[:, 2] += 0.5 * (factor - 1.0)
    colour = cv2.warpAffine(overlay, to_overlay, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    sharp = photo_alpha(alpha, to_crop, size, scale)
    colour, cover = soften_layer(colour, sharp, paint_extra_blur(blur, edge_feather(scale)))
    colour = add_grain(colour, patch, sharp, scale)  # the photo's grain lies on top of its blur
    return cv2.blendLinear(colour, patch, cover, 1.0 - cover)


def hidden_mask(hidden: np.ndarray, crop_size: int) -> np.ndarray:
    """The (c, c) float32 `hidden` coverage clipped to [0, 1]; InputError if it is not a finite (c, c) array."""
    hidden = np.asarray(hidden, dtype=np.float32)
    if hidden.shape != (crop_size, crop_size) or not np.all(np.isfinite(hidden)):
        raise InputError(f"hidden must be a finite {crop_size}x{crop_size} array, got {hidden.shape}")
    return np.clip(hidden, 0.0, 1.0)


def reads_near(reads: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """(c, c) bool: crop pixels whose reads `reads` (c, c, 2) (crop pixels), or their neighbours',
    come within 2 pixels of the box around the (c, c) `hidden` source (coverage > 0)."""
    ys, xs = _marked(hidden > 0.0)
    if len(ys) == 0:
        return np.zeros(hidden.shape, bool)
    near = (
        (reads[..., 0] > xs[0] - 2)
        & (reads[..., 0] < xs[-1] + 2)
        & (reads[..., 1] > ys[0] - 2)
        & (reads[..., 1] < ys[-1] + 2)
    )
    return cv2.dilate(near.astype(np.uint8), None) > 0


def _marked(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and the columns of the (h, w) bool `mask` with a marked pixel, ascending: the box of
    its pixels from its first and last entries (no index pair per pixel)."""
    return np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))


def hidden_exits(hidden: np.ndarray) -> np.ndarray:
    """(c, c, 2) float32: for a pixel of the (c, c) `hidden` coverage (> 0), the upper and lower
    edge (y, sub-pixel from the coverage of the run's end pixels) of its vertical run of hidden
    pixels; NaN outside it."""
    exits = np.full((*hidden.shape, 2), np.nan, np.float32)
    ys, xs = _marked(hidden > 0.0)
    if len(ys) == 0:
        return exits
    y0, x0 = ys[0], xs[0]
    part = hidden[y0 : ys[-1] + 1, x0 : xs[-1] + 1]  # the runs' box (the rest has no run)
    inside = part > 0.0
    rows = np.arange(y0, y0 + part.shape[0], dtype=np.float32)[:, None]
    starts = inside & ~np.vstack([np.zeros_like(inside[:1]), inside[:-1]])
    ends = inside & ~np.vstack([inside[1:], np.zeros_like(inside[:1])])
    top = np.where(starts, rows + 0.5 - part, -np.inf)  # a run's upper edge, on its first pixel
    bottom = np.where(ends, rows - 0.5 + part, np.inf)
    top = np.maximum.accumulate(top, axis=0)  # carried down the run
    bottom = np.minimum.accumulate(bottom[::-1], axis=0)[::-1]
    edges = np.stack([top, bottom], axis=-1)
    exits[y0 : ys[-1] + 1, x0 : xs[-1] + 1] = np.where(inside[:, :, None], edges, np.nan)
    return exits


def leave_hidden(map_x: np.ndarray, map_y: np.ndarray, exits: np.ndarray, to_crop: np.ndarray) -> None:
    """Move the reads (map_x, map_y) (photo pixels, (H, W) each, in place) that land between the
    edges of a hidden run (`hidden_exits`, on the crop; interpolated across columns, so the edges
    are smooth) to half a crop pixel outside its nearer edge.

    to_crop: (2, 3) photo pixel -> crop pixel.
    """
    cx = to_crop[0, 0] * map_x + to_crop[0, 1] * map_y + to_crop[0, 2]
    cy = to_crop[1, 0] * map_x + to_crop[1, 1] * map_y + to_crop[1, 2]
    c = exits.shape[0]
    x0 = np.floor(cx).astype(np.int64)
    iy = np.rint(cy).astype(np.int64)
    ok = (x0 >= 0) & (x0 < c - 1) & (iy >= 0) & (iy < c)
    if not ok.any():
        return
    x0, iy, fx = x0[ok], iy[ok], (cx[ok] - x0[ok])[:, None]
    left, right = exits[iy, x0], exits[iy, x0 + 1]  # (N, 2) each
    edges = np.where(np.isnan(left), right, np.where(np.isnan(right), left, left + fx * (right - left)))
    y = cy[ok]
    inside = (y > edges[:, 0]) & (y < edges[:, 1])  # NaN compares False
    if not inside.any():
        return
    split = edges[:, 0] + _EXIT_UP * (edges[:, 1] - edges[:, 0])
    exit_y = np.where(y < split, edges[:, 0] - 0.5, edges[:, 1] + 0.5)[inside]
    index = tuple(i[inside] for i in np.nonzero(ok))  # works on views of a larger map too
    qx = cx[ok][inside]
    to_photo = cv2.invertAffineTransform(to_crop)
    map_x[index] = to_photo[0, 0] * qx + to_photo[0, 1] * exit_y + to_photo[0, 2]
    map_y[index] = to_photo[1, 0] * qx + to_photo[1, 1] * exit_y + to_photo[1, 2]


def behind_layer(
    back_flow: np.ndarray | None, front_alpha: np.ndarray | None, fade: np.ndarray, touched: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Checked (back flow * `fade`, front coverage) of a layer behind a moved (c, c) crop, or None.

    back_flow: (c, c, 2) float32 backward flow in crop pixels; front_alpha: (c, c) float32 in
    [0, 1], where the moved photo shows (elsewhere the photo moved along back_flow shows through:
    the background a moved head uncovers); fade: (c, c) weights taking the back flow to 0 at the
    crop's border; touched: (c, c) bool of crop pixels that change, updated in place."""
    if back_flow is None or front_alpha is None:
        return None
    back, front = np.asarray(back_flow, np.float32), np.asarray(front_alpha, np.float32)
    c = fade.shape[0]
    if back.shape != (c, c, 2) or front.shape != (c, c) or not np.all(np.isfinite(back)):
        raise InputError(
            f"back_flow, front_alpha must be ({c}, {c}, 2), ({c}, {c}): {back.shape}, {front.shape}"
        )
    back = back * cv2.merge([fade, fade])  # equal shapes: ~10x faster than numpy's [:, :, None]
    touched |= (front < 0.999) & (np.maximum(np.abs(back[..., 0]), np.abs(back[..., 1])) > 0.01)
    return back, front


def lay_behind(
    roi: np.ndarray,
    original: np.ndarray,
    behind: tuple[np.ndarray, np.ndarray],
    to_photo: np.ndarray,
    to_crop: np.ndarray,
) -> np.ndarray:
    """(h, w, 3) uint8 `roi` (photo pixels) with the layer `behind` (from `behind_layer`) laid
    behind it: the `original` photo moved along the back flow, where the front's coverage is below 1.

    to_photo: (2, 3) crop pixel -> photo pixel; to_crop: (2, 3) roi pixel -> crop pixel. The
    coverage is upsampled bilinearly (a smooth contour) and its ramp narrowed to ~3 photo pixels:
    a feathered silhouette at the photo's resolution, not crop-sized stair steps."""
    back, front = behind
    c = front.shape[0]
    reads = node_grid(c, c) + back
    reads = cv2.transform(reads.reshape(1, -1, 2), to_photo).reshape(c, c, 2)  # photo pixels
    size = (roi.shape[1], roi.shape[0])
    inverse_map = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    back_map = cv2.warpAffine(reads, to_crop, size, flags=inverse_map, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(
        front, to_crop, size, flags=inverse_map, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0
    )
    scale = 1.0 / float(np.sqrt(abs(np.linalg.det(to_crop[:, :2]))))  # photo pixels per crop pixel
    narrow = float(np.clip(scale / 3.0, 1.0, 3.0))
    alpha = np.clip((alpha - 0.5) * narrow + 0.5, 0.0, 1.0)
    layer = cv2.remap(
        original, back_map[..., 0], back_map[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.blendLinear(roi, layer, alpha, 1.0 - alpha)


class LidEdges(NamedTuple):
    """A flow split at the lids' edges (`lid_edges`): on a box of the crop (its top-left crop
    pixel `origin`, x, y), `above`, `below` (h, w, 2) the flow with each side's motion carried past
    the edge and `side` (h, w) the signed vertical distance (crop pixels, < 0 above) to the edge;
    on the crop, `nodes` (c, c) bool the pixels whose motion may change and `cells`
    (c - 1, c - 1) bool the grid cells across an edge."""

    above: np.ndarray
    below: np.ndarray
    side: np.ndarray
    origin: tuple[int, int]
    nodes: np.ndarray
    cells: np.ndarray


def _run_edges(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of the (c, c) coverage: the columns with hidden pixels and the upper and lower
    edge (sub-pixel, from the end pixels' coverage) of all of them there."""
    inside = hidden > 0.0
    columns = np.flatnonzero(inside.any(axis=0))
    part = inside[:, columns]
    first = np.argmax(part, axis=0)
    last = part.shape[0] - 1 - np.argmax(part[::-1], axis=0)
    top = first + 0.5 - hidden[first, columns]
    bottom = last - 0.5 + hidden[last, columns]
    return columns.astype(np.float32), top.astype(np.float32), bottom.astype(np.float32)


def _along(xs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`values` at the sorted columns `xs`, averaged over `_LID_SMOOTH` columns within each
    unbroken group of columns (a lid), the ends repeated."""
    out = np.empty_like(values)
    half = _LID_SMOOTH // 2
    for group in np.split(np.arange(len(xs)), np.flatnonzero(np.diff(xs) > 1) + 1):
        padded = np.pad(values[group], half, mode="edge")
        out[group] = np.convolve(padded, np.full(_LID_SMOOTH, 1.0 / _LID_SMOOTH), mode="valid")
    return out


def lid_edges(flow: np.ndarray, hidden: np.ndarray) -> LidEdges | None:
    """Where a (c, c, 2) backward flow jumps across the (c, c) `hidden` coverage (a shut lid's
    edge: above it the lid reads far up, below it the lower lid stays), the flow split into its two
    sides, or None if it never does.

    Upsampled plainly, such a jump sweeps its reads across the hidden run within one crop pixel,
    and where they turn from one side to the other is set per crop pixel: at 6-14 photo pixels per
    crop pixel, a staircase. Here each column's edge is placed where its reads cross the run's
    split (as `leave_hidden` divides it), to a fraction of a pixel, and each side's motion is carried
    on past it, stretched so that it reaches its exit of the run (`leave_hidden`) exactly at the
    edge: a photo pixel above the (interpolated, so smooth) edge reads the lid down to its edge,
    one below reads the lower lid from its rim, with nothing repeated and no step."""
    c = hidden.shape[0]
    columns, top, bottom = _run_edges(hidden)
    if len(columns) == 0:
        return None
    # Only the output pixels around the run can cross it (the lid's edge lands near the lower lid).
    y0, y1 = max(int(top.min()) - _LID_WINDOW, 0), min(int(bottom.max()) + _LID_WINDOW + 1, c)
    x0, x1 = max(int(columns[0]) - _LID_WINDOW, 0), min(int(columns[-1]) + _LID_WINDOW + 1, c)
    part = flow[y0:y1, x0:x1]
    read_x = part[..., 0] + np.arange(x0, x1, dtype=np.float32)
    read_y = part[..., 1] + np.arange(y0, y1, dtype=np.float32)[:, None]
    within = (read_x >= columns[0]) & (read_x <= columns[-1])
    up, down = (np.interp(read_x, columns, edge).astype(np.float32) for edge in (top, bottom))
    split = up + _EXIT_UP * (down - up)
    d = read_y - split
    step = read_y[1:] - read_y[:-1]
    crossing = (d[:-1] < 0.0) & (d[1:] >= 0.0) & within[:-1] & within[1:] & (step > _LID_JUMP)
    if not crossing.any():
        return None
    xs = np.flatnonzero(crossing.any(axis=0))
    r = np.argmax(np.where(crossing, step, 0.0), axis=0)[xs]  # the largest jump of each column
    h = y1 - y0
    # The rows on either side that read outside the run (the crop's own drawing may read into it
    # on a row or two between them).
    first, last = r.copy(), r + 1
    for _ in range(_LID_REACH - 1):
        into = (first > 0) & (read_y[first, xs] > up[first, xs])
        first -= into
        into = (last < h - 1) & (read_y[last, xs] < down[last, xs])
        last += into
    a, b = read_y[first, xs], read_y[last, xs]
    # The edge where the reads cross the run's split (where `leave_hidden` divides it), smoothed
    # along the lid: the flow itself often jumps at a whole row, the lid's edge is a smooth curve.
    edge = _along(xs, r + (-d[r, xs] / (d[r + 1, xs] - d[r, xs])).clip(0.0, 1.0))
    edge = edge.clip(first + 0.05, last - 0.05)
    # Each side stretched to reach its exit at the edge (never reading backwards).
    rate_above = np.maximum(up[first, xs] - 0.5 - a, 0.0) / np.maximum(edge - first, 1e-3)
    rate_below = np.maximum(b - down[last, xs] - 0.5, 0.0) / np.maximum(last - edge, 1e-3)
    rate_above, rate_below = np.minimum(rate_above, 1e3), np.minimum(rate_below, 1e3)
    # From here on, rows and columns of the box around the changed pixels (a margin of 2 beyond).
    r, first, last, xs = r + y0, first + y0, last + y0, xs + x0
    by0, by1 = max(int(r.min()) - 2 * _LID_REACH - 2, 0), min(int(r.max()) + 2 * _LID_REACH + 3, c)
    bx0, bx1 = max(int(xs.min()) - 2, 0), min(int(xs.max()) + 3, c)
    above, below = flow[by0:by1, bx0:bx1].copy(), flow[by0:by1, bx0:bx1].copy()
    nodes = np.zeros((c, c), bool)
    nodes[by0 + 2 : by1 - 2, bx0 + 2 : bx1 - 2] = True
    for k in range(1, 2 * _LID_REACH):
        lo, hi = first + k, last - k
        keep = lo < c
        above[lo[keep] - by0, xs[keep] - bx0, 1] = a[keep] + k * rate_above[keep] - lo[keep]
        keep = hi >= 0
        below[hi[keep] - by0, xs[keep] - bx0, 1] = b[keep] - k * rate_below[keep] - hi[keep]
    everywhere = np.interp(np.arange(bx0, bx1), xs, edge + y0).astype(np.float32)  # nearest past the ends
    side = np.arange(by0, by1, dtype=np.float32)[:, None] - everywhere[None, :]
    cells = np.zeros((c - 1, c - 1), bool)
    for dx in (-1, 0):
        for dy in (-1, 0, 1):
            cells[(r + dy).clip(0, c - 2), (xs + dx).clip(0, c - 2)] = True
    return LidEdges(above, below, side, (bx0, by0), nodes, cells)


def along_lid_edges(shift: np.ndarray, edges: LidEdges, to_photo: np.ndarray, to_crop: np.ndarray) -> None:
    """Set the (H, W, 2) `shift` (photo pixels, a region of the photo within `edges.nodes`) from
    each side's motion of `edges` (`lid_edges`), the side chosen per photo pixel by the
    interpolated edge.

    to_photo: (2, 3) crop motion -> photo motion (no translation); to_crop: (2, 3) region pixel ->
    crop pixel."""
    h, w = edges.side.shape
    to_box = to_crop.copy()
    to_box[:, 2] -= edges.origin
    size = (shift.shape[1], shift.shape[0])
    inverse_map = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    side = cv2.warpAffine(edges.side, to_box, size, flags=inverse_map, borderMode=cv2.BORDER_REPLICATE)
    for flow, pick in ((edges.above, side < 0.0), (edges.below, side >= 0.0)):
        moved = cv2.transform(flow.reshape(1, -1, 2), to_photo).reshape(h, w, 2)
        moved = cv2.warpAffine(moved, to_box, size, flags=inverse_map, borderMode=cv2.BORDER_REPLICATE)
        shift[pick] = moved[pick]
