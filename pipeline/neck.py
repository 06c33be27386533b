"""The neck bends into still shoulders: a vertical fade of the flow carried below the face.

The geometric renderer (`pipeline.geometric`) carries the face rim's flow outwards and fades it
over the same distance in every direction, long enough for the rim's motion. Below the face that
distance reaches through the neck into the collar and the shirt, which then bend with a turned head.
Here the flow below the jaw line also fades downwards, to zero at the shoulder line (the photo's
chin + `NECK_REACH` face sizes): the neck takes the turn as a shear and the clothes stay. The
vertical component fades over at least `STRETCH_BOUND` times the jaw's vertical motion, so a nod
stretches or squeezes the neck by at most 1.5x (a smoothstep over D of a motion m changes lengths
by up to 1 / (1 - 1.5 m / D)). Beside and above the head (hair, ears) nothing changes.

`jaw_edge` (docs/JAW_EDGE.md; `PreviewSettings.jaw_edge`, off by default) goes further under the
jaw: the face moves over a neck that stays. The neck is a second layer behind the moved photo,
below the jaw line, with no horizontal motion, each column reading below the photo's own jaw line
(where the jaw rose, the neck it uncovers is stretched over the freed rows; where it fell, the jaw
covers the neck); the jaw line is that layer's anti-aliased edge, laid at the photo's resolution
(`reconstruction.overlay.lay_behind`), not a fold of one flow drawn in the crop's pixel steps.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "JAW_EDGE_FADE",
    "JAW_MARGIN",
    "JAW_RISE",
    "JAW_SLOPE",
    "JAW_SMOOTH",
    "JAW_STRETCH",
    "NECK_MIN_SPAN",
    "NECK_REACH",
    "jaw_edge",
    "lowest_rows",
    "shoulder_fade",
]

#: The shoulder line lies this many face sizes below the photo's chin.
NECK_REACH = 0.2
#: Beside the face the fade starts this many face sizes above the chin (about the jaw's angle):
#: the ears and the hair above it move as before.
JAW_RISE = 0.25
#: Away from the jaw line the fade's start rises by at most this many rows per column: where the
#: jaw's side is steep, the fade changes gently from column to column (a head turned by 30 degrees
#: stretched the hair beside the jaw twofold within a few pixels).
JAW_SLOPE = 0.5
#: The horizontal fade spans at least this many face sizes (a chin lowered onto the shoulder line
#: shears the neck over this span instead of tearing it).
NECK_MIN_SPAN = 0.1
#: Under the jaw this many face sizes below the mesh's outline still move with the face (on some photos
#: the jaw's edge lies a little below the fitted mesh's outline; it must move with the face).
JAW_MARGIN = 0.03
#: Towards the jaw's ends the layer fades out over this many face sizes into the fade above.
JAW_EDGE_FADE = 0.04
#: The layer's weight and the neck's rise are smoothed across columns over this many face sizes.
JAW_SMOOTH = 0.03
#: The neck under the jaw stretches over at least this many times the rows the jaw uncovers (a
#: smoothstep then stretches it by at most 1 / (1 - 1.5 / 5) = 1.43x).
JAW_STRETCH = 5.0


def shoulder_fade(
    flow: np.ndarray,
    cover: np.ndarray,
    chin: float,
    face_size: float,
    stretch_bound: float,
    scale: float = 1.0,
) -> np.ndarray | None:
    """(h, w, 2) float32 factors in [0, 1] for the flow outside the face: 1 above the jaw line (per
    column, the face's lowest covered pixel, lowered beside it to a slope of `JAW_SLOPE`; beside the
    face no higher than `JAW_RISE` above the chin), falling smoothly to 0 below it, horizontally by
    the shoulder line and vertically over at least `stretch_bound` times the jaw's vertical motion.
    None when no pixel is covered.

    flow: (h, w, 2) float32 backward flow in crop pixels on a grid of `scale` grid pixels per crop
    pixel; cover: (h, w) float32, > 0.5 on the target's face; chin: the photo's chin row and
    face_size: the face's size, both in grid pixels.
    """
    face = cover > 0.5
    h, w = face.shape
    has = face.any(axis=0)
    if not has.any():
        return None
    bottom = h - 1 - np.argmax(face[::-1], axis=0)  # (w,) the face's lowest row per column
    jaw = chin - JAW_RISE * face_size
    # The jaw line, lowered beside it to a slope of at most JAW_SLOPE: max over the face's columns
    # c of bottom[c] - JAW_SLOPE * |x - c|, and never above the row `jaw`.
    columns = np.flatnonzero(has)
    reach = bottom[columns][None, :] - JAW_SLOPE * np.abs(np.arange(w)[:, None] - columns[None, :])  # (w, c)
    start = np.maximum(reach.max(axis=1), jaw).astype(np.float32)  # (w,)
    shoulders = chin + NECK_REACH * face_size
    span = np.maximum(shoulders - start, NECK_MIN_SPAN * face_size)
    # The jaw line's vertical motion (grid pixels): where the neck hangs from.
    lift = float(np.abs(flow[bottom[columns], columns, 1]).max()) * scale
    span_v = np.maximum(span, stretch_bound * lift)
    below = np.arange(h, dtype=np.float32)[:, None] - start  # (h, w) rows below the fade's start
    out = np.empty((h, w, 2), np.float32)
    for k, length in enumerate((span, span_v)):
        t = np.clip(below / length, 0.0, 1.0)
        out[:, :, k] = 1.0 - t * t * (3.0 - 2.0 * t)
    return out


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


def jaw_edge(
    flow: np.ndarray,
    photo_points: np.ndarray,
    target_points: np.ndarray,
    face_size: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The neck that stays under the jaw, as a layer behind the moved photo: (back, alpha), or None.

    flow: (h, w, 2) float32 backward flow in crop pixels (the renderer's, at the crop's resolution);
    photo_points, target_points: (N, 2+) the photo's and the target's mesh (crop pixels); face_size:
    crop pixels. back: (h, w, 2) float32 backward flow of the neck (crop pixels); alpha: (h, w)
    float32 in [0, 1], where the moved photo (`flow`) shows in front of it; the edge between them
    anti-aliased, drawn at the photo's resolution (`reconstruction.overlay.lay_behind`).

    The edge: `JAW_MARGIN` below the target face's lowest row in the jaw's columns (those where it
    lies no higher than `JAW_RISE` above the photo's chin). Below it the neck has no horizontal
    motion and each column reads from `JAW_MARGIN` below the photo's own face down (no second jaw
    line): where the jaw rose,
    the uncovered rows are stretched over a smoothstep down to the shoulder line (by at most
    1 / (1 - 1.5 / `JAW_STRETCH`)). The layer's weight is 1 inside the jaw's run of columns,
    falls to 0 over `JAW_EDGE_FADE` face sizes towards its ends, and is 0 where the jaw rose too far
    off the photo's for that stretch (a nod, the trailing side of a turn: there the fade above
    stays, as it is beyond the jaw).
    """
    h, w = flow.shape[:2]
    chin = float(np.max(photo_points[:, 1]))
    target = lowest_rows(target_points[:, :2], w)
    jaw = np.isfinite(target) & (target >= chin - JAW_RISE * face_size)
    if not jaw.any():
        return None
    columns = np.arange(w, dtype=np.float64)
    margin = JAW_MARGIN * face_size
    edge = np.interp(columns, columns[jaw], target[jaw]) + margin  # rows; only the jaw's columns count
    # 1 inside the jaw's run, falling to 0 towards its ends.
    ends = columns[~jaw]
    inside = np.abs(columns[:, None] - ends[None, :]).min(axis=1) if len(ends) else np.full(w, np.inf)
    t = 1.0 - np.clip(inside / max(JAW_EDGE_FADE * face_size, 1.0), 0.0, 1.0)
    weight = 1.0 - t * t * (3.0 - 2.0 * t)
    photo = lowest_rows(photo_points[:, :2], w)
    rise = np.where(np.isfinite(photo) & (weight > 0.0), np.maximum(photo + margin - edge, 0.0), 0.0)
    # ... but where the jaw rose so far off the photo's (a nod, the trailing side of a turn) that the
    # neck it uncovers cannot be stretched over it within `JAW_STRETCH` above the shoulder line,
    # the fade above stays (weight 0 from there on, 1 below 3/4 of it: no wide cross-fade).
    span = np.maximum(chin + NECK_REACH * face_size - edge, NECK_MIN_SPAN * face_size)
    t = np.clip((rise * JAW_STRETCH / span - 0.75) * 4.0, 0.0, 1.0)
    weight = np.where(jaw, _smooth(weight * (1.0 - t * t * (3.0 - 2.0 * t)), JAW_SMOOTH * face_size), 0.0)
    if weight.max() < 0.01:
        return None
    rise = np.minimum(np.maximum(_smooth(rise, JAW_SMOOTH * face_size), rise), span / JAW_STRETCH)
    below = np.arange(h, dtype=np.float64)[:, None] - edge  # (h, w) rows below the edge
    s = np.clip(below / span, 0.0, 1.0)  # above the edge (never seen) the neck's flow continues
    back = np.zeros((h, w, 2), np.float32)
    back[..., 1] = rise * (1.0 - s * s * (3.0 - 2.0 * s))  # photo row - output row, the neck's own
    # Each pixel's share above the edge (its distance across the sloping edge, anti-aliased).
    front = np.clip(0.5 - below / np.sqrt(1.0 + np.gradient(edge) ** 2), 0.0, 1.0)
    front[np.arange(h)[:, None] <= np.where(jaw, target, -1.0)] = 1.0  # the face itself, always
    alpha = np.clip(1.0 - weight * (1.0 - front), 0.0, 1.0)
    return back, alpha.astype(np.float32)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """(w,) values smoothed across columns by a Gaussian of `sigma` columns."""
    if sigma < 0.5:
        return values
    row = values.reshape(1, -1).astype(np.float64)
    return cv2.GaussianBlur(row, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE).reshape(-1)
