"""The skull's outline kept where the photo has it while the face turns (docs/SKULL_OUTLINE.md).

The face's flow carried beyond the face (`pipeline.flow_spread`) fades over at least 4.5 times the
face rim's motion, so the cranium above the ears moves almost fully with the rim next to it. The
face lies about half a face size in front of the turn's pivot, so at yaw 30 its rim slides ~40 crop
pixels, and the skull's outline with it, differently per row (the rim's sides and top move
differently): a flat, boxy side at yaw -30, a lump above the ear at yaw +30. A head turned about
its centre keeps its cranium's silhouette; only the texture inside slides. Here, above the ears,
each row of the photo's head (its outline found once per photo by the person segmenter) is taken as
a circle about the pivot's depth (a surface of revolution): a cell inside the outline reads where
that surface's point came from under the head's yaw and pitch (`skull_flow`), blended into the
face's own flow near the face; beyond the outline the flow is the outline's own, fading back to the
carried flow. The face's own coarse flow is not touched.

Lost its rule (docs/SKULL_OUTLINE.md): the band between the face's rim and the held outline draws a
seam (the face slides 35-45 px under a skull held still), the face's far corner passes the outline
anyway, and it costs ~8 ms per preview; `PreviewSettings.skull_outline` is off by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.geometry import smoothstep
from pipeline.head import similarity_3d

__all__ = [
    "BLEND",
    "FADE_MIN",
    "FADE_STRETCH",
    "HOLD_BOTTOM",
    "HOLD_TOP",
    "SKULL_DEPTH",
    "SkullMotion",
    "SkullOutline",
    "hold_skull",
    "skull_flow",
    "skull_outline",
]

#: The outline is held fully above this many face sizes over the eyes' row ...
HOLD_TOP = 0.2
#: ... and not at all below this many (the ears and below move as before).
HOLD_BOTTOM = 0.05
#: The skull's centre (the turn's pivot) lies this many face sizes behind the rigid vertices' centroid
#: (measured: there a yaw or pitch of 30 degrees moves it by under 4 crop pixels).
SKULL_DEPTH = 0.5
#: The skull's flow takes over from the face's over this many face sizes from the face's rim.
BLEND = 0.15
#: Beyond the outline the flow fades back to the face's carried flow over at least this many face
#: sizes ...
FADE_MIN = 0.1
#: ... and at least this many times the carried flow there (nothing beyond it folds).
FADE_STRETCH = 4.5


@dataclass(frozen=True)
class SkullOutline:
    """The photo's head outline above the ears, in crop pixels (NaN: none, or cut by the crop).

    left, right: (H,) per crop row above the eyes' row, the outline's column on each side of the
    head's centre column; eye_row: the eyes' row."""

    left: np.ndarray
    right: np.ndarray
    eye_row: float
    depth: float = 1.0  # the skull's depth (in front of the pivot) per half-width of its row


def skull_outline(
    person: np.ndarray, points: np.ndarray, rigid: np.ndarray, eye_row: float, face_size: float
) -> SkullOutline | None:
    """The outline of the person region (> 0.5 of the (H, W) `person` probability) that holds the
    photo mesh's (`points`, (N, 3) crop pixels and depth) mean column on `eye_row`, rows and columns
    above it, and the skull's depth per half-width of its row where the mesh's forehead ends (so that
    the skull turns with the forehead's motion there); None without it."""
    centre_x = float(points[:, 0].mean())
    mask = person > 0.5
    h, w = mask.shape
    cx, ey = int(round(centre_x)), int(round(eye_row))
    if not (0 <= cx < w and 0 < ey < h) or not mask[ey, cx]:
        return None
    columns = np.arange(w)
    # Per row, the run of person pixels through the centre column (NaN where it meets the crop's edge).
    gap_left = np.where(~mask & (columns[None, :] < cx), columns[None, :], -1).max(axis=1)
    gap_right = np.where(~mask & (columns[None, :] > cx), columns[None, :], w).min(axis=1)
    on = mask[:, cx] & (np.arange(h) <= ey)
    left = np.where(on & (gap_left >= 0), gap_left + 0.5, np.nan)
    right = np.where(on & (gap_right < w), gap_right - 0.5, np.nan)
    if not (np.isfinite(left) & np.isfinite(right)).any():
        return None
    pivot = float(points[rigid, 2].mean()) + SKULL_DEPTH * face_size
    brow = points[points[:, 1] < points[:, 1].min() + 0.1 * face_size]
    at = np.clip(np.round(brow[:, 1]).astype(np.int64), 0, h - 1)
    half = 0.5 * (right[at] - left[at])
    ratio = (pivot - brow[:, 2]) / np.where(half > 1.0, half, np.nan)
    depth = float(np.clip(np.nanmedian(ratio), 0.5, 2.0)) if np.isfinite(ratio).any() else 1.0
    f32 = np.float32
    return SkullOutline(left.astype(f32), right.astype(f32), float(eye_row), depth)


@dataclass(frozen=True)
class SkullMotion:
    """The head's rigid motion photo -> target: target = scale * rotation @ photo + shift (crop
    pixels and depth), and the pivot (3,) in the photo."""

    scale: float
    rotation: np.ndarray
    shift: np.ndarray
    pivot: np.ndarray


def skull_flow(source_rigid: np.ndarray, target_rigid: np.ndarray, face_size: float) -> SkullMotion:
    """The skull's motion from the rigid vertices' (R, 3) positions in the photo and the target."""
    s, rot, t = similarity_3d(source_rigid, target_rigid)
    pivot = source_rigid.mean(axis=0) + np.array([0.0, 0.0, SKULL_DEPTH * face_size])
    return SkullMotion(float(s), rot, t, pivot)


def hold_skull(
    flow: np.ndarray,
    cover: np.ndarray,
    grid: tuple[float, float],
    face_size: float,
    outline: SkullOutline,
    motion: SkullMotion,
) -> np.ndarray:
    """(h, w, 2) float32: `flow` (crop pixels, on a grid of `grid` (x, y) grid pixels per crop pixel)
    with the cranium above the ears turned as a surface of revolution inside the photo's outline
    (`outline`), the background beyond it fading back to `flow`. `cover`: (h, w) > 0.5 on the
    target's face, which keeps its flow (and one grid pixel around it)."""
    sx, sy = grid
    scale = float(min(sx, sy))
    h, w = cover.shape
    face = cover > 0.5
    if not face.any():
        return flow
    ys = ((np.arange(h) + 0.5) / sy - 0.5).astype(np.float32)  # grid rows and columns in crop pixels
    xs = ((np.arange(w) + 0.5) / sx - 0.5).astype(np.float32)
    hold = 1.0 - smoothstep(
        (ys - (outline.eye_row - HOLD_TOP * face_size)) / ((HOLD_TOP - HOLD_BOTTOM) * face_size)
    )
    moved = motion.scale * motion.rotation @ motion.pivot + motion.shift
    # Each output row is the photo's row at the pivot's height difference, kept about the pivot's column.
    rows = np.clip(np.round(ys - (moved[1] - motion.pivot[1])).astype(np.int64), 0, len(outline.left) - 1)
    left, right = outline.left[rows], outline.right[rows]
    half = np.nan_to_num(0.5 * (right - left))[:, None]
    dx = xs[None, :] - (np.nan_to_num(0.5 * (right + left)) + (moved[0] - motion.pivot[0]))[:, None]
    inside = (half > 0.0) & (np.abs(dx) < half)
    gx, gy = np.meshgrid(xs, ys)
    front = outline.depth * np.sqrt(np.maximum(half**2 - dx**2, 0.0))
    offset = np.stack([gx - moved[0], gy - moved[1], -front], axis=-1)
    skull = _turned_back(offset, motion) - np.stack([gx, gy], axis=-1)
    flat = offset.copy()
    flat[..., 2] = 0.0  # on the outline and beyond: the skull's scale and shift only
    still = _turned_back(flat, motion) - np.stack([gx, gy], axis=-1)
    near = cv2.dilate(face.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    to_face = cv2.distanceTransform((~near).astype(np.uint8), cv2.DIST_L2, 3) / scale  # crop pixels
    away = smoothstep(to_face / (BLEND * face_size))
    outside = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3) / scale
    carried = float(np.percentile(np.abs(flow[~near]), 95)) if (~near).any() else 0.0
    reach = max(FADE_MIN * face_size, FADE_STRETCH * carried)
    # Inside: the skull's flow, taking over from the face's away from its rim; beyond the outline the
    # outline's own motion (where the face's far side passes the outline it hides the background: an
    # occlusion edge), back to the carried flow further out.
    take = np.where(inside, away, 1.0 - smoothstep(outside / reach)) * hold[:, None]
    target = np.where(inside[:, :, None], skull, still)
    # Inside, the face's flow it takes over from reads within the photo's row of the head only (carried
    # on beside a temple close to the outline it would read the background beyond it).
    lo = np.nan_to_num(left, nan=-1e6)[:, None] + 1.0
    hi = np.nan_to_num(right, nan=1e6)[:, None] - 1.0
    own = flow.copy()
    own[..., 0] = np.where(inside, np.clip(gx + flow[..., 0], lo, np.maximum(hi, lo)) - gx, flow[..., 0])
    change = (take[:, :, None] * (target - own) + hold[:, None, None] * (own - flow)).astype(np.float32)
    change[near] = 0.0
    change[inside] *= _unfolded(flow, change, scale)[inside][:, None]
    return (flow + change).astype(np.float32)


def _turned_back(offset: np.ndarray, motion: SkullMotion) -> np.ndarray:
    """(..., 2) photo positions of target points at `offset` (..., 3) from the moved pivot.

    The scale and shift are undone fully, the roll not at all (a rolled face's rim is blended into a
    skull that keeps the photo's outline, as the carried flow did); the rest of the rotation (yaw,
    pitch) by its angle times 1 - sin^4 of the point's angle from the view axis at the pivot: the outline (90 degrees)
    reads itself and the texture inside slides monotonically up to turns of 40 degrees (a rotation
    by the whole angle would read points the photo hides back over the near side's edge)."""
    rot = motion.rotation
    roll = float(np.arctan2(rot[1, 0], rot[0, 0]))
    c, s = np.cos(roll), np.sin(roll)
    z_roll = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rest = z_roll.T @ rot  # rot = z_roll @ rest
    d = offset / motion.scale
    angle = float(np.arccos(np.clip((np.trace(rest) - 1.0) / 2.0, -1.0, 1.0)))
    if angle > 1e-6:
        axis = np.array([rest[2, 1] - rest[1, 2], rest[0, 2] - rest[2, 0], rest[1, 0] - rest[0, 1]])
        axis /= np.linalg.norm(axis)
        side = 1.0 - d[..., 2] ** 2 / np.maximum((d**2).sum(axis=-1), 1e-6)  # sin^2 of the point's angle
        beta = (-angle * (1.0 - side**2))[..., None]  # back by all of the angle but near the outline
        cross = np.cross(axis, d)
        along = (d @ axis)[..., None] * axis
        d = d * np.cos(beta) + cross * np.sin(beta) + along * (1.0 - np.cos(beta))
    return (motion.pivot[:2] + d[..., :2]).astype(np.float32)


def _unfolded(flow: np.ndarray, change: np.ndarray, scale: float) -> np.ndarray:
    """(h, w) factor in [0, 1] for `change`: down where the changed flow would squeeze the picture
    to under a fifth of its area or fold it (the reads' local area ratio), smoothly."""
    moved = (flow + change) * scale  # grid pixels
    du_dy, du_dx = np.gradient(moved[..., 0])
    dv_dy, dv_dx = np.gradient(moved[..., 1])
    area = (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx
    bad = np.clip((0.35 - area) / 0.2, 0.0, 1.0).astype(np.float32)
    bad = cv2.GaussianBlur(cv2.dilate(bad, np.ones((5, 5), np.uint8)), (0, 0), 2.0)
    return 1.0 - np.clip(bad * 1.5, 0.0, 1.0)
