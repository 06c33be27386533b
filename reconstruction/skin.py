"""Painted skin given the photo's own fine texture at the photo's resolution.

A painted patch of skin (a shut lid, `pipeline.lid_skin`) is smooth at the crop's resolution; laid
over a photo many times larger it would read as airbrushed, and random grain (`overlay.add_grain`)
has no direction, while skin has fine lines. `lay_skin_texture` gives a shut lid's patch the fine
detail of the photo's own skin above that eye (between its crease and brow: `_BAND` eye widths
above the lid line), read 1:1 (never stretched) and copied down the patch column by column (each
copy slid along, fading into the next), so the skin's lines keep their direction and follow the
lid's curve.
"""

from __future__ import annotations

import cv2
import numpy as np

from reconstruction.crop import CropTransform

__all__ = ["MIN_SCALE", "lay_skin_texture"]

#: The skin band whose texture a shut lid takes: from this many eye widths above the photo's lid
#: line (the top of its opening) to the second (the skin between the crease and the brow).
_BAND = (0.45, 0.2)
#: The texture is the photo's detail finer than this many crop pixels (a crop pixel is what the
#: paint resolves), as a ratio to its local mean, kept within these bounds (a hair in the band
#: passes on faintly, not as a dark line).
_FINE = 0.35
_RATIO = (0.85, 1.18)
#: Each copy of the band down the patch is read this many band heights along it (copy k: entry k
#: modulo the length).
_SLIDES = (0.0, 0.45, -0.4, 0.2, -0.5, 0.35)
#: One copy fades into the next over this share of a band's height.
_FADE = 0.3
#: Photo pixels per crop pixel from which the patch is given the photo's texture (below that the
#: paint's own grain, `overlay.add_grain`, is about as fine as the photo's pixels).
MIN_SCALE = 3.0
#: From this coverage on, a patch's fine detail is all the photo's texture.
_FULL = 0.5
#: Coverage below this is no patch (its soft edge's far tail).
_EDGE = 0.02


def lay_skin_texture(
    image: np.ndarray, photo: np.ndarray, transform: CropTransform, skin: np.ndarray, hidden: np.ndarray
) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo with the frame laid over it; changed in place) where the
    (c, c) float32 crop coverage `skin` of painted lid skin shows that skin's smooth colour times
    the fine detail of the (H, W, 3) uint8 `photo`'s own skin above the eye it shuts; hidden: the
    (c, c) float32 photo's eye openings the lids shut (`RenderedFrame.hidden`), whose top row per
    column is the photo's lid line. Unchanged below `MIN_SCALE` photo pixels per crop pixel."""
    scale = 1.0 / transform.scale  # photo pixels per crop pixel
    if scale < MIN_SCALE:
        return image
    inverse = transform.inverse()
    h, w = image.shape[:2]
    shut = hidden > 0.5
    for x, y, bw, bh in _patches(skin > _EDGE):
        eye_cols = np.flatnonzero(shut[:, x : x + bw].any(axis=0))
        if len(eye_cols) < 2:
            continue
        eye_rows = np.flatnonzero(shut[:, x : x + bw].any(axis=1))
        width = float(eye_cols[-1] - eye_cols[0] + 1)  # the eye's, crop pixels
        band = (_BAND[0] - _BAND[1]) * width * scale  # photo pixels
        fade = max(_FADE * band, 1.0)
        # room above the band for the fades' reach and the blur
        top = min(float(y), eye_rows[0] - _BAND[0] * width) - (fade + 3.0 * _FINE * scale) / scale - 1.0
        corners = np.array([[x - 1, top], [x + bw + 1, top], [x - 1, y + bh + 1], [x + bw + 1, y + bh + 1]])
        pts = corners @ inverse[:, :2].T + inverse[:, 2]
        pad = 0.5 * band  # for the copies' slides
        x0, x1 = max(int(pts[:, 0].min() - pad), 0), min(int(np.ceil(pts[:, 0].max() + pad)) + 1, w)
        y0, y1 = max(int(pts[:, 1].min()), 0), min(int(np.ceil(pts[:, 1].max())) + 1, h)
        if x1 - x0 < 4 or y1 - y0 < 4 or band < 2.0:
            continue
        to_crop = transform.matrix.copy()
        to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        size = (x1 - x0, y1 - y0)
        cover = cv2.warpAffine(skin, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
        opening = cv2.warpAffine(hidden, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
        if not (np.any(cover > _EDGE) and np.any(opening > 0.5)):
            continue
        eye = _first_rows(opening > 0.5, 2.0 * scale)  # the photo's lid line per column
        start = _first_rows(cover > _EDGE, 2.0 * scale)  # the patch's top per column
        above = photo[y0:y1, x0:x1].astype(np.float32)  # the photo's own skin, never stretched
        ratio = np.clip(above / np.maximum(cv2.GaussianBlur(above, (0, 0), _FINE * scale), 1.0), *_RATIO)
        texture = _copies(ratio, start, eye - _BAND[0] * width * scale, band, fade)
        patch = image[y0:y1, x0:x1].astype(np.float32)
        smooth = cv2.GaussianBlur(patch, (0, 0), _FINE * scale)
        # (the patch's fine detail replaced from half its coverage on: where the paint is half laid
        # the photo under it is the stretched lid, streaks and all)
        patch += (smooth * texture - patch) * np.minimum(cover / _FULL, 1.0)[..., None]
        image[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    return image


def _copies(
    ratio: np.ndarray, start: np.ndarray, band_top: np.ndarray, period: float, fade: float
) -> np.ndarray:
    """(H, W, 3) the band `ratio[band_top + i]` (0 <= i < period, per column; rows read between
    pixels, so a line in the band stays a smooth line wherever the band and the patch curve
    differently) copied down from row `start` of each column, copy k slid along by `_SLIDES[k]`
    band heights; over a copy's last `fade` rows it fades into the next copy (read `period` rows
    higher: no seam between copies)."""
    rows = np.arange(ratio.shape[0], dtype=np.float32)[:, None]
    cols = np.arange(ratio.shape[1], dtype=np.float32)[None, :]
    depth = np.maximum(rows - start[None, :], 0.0)
    copy = (depth // period).astype(int)
    within = depth - copy * period
    slides = (np.asarray(_SLIDES, np.float32) * period)[copy % len(_SLIDES)]
    next_slides = (np.asarray(_SLIDES, np.float32) * period)[(copy + 1) % len(_SLIDES)]
    source_y = (band_top[None, :] + within).astype(np.float32)
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_REFLECT
    this = cv2.remap(ratio, (cols + slides).astype(np.float32), source_y, flags, borderMode=border)
    following = cv2.remap(
        ratio, (cols + next_slides).astype(np.float32), source_y - period, flags, borderMode=border
    )
    t = np.clip((within - (period - fade)) / fade, 0.0, 1.0)[..., None]
    return this * (1.0 - t) + following * t


def _first_rows(on: np.ndarray, sigma: float) -> np.ndarray:
    """(W,) float: the first marked row of each column of the (H, W) bool `on`, smoothed along the
    columns (Gaussian `sigma`; unmarked columns take their nearest marked neighbour's), so copies
    of the band follow the patch's curve without its pixel-step wobble."""
    rows = np.where(on, np.arange(on.shape[0])[:, None], on.shape[0]).min(axis=0).astype(np.float32)
    marked = np.flatnonzero(rows < on.shape[0])
    rows = np.interp(np.arange(on.shape[1]), marked, rows[marked]).astype(np.float32)
    return cv2.GaussianBlur(rows[None, :], (0, 0), sigmaX=sigma, sigmaY=0)[0]


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
