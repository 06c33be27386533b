"""The background beside a moved head stays still: the face's flow carried beyond the face
(`pipeline.flow_spread`) fades to zero just beyond the person's silhouette.

The carried flow fades over a distance from the face's rim, whatever lies there: hair, ears and
neck follow the head (as they should), and so do a logo, a door frame or a column beside it, which
bend. With the person's mask (`reconstruction.segmentation.PersonSegmenter`, once per photo) the
flow beyond the person's silhouette fades over a short band measured from that silhouette, long
enough to stretch what the head uncovers by at most 1.5x (`STRETCH_BOUND` times the outward
motion: a smoothstep over D of a motion m changes lengths by up to 1 / (1 - 1.5 m / D)); what the
head covers or slides along is squeezed or sheared over a short band (no fold).
The silhouette is taken where the output shows it (the source mask read through the flow), so the
hair's edge moves whole and the band starts right beside it. Inside the person nothing changes.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["BAND_MIN", "EDGE_MARGIN", "FILL_LIMIT", "FACE_IN_PERSON", "background_fade", "usable_person"]

#: The band beyond the silhouette is at least this many face sizes wide (a small motion fades smoothly).
BAND_MIN = 0.03
#: The fade starts this many face sizes beyond the segmenter's edge (its soft edge, loose strands).
EDGE_MARGIN = 0.01
#: A person covering more than this fraction of the crop leaves no background to keep: flow as before.
FILL_LIMIT = 0.9
#: The segmentation is trusted only when at least this fraction of the face lies inside it.
FACE_IN_PERSON = 0.7


def usable_person(person: np.ndarray, face: np.ndarray) -> bool:
    """Whether an (h, w) person probability can keep the background still: the (h, w) bool `face`
    mostly inside it (a failed segmentation finds nothing or misses the face) and some background
    left (a person filling the crop)."""
    inside = person > 0.5
    if not face.any() or float(inside[face].mean()) < FACE_IN_PERSON:
        return False
    return float(inside.mean()) <= FILL_LIMIT


def background_fade(
    flow: np.ndarray,
    cover: np.ndarray,
    person: np.ndarray,
    face_size: float,
    stretch_bound: float,
    scale: float = 1.0,
) -> np.ndarray:
    """(h, w) float32 factors in [0, 1] for the carried flow: 1 on the person (as the output shows
    it), falling by a smoothstep to 0 beyond its silhouette over max(`BAND_MIN` face sizes,
    `stretch_bound` times the silhouette's outward motion), starting `EDGE_MARGIN` face sizes out.

    flow: (h, w, 2) float32 backward flow in crop pixels on a grid of `scale` grid pixels per crop
    pixel; cover: (h, w) float32, > 0.5 on the target's face; person: (h, w) float32 person
    probability on the source (same grid); face_size in grid pixels.
    """
    h, w = cover.shape
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    read_x = grid_x + flow[..., 0] * scale
    read_y = grid_y + flow[..., 1] * scale
    shown = cv2.remap(person, read_x, read_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (shown > 0.5) | (cover > 0.5)
    if inside.all() or not inside.any():
        return np.ones((h, w), np.float32)
    outside = (~inside).astype(np.uint8)
    dist, labels = cv2.distanceTransformWithLabels(outside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    # The silhouette's motion at the nearest point of the person (labels number the person's pixels
    # in raster order), smoothed so the band's width changes gently along the silhouette.
    nearest = np.flatnonzero(inside.ravel())[labels.ravel() - 1]
    away = np.stack([grid_x.ravel() - nearest % w, grid_y.ravel() - nearest // w], axis=1)
    away /= np.maximum(np.linalg.norm(away, axis=1), 1e-6)[:, None]
    # Only where the output reads from farther out (the head uncovers what lay behind it) is the
    # background stretched: where the head covers it or slides along it, a short band squeezes or
    # shears it without a fold.
    motion = np.maximum((flow.reshape(-1, 2)[nearest] * away).sum(axis=1), 0.0).reshape(h, w) * scale
    sigma = max(BAND_MIN * face_size, 1.0)
    motion = cv2.GaussianBlur(motion.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    band = np.maximum(stretch_bound * motion, max(BAND_MIN * face_size, 1.0))
    t = np.clip((dist - EDGE_MARGIN * face_size) / band, 0.0, 1.0)
    keep = 1.0 - t * t * (3.0 - 2.0 * t)
    return np.where(inside, 1.0, keep).astype(np.float32)


def person_grid(person: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray | None:
    """The (H, W) float32 person probability of a crop on the renderer's coarse grid (`scale` of
    the crop, as `GeometricRenderer` rasterises), or None where it cannot keep the background still
    (`usable_person`; `points`: (N, 2) the photo's face mesh in crop pixels)."""
    h, w = person.shape
    rh, rw = max(8, round(h * scale)), max(8, round(w * scale))
    grid = cv2.resize(np.asarray(person, np.float32), (rw, rh), interpolation=cv2.INTER_AREA)
    face = np.zeros((rh, rw), np.uint8)
    coarse = (points + 0.5) * [rw / w, rh / h] - 0.5
    cv2.fillConvexPoly(
        face, np.round(cv2.convexHull(coarse.astype(np.float32)) * 16).astype(np.int32), 1, shift=4
    )
    if not usable_person(grid, face > 0):
        return None
    grid.setflags(write=False)
    return grid
