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

from dataclasses import dataclass

import cv2
import numpy as np

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
    coarse pixels; scale: coarse pixels per crop pixel (x, y)."""

    bottom: np.ndarray
    clear: np.ndarray
    neck: np.ndarray
    chin: float
    face_size: float
    scale: tuple[float, float]


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
    clear = _smoothstep((distance - 0.5 * margin) / max(0.5 * margin, 0.5))
    bottom = lowest_rows(coarse, rw)
    image = cv2.resize(source, (rw, rh), interpolation=cv2.INTER_AREA).astype(np.float32) + 1.0
    return PhotoJaw(
        bottom=bottom,
        clear=clear.astype(np.float32),
        neck=_neck_below(image, bottom, size_c),
        chin=float(coarse[:, 1].max()),
        face_size=size_c,
        scale=(sx, sy),
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
    like = (1.0 - _smoothstep((chroma - 0.03) / 0.04)) * _smoothstep((ratio - 0.25) / 0.2)
    like *= 1.0 - _smoothstep((ratio - 1.5) / 0.3)
    return np.where(found, like, 0.0)


def neck_layer(
    spread: np.ndarray, cover: np.ndarray, target_points: np.ndarray, photo: PhotoJaw, size: tuple[int, int]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(alpha, back) at the crop's `size` (h, w) for `HeadMotion`, or (None, None) where the jaw
    has no columns low enough or the layer would nowhere differ from the spread flow.

    spread: (rh, rw, 2) float32 the spread flow on the coarse grid (crop pixels); cover: (rh, rw)
    the target's face on it (its shape only); target_points: (N, 2+) the target's mesh (crop pixels). alpha: (h, w) float32, where the moved photo shows (the target's face
    grown by `JAW_MARGIN`, anti-aliased; 1 where the layer is the spread flow); back: (h, w, 2)
    float32 the layer's backward flow (crop pixels)."""
    rh, rw = cover.shape
    fs = photo.face_size
    sx, sy = photo.scale
    # The target's jaw line as the photo's (`photo_jaw`): its mesh's hull, sub-pixel, so an edit
    # that hardly moves the jaw hardly moves the neck.
    bottom = lowest_rows((np.asarray(target_points[:, :2], np.float64) + 0.5) * [sx, sy] - 0.5, rw)
    corner = photo.chin - JAW_RISE * fs
    jaw = np.isfinite(bottom) & (bottom >= corner)
    if not jaw.any():
        return None, None
    columns = np.arange(rw, dtype=np.float64)
    margin = JAW_MARGIN * fs
    edge = np.interp(columns, columns[jaw], bottom[jaw]) + margin  # the jaw line, held beyond its ends
    rise = np.where(np.isfinite(photo.bottom), np.maximum(photo.bottom + margin - edge, 0.0), 0.0)
    # Where the jaw rose so far off the photo's (a nod, the trailing side of a turn) that the neck it
    # uncovers cannot be stretched over it within `JAW_STRETCH` above the shoulder line, the
    # spread flow stays (weight 0 from there on, 1 below 3/4 of it).
    span = np.maximum(photo.chin + NECK_REACH * fs - edge, NECK_MIN_SPAN * fs)
    ok = 1.0 - _smoothstep((rise * JAW_STRETCH / span - 0.75) * 4.0)
    # ... and where what lies below the photo's jaw is no neck (the background or a collar beside a
    # narrower neck, at the jaw's ends): stretched over the rows the jaw uncovers, it would show as a
    # dark or white wedge; the spread flow fills them as without the layer.
    ok *= 1.0 - (1.0 - photo.neck) * _smoothstep(rise / margin)
    ok = _smooth(np.interp(columns, columns[jaw], ok[jaw]), JAW_SMOOTH * fs)  # the ends' values beyond them
    rise = np.minimum(np.maximum(_smooth(rise, JAW_SMOOTH * fs), rise), span / JAW_STRETCH)
    # Only the rows below the jaw's corners change (above them the weight is 0).
    r0 = int(np.clip(np.floor(corner), 0, rh - 1))
    rows = np.arange(r0, rh, dtype=np.float32)[:, None]
    s = _smoothstep(((rows - edge) / span).astype(np.float32))
    lift = (rise * (1.0 - s)).astype(np.float32)  # photo row - output row (coarse), the neck's own
    # The still photo only where it shows no face of the photo's (read where the layer reads).
    gx, gy = np.meshgrid(np.arange(rw, dtype=np.float32), rows[:, 0])
    clear = cv2.remap(photo.clear, gx, gy + lift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    weight = np.zeros((rh, rw), np.float32)
    weight[r0:] = ok.astype(np.float32)[None, :] * _smoothstep((rows - corner) / (JAW_CORNER * fs)) * clear
    if weight.max() < 0.01:
        return None, None
    back = spread.copy()
    band = back[r0:]
    band *= (1.0 - weight[r0:])[..., None]  # the spread flow blended into the still one
    band[..., 1] += weight[r0:] * lift / photo.scale[1]
    h, w = size
    back = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)
    shows = cv2.resize(np.clip(weight * 10.0, 0.0, 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
    # The moved face: its outline grown by the margin, as a signed distance to its convex hull on the
    # coarse grid (linear, so upsampled it draws a sub-pixel contour at the crop's resolution).
    hull = cv2.convexHull(np.asarray(target_points[:, :2], np.float32)).reshape(-1, 2).astype(np.float64)
    hull = (hull + 0.5) * [sx, sy] - 0.5
    step = np.roll(hull, -1, axis=0) - hull  # edge k from vertex k to k + 1
    normal = (
        np.stack([step[:, 1], -step[:, 0]], axis=1) / np.maximum(np.linalg.norm(step, axis=1), 1e-9)[:, None]
    )
    if np.mean(np.sum(normal * (hull - hull.mean(axis=0)), axis=1)) < 0.0:
        normal = -normal  # outwards
    offset = np.sum(normal * hull, axis=1) + margin
    # Only edges facing down or sideways that reach the band bound it (those facing up, or wholly
    # above it, lie beyond other edges for every point in the band).
    low = np.maximum(hull[:, 1], np.roll(hull[:, 1], -1)) >= r0 - margin
    bound = low & (normal[:, 1] > -0.2)
    nx, ny, c = (v[bound].astype(np.float32)[:, None, None] for v in (normal[:, 0], normal[:, 1], offset))
    signed = np.full((rh, rw), -rh, np.float32)  # above the band: inside
    if bound.any():
        signed[r0:] = (nx * np.arange(rw, dtype=np.float32) + (ny * rows - c)).max(axis=0)
    signed = cv2.resize(signed, (w, h), interpolation=cv2.INTER_LINEAR)
    y0 = int(np.clip(np.floor((r0 + 0.5) / sy - 0.5), 0, h - 1))
    alpha = np.ones((h, w), np.float32)
    front = np.clip(0.5 - signed[y0:] / np.float32(min(sx, sy)), 0.0, 1.0)  # crop pixels
    alpha[y0:] -= (1.0 - front) * shows[y0:]
    return alpha, back


def lowest_rows(points: np.ndarray, width: int) -> np.ndarray:
    """(width,) float64: per pixel column (its centre x = column index), the lowest row (largest y)
    of the convex hull of the (N, 2) points (pixels); -inf where the hull misses the column."""
    hull = cv2.convexHull(np.asarray(points, np.float32)).reshape(-1, 2).astype(np.float64)
    start, end = hull, np.roll(hull, -1, axis=0)  # the hull's edges (K,)
    x = np.arange(width, dtype=np.float64)[:, None]
    dx = end[:, 0] - start[:, 0]
    steep = dx == 0.0
    t = (x - start[:, 0]) / np.where(steep, 1.0, dx)  # (width, K)
    y = start[:, 1] + t * (end[:, 1] - start[:, 1])
    crosses = ~steep & (t >= 0.0) & (t <= 1.0)
    return np.where(crosses, y, -np.inf).max(axis=1)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """3t^2 - 2t^3 of t clipped to [0, 1] (its dtype kept)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """(w,) values smoothed across columns by a Gaussian of `sigma` columns."""
    if sigma < 0.5:
        return values
    row = values.reshape(1, -1).astype(np.float64)
    return cv2.GaussianBlur(row, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE).reshape(-1)
