"""A band the flow squeezes, its reads averaged over what each output pixel covers (docs/LOWER_LIP.md).

The photo is moved by point sampling at its own resolution (`reconstruction.crop.warp_photo`).
Where the flow squeezes it several times down a column (an opened mouth's lower lip dropped onto a
chin the face model holds still: 3-5 photo rows per output row), an output pixel shows the one
photo row its read hits; the rows it skips (a shadow, a highlight) come out as thin dark and pale
lines that wander with the squeeze from column to column. `lay_squeezed` gives such pixels the
mean of the photo over their footprint (the read's Jacobian applied to the output pixel: a
prefiltered minification), on the moved photo only (the overlay laid over it and the layer behind
it keep their share). `squeezed_band` says where, on the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reconstruction.crop import CropTransform

__all__ = ["SqueezedBand", "lay_squeezed", "squeezed_band"]

#: Photo rows per output row from which the reads are averaged in full; from `_RAMP` less they
#: fade in (a squeeze under 1.5 leaves no visible lines).
_SQUEEZED = 2.25
_RAMP = 0.75
#: The flow is smoothed by this many crop pixels before its slope is taken (a mesh's triangles
#: give it steps); the weight is softened by as much (no outline of a patch).
_SMOOTH = 1.0
#: Weight below this is no band.
_EDGE = 0.03
#: At most this many samples along each side of the footprint.
_SAMPLES = 7


@dataclass(frozen=True)
class SqueezedBand:
    """Where a frame squeezes the photo: weight (c, c) float32 in [0, 1] on the output crop, and
    the slope of the reads (c, c, 2, 2) float32 there (d read / d (x, y), crop pixels)."""

    weight: np.ndarray
    slope: np.ndarray


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
    pad = int(3 * _SMOOTH) + 2
    bx0, by0, bx1, by1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, c), min(y1 + pad, c)
    part = cv2.GaussianBlur(flow[by0:by1, bx0:bx1], (0, 0), _SMOOTH)
    (fx_y, fx_x), (fy_y, fy_x) = np.gradient(part[..., 0]), np.gradient(part[..., 1])
    slope = np.empty((*part.shape[:2], 2, 2), np.float32)  # [.., read's x / y, along x / y]
    slope[..., 0, 0], slope[..., 0, 1] = 1.0 + fx_x, fx_y
    slope[..., 1, 0], slope[..., 1, 1] = fy_x, 1.0 + fy_y
    # the footprint's longer side: photo pixels covered per output pixel
    stretch = np.maximum(
        np.hypot(slope[..., 0, 0], slope[..., 1, 0]), np.hypot(slope[..., 0, 1], slope[..., 1, 1])
    )
    weight = np.zeros((c, c), np.float32)
    inner = (slice(y0 - by0, y1 - by0), slice(x0 - bx0, x1 - bx0))
    weight[y0:y1, x0:x1] = np.clip((stretch[inner] - (_SQUEEZED - _RAMP)) / _RAMP, 0.0, 1.0)
    if weight.max() <= _EDGE:
        return None
    weight = np.clip(1.5 * cv2.GaussianBlur(weight, (0, 0), _SMOOTH), 0.0, 1.0)
    if keep is not None:
        weight *= keep
    weight[weight < _EDGE] = 0.0
    full = np.zeros((c, c, 2, 2), np.float32)
    full[..., 0, 0] = full[..., 1, 1] = 1.0
    full[by0:by1, bx0:bx1] = slope
    return SqueezedBand(weight, full) if weight.max() > 0.0 else None


def lay_squeezed(
    image: np.ndarray, photo: np.ndarray, transform: CropTransform, flow: np.ndarray, band: SqueezedBand
) -> np.ndarray:
    """`image` ((H, W, 3) uint8: the (H, W, 3) uint8 `photo` moved along the (c, c, 2) crop `flow`;
    changed in place) where `band` marks it: each pixel's single read replaced by the mean of the
    photo over its footprint, in the share `band.weight` (`lay_squeezed`'s module docstring)."""
    on = band.weight > 0.0
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:
        return image
    inverse = transform.inverse()
    h, w = image.shape[:2]
    x0, y0, x1, y1 = _photo_box((cols[0] - 1, rows[0] - 1, cols[-1] + 1, rows[-1] + 1), inverse, (h, w))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return image
    to_crop = transform.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)  # region pixel -> crop pixel
    flags, size = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, (x1 - x0, y1 - y0)
    weight = cv2.warpAffine(band.weight, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    if float(weight.max()) <= _EDGE:
        return image
    # each region pixel's read in the photo: p + L^-1 f(A p), as `warp_photo` moved it
    shift = cv2.warpAffine(flow, to_crop, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    shift = cv2.transform(shift, inverse * [1.0, 1.0, 0.0])
    reads_x = shift[..., 0] + np.arange(x0, x1, dtype=np.float32)[None, :]
    reads_y = shift[..., 1] + np.arange(y0, y1, dtype=np.float32)[:, None]
    # the footprint in the photo: R^T J R for the crop's slope J and the transform's rotation R
    slope = cv2.warpAffine(
        band.slope.reshape(*band.slope.shape[:2], 4),
        to_crop,
        size,
        flags=flags,
        borderMode=cv2.BORDER_REPLICATE,
    ).reshape(size[1], size[0], 2, 2)
    rotation = transform.matrix[:, :2] * transform.scale**-1
    footprint = np.einsum("ji,...jk,kl->...il", rotation, slope, rotation).astype(np.float32)
    sides = np.hypot(footprint[..., 0, :], footprint[..., 1, :])  # (.., 2): along x, along y
    counts = [int(np.clip(round(float(np.max(sides[..., k][weight > 0.0]))), 1, _SAMPLES)) for k in (0, 1)]
    total = np.zeros((*size[::-1], 3), np.float32)
    for a in _offsets(counts[0]):
        for b in _offsets(counts[1]):
            mx = reads_x + a * footprint[..., 0, 0] + b * footprint[..., 0, 1]
            my = reads_y + a * footprint[..., 1, 0] + b * footprint[..., 1, 1]
            total += cv2.remap(photo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mean = total / float(counts[0] * counts[1])
    single = cv2.remap(photo, reads_x, reads_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    region = image[y0:y1, x0:x1].astype(np.float32)
    region += weight[:, :, None] * (mean - single.astype(np.float32))
    image[y0:y1, x0:x1] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return image


def _offsets(count: int) -> np.ndarray:
    """`count` sample positions spread evenly over a footprint side (-0.5 .. 0.5, centred)."""
    return (np.arange(count, dtype=np.float32) + 0.5) / count - 0.5


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
