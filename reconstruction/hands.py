"""Hands in a photo: the 21 landmarks of every hand MediaPipe finds, confirmed in the mirrored photo.

A hand in front of the face is not part of it: the renderer must not move it with the face
(`pipeline.hands`). MediaPipe 0.10.14's hand models (`mp.solutions.hands`: palm detection, then
21 hand landmarks; static image mode, the full models) ship inside the wheel, so nothing is
downloaded. The palm detector also fires on faces (a nose and a mouth read as a palm): on the
shared photos every such false hand vanished when the photo was mirrored, while every real hand
was found again at the same place, so a hand counts only when the mirror confirms it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from core.context import Closeable
from core.errors import InputError
from core.images import check_rgb8

__all__ = ["HandDetector", "MAX_HANDS"]

#: Most hands looked for in one photo.
MAX_HANDS = 4
#: A hand found in the mirror confirms one in the photo when their wrist-to-knuckle boxes overlap this much.
_CONFIRM_IOU = 0.5


def _box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inner = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0.0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inner
    return float(inner / union) if union > 0 else 0.0


class HandDetector(Closeable):
    """(H, W, 3) uint8 RGB image -> list of (21, 2) float64 hand landmarks in its pixels (MediaPipe's
    order: 0 the wrist, 1-4 the thumb, 5-8 the index, 9-12 the middle, 13-16 the ring, 17-20 the
    little finger).

    One MediaPipe graph per instance, guarded by a lock (a graph is not re-entrant); use it as a
    context manager or call `close()`.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        if not 0.0 < min_confidence < 1.0:
            raise InputError(f"min_confidence must be in (0, 1), got {min_confidence}")
        import mediapipe as mp  # heavy: imported when a detector is built, not with this module

        self._graph: Any = mp.solutions.hands.Hands(
            static_image_mode=True, max_num_hands=MAX_HANDS, min_detection_confidence=min_confidence
        )
        self._lock = threading.Lock()

    def _run(self, image: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            if self._graph is None:
                raise InputError("this HandDetector was closed")
            result = self._graph.process(image)
        h, w = image.shape[:2]
        return [
            np.array([[p.x * w, p.y * h] for p in hand.landmark], np.float64)
            for hand in result.multi_hand_landmarks or ()
        ]

    def hands(self, image: np.ndarray) -> list[np.ndarray]:
        """Every hand of `image` that its mirror image confirms, as (21, 2) float64 pixel positions."""
        image = check_rgb8(image, "image to search for hands")
        found = self._run(image)
        if not found:
            return []
        w = image.shape[1]
        mirrored = [
            np.column_stack([w - hand[:, 0], hand[:, 1]]) for hand in self._run(image[:, ::-1].copy())
        ]
        return [
            hand for hand in found if any(_iou(_box(hand), _box(other)) >= _CONFIRM_IOU for other in mirrored)
        ]

    def close(self) -> None:
        with self._lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None
