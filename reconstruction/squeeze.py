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
_TAPS = 9
#: Crop pixels per photo pixel from which a photo is small enough (fully from [1]).
_SMALL = (0.4, 0.7)


@dataclass(frozen=True)
class SqueezedBand:
    """Where a frame squeezes the photo: weight (c, c) float32 in [0, 1] on the output crop, and
    the slope of the reads (c, c, 2, 2) float32 there ([.., read's x / y, along x / y], crop pixels)."""

    weight: np.ndarray
    slope: np.ndarray


def small_photo(transform: CropTransform) -> float:
    """In [0, 1]: how far the photo is about the crop's size or smaller (`_SMALL`)."""
    return float(np.clip((transform.scale - _SMALL[0]) / (_SMALL[1] - _SMALL[0]), 0.0, 1.0))


def squeezed_band(
    flow: np.ndarray, box: tuple[int, int, int, int], keep: np.ndarray | None = None
) -> SqueezedBand | None:
    """Where the (c, c, 2) backward `flow` squeezes the photo at least `_SQUEEZED` times along
    some direction (faded in from `_RAMP` less) inside the crop `box` (x0, y0, x1, y1), times
    `keep` ((c, c) in [0, 1], the share of the output that is the moved photo); None if nowhere."""
    c = flow.shape[0]
    x0, y0, x1, y1 = (int(np.clip(v, 0, c)) for v in box)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    pad = int(3 * max(_SMOOTH, _SOFT)) + 2
    bx0, by0, bx1, by1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, c), min(y1 + pad, c)
    part = cv2.GaussianBlur(flow[by0:by1, bx0:bx1], (0, 0), _SMOOTH)
    (fx_y, fx_x), (fy_y, fy_x) = np.gradient(part[..., 0]), np.gradient(part[..., 1])
    slope = np.empty((*part.shape[:2], 2, 2), np.float32)
    slope[..., 0, 0], slope[..., 0, 1] = 1.0 + fx_x, fx_y
    slope[..., 1, 0], slope[..., 1, 1] = fy_x, 1.0 + fy_y
    # the footprint's longer side: photo pixels read per output pixel
    stretch = np.maximum(
        np.hypot(slope[..., 0, 0], slope[..., 1, 0]), np.hypot(slope[..., 0, 1], slope[..., 1, 1])
    )
    weight = np.zeros((c, c), np.float32)
    inner = (slice(y0 - by0, y1 - by0), slice(x0 - bx0, x1 - bx0))
    weight[y0:y1, x0:x1] = np.clip((stretch[inner] - (_SQUEEZED - _RAMP)) / _RAMP, 0.0, 1.0)
    if weight.max() <= _EDGE:
        return None
    weight = np.clip(1.5 * cv2.GaussianBlur(weight, (0, 0), _SOFT), 0.0, 1.0)
    if keep is not None:
        weight *= keep
    weight[weight < _EDGE] = 0.0
    if weight.max() <= 0.0:
        return None
    full = np.zeros((c, c, 2, 2), np.float32)
    full[..., 0, 0] = full[..., 1, 1] = 1.0
    full[by0:by1, bx0:bx1] = slope
    return SqueezedBand(weight, full)


def lay_squeezed(image: np.ndarray, transform: CropTransform, band: SqueezedBand) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo moved by the frame; changed in place) where `band`
    marks it on a small photo (`small_photo`): blurred along the direction its reads are squeezed
    in (module docstring), in the share `band.weight`."""
    small = small_photo(transform)
    on = band.weight > 0.0
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if small <= 0.0 or rows.size == 0:
        return image
    h, w = image.shape[:2]
    x0, y0, x1, y1 = _photo_box(
        (cols[0] - 1, rows[0] - 1, cols[-1] + 1, rows[-1] + 1), transform.inverse(), (h, w)
    )
    if x1 - x0 < 1 or y1 - y0 < 1:
        return image
    to_crop = transform.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)  # region pixel -> crop pixel
    flags, size = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, (x1 - x0, y1 - y0)
    weight = small * cv2.warpAffine(band.weight, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    if float(weight.max()) <= _EDGE:
        return image
    ux, uy = _squeeze_direction(band, transform, to_crop, size)
    sigma = max(_SIGMA / transform.scale, 0.7)  # photo pixels
    pad = int(np.ceil(2.0 * sigma)) + 1
    ya, yb, xa, xb = max(y0 - pad, 0), min(y1 + pad, h), max(x0 - pad, 0), min(x1 + pad, w)
    moved = image[ya:yb, xa:xb].copy()
    grid_x = np.broadcast_to(np.arange(x0 - xa, x1 - xa, dtype=np.float32)[None, :], ux.shape)
    grid_y = np.broadcast_to(np.arange(y0 - ya, y1 - ya, dtype=np.float32)[:, None], ux.shape)
    taps = np.linspace(-2.0 * sigma, 2.0 * sigma, _TAPS, dtype=np.float32)
    gains = np.exp(-0.5 * (taps / sigma) ** 2)
    total = np.zeros((*ux.shape, 3), np.float32)
    for t, gain in zip(taps, gains, strict=True):
        total += gain * cv2.remap(
            moved, grid_x + t * ux, grid_y + t * uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    region = image[y0:y1, x0:x1].astype(np.float32)
    region += weight[:, :, None] * (total / float(gains.sum()) - region)
    image[y0:y1, x0:x1] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return image


def _squeeze_direction(
    band: SqueezedBand, transform: CropTransform, to_crop: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per region pixel the unit output direction (photo pixels) its reads stretch most along: the
    larger eigenvector of J^T J, J the reads' slope in the photo (R^T J_crop R, R the crop's rotation)."""
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    flat = band.slope.reshape(*band.slope.shape[:2], 4)
    slope = cv2.warpAffine(flat, to_crop, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    slope = slope.reshape(size[1], size[0], 2, 2)
    rotation = transform.matrix[:, :2] / transform.scale
    j = np.einsum("ji,...jk,kl->...il", rotation, slope, rotation)
    a = j[..., 0, 0] ** 2 + j[..., 1, 0] ** 2
    b = j[..., 0, 0] * j[..., 0, 1] + j[..., 1, 0] * j[..., 1, 1]
    d = j[..., 0, 1] ** 2 + j[..., 1, 1] ** 2
    angle = 0.5 * np.arctan2(2.0 * b, a - d)
    return np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)


def _photo_box(
    crop_box: tuple[int, int, int, int], inverse: np.ndarray, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) photo pixels, clipped to `size` (H, W), around the crop box taken to the
    photo by the (2, 3) `inverse`."""
    ax, ay, bx, by = crop_box
    pts = np.array([[ax, ay], [bx, ay], [ax, by], [bx, by]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
    h, w = size
    x0, y0 = max(int(np.floor(pts[:, 0].min())), 0), max(int(np.floor(pts[:, 1].min())), 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + 1, w), min(int(np.ceil(pts[:, 1].max())) + 1, h)
    return x0, y0, x1, y1
