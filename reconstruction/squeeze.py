"""A band the flow squeezes, smoothed along the squeeze (docs/LOWER_LIP.md).

Where the flow squeezes the photo several times (an opened mouth's lower lip dropped onto a chin
the face model holds still: 3-5 photo rows per output row), what the photo shows across the
squeezed strip (the lip's dark border, the chin's highlight, the dark under the chin) comes out
as thin dark and pale lines, and since the squeeze changes from one crop pixel to the next (the
mesh's triangles), they wander: a ragged outline. Averaging each read over its own footprint
does not help (the lines are the photo's broad features, squeezed: docs/LOWER_LIP.md, "Round 1").
`lay_squeezed` blurs the moved image there along the direction it is squeezed in (across the
lines, not along them: no streaks), `_SIGMA` crop pixels, on the moved photo only (the overlay
laid over it and the layer behind it keep their share), and only on a photo about the crop's size
or smaller, where that is a blur of one to three photo pixels; on a large sharp photo it would be
a smear over its texture. `squeezed_band` says where, on the crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from reconstruction.crop import CropTransform

__all__ = ["SqueezedBand", "lay_squeezed", "squeezed_band", "small_photo"]

#: Photo rows per output row from which the band is smoothed in full; from `_RAMP` less it fades
#: in (a squeeze under 1.5 leaves no visible lines).
_SQUEEZED = 2.25
_RAMP = 0.75
#: The flow is smoothed by `_SMOOTH` crop pixels before its slope is taken (a mesh's triangles give
#: it steps); the weight is softened by `_SOFT` (no outline of a patch).
_SMOOTH = 1.0
_SOFT = 2.0
#: Weight below this is no band.
_EDGE = 0.03
#: The blur along the squeeze: a Gaussian of this many crop pixels, sampled at 9 points over +-2 sigma.
_SIGMA = 2.0
_TAPS = np.linspace(-2.0, 2.0, 7, dtype=np.float32)  # in sigmas
_GAINS = np.exp(-0.5 * _TAPS**2) / np.exp(-0.5 * _TAPS**2).sum()
#: Pixels per row of the remap's maps (OpenCV's maps are under 32767 wide).
_CHUNK = 1024
#: Crop pixels per photo pixel from which a photo is small enough (fully from [1]).
_SMALL = (0.4, 0.7)


@dataclass(frozen=True)
class SqueezedBand:
    """Where a frame squeezes the photo, on a box of the output crop whose first pixel is crop pixel
    `origin` (x, y): weight (h, w) float32 in [0, 1], and twice the direction the reads stretch most
    along, (h, w, 2) float32 (cos 2a, sin 2a) (a direction and its opposite are one: doubled, it
    interpolates without a wrap)."""

    origin: tuple[int, int]
    weight: np.ndarray
    doubled: np.ndarray

    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) crop pixels around the band's pixels, a pixel wider on each side."""
        rows = np.flatnonzero(self.weight.any(axis=1))
        cols = np.flatnonzero(self.weight.any(axis=0))
        ox, oy = self.origin
        return ox + int(cols[0]) - 1, oy + int(rows[0]) - 1, ox + int(cols[-1]) + 1, oy + int(rows[-1]) + 1


def small_photo(scale: float) -> float:
    """In [0, 1]: how far a photo laid at `scale` crop pixels per photo pixel is about the crop's
    size or smaller (`_SMALL`)."""
    return min(max((scale - _SMALL[0]) / (_SMALL[1] - _SMALL[0]), 0.0), 1.0)


