"""The near side of a turn: the strip beyond the photo's skin at the face's rim kept near its width.

The fitted mesh's outermost triangles stand almost edge-on in a near-frontal photo, and where the
fit reaches past the skin they cover a thin strip of something else: a pale sideburn, hair lying
over the temple, the background's edge. A turn towards the camera opens those triangles 2-4x, and
the strip is drawn as a wide band down the cheek (a pale smear, hair swept over the temple). The
skin the mesh should have there is the photo's cheek just inside the strip: here each row of the
face's near rim band is read again so that the strip keeps at most `STRIP_MAGNIFICATION` times its
width in the photo and the skin behind it takes the rest of the stretch. The reads of the rim
itself (where the flow beyond the face continues) and of the band's inner end stay as the mesh
has them.

`skin_map` is per photo (a colour model of the face's middle, no face parsing); `keep_strip_width`
runs on the geometric renderer's coarse grid inside `pipeline.flow_spread.spread_flow`.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["NEAR_BAND", "STRIP_MAGNIFICATION", "STRIP_WIDEST", "keep_strip_width", "skin_map"]

#: The strip beyond the skin is drawn at most this many times its width in the photo; 0 turns the
#: near side's correction off.
STRIP_MAGNIFICATION = 1.3
#: Width (in face sizes) of the band inside the face's left and right rims that is read again.
NEAR_BAND = 0.1
#: A strip is at most this wide (in face sizes) in the photo, along the mesh's outline.
STRIP_WIDEST = 0.08
#: A pixel is skin when its colour lies within this many robust deviations of the face's middle.
SKIN_DEVIATIONS = 3.0


def skin_map(source: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how much each pixel of the (H, W, 3) uint8 RGB crop looks like the
    skin of the face's middle (the crop pixels under the projected mesh `points` (N, >=2), pixels,
    on the cheeks: beside the nose, under the eyes, above the mouth's corners).

    A robust colour model in Lab (median and scaled median deviation per channel, bounded) with a
    soft edge at `SKIN_DEVIATIONS`; deeper than `STRIP_WIDEST` face sizes inside the mesh's outline
    everything counts as skin (a strip lies along the outline)."""
    h, w = source.shape[:2]
    lab = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    xy = points[:, :2]
    centre, half = (xy.min(axis=0) + xy.max(axis=0)) / 2.0, (xy.max(axis=0) - xy.min(axis=0)) / 2.0
    # The cheeks: beside the nose, under the eyes, above the mouth's corners (no stubble, no lips).
    offset = (xy - centre) / np.maximum(half, 1e-3)
    middle = (
        (np.abs(offset[:, 0]) > 0.2)
        & (np.abs(offset[:, 0]) < 0.6)
        & (offset[:, 1] > -0.15)
        & (offset[:, 1] < 0.25)
    )
    pix = np.round(xy[middle]).astype(np.int64)
    pix = pix[(pix[:, 0] >= 0) & (pix[:, 0] < w) & (pix[:, 1] >= 0) & (pix[:, 1] < h)]
    if len(pix) < 16:
        return np.ones((h, w), np.float32)
    samples = lab[pix[:, 1], pix[:, 0]]  # (M, 3)
    median = np.median(samples, axis=0)
    spread = 1.4826 * np.median(np.abs(samples - median), axis=0)
    spread = np.clip(spread, [10.0, 4.0, 4.0], [25.0, 12.0, 12.0])  # shading varies: lightness at most 25
    distance = np.sqrt((((lab - median) / spread) ** 2).sum(axis=2))
    skin = np.clip(SKIN_DEVIATIONS + 0.5 - distance, 0.0, 1.0)
    # A strip lies along the mesh's outline: further in, brows, eyes and shadows are the face's own.
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(xy).astype(np.int32)), 1)
    depth = cv2.distanceTransform(hull, cv2.DIST_L2, 3)
    skin[depth > STRIP_WIDEST * float(np.ptp(xy, axis=0).max())] = 1.0
    return cv2.GaussianBlur(skin, (0, 0), 1.0).astype(np.float32)


