"""The jaw passes in front of a neck that stays: the neck a second layer behind the moved face.

Below the face the default renderer carries the face rim's flow outwards and fades it down to still
shoulders (`pipeline.flow_spread`, `pipeline.neck`): a turned jaw shears and stretches the neck
band smoothly and its outline smears into the neck. In a real turn the jaw is an occlusion edge:
the face moves over a neck that stays. Here, below the jaw's corners, what lies outside the moved
face is a second layer behind it (`HeadMotion.back`, laid at the photo's resolution by
`reconstruction.overlay.lay_behind`: the jaw's outline is that layer's anti-aliased edge, not a fold
drawn in the crop's steps). The layer is the still photo (no horizontal motion; where the jaw
rose, each column reads from below the photo's own jaw line, the freed rows stretched by at most
1.43x), blended as a flow, not as an image, into the spread flow above the jaw's corners, on the
trailing side of a strong turn, and wherever the still photo would show the photo's own face
(which the moved face uncovers): there the spread flow fills it, as without the layer. So the
jaw's ends meet one continuous layer, not a still column beside a moving one (round 1's wedges).
All on the renderer's coarse grid; the photo's part once per photo (`photo_jaw`). docs/JAW_EDGE.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from core.geometry import smoothstep
from pipeline.neck import JAW_RISE, NECK_MIN_SPAN, NECK_REACH

__all__ = ["JAW_CORNER", "JAW_MARGIN", "JAW_SMOOTH", "JAW_STRETCH", "PhotoJaw", "neck_layer", "photo_jaw"]

#: Under the jaw this many face sizes below the mesh's outline still move with the face (on some
#: photos the jaw's edge lies a little below the fitted mesh's outline; it must move with the face).
JAW_MARGIN = 0.03
#: Beside the face the layer grows in over this many face sizes below the jaw's corners (`JAW_RISE`
#: above the chin): above them hair and ears move as before, a shear between, no seam.
JAW_CORNER = 0.25
#: The layer's weight and the neck's rise are smoothed across columns over this many face sizes.
JAW_SMOOTH = 0.03
#: The neck under the jaw stretches over at least this many times the rows the jaw uncovers (a
#: smoothstep then stretches it by at most 1 / (1 - 1.5 / 5) = 1.43x).
JAW_STRETCH = 5.0


@dataclass(frozen=True)
class PhotoJaw:
    """The photo's part of the layer, on the renderer's coarse grid (once per photo): bottom (w,) the
    photo face's lowest row per column (-inf where none); clear (h, w) float32, 0 on the photo's
    face grown by half `JAW_MARGIN`, rising to 1 at `JAW_MARGIN` outside it (where the still photo
    shows no face); neck (w,) in [0, 1], 1 where what the photo shows just below its jaw looks like
    the jaw's skin (a neck, not background or a collar); chin: the photo's chin row; face_size:
    coarse pixels; scale: coarse pixels per crop pixel (x, y); grid: the coarse grid's (h, w)
    float32 x and y, columns: (w,) float64 its column indices (made once, not per frame)."""

    bottom: np.ndarray
    clear: np.ndarray
    neck: np.ndarray
    chin: float
    face_size: float
    scale: tuple[float, float]
    grid: tuple[np.ndarray, np.ndarray]
    columns: np.ndarray


def photo_jaw(points: np.ndarray, source: np.ndarray, raster_scale: float, face_size: float) -> PhotoJaw:
    """`PhotoJaw` of the photo's (N, 2+) mesh points (crop pixels) and (h, w, 3) crop on the coarse
    grid the crop is rasterised on at `raster_scale` (`PreviewSettings.raster_scale`)."""
    h, w = source.shape[:2]
    rh, rw = max(8, round(h * raster_scale)), max(8, round(w * raster_scale))
    sx, sy = rw / w, rh / h
    coarse = (np.asarray(points[:, :2], np.float64) + 0.5) * [sx, sy] - 0.5
    hull = cv2.convexHull(coarse.astype(np.float32))
    face = np.zeros((rh, rw), np.uint8)
    cv2.fillConvexPoly(face, np.round(hull * 16).astype(np.int32), 1, shift=4)
    size_c = face_size * min(sx, sy)
    margin = JAW_MARGIN * size_c
    distance = cv2.distanceTransform(1 - face, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    clear = smoothstep((distance - 0.5 * margin) / max(0.5 * margin, 0.5))
    bottom = lowest_rows(coarse, rw)
    image = cv2.resize(source, (rw, rh), interpolation=cv2.INTER_AREA).astype(np.float32) + 1.0
    return PhotoJaw(
        bottom=bottom,
        clear=clear.astype(np.float32),
        neck=_neck_below(image, bottom, size_c),
        chin=float(coarse[:, 1].max()),
        face_size=size_c,
        scale=(sx, sy),
        grid=tuple(np.meshgrid(np.arange(rw, dtype=np.float32), np.arange(rh, dtype=np.float32))),
        columns=np.arange(rw, dtype=np.float64),
    )


def _neck_below(image: np.ndarray, bottom: np.ndarray, face_size: float) -> np.ndarray:
    """(w,) in [0, 1]: per column of the (h, w, 3) float image, how much the band just below the
    jaw line `bottom` (rows; -inf: none) looks like the skin just above it (chromaticity within
    ~0.05, brightness about 0.35 to 1.65 times): a neck the uncovered rows may be stretched from,
    not the background or a collar beside a narrower neck."""
    h, w = image.shape[:2]
    found = np.isfinite(bottom)
    base = np.where(found, bottom, 0.0)
    margin = JAW_MARGIN * face_size
    means = []
    for start, end in ((-0.08, -0.02), (0.01, 0.07)):
        offsets = np.linspace(start, end, 4) * face_size + (margin if start > 0 else 0.0)
        rows = np.clip(np.round(base[None, :] + offsets[:, None]), 0, h - 1).astype(np.int64)
        means.append(image[rows, np.arange(w)[None, :]].mean(axis=0))  # (w, 3)
    above, below = means
    total_a, total_b = above.sum(axis=1), below.sum(axis=1)
    chroma = np.abs(below / total_b[:, None] - above / total_a[:, None]).max(axis=1)
    ratio = total_b / total_a
    like = (1.0 - smoothstep((chroma - 0.03) / 0.04)) * smoothstep((ratio - 0.25) / 0.2)
    like *= 1.0 - smoothstep((ratio - 1.5) / 0.3)
    return np.where(found, like, 0.0)


def neck_layer(
    spread: np.ndarray,
    cover: np.ndarray,
    target_points: np.ndarray,
    photo: PhotoJaw,
    size: tuple[int, int],
    sideways: bool = False,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(alpha, back) at the crop's `size` (h, w) for `HeadMotion`, or (None, None) where the jaw
    has no columns low enough or the layer would nowhere differ from the spread flow.

    spread: (rh, rw, 2) float32 the spread flow on the coarse grid (crop pixels); cover: (rh, rw)
    the target's face on it (its shape only); target_points: (N, 2+) the target's mesh (crop
    pixels). alpha: (h, w) float32, where the moved photo shows (the target's face grown by
    `JAW_MARGIN`, anti-aliased; 1 where the layer is the spread flow); back: (h, w, 2) float32 the
    layer's backward flow (crop pixels) where alpha < 1, 0 elsewhere but near it (never shown).

    Per frame the 2-D work covers only the window where the layer may show (the rows below the
    jaw's corners, the columns where it has weight), in float32: docs/JAW_EDGE.md round 4.
    `sideways`: where the jaw rose too far to stretch the neck under it, the layer still holds the
    neck's columns still (only its rows follow the spread flow), so a short neck is not dragged
    into an S between the risen jaw and the collar (docs/NECK_BEND.md)."""
    rh, rw = cover.shape
    fs = photo.face_size
    sx, sy = photo.scale
    # The target's jaw line as the photo's (`photo_jaw`): its mesh's hull, sub-pixel, so an edit
    # that hardly moves the jaw hardly moves the neck.
    hull = _coarse_hull(target_points, (sx, sy))
    following, normal = _hull_edges(hull)
    bottom = _hull_bottom(hull, following, normal, rw)
    corner = photo.chin - JAW_RISE * fs
    jaw = np.isfinite(bottom) & (bottom >= corner)
    if not jaw.any():
        return None, None
    columns = photo.columns
    margin = JAW_MARGIN * fs
    edge = np.interp(columns, columns[jaw], bottom[jaw]) + margin  # the jaw line, held beyond its ends
    rise = np.maximum(photo.bottom + margin - edge, 0.0)  # (photo.bottom: -inf where no face: 0)
    # Where the jaw rose so far off the photo's (a nod, the trailing side of a turn) that the neck it
    # uncovers cannot be stretched over it within `JAW_STRETCH` above the shoulder line, the
    # spread flow stays (weight 0 from there on, 1 below 3/4 of it).
    span = np.maximum(photo.chin + NECK_REACH * fs - edge, NECK_MIN_SPAN * fs)
    stretch = 1.0 - smoothstep((rise * JAW_STRETCH / span - 0.75) * 4.0)
    # ... and where what lies below the photo's jaw is no neck (the background or a collar beside a
    # narrower neck, at the jaw's ends): stretched over the rows the jaw uncovers, it would show as a
    # dark or white wedge; the spread flow fills them as without the layer.
    neck = 1.0 - (1.0 - photo.neck) * smoothstep(rise / margin)
    ok = _smooth(
        np.interp(columns, columns[jaw], (stretch * neck)[jaw]), JAW_SMOOTH * fs
    )  # the ends' values beyond them
    # Held sideways (`sideways`) also where only the stretch bound let the spread flow in.
    hold = _smooth(np.interp(columns, columns[jaw], neck[jaw]), JAW_SMOOTH * fs) if sideways else ok
    if hold.max() < 0.01:  # the layer's weight is at most `hold` (>= `ok`)
        return None, None
    rise = np.minimum(np.maximum(_smooth(rise, JAW_SMOOTH * fs), rise), span / JAW_STRETCH)
    # The window: the rows from one above the jaw's corners (the weight is 0 above them) and the
    # columns where `ok` > 0 and one either side (upsampled, the window then reads what the whole
    # grid would wherever the layer shows; `_upsample`).
    h, w = size
    r0 = min(max(math.floor(corner) - 1, 0), rh - 1)
    weighted = np.flatnonzero(hold > 0.0)
    c0, c1 = max(int(weighted[0]) - 1, 0), min(int(weighted[-1]) + 2, rw)
    if h % rh or w % rw:
        r0, c0, c1 = 0, 0, rw  # the whole grid (`_upsample`)
    window = slice(r0, rh), slice(c0, c1)
    gx, gy = photo.grid[0][window], photo.grid[1][window]  # (n, m) float32
    rows = gy[:, :1]
    s = smoothstep((rows - edge[c0:c1].astype(np.float32)) / span[c0:c1].astype(np.float32))
    lift = rise[c0:c1].astype(np.float32) * (1.0 - s)  # photo row - output row (coarse), the neck's own
    # The still photo only where it shows no face of the photo's (read where the layer reads).
    clear = cv2.remap(photo.clear, gx, gy + lift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    below = smoothstep((rows - np.float32(corner)) / np.float32(JAW_CORNER * fs))
    weight = ok[c0:c1].astype(np.float32) * below
    weight *= clear
    across = hold[c0:c1].astype(np.float32) * below * clear if sideways else weight  # the horizontal weight
    if across.max() < 0.01:
        return None, None
    flow = spread[window] * (1.0 - weight)[..., None]  # the spread flow blended into the still one
    if sideways:
        flow[..., 0] = spread[window][..., 0] * (1.0 - across)
    flow[..., 1] += weight * lift / np.float32(sy)
    outline = np.empty((*weight.shape, 2), np.float32)  # where the layer shows; the face's outline
    np.clip(across * 10.0, 0.0, 1.0, out=outline[..., 0])
    # The moved face's outline grown by the margin, as a signed distance to its convex hull (linear,
    # so upsampled it draws a sub-pixel contour at the crop's resolution).
    top = math.floor(corner) - margin
    outline[..., 1] = _signed_outside(hull, following, normal, gx[0], rows, top, margin)
    fine = _upsample((flow, outline), (r0, c0), (rh, rw), size)
    back = np.zeros((h, w, 2), np.float32)
    back[fine.window] = fine.layers[0]
    shows, signed = fine.layers[1][..., 0], fine.layers[1][..., 1]
    hidden = signed * np.float32(-1.0 / min(sx, sy)) + np.float32(0.5)  # the front's coverage across
    np.clip(hidden, 0.0, 1.0, out=hidden)  # the outline, in crop pixels
    hidden -= 1.0
    hidden *= shows
    alpha = np.ones((h, w), np.float32)
    alpha[fine.window] += hidden
    return alpha, back


class _Fine(NamedTuple):
    """Coarse layers upsampled on a window of the crop: layers (each (y1 - y0, x1 - x0, c)) and
    window (rows y0:y1, columns x0:x1)."""

    layers: list[np.ndarray]
    window: tuple[slice, slice]


def _upsample(
    layers: tuple[np.ndarray, ...], origin: tuple[int, int], grid: tuple[int, int], size: tuple[int, int]
) -> _Fine:
    """The coarse layers (n, m, c), the window at `origin` (row, column) of a coarse `grid` (rh, rw),
    upsampled bilinearly to the crop's `size` (h, w) as `cv2.resize` of the whole grid would be, on
    the crop's window they cover. With whole factors h / rh, w / rw the window alone is resized: only
    the crop pixels reading beyond its first row or outer columns differ (read clamped), where the
    caller keeps the layer's weight 0. Otherwise the window must be the whole grid."""
    (h, w), (rh, rw), (r0, c0) = size, grid, origin
    n, m = layers[0].shape[:2]
    if h % rh == 0 and w % rw == 0:
        f, g = h // rh, w // rw
        window = slice(r0 * f, (r0 + n) * f), slice(c0 * g, (c0 + m) * g)
        return _Fine([cv2.resize(x, (m * g, n * f), interpolation=cv2.INTER_LINEAR) for x in layers], window)
    return _Fine(
        [cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) for x in layers], (slice(0, h), slice(0, w))
    )


