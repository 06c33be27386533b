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

__all__ = ["RING", "lay_skin_texture", "ring_skin", "skin_weight"]

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
_MIN_SCALE = 3.0
#: From this coverage on, a patch's fine detail is all the photo's texture.
_FULL = 0.5
#: Coverage below this is no patch (its soft edge's far tail).
_EDGE = 0.02
#: Matched to the skin around the eye (`lay_skin_texture(..., matched=True)`): the texture is the
#: photo's detail finer than at least this many photo pixels; its ratio is kept within these
#: percentiles of the band's own (or `_RATIO`, whichever is wider),
_MATCHED_FINE = 1.5
_MATCHED_RATIO = (2.0, 98.0)
#: but never beyond these (darker than kohl's edge or lighter than a glint: a band with no skin
#: only shows as stripes copied down the lid)
_MATCHED_CAP = (0.7, 1.4)
#: the band under the eye, from this many eye widths below the lower lid (the second figure: how far
#: below it the patch's box reaches), read instead of the band above where less than `_BAND_SKIN`
#: of that band is the skin around the eye (`skin_weight`) and less than of the band under it, or
#: its fine detail is more than `_BAND_ROUGH` times as strong (a bandana, kohl, a brow, a rim).
_BELOW = (0.12, 0.45)
_BAND_SKIN = 0.7
#: and the patch's outline (coverage below 1) blurred over this many crop pixels (Gaussian sigma).
_OUTLINE = 0.8
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_BAND_ROUGH = 1.6
#: The skin around an eye (`ring_skin`): pixels this many eye widths from its opening, below the
#: line through its corners, within these percentiles of their lightness.
RING = (0.12, 0.4)
_RING_LIGHTNESS = (20, 95)
#: A pixel counts fully as that skin (`skin_weight`) within this many CIELAB units of the ring's
#: a*, b*, and within this many units of its L* darker / lighter (a lid is often shaded); not at
#: all from twice as far.
_HUE = 6.0
_LIGHTNESS = (12.0, 12.0)
#: The texture loses only the detail of what is clearly not that skin (these times as far off):
#: a wrinkle or a print's dots keep theirs, kohl or a bandana do not.
_CLEARLY = 2.0