def keep_strip_width(
    flow: np.ndarray, cover: np.ndarray, skin: np.ndarray, face_size: float, scale: float
) -> np.ndarray:
    """The (h, w, 2) coarse flow (crop pixels, on a grid of `scale` coarse pixels per crop pixel)
    with each row of the band (`NEAR_BAND` * `face_size` coarse pixels inwards from the face's left
    and right rims, `cover` (h, w) > 0.5 on the face) read again where its reads cross a thin strip
    (at most `STRIP_WIDEST` face sizes in the photo) off the (H, W) crop `skin` map before reaching
    skin. A wider run off the skin is a feature of the face (a brow, an eye's shadow), not a rim's strip.

    Per row and side, the band's output positions are re-mapped piecewise linearly: the strip (the
    band's reads up to the first skin read) is given its width in the photo times
    `STRIP_MAGNIFICATION` (when it had more), the rest of the band the remainder; both
    components of the read follow the re-mapped position, so the reads stay on the mesh's own path.
    The change is smoothed across rows (no row-to-row steps)."""
    band = NEAR_BAND * face_size
    if STRIP_MAGNIFICATION <= 0.0 or band < 3.0:
        return flow
    h, w = cover.shape
    face = cover > 0.5
    has = face.any(axis=1)
    rows = np.arange(h)
    left = np.argmax(face, axis=1)
    right = w - 1 - np.argmax(face[:, ::-1], axis=1)
    reach = np.minimum(int(round(band)), (right - left) // 3)  # (h,) narrow rows: a third from each side
    steps = np.arange(int(round(band)) + 1)  # (S,) output offsets inwards from the rim
    # Reads in crop pixels of every coarse pixel, and whether each lands on skin.
    cx = (np.arange(w, dtype=np.float32) + 0.5) / scale - 0.5
    cy = (np.arange(h, dtype=np.float32) + 0.5) / scale - 0.5
    read_x = cx[None, :] + flow[:, :, 0]
    read_y = cy[:, None] + flow[:, :, 1]
    on_skin = cv2.remap(skin, read_x, read_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) > 0.5
    sigma = max(1.5, 0.2 * band)  # rows
    change = np.zeros_like(flow)
    weight = np.zeros((h, w), np.float32)
    for side, rim in ((1, left), (-1, right)):
        ok = has & (reach >= 3)
        cols = np.clip(rim[:, None] + side * steps[None, :], 0, w - 1)  # (h, S)
        inside = steps[None, :] <= reach[:, None]
        skin_here = on_skin[rows[:, None], cols] & inside
        found = skin_here.any(axis=1)
        first = np.argmax(skin_here, axis=1)  # output offset of the first skin read
        strip = side * (
            read_x[rows, cols[:, 0]] - read_x[rows, np.take_along_axis(cols, first[:, None], 1)[:, 0]]
        )
        natural = np.abs(strip) * scale * STRIP_MAGNIFICATION  # coarse pixels the strip may take
        # Rows without a strip keep their reads (the knots coincide); smoothed across the face's rows,
        # the re-reading fades in and out instead of stepping where a strip begins or ends.
        width = np.where(found, first, reach).astype(np.float32)
        thin = np.abs(strip) <= STRIP_WIDEST * face_size / scale
        natural = np.where(found & thin & (natural < width), natural, width)
        natural, width = (_smooth_rows(v, ok, sigma) for v in (natural, width))
        act = ok & (width >= 2.0) & (natural < width - 0.5)
        if not act.any():
            continue
        # Output offset t -> sampled offset: [0, natural] -> [0, first], [natural, reach] -> [first, reach].
        t = steps[None, :].astype(np.float32)
        nat, fst, rch = natural[:, None], width[:, None], reach[:, None].astype(np.float32)
        outer = t * fst / np.maximum(nat, 1e-3)
        inner = fst + (t - nat) * (rch - fst) / np.maximum(rch - nat, 1e-3)
        sampled = np.where(t <= nat, outer, inner)
        lo = np.clip(np.floor(sampled).astype(np.int64), 0, None)
        frac = (sampled - lo)[:, :, None]
        at = np.clip(rim[:, None] + side * lo, 0, w - 1)
        nxt = np.clip(at + side, 0, w - 1)
        # The read (flow + position) at the sampled position, as a flow at the output position.
        pos = np.stack([cx[at], np.broadcast_to(cy[:, None], at.shape)], axis=-1)
        pos_next = np.stack([cx[nxt], np.broadcast_to(cy[:, None], nxt.shape)], axis=-1)
        read = (1.0 - frac) * (flow[rows[:, None], at] + pos) + frac * (flow[rows[:, None], nxt] + pos_next)
        out_cols = cols
        keep = act[:, None] & inside & face[rows[:, None], out_cols]
        new_flow = read - np.stack([cx[out_cols], np.broadcast_to(cy[:, None], out_cols.shape)], axis=-1)
        delta = np.where(keep[:, :, None], new_flow - flow[rows[:, None], out_cols], 0.0)
        np.add.at(change, (rows[:, None].repeat(len(steps), 1), out_cols), delta)
        np.add.at(weight, (rows[:, None].repeat(len(steps), 1), out_cols), keep.astype(np.float32))
    change /= np.maximum(weight, 1.0)[:, :, None]
    change = cv2.GaussianBlur(change, (0, 0), sigmaX=0.5, sigmaY=1.0)
    return (flow + change * face[:, :, None]).astype(np.float32)


def _smooth_rows(values: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """(h,) `values` averaged over neighbouring `valid` rows with a Gaussian of `sigma` rows."""
    weights = valid.astype(np.float32)[:, None]
    sums = cv2.GaussianBlur(values.astype(np.float32)[:, None] * weights, (1, 0), sigmaX=0.1, sigmaY=sigma)
    norm = cv2.GaussianBlur(weights, (1, 0), sigmaX=0.1, sigmaY=sigma)
    return np.where(valid, sums[:, 0] / np.maximum(norm[:, 0], 1e-3), values).astype(np.float32)
