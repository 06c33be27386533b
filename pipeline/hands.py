"""Hands at the face: found once per photo so that the user can be told.

The geometric renderer moves whatever lies over the face's mesh with the face, and carries the
face's flow beyond it (`pipeline.flow_spread`): a hand on the cheek or under the chin bends and
stretches with every turn, nod or expression. Holding it still was tried and lost its rule (a
warp of the photo cannot show the face the hand hides: the strip the face uncovers beside the hand
is squeezed or drawn out; docs/HANDS.md). What remains: `covering_hands` finds the hands touching
the edited face when the photo is prepared (`reconstruction.hands`: MediaPipe's 21 landmarks,
confirmed in the mirrored photo), and `pipeline.advice` tells the user.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from pipeline.face_paint import hull_mask
from reconstruction.hands import HandDetector

__all__ = [
    "MIN_PALM",
    "TOUCH_MARGIN",
    "TOUCH_SHARE",
    "covering_hands",
]

#: A hand's palm is at least this fraction of the face's size (smaller "hands" on a face are the
#: detector reading an ear or a nostril as a palm).
MIN_PALM = 0.2
#: A hand counts when at least `TOUCH_SHARE` of the hull of its points lies within the face's
#: mesh hull widened by `TOUCH_MARGIN` of the face's size (the flow carried beyond the face moves
#: it there), and its wrist lies outside the face's hull: a "hand" whose wrist is on the face is
#: the detector reading a nose, a mouth or a forehead as a palm (seen on three shared photos,
#: confirmed by the mirror on one of them).
TOUCH_MARGIN = 0.1
TOUCH_SHARE = 0.05
#: The region searched: the face's box widened by this many face sizes on each side, shrunk to
#: at most `_SEARCH_SIDE` pixels.
_SEARCH_MARGIN = 1.0
_SEARCH_SIDE = 1024
#: The wrist and the middle finger's knuckle (MediaPipe's hand landmark order).
_WRIST, _MIDDLE_BASE = 0, 9

_detector: HandDetector | None = None
_detector_lock = threading.Lock()


def _shared_detector() -> HandDetector:
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = HandDetector()
        return _detector


def _palm(hand: np.ndarray) -> float:
    return float(np.linalg.norm(hand[_MIDDLE_BASE] - hand[_WRIST]))


def covering_hands(analysis: Any, detector: HandDetector | None = None) -> tuple[np.ndarray, ...]:
    """The hands touching the edited face, each (21, 2) float64 landmarks in photo pixels; empty
    when there is none (or nothing to search: an analysis without a crop or landmarks).

    analysis: what `prepare_photo` analysed (`image`, `crop_transform`, `crop_landmarks`);
    detector: a `HandDetector` (default: one shared by the process, made on first use).
    """
    image = getattr(analysis, "image", None)
    transform = getattr(analysis, "crop_transform", None)
    own = getattr(analysis, "crop_landmarks", None)
    if image is None or transform is None or own is None:
        return ()
    face = transform.inverse_points(np.asarray(own[:, :2], np.float64))  # photo pixels
    size = float((face.max(axis=0) - face.min(axis=0)).max())
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(face.min(axis=0) - _SEARCH_MARGIN * size), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(face.max(axis=0) + _SEARCH_MARGIN * size), [w, h]).astype(int)
    region = np.ascontiguousarray(image[y0:y1, x0:x1])
    scale = min(1.0, _SEARCH_SIDE / max(region.shape[:2]))
    if scale < 1.0:
        small = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
        region = cv2.resize(region, small, interpolation=cv2.INTER_AREA)
    found = (detector or _shared_detector()).hands(region)
    hands = [hand / scale + [x0, y0] for hand in found]
    c = int(transform.crop_size)
    own_crop = np.asarray(own[:, :2], np.float64)
    crop_size = float((own_crop.max(axis=0) - own_crop.min(axis=0)).max())
    near = hull_mask(own_crop, (c, c), max(1, round(TOUCH_MARGIN * crop_size)))
    outline = cv2.convexHull(own_crop.astype(np.float32))
    touching = []
    for hand in hands:
        points = transform.apply_points(hand)
        if (
            _palm(hand) < MIN_PALM * size
            or cv2.pointPolygonTest(outline, tuple(map(float, points[_WRIST])), False) >= 0
        ):
            continue
        hull = hull_mask(points, (c, c))
        if (hull & near).sum() >= TOUCH_SHARE * max(int(hull.sum()), 1):
            touching.append(hand)
    return tuple(touching)
