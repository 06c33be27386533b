"""The trailing side of a turn: the neck the moved jaw uncovers is the photo's neck, stretched up.

On the side of a turn where the moved jaw rises off the photo's own jaw line, `pipeline.jaw_edge`
drops its still neck layer (the uncovered rows would need more than its 1.43x stretch) and grows it in
only from the jaw's corner row down: the spread flow of `pipeline.flow_spread` stays there and carries
the photo's neck sideways with the face by about 0.16 face sizes at yaw 30, so the photo's neck side
lines up with the cheek's outline into one long diagonal from the ear into the collar, the jaw shadow
smeared in it (docs/TRAILING_JAW.md). Here, on those columns, the layer is kept: the neck stays (no
horizontal motion) and each column reads the photo's neck from just below the photo's own jaw line,
stretched linearly up to the moved jaw's outline over the span to the shoulder line or longer (at most
`TRAIL_STRETCH`), and it shows from the moved jaw's own outline down, so the jaw's convex outline is
drawn in front of a still neck. Coarse-grid fields only; `pipeline.jaw_edge.neck_layer` applies them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.geometry import smoothstep
from reconstruction.rim_skin import MagnifiedBand

__all__ = [
    "TRAIL_RAMP",
    "TRAIL_SMOOTH",
    "TRAIL_STRETCH",
    "TRAIL_TOP",
    "Trailing",
    "in_front",
    "trailing_columns",
    "trailing_rows",
]

#: The moved face's lower outline counts as jaw on the trailing side from this many face sizes above
#: the photo's chin (about the ear lobes): the side of the jaw up to its angle.
TRAIL_TOP = 0.35
#: The photo's neck is stretched up to the moved jaw by at most this factor (linearly, so the
#: stretch is even down the span: it lengthens the span where the jaw rose far).
TRAIL_STRETCH = 2.0
#: The trailing side's weight is smoothed across columns over this many face sizes: where it ends
#: the still neck meets a spread flow moving about 0.15 face sizes sideways, blended without a fold.
TRAIL_SMOOTH = 0.08
#: On the trailing side the layer grows in over this many face sizes above the moved jaw's outline
#: (hidden behind the moved face: the layer is whole where the face's outline lets it show).
TRAIL_RAMP = 0.05


class Trailing(NamedTuple):
    """Per column (w,): found, 1.0 where the moved face's lowest row is low enough to count as jaw
    on the trailing side (`TRAIL_TOP`), else 0.0; edge, that row + the margin (coarse), nan elsewhere."""

    found: np.ndarray
    edge: np.ndarray


def trailing_columns(bottom: np.ndarray, chin: float, face_size: float, margin: float) -> Trailing:
    """`Trailing` of the moved face's lowest rows `bottom` (w,) (coarse rows, -inf where none), the
    photo's `chin` row, face size and the jaw margin (coarse pixels)."""
    found = np.isfinite(bottom) & (bottom >= chin - TRAIL_TOP * face_size)
    return Trailing(found.astype(np.float64), np.where(found, bottom + margin, np.nan))


def trailing_span(rise: np.ndarray, trail: np.ndarray) -> np.ndarray:
    """(w,) the least span (rows) over which a column's neck may be stretched up by `rise` for at
    most `TRAIL_STRETCH`: its profile (`trailing_rows`) is jaw_edge's smoothstep (steepest slope 1.5)
    blended by `trail` into a linear ramp (slope 1)."""
    return rise * (1.5 - 0.5 * trail) * (TRAIL_STRETCH / (TRAIL_STRETCH - 1.0))


def trailing_rows(
    rows: np.ndarray,
    edge: np.ndarray,
    span: np.ndarray,
    trail: np.ndarray,
    corner_ramp: np.ndarray,
    fs: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(s, ramp), both (n, m) float32 on the window's rows (n, 1) and columns' edge, span, trail (m,)
    float32: s the neck's profile down the span (0 at the jaw, 1 at its end; jaw_edge's smoothstep
    blended into a linear ramp on the trailing columns), ramp the layer's vertical weight (jaw_edge's
    `corner_ramp` (n, m), or on the trailing columns 1 from just above the moved jaw's outline)."""
    t = (rows - edge) / span
    smooth = smoothstep(t)
    s = smooth + trail * (np.clip(t, 0.0, 1.0) - smooth)
    reach = np.float32(TRAIL_RAMP * fs)
    whole = np.minimum(trail * np.float32(2.0), np.float32(1.0))  # whole well before the trail ends
    ramp = np.maximum(corner_ramp, whole * smoothstep((rows - (edge - np.float32(2.0) * reach)) / reach))
    return s.astype(np.float32), ramp.astype(np.float32)


def in_front(band: MagnifiedBand | None, front: np.ndarray | None) -> MagnifiedBand | None:
    """The front flow's magnified rim `band` only where the (c, c) `front` coverage shows it (None:
    everywhere): on the trailing side the neck layer shows where the front's spread flow magnifies
    the cheek's edge, and the rim's texture laid there by the front's flow draws torn patches."""
    if band is None or front is None:
        return band
    return MagnifiedBand(band.weight * front, band.advance)
