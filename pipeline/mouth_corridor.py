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

import numpy as np

from pipeline.teeth import FACE_MM

__all__ = ["CORRIDOR_SHADE", "FADE", "PLATEAU", "SIDE", "buccal_corridor"]

#: Millimetres from the gap's rim over which the corridor is an even dark.
PLATEAU = 6.0
#: Millimetres over which the teeth and the cavity then fade into it (smoothstep).
FADE = 3.0
#: Millimetres from the mouth's corners within which the corridor is full, and by which it is gone
#: (the canines' ends: the front teeth stay as they were).
SIDE = (8.0, 14.0)
#: The corridor's colour as a share of the cavity's own base colour (its mid-mouth dark).
CORRIDOR_SHADE = 0.7


def _smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep of `x` clipped to [0, 1]."""
    x = x.clip(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def buccal_corridor(
    colour: np.ndarray,
    distance: np.ndarray,
    xs: np.ndarray,
    corners: tuple[float, float],
    face_size: float,
    base: np.ndarray,
) -> np.ndarray:
    """(Y, X, 3) the painted gap's `colour` with a buccal corridor at its sides: within `PLATEAU`
    mm of the rim (`distance`: (Y, X) signed distance to it, crop pixels, > 0 inside; the paint
    laid past the rim too) the even dark `CORRIDOR_SHADE` x `base` (the cavity's (3,) base colour),
    fading over `FADE` mm into the teeth and cavity painted further in; full within `SIDE[0]` mm of
    the mouth's `corners` (x of its left and right corner) along the columns `xs` (X,), gone by
    `SIDE[1]` mm. Even across its width, it is never darker right at the rim: no line there."""
    mm = max(face_size, 1.0) / FACE_MM
    left, right = corners
    side = np.minimum(xs - left, right - xs) / mm
    lateral = _smooth((SIDE[1] - side) / (SIDE[1] - SIDE[0]))
    depth = _smooth((PLATEAU + FADE - distance / mm) / FADE)
    weight = (depth * lateral[None, :]).astype(colour.dtype)
    dark = (CORRIDOR_SHADE * np.asarray(base)).astype(colour.dtype)
    return colour + (dark - colour) * weight[:, :, None]