def lay_skin_texture(
    image: np.ndarray,
    photo: np.ndarray,
    transform: CropTransform,
    skin: np.ndarray,
    hidden: np.ndarray,
    matched: bool = False,
) -> np.ndarray:
    """`image` ((H, W, 3) uint8, the photo with the frame laid over it; changed in place) where the
    (c, c) float32 crop coverage `skin` of painted lid skin shows that skin's smooth colour times
    the fine detail of the (H, W, 3) uint8 `photo`'s own skin above the eye it shuts; hidden: the
    (c, c) float32 photo's eye openings the lids shut (`RenderedFrame.hidden`), whose top row per
    column is the photo's lid line. Unchanged below `_MIN_SCALE` photo pixels per crop pixel.

    matched: the lid's skin matches the skin around the eye (docs/SHUT_LIDS.md, "Lids that match
    their skin"): at any scale, detail finer than `_MATCHED_FINE` photo pixels at least (the
    paint's colour is smooth over a crop pixel or two, whatever the scale), as strong as the band's
    own (`_MATCHED_RATIO` percentiles), from half the coverage `_FULL` on (the patch's outline
    carries the texture too), and read from under the eye (`_BELOW`) where the band above is not
    skin like it (`_skin_band`)."""
    scale = 1.0 / transform.scale  # photo pixels per crop pixel
    if scale < _MIN_SCALE and not matched:
        return image
    fine = max(_FINE * scale, _MATCHED_FINE) if matched else _FINE * scale  # photo pixels
    full = 0.5 * _FULL if matched else _FULL
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
        top = min(float(y), eye_rows[0] - _BAND[0] * width) - (fade + 3.0 * fine) / scale - 1.0
        bottom = max(y + bh, eye_rows[-1] + _BELOW[1] * width + 3.0 * fine / scale) if matched else y + bh
        corners = np.array([[x - 1, top], [x + bw + 1, top], [x - 1, bottom + 1], [x + bw + 1, bottom + 1]])
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
        if matched:  # the detail of the photo's lightness only: the lid's colour is the paint's
            luma = above @ _LUMA
            ratio = np.repeat((luma / np.maximum(cv2.GaussianBlur(luma, (0, 0), fine), 1.0))[..., None], 3, 2)
        else:
            ratio = above / np.maximum(cv2.GaussianBlur(above, (0, 0), fine), 1.0)
        band_top = eye - _BAND[0] * width * scale
        if matched:
            low = (opening.shape[0] - 1) - _first_rows((opening > 0.5)[::-1], 2.0 * scale)  # lower lid
            lid = image[y0:y1, x0:x1][cover > 0.9]  # the painted lid: the colour of the skin around the eye
            ratio, band_top = _skin_detail(
                above, ratio, lid, opening > 0.5, (band_top, low + _BELOW[0] * width * scale), band, fine
            )
        else:
            ratio = np.clip(ratio, *_RATIO)
        texture = _copies(ratio, start, band_top, band, fade)
        patch = image[y0:y1, x0:x1].astype(np.float32)
        smooth = cv2.GaussianBlur(patch, (0, 0), fine)
        if matched:  # the painted outline as soft as a crop pixel or two of the photo, not a sticker's
            wide = cv2.GaussianBlur(patch, (0, 0), max(fine, _OUTLINE * scale))
            smooth = wide + (smooth - wide) * np.clip(2.0 * cover - 1.0, 0.0, 1.0)[..., None]
        # (the patch's fine detail replaced from half its coverage on: where the paint is half laid
        # the photo under it is the stretched lid, streaks and all)
        patch += (smooth * texture - patch) * np.minimum(cover / full, 1.0)[..., None]
        image[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    return image


def _skin_detail(
    above: np.ndarray,
    ratio: np.ndarray,
    lid: np.ndarray,
    eye: np.ndarray,
    tops: tuple[np.ndarray, np.ndarray],
    band: float,
    fine: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(ratio, band top per column) of the skin that a lid matched to the skin around its eye takes
    its texture from: the (H, W, 3) fine-detail `ratio` of the (H, W, 3) float32 photo region
    `above` without the detail of what is clearly not skin of the painted lid's colour (`lid`:
    (N, 3) its pixels; `_CLEARLY`), from the band above the eye or, where that is not skin
    (`_skin_band`), the one under it (`tops`: each band's top row per column; `eye`: (H, W) bool,
    the opening); its median 1 (the texture leaves the lid's colour), kept within
    `_MATCHED_RATIO` percentiles of the band's own (or `_RATIO`) but never beyond `_MATCHED_CAP`."""
    if len(lid) >= 16:
        # (the neighbourhood's colour: a pore, a print's dot or a wrinkle keeps its detail)
        near = cv2.GaussianBlur(above, (0, 0), 2.0 * fine)
        weight = skin_weight(near, np.median(lid, axis=0), _CLEARLY)
        ratio = 1.0 + (ratio - 1.0) * weight[..., None]
    else:
        weight = np.ones(ratio.shape[:2], np.float32)
    band_top = tops[0] if _skin_band(weight, ratio, *tops, band, eye) else tops[1]
    rows = np.arange(ratio.shape[0], dtype=np.float32)[:, None]
    inside = (rows >= band_top[None, :]) & (rows < band_top[None, :] + band) & eye.any(axis=0)[None, :]
    if inside.sum() < 16:
        return np.clip(ratio, *_RATIO), band_top
    ratio = ratio / np.median(ratio[inside], axis=0)
    spread = np.percentile(ratio[inside], _MATCHED_RATIO, axis=0)  # (2, 3)
    low, high = float(spread[0].min()), float(spread[1].max())
    bounds = (min(_RATIO[0], max(low, _MATCHED_CAP[0])), max(_RATIO[1], min(high, _MATCHED_CAP[1])))
    return np.clip(ratio, *bounds), band_top


def _skin_band(
    weight: np.ndarray, ratio: np.ndarray, above: np.ndarray, below: np.ndarray, band: float, eye: np.ndarray
) -> bool:
    """Whether the band above the eye (rows `above` + [0, band) per column, in the eye's columns:
    those of the (H, W) bool `eye`) is skin like that around the eye: at least `_BAND_SKIN` of it
    by `weight` ((H, W), `skin_weight`), as much as the band under it (from `below`) less 0.1, and
    its fine detail (`ratio`'s robust spread) at most `_BAND_ROUGH` times the lower band's. A
    bandana, kohl, a brow or a glasses' rim in the band above is not."""
    rows = np.arange(weight.shape[0], dtype=np.float32)[:, None]
    cols = eye.any(axis=0)[None, :]
    upper = (rows >= above[None, :]) & (rows < above[None, :] + band) & cols
    lower = (rows >= below[None, :]) & (rows < below[None, :] + band) & cols
    if upper.sum() < 16 or lower.sum() < 16:
        return True
    luma = ratio.mean(axis=2)

    def spread(mask: np.ndarray) -> float:
        values = luma[mask]
        return float(np.median(np.abs(values - np.median(values))))

    skin_above, skin_below = float(weight[upper].mean()), float(weight[lower].mean())
    rough = spread(upper) <= _BAND_ROUGH * max(spread(lower), 1e-4)
    return rough and (skin_above >= _BAND_SKIN or skin_above >= skin_below - 0.1)


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


def ring_skin(image: np.ndarray, opening: np.ndarray, width: float) -> np.ndarray | None:
    """(3,) float32 RGB (0-255): the median colour (CIELAB) of the skin around an eye of the
    (H, W, 3) `image` whose opening is the (H, W) bool `opening`, `width` pixels wide: the pixels
    `RING` eye widths from the opening, below the line through its corners (its first and last
    columns' middles: under the eye and beside it, never brow, hair or a hat), within
    `_RING_LIGHTNESS` percentiles of their lightness (no lashes, liner, speculars); None when the
    ring holds fewer than 8 pixels."""
    cols = np.flatnonzero(opening.any(axis=0))
    if len(cols) < 2 or width <= 0.0:
        return None
    ends = [float(np.flatnonzero(opening[:, c]).mean()) for c in (cols[0], cols[-1])]
    xs = np.arange(opening.shape[1], dtype=np.float64)[None, :]
    ys = np.arange(opening.shape[0], dtype=np.float64)[:, None]
    line = ends[0] + (ends[1] - ends[0]) * (xs - cols[0]) / max(float(cols[-1] - cols[0]), 1.0)
    distance = cv2.distanceTransform((~opening).astype(np.uint8), cv2.DIST_L2, 5) / width
    ring = (distance >= RING[0]) & (distance <= RING[1]) & (ys >= line)
    if ring.sum() < 8:
        return None
    lab = _lab(image)[ring]
    low, high = np.percentile(lab[:, 0], _RING_LIGHTNESS)
    median = np.median(lab[(lab[:, 0] >= low) & (lab[:, 0] <= high)], axis=0).astype(np.float32)
    return cv2.cvtColor(median[None, None], cv2.COLOR_LAB2RGB)[0, 0] * 255.0


def skin_weight(region: np.ndarray, skin: np.ndarray, loose: float = 1.0) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how much each pixel of the (H, W, 3) RGB `region` (0-255) is the
    skin of colour `skin` (3,): 1 within `_HUE` CIELAB units of its a*, b* and within `_LIGHTNESS`
    of its L* (each times `loose`), falling to 0 over as much again beyond."""
    lab = _lab(region)
    ref = _lab(np.asarray(skin, np.float32)[None, None])[0, 0]
    hue = np.hypot(lab[..., 1] - ref[1], lab[..., 2] - ref[2]) / loose
    darker, lighter = (loose * t for t in _LIGHTNESS)
    light = np.where(lab[..., 0] < ref[0], (ref[0] - lab[..., 0]) / darker, (lab[..., 0] - ref[0]) / lighter)
    return (np.clip(2.0 - hue / _HUE, 0.0, 1.0) * np.clip(2.0 - light, 0.0, 1.0)).astype(np.float32)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L* 0-100) of RGB 0-255."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, np.float32) / 255.0, cv2.COLOR_RGB2LAB)
