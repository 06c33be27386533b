"""Other people's faces stay still while one face is edited.

The geometric renderer carries the edited face's flow outwards and fades it over a distance long
enough for the motion (`pipeline.flow_spread`): hair, ears and background follow the head. In a
group photo that distance reaches the next face: cheek to cheek, a neighbour's face was dragged
along, squashed or bent at every turn, nod or roll of the face being edited. Here a weight on
the renderer crop holds the flow at zero over every other face the detector found (its mesh's
outline, widened a little for its ears and hair line) and lets it rise back smoothly: to 1 within
`HOLD_REACH` face sizes of that face, or sooner towards the edited face, whose own outline always
keeps its full motion.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from pipeline.face_paint import hull_mask

__all__ = ["HOLD_MARGIN", "HOLD_REACH", "still_weight"]

#: Another face's mesh outline is widened by this fraction of its own size (ears, hair line).
HOLD_MARGIN = 0.1
#: Beyond another face (widened) the weight rises back to 1 over this many edited-face sizes.
HOLD_REACH = 0.2


def still_weight(analysis: Any) -> np.ndarray | None:
    """(c, c) float32 weight in [0, 1] on the renderer crop for the edited face's flow: 0 on every
    other detected face, 1 on the edited face and away from the others; None when the photo shows
    no other face in or near the crop (nothing to hold).

    analysis: what `prepare_photo` analysed (`detection` with all faces, `crop_transform`,
    `crop_landmarks` of the edited face); anything without a detection gives None.
    """
    detection = getattr(analysis, "detection", None)
    faces = getattr(detection, "faces", None) or ()
    chosen = getattr(detection, "face", None)
    transform = getattr(analysis, "crop_transform", None)
    own = getattr(analysis, "crop_landmarks", None)
    if chosen is None or transform is None or own is None or len(faces) < 2:
        return None
    c = int(transform.crop_size)
    others = np.zeros((c, c), np.uint8)
    for face in faces:
        if face.index == chosen.index:
            continue
        points = transform.apply_points(np.asarray(face.landmarks[:, :2], np.float64))
        extent = points.max(axis=0) - points.min(axis=0)
        if (
            not np.all(np.isfinite(points))
            or (points.max(axis=0) < 0).any()
            or (points.min(axis=0) > c).any()
        ):
            continue
        others |= hull_mask(points, (c, c), max(1, round(HOLD_MARGIN * float(extent.max()))))
    if not others.any():
        return None
    own_points = np.asarray(own[:, :2], np.float64)
    mine = hull_mask(own_points, (c, c))
    others[mine > 0] = 0  # the edited face keeps its motion where the two outlines overlap
    to_others = cv2.distanceTransform(1 - others, cv2.DIST_L2, 3)
    to_mine = cv2.distanceTransform(1 - mine, cv2.DIST_L2, 3)
    reach = max(1.0, HOLD_REACH * float((own_points.max(axis=0) - own_points.min(axis=0)).max()))
    t = np.clip(to_others / reach, 0.0, 1.0)
    away = t * t * (3.0 - 2.0 * t)  # smoothstep from the other face outwards
    between = to_others / np.maximum(to_others + to_mine, 1e-6)  # 0 at the other face, 1 at the edited one
    return np.maximum(away, between).astype(np.float32)
