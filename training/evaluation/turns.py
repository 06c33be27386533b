"""Faces for checking head turns: near-frontal crops from real clips, with their fitted coefficients.

A turn of the renderer is judged by fitting the rendered face again and comparing the re-fitted
angle with the asked one; that needs faces that start frontal, so the asked turn is not confused
with the one the photo already had.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.coefficients import FaceCoefficients
from reconstruction.crop import crop_face, crop_transform_for_face
from reconstruction.fitting import fit_landmarks

__all__ = ["near_frontal_crops"]


def near_frontal_crops(
    videos: Path, detector: Any, model: Any, *, max_yaw: float = 6.0, frame_index: int = 20
) -> Iterator[tuple[np.ndarray, FaceCoefficients]]:
    """(256-px crop, 2-D landmark fit) of frame `frame_index` of each clip in `videos` (sorted by
    name) whose face is turned at most `max_yaw` degrees; clips without a detectable face are skipped.

    detector: a `reconstruction.detection.FaceDetector`; model: the face model to fit.
    """
    import imageio.v3 as iio

    for video in sorted(Path(videos).glob("*.mp4")):
        frame = iio.imread(video, index=frame_index)
        found = detector.detect(frame)
        if not found:
            continue
        crop = crop_face(frame, crop_transform_for_face(found[0], frame.shape[:2]))
        again = detector.detect(crop)
        if not again:
            continue
        coeffs = fit_landmarks(model, again[0].landmarks, (256, 256))
        if abs(coeffs.angles_degrees[1]) <= max_yaw:
            yield crop, coeffs
