"""The neck bends into still shoulders: a vertical fade of the flow carried below the face.

The geometric renderer (`pipeline.geometric`) carries the face rim's flow outwards and fades it
over the same distance in every direction, long enough for the rim's motion. Below the face that
distance reaches through the neck into the collar and the shirt, which then bend with a turned head.
Here the flow below the jaw line also fades downwards, to zero at the shoulder line (the photo's
chin + `NECK_REACH` face sizes): the neck takes the turn as a shear and the clothes stay. The
vertical component fades over at least `STRETCH_BOUND` times the jaw's vertical motion, so a nod
stretches or squeezes the neck by at most 1.5x (a smoothstep over D of a motion m changes lengths
by up to 1 / (1 - 1.5 m / D)). Beside and above the head (hair, ears) nothing changes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["JAW_RISE", "JAW_SLOPE", "NECK_MIN_SPAN", "NECK_REACH", "shoulder_fade"]

#: The shoulder line lies this many face sizes below the photo's chin.
NECK_REACH = 0.2
#: Beside the face the fade starts this many face sizes above the chin (about the jaw's angle):
#: the ears and the hair above it move as before.
JAW_RISE = 0.25
#: Away from the jaw line the fade's start rises by at most this many rows per column: where the
#: jaw's side is steep, the fade changes gently from column to column (a head turned by 30 degrees
#: stretched the hair beside the jaw twofold within a few pixels).
JAW_SLOPE = 0.5
#: The horizontal fade spans at least this many face sizes (a chin lowered onto the shoulder line
#: shears the neck over this span instead of tearing it).
NECK_MIN_SPAN = 0.1


def shoulder_fade(
    flow: np.ndarray,
    cover: np.ndarray,
    chin: float,
    face_size: float,
    stretch_bound: float,
    scale: float = 1.0,
) -> np.ndarray | None:
    """(h, w, 2) float32 factors in [0, 1] for the flow outside the face: 1 above the jaw line (per
    column, the face's lowest covered pixel, lowered beside it to a slope of `JAW_SLOPE`; beside the
    face no higher than `JAW_RISE` above the chin), falling smoothly to 0 below it, horizontally by
    the shoulder line and vertically over at least `stretch_bound` times the jaw's vertical motion.
    None when no pixel is covered.

    flow: (h, w, 2) float32 backward flow in crop pixels on a grid of `scale` grid pixels per crop
    pixel; cover: (h, w) float32, > 0.5 on the target's face; chin: the photo's chin row and
    face_size: the face's size, both in grid pixels.
    """
    face = cover > 0.5
    h, w = face.shape
    has = face.any(axis=0)
    if not has.any():
        return None
    bottom = h - 1 - np.argmax(face[::-1], axis=0)  # (w,) the face's lowest row per column
    jaw = chin - JAW_RISE * face_size
    # The jaw line, lowered beside it to a slope of at most JAW_SLOPE: max over the face's columns
    # c of bottom[c] - JAW_SLOPE * |x - c|, and never above the row `jaw`.
    columns = np.flatnonzero(has)
    reach = bottom[columns][None, :] - JAW_SLOPE * np.abs(np.arange(w)[:, None] - columns[None, :])  # (w, c)
    start = np.maximum(reach.max(axis=1), jaw).astype(np.float32)  # (w,)
    shoulders = chin + NECK_REACH * face_size
    span = np.maximum(shoulders - start, NECK_MIN_SPAN * face_size)
    # The jaw line's vertical motion (grid pixels): where the neck hangs from.
    lift = float(np.abs(flow[bottom[columns], columns, 1]).max()) * scale
    span_v = np.maximum(span, stretch_bound * lift)
    below = np.arange(h, dtype=np.float32)[:, None] - start  # (h, w) rows below the fade's start
    out = np.empty((h, w, 2), np.float32)
    for k, length in enumerate((span, span_v)):
        t = np.clip(below / length, 0.0, 1.0)
        out[:, :, k] = 1.0 - t * t * (3.0 - 2.0 * t)
    return out
