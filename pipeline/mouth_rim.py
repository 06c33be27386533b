"""The painted mouth gap's rim shaded from the inside of the mouth, not left an ink line.

`pipeline.mouth_paint` shades its cavity darkest towards the corners and right under the upper rim
(the shadow meant for under the upper teeth), and the procedural teeth (`pipeline.teeth`) recede
into the cheeks and hang from the level line between the corners: on a smiling or steep-sided
opening a band a crop pixel or a few wide of near-black cavity (about 5 levels) is left between
the lip and the teeth, darker than both: a cartoon's ink line round the mouth (docs/MOUTH_RIM.md).
A photographed mouth has none: the lip's inner edge meets what lies a few pixels inside.

`shade_rim` lifts the paint's outermost band (fully up to `BAND` [0] crop pixels inside its rim and
on the paint laid past it, not at all from `BAND` [1]) towards `FLOOR` times the paint's own colour
`DEPTH` crop pixels inside the rim (in a thin opening, most of its depth) straight in (along the distance's gradient), where that is
lighter: a thin dark line takes the colour of the teeth or the cavity right behind it; a dark
region wider than the band (the mouth's own dark, a wide corner) keeps its dark.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["BAND", "DEPTH", "FLOOR", "shade_rim"]

#: The band (crop pixels inside the gap's rim) that is lifted: fully up to [0], not at all from [1].
BAND = (1.5, 3.5)
#: How far inside the rim (crop pixels) the colour the band takes is read.
DEPTH = 4.0
#: The band may stay this much darker than the inside (the lip's own soft shadow on it).
FLOOR = 0.85
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def shade_rim(colour: np.ndarray, distance: np.ndarray, step: float) -> np.ndarray:
    """(Y, X, 3) float `colour` of the painted gap with its rim band lifted (a new array, or
    `colour` itself when nothing changes).

    distance: (Y, X) signed distance (crop pixels, > 0 inside) of each sample to the gap's rim;
    step: crop pixels between samples."""
    distance = np.asarray(distance, np.float32)
    lift = ((BAND[1] - distance) / (BAND[1] - BAND[0])).clip(0.0, 1.0)
    lift *= distance > -(BAND[0] + 2.0)  # the paint laid past the rim (`mouth_paint`: 2 px past its ramp)
    if distance.shape[0] < 3 or distance.shape[1] < 3 or not lift.any() or distance.max() <= BAND[0]:
        return colour
    # Straight in: along the distance's gradient (per sample), to DEPTH crop pixels inside the rim
    # (in a thin opening, to most of its depth).
    depth = min(DEPTH, 0.8 * float(distance.max()))
    gy, gx = np.gradient(distance)
    norm = np.maximum(np.hypot(gx, gy), 1e-6)
    reach = np.maximum(depth - distance, 0.0) / step / norm
    ys, xs = np.indices(distance.shape, dtype=np.float32)
    map_x, map_y = (xs + gx * reach).astype(np.float32), (ys + gy * reach).astype(np.float32)
    inside = np.ascontiguousarray(colour, dtype=np.float32)
    floor = FLOOR * cv2.remap(inside, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    deep = cv2.remap(distance, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Only where that read lands inside, and lighter than the band.
    lift *= (deep > np.minimum(distance + 0.5, BAND[0])) & ((floor @ _LUMA) > (inside @ _LUMA))
    if not lift.any():
        return colour
    return colour + (floor - colour) * lift[:, :, None].astype(colour.dtype)
