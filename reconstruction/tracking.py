"""Following one person through a clip: per-frame 478-point landmarks, gaps reported, never filled.

The person is found with `reconstruction.detection.FaceDetector`; after that MediaPipe's face
mesh runs in video (tracking) mode around the previous face. Coordinates as in
`reconstruction.detection` (full-frame pixels, x right, y down, float32).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from core.context import Closeable
from core.errors import InputError
from core.images import check_rgb8
from reconstruction.detection import (
    NUM_LANDMARKS,
    DetectedFace,
    FaceDetector,
    face_box_iou,
    mesh_to_pixels,
    padded_region,
)

__all__ = ["FaceTracker", "TrackResult"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrackResult:
    """Per-frame landmarks of one person through a clip.

    `landmarks` is (T, 478, 3) float32 pixels with NaN for frames where the person was not
    found; those frames are listed in `missing_frames` and marked False in `found` (T,).
    Nothing is filled in: interpolate or drop them explicitly downstream.
    """

    landmarks: np.ndarray
    found: np.ndarray
    missing_frames: tuple[int, ...]
    image_size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return int(self.landmarks.shape[0])

    def boxes(self) -> np.ndarray:
        """(T, 4) float32 landmark boxes (x0, y0, x1, y1), NaN for missing frames."""
        xy = self.landmarks[:, :, :2]
        with np.errstate(invalid="ignore"):
            return np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1).astype(np.float32)


class FaceTracker(Closeable):
    """Follows one person through a video; per-frame landmarks, gaps reported.

    The person is found first with a `FaceDetector` (both passes, so small faces in wide frames
    are found too): the `face_index`-th largest face of the first frame that has enough faces.
    After that the face mesh runs in video (tracking) mode on a square region around the
    previous face (`roi_scale` times its size, resampled to `roi_side` pixels), so the face is
    large in what MediaPipe sees however small it is in the frame. Each frame takes the face
    whose box overlaps the previous box most (or, if none overlaps, the nearest within one face
    size); when the region holds no such face the whole frame is searched again with the same
    rule. Frames without the person are reported, never filled. One tracker follows one clip:
    call `reset()` before another. Thread-safe (one lock per instance).
    """

    def __init__(
        self,
        *,
        face_index: int = 0,
        min_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        roi_scale: float = 2.2,
        roi_side: int = 384,
        detector: FaceDetector | None = None,
    ) -> None:
        if face_index < 0:
            raise InputError(f"face_index must be >= 0, got {face_index}")
        if roi_scale < 1.2 or roi_side < 128:
            raise InputError(f"need roi_scale >= 1.2 and roi_side >= 128, got {roi_scale}, {roi_side}")
        self.face_index = int(face_index)
        self.min_confidence = float(min_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.roi_scale = float(roi_scale)
        self.roi_side = int(roi_side)
        self._own_detector = detector is None
        self._detector = detector if detector is not None else FaceDetector(min_confidence=min_confidence)
        self._lock = threading.Lock()
        self._mesh: Any = None
        self._last: DetectedFace | None = None
        self._size: tuple[int, int] | None = None
        self._open()

    def _open(self) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=2,  # a second face entering the region must not replace ours unseen
            refine_landmarks=True,
            min_detection_confidence=self.min_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )

    def reset(self) -> None:
        """Forget the clip (identity, frame size, MediaPipe's tracking state)."""
        with self._lock:
            self._mesh.close()
            self._open()
            self._last = None
            self._size = None

    def close(self) -> None:
        with self._lock:
            self._mesh.close()
            if self._own_detector:
                self._detector.close()

    def update(self, frame: np.ndarray) -> DetectedFace | None:
        """The tracked person in the next (H, W, 3) uint8 RGB frame, or None if not found."""
        frame = check_rgb8(frame, "video frame")
        h, w = frame.shape[:2]
        with self._lock:
            if self._size is None:
                self._size = (h, w)
            elif self._size != (h, w):
                raise InputError(
                    f"All frames of a clip must have one size: expected {self._size[1]}x{self._size[0]}, "
                    f"got {w}x{h}. Call reset() before a new clip."
                )
            chosen = self._track_in_region(frame) if self._last is not None else None
            if chosen is None:
                faces = self._detector.detect(frame, max_faces=max(5, self.face_index + 1))
                chosen = self._choose(faces)
            if chosen is not None:
                self._last = chosen
            return chosen

    def _track_in_region(self, frame: np.ndarray) -> DetectedFace | None:
        """Mesh (video mode) on a square around the previous face, resized to roi_side pixels."""
        prev = self._last
        if prev is None:
            return None
        cx, cy = (float(v) for v in prev.centre)
        side = max(16, math.ceil(self.roi_scale * prev.size))
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        region = padded_region(frame, x0, y0, side, side)
        shrink = side > self.roi_side
        roi = cv2.resize(
            region,
            (self.roi_side, self.roi_side),
            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
        )
        result = self._mesh.process(roi)
        faces = [
            DetectedFace.from_landmarks(mesh_to_pixels(lm, float(x0), float(y0), float(side), float(side)))
            for lm in (result.multi_face_landmarks or [])
        ]
        return self._choose(faces)

    def _choose(self, faces: list[DetectedFace]) -> DetectedFace | None:
        if not faces:
            return None
        if self._last is None:
            ranked = sorted(faces, key=lambda f: f.size, reverse=True)
            return ranked[self.face_index] if self.face_index < len(ranked) else None
        prev = self._last
        overlaps = [face_box_iou(prev.bbox, f.bbox) for f in faces]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0:
            return faces[best]
        dists = [float(np.linalg.norm(f.centre - prev.centre)) for f in faces]
        near = int(np.argmin(dists))
        return faces[near] if dists[near] <= prev.size else None

    def track(self, frames: Iterable[np.ndarray]) -> TrackResult:
        """Track through all `frames` (each (H, W, 3) uint8 RGB) from the tracker's current state."""
        rows: list[np.ndarray] = []
        missing: list[int] = []
        nan = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
        for i, frame in enumerate(frames):
            face = self.update(frame)
            if face is None:
                missing.append(i)
                rows.append(nan)
            else:
                rows.append(face.landmarks)
        if not rows:
            raise InputError("The clip has no frames.")
        if missing:
            logger.info("face not found in %d of %d frames", len(missing), len(rows))
        landmarks = np.stack(rows).astype(np.float32)
        found = np.ones(len(rows), dtype=bool)
        found[missing] = False
        size = self._size or (0, 0)
        return TrackResult(landmarks=landmarks, found=found, missing_frames=tuple(missing), image_size=size)
