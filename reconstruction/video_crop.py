"""One fixed renderer crop for a whole clip, as VoxCeleb's preprocessing frames its clips (no jitter)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InputError, NoFaceError
from reconstruction.crop import CROP_SIZE, DEFAULT_SCALE, DEFAULT_VERTICAL_OFFSET, CropTransform, crop_box

__all__ = ["stable_crop_for_video"]


def stable_crop_for_video(
    landmarks_per_frame: np.ndarray | Sequence[np.ndarray | None],
    image_size: Sequence[int],
    *,
    scale: float = DEFAULT_SCALE,
    vertical_offset: float = DEFAULT_VERTICAL_OFFSET,
    crop_size: int = CROP_SIZE,
    max_growth: float = 1.5,
    face_margin: float = 0.05,
    outlier_percentile: float = 2.0,
) -> CropTransform:
    """One fixed crop for a whole clip, as VoxCeleb's preprocessing does (no jitter).

    `landmarks_per_frame` is (T, 478, 2|3) with NaN rows (or None entries) for frames without
    the face; those frames are ignored. The box is the median per-frame crop (so the face has
    the framing the weights were trained on), centred on the middle of the range the face's
    crop centre moves over, and grown only as far as needed to keep every frame's face (its
    landmark box) at least `face_margin` of the side inside the crop, by at most `max_growth`.
    `outlier_percentile` trims stray detections at each end. Raises NoFaceError if no frame
    has a face.
    """
    if max_growth < 1.0:
        raise InputError(f"max_growth must be >= 1, got {max_growth}")
    if not 0.0 <= face_margin < 0.5:
        raise InputError(f"face_margin must be in [0, 0.5), got {face_margin}")
    boxes, extents = [], []
    n_frames = 0
    for f in landmarks_per_frame:
        n_frames += 1
        if f is None:
            continue
        lm = np.asarray(f, dtype=np.float64)
        if not np.all(np.isfinite(lm[:, :2])):
            continue
        boxes.append(crop_box(lm, scale=scale, vertical_offset=vertical_offset))
        extents.append((*lm[:, :2].min(axis=0), *lm[:, :2].max(axis=0)))
    if not boxes:
        raise NoFaceError(
            f"No face in any of the {n_frames} frames: use a clip where one face is clearly visible, "
            "frontal or up to ~45 degrees."
        )
    b = np.array(boxes)  # (N, 3): cx, cy, side of each frame's own crop
    e = np.array(extents)  # (N, 4): x0, y0, x1, y1 of each frame's landmarks
    lo, hi = outlier_percentile, 100.0 - outlier_percentile
    cx = (np.percentile(b[:, 0], lo) + np.percentile(b[:, 0], hi)) / 2
    cy = (np.percentile(b[:, 1], lo) + np.percentile(b[:, 1], hi)) / 2
    reach = max(
        cx - np.percentile(e[:, 0], lo),
        cy - np.percentile(e[:, 1], lo),
        np.percentile(e[:, 2], hi) - cx,
        np.percentile(e[:, 3], hi) - cy,
    )  # farthest the face gets from the centre, pixels
    median_side = float(np.median(b[:, 2]))
    needed = 2.0 * reach / (1.0 - 2.0 * face_margin)
    side = float(np.clip(needed, median_side, max_growth * median_side))
    return CropTransform.from_box(float(cx), float(cy), side, image_size, crop_size)
