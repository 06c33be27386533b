"""How much of the eye's white a shut eye still shows (docs/WIDE_EYES.md): `sclera_share`.

Per eye, at the photo's resolution, on the output of an edit that shuts it: the share of the
photo's eye opening (between its fitted lid curves, widened a little where a wide-open eye's white
reaches past them) where the output shows the eye's white. A pixel reads as the white when it is
- brighter than the surrounding skin's bright quantile (`_BRIGHT`: the photo's skin 0.15-0.4 eye
  widths above the upper lid and 0.15-0.3 under the lower lid, where no edit of the eyes reaches),
- low in saturation (below `_GREY` of that skin's median), and
- not there in a blurred copy of the output's own skin (`_LOCAL` levels brighter than the output
  blurred over `_SIGMA` eye widths with such bright grey pixels left out): light lid skin, smooth
  and wide, is in the blurred copy; a band of white under a lash line is not.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["sclera_mask", "sclera_share"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: The photo's opening is widened by these eye widths above the fitted upper lid and under the
#: fitted lower lid (a wide-open eye's white reaches past the face model's almond).
_ABOVE, _BELOW = 0.05, 0.1
#: The white is brighter than this luma quantile (%) of the surrounding skin ...
_BRIGHT = 50.0
#: ... less saturated than this share of the skin's median saturation ...
_GREY = 0.5
#: ... and less saturated than this share of the output's median saturation over `_WINDOW` eye widths.
_LOCAL = 0.6
_WINDOW = 0.5


def _saturation(rgb: np.ndarray) -> np.ndarray:
    high = rgb.max(axis=-1)
    return (high - rgb.min(axis=-1)) / np.maximum(high, 1.0)


def sclera_mask(
    image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """(white, opening, box): the (h, w) bool masks, within `box` (rows, cols) of the photo, of the
    output's pixels that read as the eye's white and of the widened opening. image, out: (H, W, 3)
    uint8 photo and output; upper, lower: (K, 2) the photo's fitted lid curves, photo pixels."""
    up, lo = upper[np.argsort(upper[:, 0])], lower[np.argsort(lower[:, 0])]
    width = float(np.ptp(up[:, 0]))
    h, w = image.shape[:2]
    x0, x1 = max(int(up[0, 0]), 0), min(int(up[-1, 0]) + 1, w)
    y0, y1 = max(int(up[:, 1].min() - 0.45 * width), 0), min(int(lo[:, 1].max() + 0.35 * width) + 1, h)
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = np.interp(xs, up[:, 0], up[:, 1]), np.interp(xs, lo[:, 0], lo[:, 1])
    opening = (ys > top - _ABOVE * width) & (ys < bottom + _BELOW * width)
    ring = ((ys >= top - 0.4 * width) & (ys <= top - 0.15 * width)) | (
        (ys >= bottom + 0.15 * width) & (ys <= bottom + 0.3 * width)
    )
    skin = image[y0:y1, x0:x1].astype(np.float32)[ring]
    level = float(np.percentile(skin @ _LUMA, _BRIGHT))
    grey = _GREY * float(np.median(_saturation(skin)))
    shown = out[y0:y1, x0:x1].astype(np.float32)
    sat = _saturation(shown)
    # The blurred copy of the output's skin: its median saturation over `_WINDOW` eye widths.
    size = 2 * int(_WINDOW * width / 2) + 1
    local = cv2.medianBlur(np.round(sat * 255).astype(np.uint8), min(max(size, 3), 255)) / 255.0
    white = (shown @ _LUMA > level) & (sat < grey) & (sat < _LOCAL * local) & opening
    return white, opening, (slice(y0, y1), slice(x0, x1))


def sclera_share(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """The share (0-1) of the photo's widened eye opening where the output shows the eye's white
    (`sclera_mask`); arguments as there."""
    white, opening, _ = sclera_mask(image, out, upper, lower)
    return float(white.sum() / max(opening.sum(), 1))
