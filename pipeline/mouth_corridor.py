"""A buccal corridor at the sides of a painted mouth gap (docs/MOUTH_RIM.md, round 3).

Where a mouth the photo showed closed is opened, the procedural row of teeth (`pipeline.teeth`)
ends by the gap's sides on one to three crop pixels of near-black cavity (the corners' shade): a
thin line darker than the lip and the teeth on either side, a cartoon's ink ring. A photographed
open mouth shows there a buccal corridor: the row turning away into an even dark a few
millimetres wide between the side teeth and the cheeks. So near each side the paint is made an
even corridor dark (never darker towards the rim), and the teeth and the cavity fade into it over
the next millimetres. Widths are millimetres of the face, so the corridor is the same part of the
mouth at every photo size; nothing is read back from the paint (no smear on a large photo).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.teeth import FACE_MM

__all__ = ["CORRIDOR_SHADE", "FADE", "PLATEAU", "buccal_corridor", "side_distance"]

#: Millimetres from the gap's side over which the corridor is an even dark.
PLATEAU = 3.0
#: Millimetres over which the teeth and the cavity then fade into it (smoothstep).
FADE = 3.0
#: The corridor's colour as a share of the cavity's own base colour (its mid-mouth dark).
CORRIDOR_SHADE = 0.7


def side_distance(distance: np.ndarray, across: np.ndarray, step: float) -> np.ndarray:
    """(Y, X) crop pixels from each sample inside the gap to the gap's side along its row, outwards
    (the image-left half of the mouth towards the left, the right half towards the right); 0
    outside. distance: (Y, X) signed distance to the gap's rim (> 0 inside), samples `step` crop
    pixels apart; across: (X,) place across the mouth (0 image-left corner, 1 right corner).

    The run of inside samples is counted from the side's first one, plus that sample's own distance
    to the rim (sub-sample: no staircase along a slanted side)."""
    inside = distance > 0.0
    height, width = inside.shape
    index = np.broadcast_to(np.arange(width), inside.shape)
    first = np.maximum.accumulate(np.where(inside, -1, index), axis=1) + 1  # first inside, leftwards
    last = np.minimum.accumulate(np.where(inside, width, index)[:, ::-1], axis=1)[:, ::-1] - 1
    first, last = first.clip(0, width - 1), last.clip(0, width - 1)
    from_left = (index - first) * step + np.take_along_axis(distance, first, axis=1)
    from_right = (last - index) * step + np.take_along_axis(distance, last, axis=1)
    along = np.where((across < 0.5)[None, :], from_left, from_right)
    return np.where(inside, along, 0.0)


def buccal_corridor(
    colour: np.ndarray,
    distance: np.ndarray,
    across: np.ndarray,
    step: float,
    face_size: float,
    base: np.ndarray,
    reach: float,
) -> np.ndarray:
    """(Y, X, 3) the painted gap's `colour` with a buccal corridor at its sides: within `PLATEAU`
    mm of a side (`side_distance`) the even dark `CORRIDOR_SHADE` x `base` (the cavity's (3,)
    base colour), fading over `FADE` mm into the teeth and cavity painted further in.

    Samples outside the gap up to `reach` crop pixels from it (the paint under the lip's coverage
    ramp) take the corridor of the gap beside them, so the rim at the photo's resolution is not
    blended with the near-black the corners' shade paints there."""
    mm = max(face_size, 1.0) / FACE_MM
    ramp = ((PLATEAU + FADE) * mm - side_distance(distance, across, step)) / (FADE * mm)
    ramp = ramp.clip(0.0, 1.0)
    weight = (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)
    weight[distance <= 0.0] = 0.0
    size = 2 * int(np.ceil(reach / step)) + 1
    spread = cv2.dilate(weight, np.ones((size, size), np.uint8))
    weight = np.where(distance > 0.0, weight, spread)
    dark = (CORRIDOR_SHADE * np.asarray(base)).astype(colour.dtype)
    return colour + (dark - colour) * weight[:, :, None]
