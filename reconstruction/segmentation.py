"""Person segmentation of a photo: which pixels are the person (face, hair, neck, body).

The neural refiners move hair and outline with a learned flow; on a textured background next to
the head that flow drags the background along (docs/OWN_RENDERER.md). The person mask tells them
where the flow may act. MediaPipe 0.10.14's selfie segmenter (`mp.solutions.selfie_segmentation`,
general model, 256x256 input) ships inside the wheel, so nothing is downloaded.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from core.context import Closeable
from core.errors import InputError
from core.images import check_rgb8

__all__ = ["PersonSegmenter"]


class PersonSegmenter(Closeable):
    """(H, W, 3) uint8 RGB image -> (H, W) float32 person probability in [0, 1].

    One MediaPipe graph per instance, guarded by a lock (a graph is not re-entrant); use it as a
    context manager or call `close()`.
    """

    def __init__(self) -> None:
        import mediapipe as mp

        self._graph: Any = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._lock = threading.Lock()

    def person_mask(self, image: np.ndarray) -> np.ndarray:
        image = check_rgb8(image, "image to segment")
        with self._lock:
            if self._graph is None:
                raise InputError("this PersonSegmenter was closed")
            result = self._graph.process(image)
        mask = result.segmentation_mask
        if mask is None:
            return np.zeros(image.shape[:2], np.float32)
        return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)

    def close(self) -> None:
        with self._lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None
