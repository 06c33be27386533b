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
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from reconstruction.crop import CropTransform

__all__ = ["SqueezedBand", "lay_squeezed", "photo_share", "small_photo", "squeezed_band"]

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
_CENTRE = len(_TAPS) // 2  # the tap at 0
#: Pixels per row of the remap's maps (OpenCV's maps are under 32767 wide).
_CHUNK = 1024
#: Crop pixels per photo pixel from which a photo is small enough (fully from [1]).
_SMALL = (0.4, 0.7)


@dataclass(frozen=True)
class SqueezedBand:
    """Where a frame squeezes the photo, on a box of the output crop whose first pixel is crop pixel
    `origin` (x, y): weight (h, w) float32 in [0, 1], and twice the direction the reads stretch most
    along, (h, w, 2) float32 (cos 2a, sin 2a) (a direction and its opposite are one: doubled, it
    interpolates without a wrap); for a photo `share` small (`small_photo` of the photo, > 0)."""

    origin: tuple[int, int]
    weight: np.ndarray
    doubled: np.ndarray
    share: float = 1.0

    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) crop pixels around the band's pixels, a pixel wider on each side."""
        x, y, w, h = cv2.boundingRect((self.weight > 0.0).view(np.uint8))
        ox, oy = self.origin
        return ox + x - 1, oy + y - 1, ox + x + w, oy + y + h


def small_photo(scale: float) -> float:
    """In [0, 1]: how far a photo laid at `scale` crop pixels per photo pixel is about the crop's
    size or smaller (`_SMALL`)."""
    return min(max((scale - _SMALL[0]) / (_SMALL[1] - _SMALL[0]), 0.0), 1.0)


def photo_share(transform: CropTransform) -> float:
    """`small_photo` of the photo the crop `transform` was taken from: decided once per photo from
    its own pixels, not from a canvas it is shown in (a large photo's drag preview is not small)."""
    return small_photo(_geometry(transform)[1])


