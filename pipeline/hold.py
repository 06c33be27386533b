"""Holding parts of the renderer crop still: what other people's faces (`pipeline.other_faces`) and
hands in front of the face (`pipeline.hands`) share.

A hold is a (c, c) weight on the renderer crop, 0 where the photo must stay as it is and rising
smoothly back to 1. The edited face's flow is multiplied by it, and the painted layers (an opened
mouth, shut lids) are not laid where it is 0 (`hold_frame`).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from pipeline.renderer import RenderedFrame

__all__ = ["COVER_RISE", "hull_mask", "distance_to", "smooth_rise", "keep_reads_out", "hold_frame"]

#: Painted layers come back over this many times the weight's rise: fully where the weight reaches
#: 1 / COVER_RISE, i.e. a few crop pixels past where the hold ends.
COVER_RISE = 20.0


def hull_mask(points: np.ndarray, size: int, grow: int = 0) -> np.ndarray:
    """(size, size) uint8 mask, 1 inside the convex hull of `points` ((N, 2) crop pixels, filled at
    1/16 pixel), widened by `grow` pixels (an elliptic dilation) when `grow` > 0."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(np.round(points * 16).astype(np.int32))], 1, shift=4)
    if grow > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return mask


def distance_to(mask: np.ndarray) -> np.ndarray:
    """(c, c) float32 distance in pixels from every pixel to the nearest pixel set in uint8 `mask`."""
    return cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3)


def smooth_rise(distance: np.ndarray, reach: float) -> np.ndarray:
    """0 at distance 0 rising to 1 at `reach` (a smoothstep: no kink at either end)."""
    t = np.clip(distance / reach, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def keep_reads_out(flow: np.ndarray, held: np.ndarray, steps: int = 8) -> np.ndarray:
    """(c, c, 2) backward flow that neither moves nor reads the pixels set in (c, c) bool `held`.

    Held pixels get no flow (they show themselves). A pixel outside whose read lands on a held one
    (the face moving away from a hand in front of it: what it uncovers, the photo does not show)
    reads instead the last point outside along its way there, found in `steps` steps: the edge of
    what moves is drawn out, the held part is not doubled. Where the moving part slides under the
    held one nothing is needed: its reads stay outside.
    """
    c = held.shape[0]
    flow = flow.copy()
    flow[held] = 0.0
    grid = np.stack(np.meshgrid(np.arange(c, dtype=np.float32), np.arange(c, dtype=np.float32)), axis=-1)

    def lands_on_held(points: np.ndarray) -> np.ndarray:
        xy = np.rint(points).astype(np.int64)
        inside = (xy >= 0).all(axis=-1) & (xy < c).all(axis=-1)
        hit = np.zeros(points.shape[:-1], bool)
        hit[inside] = held[xy[inside][:, 1], xy[inside][:, 0]]
        return hit

    rows, cols = np.nonzero(lands_on_held(grid + flow) & ~held)
    if rows.size == 0:
        return flow
    start, step = grid[rows, cols], flow[rows, cols]
    reach = np.zeros(rows.size, np.int64)  # steps taken outside; step 0 (the pixel itself) is outside
    for k in range(1, steps):
        clear = (reach == k - 1) & ~lands_on_held(start + (k / steps) * step)
        reach[clear] = k
    flow[rows, cols] = step * (reach / steps).astype(np.float32)[:, None]
    return flow


def hold_frame(frame: RenderedFrame, weight: np.ndarray) -> RenderedFrame:
    """`frame` held by a (c, c) `weight`: its flow multiplied by it, its painted layers (overlay,
    skin, the hidden eyeball) kept off where it is 0 and the layer behind a moved head kept from
    showing there. Where the weight is 1 nothing changes."""
    if frame.flow is None:
        return frame
    cover = np.clip(weight * COVER_RISE, 0.0, 1.0)

    def covered(layer: np.ndarray | None) -> np.ndarray | None:
        return None if layer is None else layer * cover

    front = frame.front_alpha
    if front is not None:
        front = np.where(cover < 1.0, 1.0 - (1.0 - front) * cover, front).astype(np.float32)
    return replace(
        frame,
        flow=frame.flow * weight[:, :, None],
        overlay_alpha=covered(frame.overlay_alpha),
        hidden=covered(frame.hidden),
        skin=covered(frame.skin),
        front_alpha=front,
    )
