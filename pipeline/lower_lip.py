"""Where an opened mouth's lower lip squeezes the chin under it (docs/LOWER_LIP.md).

The `open_mouth` direction drops the lower lip and holds the chin: on a short chin the whole pad
under the lip (the shadow under it, the chin's highlight) lands in a few output rows, a ragged
dark and pale outline under the lip. `squeezed_under_lip` marks that band, under the lip's outer
edge, on the crop, for `reconstruction.squeeze.lay_squeezed` to smooth at the photo's resolution.
"""

from __future__ import annotations

import numpy as np

from pipeline.face_paint import curve_y
from pipeline.mouth import MouthMotion, corners_x
from reconstruction.squeeze import SqueezedBand, photo_share, squeezed_band

__all__ = ["LIP_KEPT", "UNDER_LIP", "photo_share", "squeezed_under_lip"]

#: The band: under the target's inner lower lip, down to [0] mouth widths under its lowest point,
#: [1] mouth widths beyond either corner.
UNDER_LIP = (0.8, 0.25)
#: The lip is kept down to this share of its height above its outer edge (the mesh's outer contour
#: lies a little beyond the lip the photo shows; the squeezed skin starts inside it).
LIP_KEPT = 0.35


def squeezed_under_lip(
    flow: np.ndarray,
    mouth: MouthMotion,
    cover: np.ndarray,
    front: np.ndarray | None,
    outer: np.ndarray,
    share: float = 1.0,
) -> SqueezedBand | None:
    """Where the (c, c, 2) backward `flow` squeezes the photo under the target's lower lip (its
    outer contour `outer`, (K, 2) crop pixels: the lip itself keeps its colour), on the moved photo
    only: not under the painted opening (`cover`, (c, c) in [0, 1]) nor the layer behind a jaw
    (`front`, the front layer's share, or None); on a photo `share` small (`photo_share` of the
    photo itself, not of a canvas it is shown in): on a large photo nothing, at no cost."""
    if share <= 0.0 or len(outer) < 2:  # a large photo, or a mesh without the lip's outer contour
        return None
    upper, lower = mouth.target_lips
    left, right = corners_x(upper)
    width = right - left
    c = flow.shape[0]
    x0, x1 = (
        max(int(np.floor(left - UNDER_LIP[1] * width)), 0),
        min(int(np.ceil(right + UNDER_LIP[1] * width)) + 1, c),
    )
    y0 = max(int(np.floor(lower[:, 1].min())), 0)
    y1 = min(int(np.ceil(lower[:, 1].max() + UNDER_LIP[0] * width)) + 1, c)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    if outer[0, 0] > outer[-1, 0]:
        outer = outer[::-1]

    def keep(part: tuple[int, int, int, int]) -> np.ndarray:
        """The crop box `part`'s share under the lip's kept part and on the moved photo, (h, w) float32."""
        ax, ay, bx, by = part
        xs = np.arange(ax, bx, dtype=np.float64)
        inner_y = curve_y(lower, xs)  # both clamped at their corners
        outer_y = np.maximum(curve_y(outer, xs), inner_y)
        edge = (1.0 - LIP_KEPT) * outer_y
        edge += LIP_KEPT * inner_y
        under = np.subtract.outer(np.arange(ay, by, dtype=np.float32), edge.astype(np.float32))
        np.maximum(under, 0.0, out=under)
        np.minimum(under, 1.0, out=under)
        under -= under * cover[ay:by, ax:bx]
        if front is not None:
            under *= front[ay:by, ax:bx]
        return under

    return squeezed_band(flow, (x0, y0, x1, y1), keep, share)
