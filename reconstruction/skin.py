"""Painted skin given the photo's own fine texture at the photo's resolution.

A painted patch of skin (a shut lid, `pipeline.lid_skin`) is smooth at the crop's resolution; laid
over a photo many times larger it would read as airbrushed, and random grain (`overlay.add_grain`)
has no direction, while skin has fine lines. `lay_skin_texture` gives the patch the fine detail of
the photo's own skin right above it, read 1:1 (never stretched): copied down from the patch's top
edge, column by column (each copy slid along), so the skin's lines keep their direction and follow
the lid's curve.
"""

from __future__ import annotations

import cv2
import numpy as np

from reconstruction.crop import CropTransform

__all__ = ["lay_skin_texture"]

#: The skin band read above a patch is this many of the patch's widths high.
_BAND = 0.2
#: The texture is the photo's detail finer than this many crop pixels (a crop pixel is what the
#: paint resolves), as a ratio to its local mean, kept within these bounds (a hair in the band
#: passes on faintly, not as a dark line).
_FINE = 0.35
_RATIO = (0.8, 1.25)
#: Each copy of the band down the patch is read this many band heights along it (copy k: entry k
#: modulo the length).
_SLIDES = (0.0, 0.45, -0.4, 0.2, -0.5, 0.35)
#: Photo pixels per crop pixel from which the patch is given the photo's texture (below that the
#: paint's own grain, `overlay.add_grain`, is about as fine as the photo's pixels).
_MIN_SCALE = 3.0
#: Coverage below this is no patch (its soft edge's far tail).
_EDGE = 0.02


def lay_skin_texture(
    image: np.ndarray, photo: np.ndarray, transform: CropTransform, skin: np.ndarray
) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo with the frame laid over it; changed in place) where the
    (c, c) float32 crop coverage `skin` of painted skin shows that skin's smooth colour times the
    fine detail of the (H, W, 3) uint8 `photo`'s own skin above it (`_BAND` of each patch's width, copied down at 1:1);
    unchanged below `_MIN_SCALE` photo pixels per crop pixel."""
    scale = 1.0 / transform.scale  # photo pixels per crop pixel
    if scale < _MIN_SCALE:
        return image
    out = image
    inverse = transform.inverse()
    h, w = image.shape[:2]
    for x, y, bw, bh in _patches(skin > _EDGE):
        band = max(_BAND * bw * scale, 2.0)  # photo pixels
        corners = np.array(
            [[x - 1, y - 1], [x + bw + 1, y - 1], [x - 1, y + bh + 1], [x + bw + 1, y + bh + 1]]
        )
        pts = corners @ inverse[:, :2].T + inverse[:, 2]
        x0, x1 = (
            max(int(pts[:, 0].min() - 0.5 * band), 0),
            min(int(np.ceil(pts[:, 0].max() + 0.5 * band)) + 1, w),
        )
        y0, y1 = max(int(pts[:, 1].min() - band) - 2, 0), min(int(np.ceil(pts[:, 1].max())) + 1, h)
        if x1 - x0 < 2 or y1 - y0 < 4:
            continue
        to_crop = transform.matrix.copy()
        to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        cover = cv2.warpAffine(skin, to_crop, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT)
        on = cover > _EDGE
        if not on.any():
            continue
        patch = out[y0:y1, x0:x1].astype(np.float32)
        smooth = cv2.GaussianBlur(patch, (0, 0), _FINE * scale)
        skin_above = photo[y0:y1, x0:x1].astype(np.float32)  # the photo's own, never stretched
        ratio = np.clip(
            skin_above / np.maximum(cv2.GaussianBlur(skin_above, (0, 0), _FINE * scale), 1.0), *_RATIO
        )
        rows = np.arange(y1 - y0)[:, None]
        top = np.where(on, rows, y1 - y0).min(axis=0)  # the patch's top row per column
        period = max(int(round(band)), 1)
        copy = np.maximum(rows - top[None, :], 0) // period + 1  # which copy of the band, downwards
        source_y = np.clip(rows - copy * period, 0, y1 - y0 - 1)
        # Each copy slid along the lid (a copy straight below the last would repeat its pattern
        # down a column), back and forth so it stays within the box (no mirrored pattern at its sides).
        slide = np.round(np.asarray(_SLIDES) * period).astype(int)[copy % len(_SLIDES)]
        source_x = np.clip(np.arange(x1 - x0)[None, :] + slide, 0, x1 - x0 - 1)
        texture = ratio[source_y, source_x]
        m = cover[..., None]
        patch += (smooth * texture - patch) * m
        out[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    return out


def _patches(on: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of the runs of columns of the (c, c) bool `on` that hold a marked
    pixel (patches side by side, such as two shut lids), each with the rows its columns mark."""
    cols = np.flatnonzero(on.any(axis=0))
    if len(cols) == 0:
        return []
    cuts = np.flatnonzero(np.diff(cols) > 1)
    boxes = []
    for a, b in zip(np.r_[0, cuts + 1], np.r_[cuts, len(cols) - 1], strict=True):
        x0, x1 = int(cols[a]), int(cols[b]) + 1
        rows = np.flatnonzero(on[:, x0:x1].any(axis=1))
        boxes.append((x0, int(rows[0]), x1 - x0, int(rows[-1]) - int(rows[0]) + 1))
    return boxes
