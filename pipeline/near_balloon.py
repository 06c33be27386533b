"""The near cheek's band of the target mesh flattened before it is rasterised (trial, off by default:
docs/NEAR_BALLOON.md).

At a turn towards the camera the band of the mesh between the near outer eye corner and the face's
outline, foreshortened in the photo, opens 1.3-3x: the photo's cheek is magnified over it. Here each
target vertex beyond the near eye corner is held to at most `NEAR_WIDEN_CAP` times its photo distance
from that corner (along x), ramped in over `NEAR_RAMP` face sizes beyond the corner, so the outline
ends nearer the face's inside. The whole target mesh is changed before rasterisation, so the coarse
grid and the eyes' and mouth's full-resolution boxes see the same mesh. Used by `pipeline.geometric`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["NEAR_RAMP", "NEAR_WIDEN_CAP", "flatten_near_band"]

#: A vertex beyond the near eye corner lies at most this many times its photo distance from it.
NEAR_WIDEN_CAP = 1.5
#: The hold is ramped in over this many face sizes beyond the eye corner (in the photo).
NEAR_RAMP = 0.05


def flatten_near_band(
    source: np.ndarray,
    target: np.ndarray,
    eyes: Sequence[tuple[np.ndarray, np.ndarray]],
    face_size: float,
) -> np.ndarray:
    """(N, 3) `target` with the vertices beyond either outer eye corner moved in along x where their
    distance from that corner grew more than `NEAR_WIDEN_CAP` times its photo distance (the near side
    of a turn; the far side shrinks and is left alone).

    source, target: (N, 3) the photo's and the target's mesh in crop pixels; eyes: the lids' vertex
    indices per eye (upper, lower); face_size: crop pixels."""
    lids = np.concatenate([np.concatenate(eye) for eye in eyes])
    out = target.copy()
    ramp_width = max(NEAR_RAMP * face_size, 1e-6)
    for side, pick in ((-1.0, np.min), (1.0, np.max)):
        from_source = side * (source[:, 0] - pick(source[lids, 0]))
        from_target = side * (target[:, 0] - pick(target[lids, 0]))
        ramp = np.clip(from_source / ramp_width, 0.0, 1.0)
        ramp = ramp * ramp * (3.0 - 2.0 * ramp)
        excess = np.maximum(from_target - NEAR_WIDEN_CAP * np.maximum(from_source, 0.0), 0.0)
        out[:, 0] -= side * ramp * excess
    return out
