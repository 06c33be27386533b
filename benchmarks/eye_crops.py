"""Helpers shared by the shut-lid sheets (`shut_lids_sheet`, `lid_skin_sheet`): slider values from
text and the box around an eye."""

from __future__ import annotations

import numpy as np


def values(text: str) -> dict[str, float]:
    """`"close_eyes=1,smile=0.5"` -> `{"close_eyes": 1.0, "smile": 0.5}`."""
    return {name: float(value) for name, value in (part.split("=") for part in text.split(","))}


def eye_box(lids: np.ndarray, shape: tuple[int, ...], above: float = 0.5) -> tuple[slice, slice]:
    """(rows, cols) of the photo of `shape` around an eye's lid points (K, 2): 0.25 eye widths on
    either side, `above` eye widths above and 0.3 below."""
    width = float(np.ptp(lids[:, 0]))
    x0, y0 = lids.min(axis=0) - [0.25 * width, above * width]
    x1, y1 = lids.max(axis=0) + [0.25 * width, 0.3 * width]
    return slice(max(0, int(y0)), min(shape[0], int(y1))), slice(max(0, int(x0)), min(shape[1], int(x1)))