def squeezed_band(flow: np.ndarray, box: tuple[int, int, int, int], keep: np.ndarray) -> SqueezedBand | None:
    """Where the (c, c, 2) backward `flow` squeezes the photo at least `_SQUEEZED` times along
    some direction (faded in from `_RAMP` less) inside the crop `box` (x0, y0, x1, y1, within the
    crop), times `keep` (the box's (h, w) share of the output that is the moved photo, in [0, 1]);
    None if nowhere."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    part = cv2.GaussianBlur(flow[y0:y1, x0:x1], (0, 0), _SMOOTH)
    along_x = cv2.Sobel(part, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    along_y = cv2.Sobel(part, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    fx_x, fy_x, fx_y, fy_y = along_x[..., 0], along_x[..., 1], along_y[..., 0], along_y[..., 1]
    # the reads' slope J = [[1 + fx_x, fx_y], [fy_x, 1 + fy_y]]; J^T J = [[a, b], [b, d]]
    a = (1.0 + fx_x) ** 2 + fy_x**2
    b = (1.0 + fx_x) * fx_y + fy_x * (1.0 + fy_y)
    d = fx_y**2 + (1.0 + fy_y) ** 2
    # its larger eigenvalue: the squared photo pixels read per output pixel along the worst direction
    root = np.sqrt(0.25 * (a - d) ** 2 + b**2)
    stretch = np.sqrt(0.5 * (a + d) + root)
    weight = np.clip((stretch - (_SQUEEZED - _RAMP)) / _RAMP, 0.0, 1.0).astype(np.float32)
    if weight.max() <= _EDGE:
        return None
    weight = np.clip(1.5 * cv2.GaussianBlur(weight, (0, 0), _SOFT), 0.0, 1.0) * keep
    weight[weight < _EDGE] = 0.0
    if weight.max() <= 0.0:
        return None
    doubled = np.empty((*weight.shape, 2), np.float32)  # not normalised: a stronger squeeze weighs more
    doubled[..., 0], doubled[..., 1] = a - d, 2.0 * b
    return SqueezedBand((x0, y0), weight.astype(np.float32), doubled)


def lay_squeezed(image: np.ndarray, transform: CropTransform, band: SqueezedBand) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo moved by the frame; changed in place) where `band`
    marks it on a small photo (`small_photo`): blurred along the direction its reads are squeezed
    in (module docstring), in the share `band.weight`."""
    matrix = transform.matrix
    scale = math.sqrt(abs(matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]))
    small = small_photo(scale)
    if small <= 0.0:
        return image
    h, w = image.shape[:2]
    ox, oy = band.origin
    x0, y0, x1, y1 = _photo_box(band.crop_box, cv2.invertAffineTransform(matrix), (h, w))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return image
    to_band = matrix.copy()  # region pixel -> the band's pixel
    to_band[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64) - np.array([ox, oy], np.float64)
    flags, size = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, (x1 - x0, y1 - y0)
    weight = small * cv2.warpAffine(band.weight, to_band, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    if float(weight.max()) <= _EDGE:
        return image
    doubled = cv2.warpAffine(band.doubled, to_band, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    rows_in, cols_in = np.nonzero(weight > _EDGE)  # only where the band is laid
    # the crop's direction in the photo: turned back by the crop's rotation
    turn = float(np.arctan2(matrix[1, 0], matrix[0, 0]))
    angle = 0.5 * np.arctan2(doubled[rows_in, cols_in, 1], doubled[rows_in, cols_in, 0]) - turn
    sigma = max(_SIGMA / scale, 0.7)  # photo pixels
    pad = int(np.ceil(2.0 * sigma)) + 1
    ya, yb, xa, xb = max(y0 - pad, 0), min(y1 + pad, h), max(x0 - pad, 0), min(x1 + pad, w)
    # every tap of the Gaussian along the direction in one remap: (taps, pixels), in rows of `_CHUNK`
    count = rows_in.size
    chunks = -(-count // _CHUNK)
    taps = (sigma * _TAPS)[:, None]
    map_x = np.zeros((len(_TAPS), chunks * _CHUNK), np.float32)
    map_y = np.zeros_like(map_x)
    map_x[:, :count] = (cols_in + (x0 - xa)).astype(np.float32)[None, :] + taps * np.cos(
        angle, dtype=np.float32
    )
    map_y[:, :count] = (rows_in + (y0 - ya)).astype(np.float32)[None, :] + taps * np.sin(
        angle, dtype=np.float32
    )
    reads = cv2.remap(
        image[ya:yb, xa:xb],
        map_x.reshape(-1, _CHUNK),
        map_y.reshape(-1, _CHUNK),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).reshape(len(_TAPS), -1)[:, : count * 3]
    total = (_GAINS @ reads.astype(np.float32)).reshape(count, 3)
    patch = image[y0:y1, x0:x1]
    own = patch[rows_in, cols_in].astype(np.float32)
    laid = own + weight[rows_in, cols_in, None] * (total - own)
    patch[rows_in, cols_in] = np.clip(np.rint(laid), 0, 255).astype(np.uint8)
    return image


def _photo_box(
    crop_box: tuple[int, int, int, int], inverse: np.ndarray, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) photo pixels, clipped to `size` (H, W), around the crop box taken to the
    photo by the (2, 3) `inverse`."""
    (a, b, c), (d, e, f) = inverse.tolist()
    ax, ay, bx, by = crop_box
    xs = [a * x + b * y + c for x in (ax, bx) for y in (ay, by)]
    ys = [d * x + e * y + f for x in (ax, bx) for y in (ay, by)]
    h, w = size
    x0, y0 = max(math.floor(min(xs)), 0), max(math.floor(min(ys)), 0)
    return x0, y0, min(math.ceil(max(xs)) + 1, w), min(math.ceil(max(ys)) + 1, h)