def squeezed_band(
    flow: np.ndarray, box: tuple[int, int, int, int], keep: Callable[[], np.ndarray], share: float = 1.0
) -> SqueezedBand | None:
    """Where the (c, c, 2) backward `flow` squeezes the photo at least `_SQUEEZED` times along
    some direction (faded in from `_RAMP` less) inside the crop `box` (x0, y0, x1, y1, within the
    crop), times `keep()` (the box's (h, w) share of the output that is the moved photo, in [0, 1];
    made only where the flow squeezes: most frames, with a closed mouth, stop before), for a photo
    `share` small; None if nowhere."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    part = cv2.GaussianBlur(flow[y0:y1, x0:x1], (0, 0), _SMOOTH)
    # the flow as complex numbers F = fx + i fy; the reads R(z) = z + F(z) stretch by |R_z| + |R_zbar|
    # at most (R_z = 1 + (F_x - i F_y) / 2, R_zbar = (F_x + i F_y) / 2), along the direction a with
    # e^(2ia) along R_zbar conj(R_z) (the larger singular value of the reads' slope and its direction)
    along_x = _complex(cv2.Sobel(part, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE))
    turned_y = _complex(
        cv2.Sobel(part, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    )
    turned_y *= 1j
    plain = along_x - turned_y
    plain *= 0.5
    plain += 1.0
    flipped = along_x + turned_y
    flipped *= 0.5
    stretch = np.abs(plain)
    stretch += np.abs(flipped)
    stretch -= _SQUEEZED - _RAMP
    stretch *= 1.0 / _RAMP
    weight = _unit(stretch)
    if weight.max() <= _EDGE:
        return None
    weight = _unit(cv2.GaussianBlur(weight, (0, 0), _SOFT) * 1.5)
    weight *= keep()
    weight[weight < _EDGE] = 0.0
    if weight.max() <= 0.0:
        return None
    flipped *= plain.conj()  # not normalised: a stronger squeeze weighs more
    doubled = flipped.view(np.float32).reshape(*flipped.shape, 2)
    return SqueezedBand((x0, y0), weight, doubled, share)


def lay_squeezed(image: np.ndarray, transform: CropTransform, band: SqueezedBand) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo moved by the frame, laid at `transform`; changed in
    place) where `band` marks it: blurred along the direction its reads are squeezed in (module
    docstring), in the share `band.weight` times `band.share`."""
    matrix, scale, inverse, turn = _geometry(transform)
    h, w = image.shape[:2]
    ox, oy = band.origin
    x0, y0, x1, y1 = _photo_box(band.crop_box, inverse, (h, w))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return image
    (a, b, c), (d, e, f) = matrix.tolist()  # region pixel -> the band's pixel
    to_band = np.array([[a, b, c + a * x0 + b * y0 - ox], [d, e, f + d * x0 + e * y0 - oy]])
    flags, size = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, (x1 - x0, y1 - y0)
    weight = cv2.warpAffine(band.weight, to_band, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    if band.share != 1.0:
        weight *= band.share
    rows_in, cols_in = np.nonzero(weight > _EDGE)  # only where the band is laid
    count = rows_in.size
    if count == 0:
        return image
    cols, rows = cols_in.astype(np.float32), rows_in.astype(np.float32)
    map_x, map_y = _maps(count)
    np.multiply(cols, a, out=map_x[:count])
    map_x[:count] += rows * b + to_band[0, 2]
    np.multiply(cols, d, out=map_y[:count])
    map_y[:count] += rows * e + to_band[1, 2]
    doubled = _read(band.doubled, map_x, map_y, count)
    # the crop's direction in the photo: turned back by the crop's rotation
    angle = 0.5 * np.arctan2(doubled[:, 1], doubled[:, 0]) - turn
    sigma = max(_SIGMA / scale, 0.7)  # photo pixels
    pad = int(np.ceil(2.0 * sigma)) + 1
    ya, yb, xa, xb = max(y0 - pad, 0), min(y1 + pad, h), max(x0 - pad, 0), min(x1 + pad, w)
    # every tap of the Gaussian along the direction in one remap: (taps, pixels)
    reads_n = len(_TAPS) * count
    map_x, map_y = _maps(reads_n)
    taps = (sigma * _TAPS)[:, None]
    along_x = map_x[:reads_n].reshape(len(_TAPS), count)
    along_y = map_y[:reads_n].reshape(len(_TAPS), count)
    np.multiply(taps, np.cos(angle, dtype=np.float32), out=along_x)
    np.multiply(taps, np.sin(angle, dtype=np.float32), out=along_y)
    along_x += cols + float(x0 - xa)
    along_y += rows + float(y0 - ya)
    reads = _read(image[ya:yb, xa:xb], map_x, map_y, reads_n).reshape(len(_TAPS), count * 3)
    reads = reads.astype(np.float32)
    total = (_GAINS @ reads).reshape(count, 3)
    own = reads[_CENTRE].reshape(count, 3)  # the middle tap reads the pixel itself
    laid = own + weight[rows_in, cols_in, None] * (total - own)
    # between the pixel and its blur, both in [0, 255]: rounded, it needs no clip
    image[rows_in + y0, cols_in + x0] = np.rint(laid).astype(np.uint8)
    return image


def _maps(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Two flat float32 maps of zeros for `count` reads, padded to whole rows of `_CHUNK`."""
    size = -(-count // _CHUNK) * _CHUNK
    return np.zeros(size, np.float32), np.zeros(size, np.float32)


def _read(source: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, count: int) -> np.ndarray:
    """(count, channels) bilinear reads of `source` at the first `count` points of `_maps`."""
    reads = cv2.remap(
        source,
        map_x.reshape(-1, _CHUNK),
        map_y.reshape(-1, _CHUNK),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return reads.reshape(map_x.size, -1)[:count]


def _complex(pairs: np.ndarray) -> np.ndarray:
    """(h, w) complex64 view of an (h, w, 2) float32 array of (real, imaginary) pairs."""
    return pairs.view(np.complex64)[..., 0]


def _unit(values: np.ndarray) -> np.ndarray:
    """`values` clipped to [0, 1] in place (np.clip's wrapper costs more than the two ufuncs)."""
    np.maximum(values, 0.0, out=values)
    return np.minimum(values, 1.0, out=values)


@lru_cache(maxsize=16)
def _geometry(transform: CropTransform) -> tuple[np.ndarray, float, np.ndarray, float]:
    """A crop transform's (2, 3) matrix, crop pixels per photo pixel, its inverse and its rotation
    (radians), made once per canvas (read, not changed)."""
    matrix = transform.matrix
    matrix.setflags(write=False)
    scale = math.sqrt(abs(matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]))
    return matrix, scale, cv2.invertAffineTransform(matrix), float(np.arctan2(matrix[1, 0], matrix[0, 0]))


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
