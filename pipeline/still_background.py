"""The background beside a moved head stays still: the moved person laid over a still background.

The geometric renderer carries the face's flow beyond the face and fades it over a distance from the
face's rim (`pipeline.flow_spread`), whatever lies there: hair, ears and neck follow the head (as
they should), and so do a logo, a door frame or a column beside it, which bend. With the person's
mask (`reconstruction.segmentation.PersonSegmenter`, once per photo, on the crop) the frame gets a
second layer (`RenderedFrame.back_flow`, `front_alpha`): the front is the photo moved as before,
shown where the output shows the person (the mask read along the front's flow); behind it the
background does not move, and what the head uncovers shows the background beside it mirrored
across the photo's silhouette. Trial, off by default (docs/STILL_BACKGROUND.md).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "FACE_IN_PERSON",
    "FILL_LIMIT",
    "FRONT_LEVEL",
    "background_flow",
    "person_grid",
    "shown_person",
    "still_layers",
    "usable_person",
]

#: The front layer's edge: this level of the person's smoothed probability (above 0.5: inside the
#: segmenter's edge).
FRONT_LEVEL = 0.75
#: A person covering more than this fraction of the crop leaves no background to keep: flow as before.
FILL_LIMIT = 0.9
#: The segmentation is trusted only when at least this fraction of the face lies inside it.
FACE_IN_PERSON = 0.7


def shown_person(flow: np.ndarray, cover: np.ndarray, person: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(h, w) float32 in [0, 1]: where the output shows the person (the source's `person`
    probability read along the (h, w, 2) backward `flow`, crop pixels on a grid of `scale` grid
    pixels per crop pixel), and everywhere on the target's face (`cover` > 0.5)."""
    h, w = cover.shape
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    read_x = grid_x + flow[..., 0] * scale
    read_y = grid_y + flow[..., 1] * scale
    shown = cv2.remap(person, read_x, read_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.maximum(shown, (cover > 0.5).astype(np.float32))


def still_layers(
    flow: np.ndarray, cover: np.ndarray, person: np.ndarray, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The moved person over a still background: (h, w, 2) float32 back flow (`background_flow`)
    and (h, w) float32 front coverage, for the renderer's second layer (`RenderedFrame.back_flow`,
    `front_alpha`). The front keeps `flow`: hair moves as before, and what the head covers is hidden
    under it, not squeezed. Arguments as for `background_flow`."""
    back = background_flow(flow, cover, person, scale)
    # The segmenter's edge lies a pixel or two out in the background: the front's edge is drawn
    # where the (smoothed) probability is FRONT_LEVEL, inside it (no ring of background moved along).
    shown = shown_person(flow, np.zeros_like(cover), person, scale)
    alpha = np.clip((shown - FRONT_LEVEL) / (2.0 * (1.0 - FRONT_LEVEL)) + 0.5, 0.0, 1.0)
    alpha = np.maximum(alpha, (cover > 0.5).astype(np.float32))
    return back, alpha


def usable_person(person: np.ndarray, face: np.ndarray) -> bool:
    """Whether an (h, w) person probability can keep the background still: the (h, w) bool `face`
    mostly inside it (a failed segmentation finds nothing or misses the face) and some background
    left (a person filling the crop)."""
    inside = person > 0.5
    if not face.any() or float(inside[face].mean()) < FACE_IN_PERSON:
        return False
    return float(inside.mean()) <= FILL_LIMIT


def background_flow(
    flow: np.ndarray, cover: np.ndarray, person: np.ndarray, scale: float = 1.0
) -> np.ndarray:
    """(h, w, 2) float32 backward flow of the background behind the moved person (crop pixels): 0
    outside the photo's person (the background stays, what the head covers is hidden under the
    front); inside it, where the head uncovers what lay behind it, the background beside it
    mirrored across the photo's silhouette (a pixel d inside reads d outside, along the
    silhouette's smoothed normal).

    flow: (h, w, 2) float32 backward flow of the front in crop pixels on a grid of `scale` grid
    pixels per crop pixel; cover: (h, w) float32, > 0.5 on the target's face; person: (h, w)
    float32 person probability on the source (same grid).
    """
    h, w = cover.shape
    back = np.zeros((h, w, 2), np.float32)
    source = person > 0.5
    uncovered = source & (shown_person(flow, cover, person, scale) <= FRONT_LEVEL)
    if source.all() or not uncovered.any():
        return back
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    # The distance to the background and the direction to its nearest pixel (labels number the
    # background's pixels in raster order).
    depth, labels = cv2.distanceTransformWithLabels(
        source.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    nearest = np.flatnonzero((~source).ravel())[labels.ravel() - 1]
    normal = np.stack([nearest % w, nearest // w], axis=1).reshape(h, w, 2) - grid
    normal[~source] = 0.0
    normal = cv2.GaussianBlur(normal, (0, 0), 2.0)
    normal /= np.maximum(np.linalg.norm(normal, axis=2), 1e-6)[:, :, None]
    push = np.where(source, 2.0 * depth, 0.0)  # d inside reads d outside
    back = normal * (push / scale)[:, :, None]
    return back.astype(np.float32)


def person_grid(person: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray | None:
    """The (H, W) float32 person probability of a crop on the renderer's coarse grid (`scale` of
    the crop, as `GeometricRenderer` rasterises), or None where it cannot keep the background still
    (`usable_person`; `points`: (N, 2) the photo's face mesh in crop pixels)."""
    h, w = person.shape
    rh, rw = max(8, round(h * scale)), max(8, round(w * scale))
    grid = cv2.resize(np.asarray(person, np.float32), (rw, rh), interpolation=cv2.INTER_AREA)
    grid = cv2.GaussianBlur(grid, (0, 0), 1.0)  # a smooth silhouette (the segmenter's is stepped)
    face = np.zeros((rh, rw), np.uint8)
    coarse = (points + 0.5) * [rw / w, rh / h] - 0.5
    cv2.fillConvexPoly(
        face, np.round(cv2.convexHull(coarse.astype(np.float32)) * 16).astype(np.int32), 1, shift=4
    )
    if not usable_person(grid, face > 0):
        return None
    grid.setflags(write=False)
    return grid
