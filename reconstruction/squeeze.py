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
#: The flow's slopes by a 3-tap Sobel (a [1, 2, 1] smoothing across, a central difference along:
#: a mesh's triangles give the flow steps); the weight is softened by `_SOFT` crop pixels, its
#: kernel cut at `_SOFT_SIZE` (no outline of a patch).
_SOFT = 2.0
_SOFT_SIZE = (11, 11)
#: Weight below this is no band: pixels laid with less are left as they are.
_EDGE = 0.03
_LAID = 0.1
#: The blur along the squeeze: a Gaussian of this many crop pixels, sampled at 7 points over +-2 sigma.
_SIGMA = 2.0
_TAPS = np.linspace(-2.0, 2.0, 7, dtype=np.float32)  # in sigmas
_GAINS = (np.exp(-0.5 * _TAPS**2) / np.exp(-0.5 * _TAPS**2).sum()).astype(np.float32)
_CENTRE = len(_TAPS) // 2  # the tap at 0
#: Pixels laid per remap (OpenCV's maps are under 32767 wide).
_CHUNK = 32000
#: Crop pixels per photo pixel from which a photo is small enough (fully from [1]).
_SMALL = (0.4, 0.7)


@dataclass(frozen=True)
class SqueezedBand:
    """Where a frame squeezes the photo, on a box of the output crop whose first pixel is crop pixel
    `origin` (x, y): `fields` (h, w, 4) float32, twice the direction the reads stretch most along,
    (cos 2a, sin 2a) scaled by the squeeze (a direction and its opposite are one: doubled, it
    interpolates without a wrap), the weight in [0, 1] and a zero, in one array so that one warp
    takes them to the photo; for a photo `share` small (`small_photo` of the photo, > 0)."""

    origin: tuple[int, int]
    fields: np.ndarray
    share: float = 1.0

    @property
    def weight(self) -> np.ndarray:
        """(h, w) float32 in [0, 1]: how much of the smoothing each crop pixel gets."""
        return self.fields[..., 2]

    @property
    def doubled(self) -> np.ndarray:
        """(h, w, 2) float32: twice the direction of the squeeze, scaled by its strength."""
        return self.fields[..., :2]


def small_photo(scale: float) -> float:
    """In [0, 1]: how far a photo laid at `scale` crop pixels per photo pixel is about the crop's
    size or smaller (`_SMALL`)."""
    return min(max((scale - _SMALL[0]) / (_SMALL[1] - _SMALL[0]), 0.0), 1.0)


def photo_share(transform: CropTransform) -> float:
    """`small_photo` of the photo the crop `transform` was taken from: decided once per photo from
    its own pixels, not from a canvas it is shown in (a large photo's drag preview is not small)."""
    return small_photo(_geometry(transform)[1])


