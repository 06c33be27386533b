"""A hand in front of the face stays where it is while the face is edited.

The geometric renderer moves whatever lies over the face's mesh with the face, and carries the
face's flow beyond it (`pipeline.flow_spread`): a hand on the cheek or under the chin bent and
stretched with every turn, nod or expression, and an opened mouth was painted over the fingers.
Once per photo (`covering_hands`, when it is prepared) the hands touching the face are found
(`reconstruction.hands`: MediaPipe's 21 landmarks, confirmed in the mirrored photo); each is
outlined by the hull of its points and a stub of its forearm, widened by a finger's width
(`hand_mask`, on the renderer crop). There the edited face's flow is 0 and nothing reads it
(`pipeline.hold.keep_reads_out`): the face moves behind the hand right up to its outline, the hand
stays as the photo shows it, and the painted layers are not laid over it
(`pipeline.hold.hold_frame`). A weight rising smoothly from the hand, as for other people's faces,
was tried first: it stretched the lips and the nose between the moving face and the still hand
(docs/HANDS.md).
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from pipeline.hold import hull_mask
from reconstruction.hands import HandDetector

__all__ = [
    "FINGER_WIDTH",
    "MIN_PALM",
    "TOUCH_MARGIN",
    "covering_hands",
    "hand_outline",
    "hand_mask",
    "hand_weight",
    "least",
]

#: The hull of a hand's points (its joints' centres) is widened by this fraction of its palm's
#: length (wrist to the middle finger's knuckle): about a finger's width.
FINGER_WIDTH = 0.2
#: A hand's palm is at least this fraction of the face's size (smaller "hands" on a face are the
#: detector reading an ear or a nostril as a palm).
MIN_PALM = 0.2
#: A hand counts when its outline overlaps the face's mesh hull widened by this fraction of the face's size.
TOUCH_MARGIN = 0.1
#: The forearm continues the wrist for this many palm lengths (it moves no more than the hand).
FOREARM = 1.0
#: The region searched: the face's box widened by this many face sizes on each side, shrunk to
#: at most `_SEARCH_SIDE` pixels.
_SEARCH_MARGIN = 1.0
_SEARCH_SIDE = 1024
#: Wrist, the index, middle and little fingers' knuckles (MediaPipe's hand landmark order).
_WRIST, _INDEX_BASE, _MIDDLE_BASE, _LITTLE_BASE = 0, 5, 9, 17

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


def hand_outline(hand: np.ndarray) -> np.ndarray:
    """(23, 2) points whose hull outlines a hand ((21, 2) landmarks) and a stub of its forearm:
    the wrist moved one `FOREARM` palm length away from the middle knuckle, as wide as the palm."""
    along = (hand[_WRIST] - hand[_MIDDLE_BASE]) * FOREARM
    width = float(np.linalg.norm(hand[_INDEX_BASE] - hand[_LITTLE_BASE]))
    across = np.array([-along[1], along[0]]) / max(float(np.linalg.norm(along)), 1e-6) * width / 2
    stub = hand[_WRIST] + along
    return np.vstack([hand, stub + across, stub - across])


def _in_crop(hand: np.ndarray, transform: Any) -> np.ndarray:
    return transform.apply_points(np.asarray(hand, np.float64))


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
    near = hull_mask(own_crop, c, max(1, round(TOUCH_MARGIN * crop_size)))
    touching = []
    for hand in hands:
        if _palm(hand) < MIN_PALM * size:
            continue
        if (hull_mask(_in_crop(hand_outline(hand), transform), c) & near).any():
            touching.append(hand)
    return tuple(touching)


def hand_mask(analysis: Any, hands: tuple[np.ndarray, ...]) -> np.ndarray | None:
    """(c, c) bool on the renderer crop: every hand in `hands` (photo pixels, from
    `covering_hands`) outlined by `hand_outline` and widened by `FINGER_WIDTH`; None when there is
    no hand in the crop."""
    transform = getattr(analysis, "crop_transform", None)
    if not hands or transform is None:
        return None
    c = int(transform.crop_size)
    held = np.zeros((c, c), np.uint8)
    for hand in hands:
        points = _in_crop(hand_outline(hand), transform)
        palm = _palm(_in_crop(hand, transform))
        held |= hull_mask(points, c, max(1, round(FINGER_WIDTH * palm)))
    return held > 0 if held.any() else None


def hand_weight(held: np.ndarray | None) -> np.ndarray | None:
    """(c, c) float32 weight for the edited face's flow: 0 on the hands' mask `held`, 1 elsewhere."""
    return None if held is None else (~held).astype(np.float32)


def least(*weights: np.ndarray | None) -> np.ndarray | None:
    """The pixelwise minimum of the weights that are not None; None when all are."""
    present = [w for w in weights if w is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else np.minimum.reduce(present)
