"""The face's flow carried beyond the face: hair, ears, neck and background follow a head motion
partly and fade back to the photo.

Push-pull pyramid diffusion carries the face rim's flow outwards (a silhouette moves with its
edge); a smoothstep fades it to zero over a distance long enough for the motion it fades; the
rim's stretch is spread over the cheek (`_smooth_rim`); above and below the face the photo is read
in order down each column (`_unfold_columns`); below the jaw the flow also fades downwards to still
shoulders (`pipeline.neck`). Used by the geometric renderer (`pipeline.geometric`) on its coarse
grid.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.neck import shoulder_fade

__all__ = ["RIM_SMOOTH", "RIM_STRETCH", "STRETCH_BOUND", "UNFOLD_SLOPE", "spread_flow"]

#: The flow beyond the face fades over at least this many times the face rim's motion.
STRETCH_BOUND = 4.5
#: Width (Gaussian sigma, in face sizes) over which the flow is smoothed across the face's rim.
RIM_SMOOTH = 0.08
#: ... where the warp stretches the picture: local area ratio (source area per output area) below this.
RIM_STRETCH = 0.6
#: Beyond the face the photo is read outwards at least this many photo pixels per output pixel.
UNFOLD_SLOPE = 0.5


def spread_flow(
    flow: np.ndarray,
    cover: np.ndarray,
    face_size: float,
    fade: float,
    scale: float = 1.0,
    chin: float | None = None,
) -> np.ndarray:
    """Carry the face's flow outwards and fade it to zero over `fade` * `face_size` (coarse pixels;
    `scale`: coarse pixels per crop pixel, the unit of the flow's values), or longer for a large motion.

    Push-pull pyramid diffusion: the flow of the face's rim is averaged down a pyramid
    (weights = rim coverage), then filled back up, each level keeping its own values where it is well covered
    and taking the coarser level's elsewhere. The fill meets the face's flow continuously at
    its border (no seam) and becomes smoother with distance. With the photo's `chin` row (coarse
    pixels) it also fades downwards below the jaw, to still shoulders (`pipeline.neck`).
    """
    rh, rw = cover.shape
    # Only the face's rim feeds the fill: outside, the flow continues the border's motion
    # (a silhouette moves with its edge), not an average with the face's inside.
    rim = cover - cv2.erode(cover, np.ones((3, 3), np.uint8), iterations=2)
    sums, weights = [flow * _both(rim)], [rim]
    while min(weights[-1].shape) > 4:
        hh, ww = weights[-1].shape
        size = (max(1, (ww + 1) // 2), max(1, (hh + 1) // 2))
        sums.append(cv2.resize(sums[-1], size, interpolation=cv2.INTER_AREA))
        weights.append(cv2.resize(weights[-1], size, interpolation=cv2.INTER_AREA))
    estimate = sums[-1] / _both(np.maximum(weights[-1], 1e-6))
    estimate[weights[-1] < 1e-6] = 0.0
    for level in range(len(sums) - 2, -1, -1):
        hh, ww = weights[level].shape
        up = cv2.resize(estimate, (ww, hh), interpolation=cv2.INTER_LINEAR)
        own = sums[level] / _both(np.maximum(weights[level], 1e-6))
        alpha = _both(np.clip(weights[level] * 2.0, 0.0, 1.0))
        estimate = alpha * own + (1.0 - alpha) * up
    outside = (cover < 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)  # coarse pixels to the face
    # The fade must be long enough for the motion it fades: a smoothstep over D stretches what
    # lies beyond the face by up to 1 / (1 - 1.5 m / D) for a rim motion m; D >= 4.5 m keeps that
    # under 1.5x (a turned head's far ear and hair are not pulled into a thin wedge).
    rim_motion = np.linalg.norm(flow[rim > 0], axis=1) if rim.any() else np.zeros(1)
    reach = max(fade * face_size, STRETCH_BOUND * float(np.percentile(rim_motion, 95)) * scale)
    t = np.clip(dist / max(reach, 1.0), 0.0, 1.0)
    keep = 1.0 - t * t * (3.0 - 2.0 * t)  # smoothstep down to 0
    face = _both(cover) > 0.5
    flow = np.where(face, flow, estimate * _both(keep)).astype(np.float32)
    _unfold_columns(flow, cover, scale)
    flow = _smooth_rim(flow, cover, RIM_SMOOTH * face_size, scale)
    # Below the jaw, on to still shoulders; the face itself (and its smoothed rim) stays as it is.
    neck = None if chin is None else shoulder_fade(flow, cover, chin, face_size, STRETCH_BOUND, scale)
    if neck is not None:
        flow = np.where(face, flow, flow * neck)
        _unfold_columns(flow, cover, scale)
    return flow


def _smooth_rim(flow: np.ndarray, cover: np.ndarray, sigma: float, scale: float = 1.0) -> np.ndarray:
    """(h, w, 2) flow (crop pixels, on a grid of `scale` coarse pixels per crop pixel) with its band
    around the face's rim (both sides, ~2 `sigma` wide, coarse pixels) replaced by the flow's
    Gaussian blur where the warp stretches the picture, blended in smoothly.

    Where a turn unfolds the cheek, the mesh maps the thin strip of skin that the photo shows edge-on
    (often with the ear or an earring on it) onto a wide band inside the rim, while just outside the
    extension moves with the rim: the whole stretch sits in a few pixels and draws streaks. Blurring
    the flow across the rim spreads that stretch over the cheek and what lies beyond it."""
    if sigma < 0.5:
        return flow
    face = (cover > 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(face, cv2.DIST_L2, 3) + cv2.distanceTransform(1 - face, cv2.DIST_L2, 3)
    t = np.clip(distance / (2.0 * sigma), 0.0, 1.0)
    band = 1.0 - t * t * (3.0 - 2.0 * t)
    # Only around a stretch: elsewhere (the far cheek that folds away) the mesh's flow stays exact.
    du_dy, du_dx = np.gradient(flow[..., 0] * scale)  # flow in crop pixels, positions in coarse pixels
    dv_dy, dv_dx = np.gradient(flow[..., 1] * scale)
    area = (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx
    stretch = np.clip((RIM_STRETCH - area) / 0.3, 0.0, 1.0).astype(np.float32)
    band = band * np.clip(cv2.GaussianBlur(stretch, (0, 0), sigma) * 3.0, 0.0, 1.0)
    band = _both(band)
    blurred = cv2.GaussianBlur(flow, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return (flow + band * (blurred - flow)).astype(np.float32)


def _both(factor: np.ndarray) -> np.ndarray:
    """(h, w) -> (h, w, 2), the factor in both channels of a flow (numpy broadcasts an (h, w, 1)
    factor over two channels several times slower than it multiplies equal shapes)."""
    return cv2.merge([factor, factor])


def _unfold_columns(flow: np.ndarray, cover: np.ndarray, scale: float) -> None:
    """Above and below the face, read the photo in order down each column (the (h, w, 2) flow in crop
    pixels on a grid of `scale` coarse pixels per crop pixel, in place): at least `UNFOLD_SLOPE` photo
    rows per output row.

    Where the chin rises in a nod (or the jaw drops), the extension's average of the whole rim falls
    off within a few pixels under it: the photo's chin is read a second time below the chin (a pale
    second chin over the neck, streaks where the fold is smoothed). Raised to the slope, what lies
    beyond the face (the neck) stretches instead."""
    face = cover > 0.5
    h = cover.shape[0]
    rows = np.arange(h)[:, None]
    # u: photo row minus UNFOLD_SLOPE times output row (coarse pixels); in order means u never falls.
    u = flow[:, :, 1] * scale + (1.0 - UNFOLD_SLOPE) * rows.astype(np.float32)
    has = face.any(axis=0)
    top, bottom = np.argmax(face, axis=0), h - 1 - np.argmax(face[::-1], axis=0)  # the face's rows per column
    below, above = has & (rows > bottom), has & (rows < top)
    fixed = u.copy()
    if has.any():
        # Each side starts from the face's own edge in that column: run from the highest bottom
        # down (above it every column's running maximum is -inf and unused) and from the lowest
        # top up (the same values as over all rows, only the unused rows are not computed).
        r0, r1 = int(bottom[has].min()), int(top[has].max()) + 1
        lower, upper = rows[r0:], rows[:r1]
        start = np.where(below[r0:] | has & (lower == bottom), u[r0:], -np.inf)
        fixed[r0:] = np.where(below[r0:], np.maximum.accumulate(start, axis=0), u[r0:])
        start = np.where(above[:r1] | has & (upper == top), u[:r1], np.inf)
        falling = np.minimum.accumulate(start[::-1], axis=0)[::-1]
        fixed[:r1] = np.where(above[:r1], falling, fixed[:r1])
    flow[:, :, 1] += (fixed - u) / scale
