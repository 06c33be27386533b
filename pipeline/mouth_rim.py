"""No ink line round a painted opened mouth (docs/MOUTH_RIM.md, round 2; `PreviewSettings.mouth_rim`).

The line is made where the gap is painted: `mouth_paint._cavity` shades the cavity darkest towards
the corners and right under the upper rim (about 5 levels), and the procedural upper row
(`pipeline.teeth`) hangs from the level line between the corners, so on a smile or a steep-sided
opening a band of near-black cavity is left between the upper lip and the teeth. Here the row
hangs from the upper rim's own curve where that rises above the corners' line, and the cavity is
nowhere darker than the mid-mouth cavity's darkest (right under the upper rim). Both act in the
paint's own frame (crop pixels) before anything is placed, so nothing is smeared at any photo size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MID_DARK", "floor_shade", "hung_from_rim"]

#: The mid-mouth cavity's darkest shade (`_cavity`: 1 mid-mouth x 0.45 under the upper rim x 0.75
#: at the top of the gap): the corners are not made darker than this.
MID_DARK = 0.45 * 0.75


def floor_shade(shade: np.ndarray) -> np.ndarray:
    """The cavity's (Y, X) `shade` (a factor on its colour), no darker than mid-mouth's darkest."""
    return np.maximum(shade, np.asarray(MID_DARK, shade.dtype))


def hung_from_rim(level: np.ndarray, top: np.ndarray, top_mid: float) -> np.ndarray:
    """(X,) y (crop pixels, down, relative to the midline's rim `top_mid`) the upper row hangs
    from at each column: the corners' line `level`, raised to the upper rim `top` (X,) where the
    rim rises above it (a smile's sides), so no cavity is left between the lip and the teeth' tops."""
    return np.minimum(level, np.asarray(top, level.dtype) - np.asarray(top_mid, level.dtype))