def squeezed_band(
    flow: np.ndarray,
    box: tuple[int, int, int, int],
    keep: Callable[[tuple[int, int, int, int]], np.ndarray],
    share: float = 1.0,
) -> SqueezedBand | None:
    """Where the (c, c, 2) backward `flow` squeezes the photo at least `_SQUEEZED` times along
    some direction (faded in from `_RAMP` less) inside the crop `box` (x0, y0, x1, y1, within the
    crop), times `keep(part)` (the (h, w) share of the output that is the moved photo on the crop
    box `part`, in [0, 1]; asked only for the few rows and columns the squeeze reaches: most frames,
    with a closed mouth, stop before), for a photo `share` small; None if nowhere."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    part = flow[y0:y1, x0:x1]
    # the flow as complex numbers F = fx + i fy; the reads R(z) = z + F(z) stretch by |R_z| + |R_zbar|
    # at most (R_z = 1 + (F_x - i F_y) / 2, R_zbar = (F_x + i F_y) / 2), along the direction a with
    # e^(2ia) along R_zbar conj(R_z) (the larger singular value of the reads' slope and its direction)
    along_x = _complex(
        cv2.Sobel(part, cv2.CV_32F, 1, 0, ksize=3, scale=0.0625, borderType=cv2.BORDER_REPLICATE)
    )
    turned_y = _complex(
        cv2.Sobel(part, cv2.CV_32F, 0, 1, ksize=3, scale=0.0625, borderType=cv2.BORDER_REPLICATE)
    )
    turned_y *= 1j
    plain = along_x - turned_y
    plain += 1.0
    flipped = along_x + turned_y
    stretch = np.abs(plain)
    stretch += np.abs(flipped)
    stretch -= _SQUEEZED - _RAMP
    stretch *= 1.0 / _RAMP
    weight = _unit(stretch)
    if weight.max() <= _EDGE:
        return None
    weight = cv2.GaussianBlur(weight, _SOFT_SIZE, _SOFT)
    weight *= 1.5
    # the band's own box: its pixels worth laying, a pixel wider on each side (the warp's reads)
    x, y, w, h = cv2.boundingRect((weight >= _LAID).view(np.uint8))
    if w == 0:
        return None
    ax, ay = max(x - 1, 0), max(y - 1, 0)
    bx, by = min(x + w + 1, x1 - x0), min(y + h + 1, y1 - y0)
    h, w = by - ay, bx - ax
    fields = np.zeros((h, w, 4), np.float32)
    laid = fields[..., 2]
    np.minimum(weight[ay:by, ax:bx], 1.0, out=laid)
    laid *= keep((x0 + ax, y0 + ay, x0 + bx, y0 + by))
    if laid.max() < _LAID:
        return None
    doubled = _complex(fields[..., :2])  # not normalised: a stronger squeeze weighs more
    np.conjugate(plain[ay:by, ax:bx], out=doubled)
    doubled *= flipped[ay:by, ax:bx]
    return SqueezedBand((x0 + ax, y0 + ay), fields, share)


def lay_squeezed(image: np.ndarray, transform: CropTransform, band: SqueezedBand) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo moved by the frame, laid at `transform`; changed in
    place) where `band` marks it: blurred along the direction its reads are squeezed in (module
    docstring), in the share `band.weight` times `band.share` (from `_LAID` on)."""
    matrix, _, inverse, turn, taps = _geometry(transform)
    ox, oy = band.origin
    bh, bw = band.fields.shape[:2]
    x0, y0, x1, y1 = _photo_box((ox - 1, oy - 1, ox + bw, oy + bh), inverse, image.shape[:2])
    if x1 - x0 < 1 or y1 - y0 < 1 or band.share <= 0.0:
        return image
    (a, b, c), (d, e, f) = matrix.tolist()  # region pixel -> the band's pixel
    to_band = np.array([[a, b, c + a * x0 + b * y0 - ox], [d, e, f + d * x0 + e * y0 - oy]])
    flags, size = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, (x1 - x0, y1 - y0)
    fields = cv2.warpAffine(band.fields, to_band, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    laid = np.flatnonzero(fields[..., 2] >= _LAID / band.share)  # only where the band is laid
    if laid.size == 0:
        return image
    picked = fields.reshape(-1, 4)[laid]
    rows, cols = np.divmod(laid, x1 - x0)
    rows += y0
    cols += x0
    # the direction, half its double's angle; the crop's direction in the photo: turned back by the
    # crop's rotation
    angle = np.arctan2(picked[:, 1], picked[:, 0])
    angle *= 0.5
    if turn != 0.0:
        angle -= turn
    weight = picked[:, 2]
    if band.share != 1.0:
        weight *= band.share
    for start in range(0, laid.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        _smooth_at(image, rows[part], cols[part], angle[part], weight[part], taps)
    return image


def _smooth_at(
    image: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    angle: np.ndarray,
    weight: np.ndarray,
    taps: np.ndarray,
) -> None:
    """`image`'s pixels (`rows`, `cols`) blurred along `angle` (radians, in the photo) by the taps
    `taps` (photo pixels), in the share `weight`: every tap in one remap."""
    map_x = np.multiply.outer(taps, np.cos(angle))
    map_x += cols.astype(np.float32)
    map_y = np.multiply.outer(taps, np.sin(angle))
    map_y += rows.astype(np.float32)
    reads = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    count = rows.size
    total = (_GAINS @ reads.reshape(len(taps), count * 3).astype(np.float32)).reshape(count, 3)
    own = reads[_CENTRE]  # the middle tap reads the pixel itself
    total -= own
    total *= weight[:, None]
    total += own
    total += 0.5  # between the pixel and its blur, both in [0, 255]: rounded, it needs no clip
    image[rows, cols] = total


def _complex(pairs: np.ndarray) -> np.ndarray:
    """(h, w) complex64 view of an (h, w, 2) float32 array of (real, imaginary) pairs."""
    return pairs.view(np.complex64)[..., 0]


def _unit(values: np.ndarray) -> np.ndarray:
    """`values` clipped to [0, 1] in place (np.clip's wrapper costs more than the two ufuncs)."""
    np.maximum(values, 0.0, out=values)
    return np.minimum(values, 1.0, out=values)


@lru_cache(maxsize=16)
def _geometry(transform: CropTransform) -> tuple[np.ndarray, float, np.ndarray, float, np.ndarray]:
    """A crop transform's (2, 3) matrix, crop pixels per photo pixel, its inverse, its rotation
    (radians) and the blur's taps in photo pixels (7,) float32, made once per canvas (read, not changed)."""
    matrix = transform.matrix
    matrix.setflags(write=False)
    scale = math.sqrt(abs(matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]))
    taps = (max(_SIGMA / scale, 0.7) * _TAPS).astype(np.float32)
    taps.setflags(write=False)
    turn = float(np.arctan2(matrix[1, 0], matrix[0, 0]))
    return matrix, scale, cv2.invertAffineTransform(matrix), turn, taps


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