def _coarse_hull(points: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """(K, 2) float64 the convex hull of the (N, 2+) points (crop pixels) on the coarse grid, in order."""
    sx, sy = scale
    hull = cv2.convexHull(np.asarray(points[:, :2], np.float32)).reshape(-1, 2).astype(np.float64)
    return (hull + 0.5) * [sx, sy] - 0.5


def _hull_edges(hull: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(following, normal) of a convex hull's (K, 2) vertices in order: edge k runs from vertex k to
    following[k]; normal[k] its outward unit normal."""
    following = np.concatenate((hull[1:], hull[:1]))
    step = following - hull
    normal = (
        np.stack([step[:, 1], -step[:, 0]], axis=1)
        / np.maximum(np.hypot(step[:, 0], step[:, 1]), 1e-9)[:, None]
    )
    if np.sum(hull[:, 0] * following[:, 1] - following[:, 0] * hull[:, 1]) < 0.0:
        normal = -normal  # the vertices in the other order
    return following, normal


def _signed_outside(
    hull: np.ndarray,
    following: np.ndarray,
    normal: np.ndarray,
    xs: np.ndarray,
    rows: np.ndarray,
    top: float,
    margin: float,
) -> np.ndarray:
    """(n, m) float32 signed distance (coarse pixels, > 0 outside) to the convex `hull` (K, 2; its
    `_hull_edges`) grown by `margin`, at the columns xs (m,) and rows (n, 1) float32: the largest of
    its edges' distances, over the edges facing down or sideways that reach row `top` (for points
    below it, those facing up or wholly above lie beyond other edges); -(rows' end) where none do."""
    offset = np.sum(normal * hull, axis=1) + margin
    bound = (np.maximum(hull[:, 1], following[:, 1]) >= top) & (normal[:, 1] > -0.2)
    if not bound.any():
        return np.full((len(rows), len(xs)), -float(rows[-1, 0] + 1.0), np.float32)
    nx, ny, c = (v[bound].astype(np.float32)[:, None, None] for v in (normal[:, 0], normal[:, 1], offset))
    return (nx * xs + (ny * rows - c)).max(axis=0)


def lowest_rows(points: np.ndarray, width: int) -> np.ndarray:
    """(width,) float64: per pixel column (its centre x = column index), the lowest row (largest y)
    of the convex hull of the (N, 2) points (pixels); -inf where the hull misses the column."""
    hull = cv2.convexHull(np.asarray(points, np.float32)).reshape(-1, 2).astype(np.float64)
    return _hull_bottom(hull, *_hull_edges(hull), width)


def _hull_bottom(hull: np.ndarray, following: np.ndarray, normal: np.ndarray, width: int) -> np.ndarray:
    """`lowest_rows` of a convex hull's (K, 2) vertices in order and its `_hull_edges`: the hull's
    lower side (its edges facing down, a path monotone in x) interpolated at each column."""
    down = normal[:, 1] > 0.0
    if not down.any():
        return np.full(width, -np.inf)
    ends = np.concatenate((hull[down], following[down]))  # each inner vertex twice: same x, same y
    ends = ends[np.argsort(ends[:, 0], kind="stable")]
    x = np.arange(width, dtype=np.float64)
    return np.interp(x, ends[:, 0], ends[:, 1], left=-np.inf, right=-np.inf)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """(w,) values smoothed across columns by a Gaussian of `sigma` columns, its ends replicated
    (as `cv2.GaussianBlur`; a convolution here: per frame the row is short)."""
    if sigma < 0.5:
        return values
    kernel = _gaussian(sigma)
    r = len(kernel) // 2
    padded = np.concatenate((np.full(r, values[0]), values, np.full(r, values[-1])))
    return np.convolve(padded, kernel, mode="valid")


@lru_cache(maxsize=8)
def _gaussian(sigma: float) -> np.ndarray:
    """`cv2.GaussianBlur`'s float64 kernel for `sigma` (its size 8 sigma + 1, odd)."""
    return cv2.getGaussianKernel(round(sigma * 8 + 1) | 1, sigma, cv2.CV_64F).ravel()
