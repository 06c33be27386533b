"""A painted shut lid cut to a lid's shape, shaded as skin over a rounded eyeball and given the
photo's own skin texture (docs/LID_SHAPE.md, `PreviewSettings.lid_shape`).

`lid_skin.smooth_shut_lids` paints a shut lid where its skin is stretched well beyond twice. Its
strength is one number per eye laid over the opening's columns, so the painted region's sides run
straight up from the lash line; its colour is the photo's lid skin averaged over a few crop pixels,
with no shading; and the photo's texture is laid only on photos much larger than the crop
(`reconstruction.skin.lay_skin_texture`). On photos about as large as the crop the lid is then a flat
disc or box pasted over the eye. `shape_lids` changes the paint's coverage and colour before they
are laid: coverage within an arch from the eye's corners (the ends of its lash line) as high in the
middle as main painted, feathered, never beyond main's; under it the lid (an arc from corner to
corner up to its crease) in the photo's lid tone, lighter in the middle and darker toward the
crease and corners as skin over a ball, and above the lid main's colour; all with the photo's own
fine detail of the skin band above the eye at the crop's resolution, copied 1:1 down the lid
(`reconstruction.skin.band_copies`), not one averaged colour. Off by default: it lost its rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from reconstruction.skin import band_copies

__all__ = ["shape_lids"]

#: The lid's outline rises at most this many eye widths above its edge (a lid's crease, not the brow).
_HEIGHT = 0.3
#: The lid's crease is feathered over this many crop pixels (a soft fold, not a cut).
_CREASE = 2.5
#: Lash line coverage from which a column holds the shut lid's edge.
_LASH = 0.3
#: The ball's bulge (the lid's lightest) lies this share of the lid's height above its edge.
_CENTRE = 0.35
#: The arc's outline is feathered over this many crop pixels.
_FEATHER = 1.5
#: Skin over a ball: the lid's tone (the median of its painted skin between these percentiles of
#: luma), darker toward the outline as the photo's darker lid skin (this percentile, within these
#: shares of the tone).
_TONE = (25.0, 75.0)
_DARK = 15.0
_DARK_RANGE = (0.8, 0.95)
#: The dome's middle is lighter than the tone by this share of the outline's darkening.
_LIGHT = 0.3
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: The dome's extent over the outline's (up and across): the darkest is just outside the paint.
_REACH = 1.4
#: The texture: the photo's detail finer than this many crop pixels (what `lid_colours` averages
#: away) as a ratio to its local mean, kept within these bounds (a hair passes on faintly).
_FINE = 1.0
_RATIO = (0.7, 1.4)
#: Lines running across the band (a crease, the brow's edge) are not the lid's texture: copied down
#: the lid they would repeat as ribs. The detail is divided by its mean along the rows over this
#: many eye widths.
_ALONG = 0.5
#: The skin band whose texture the lid takes: this many eye widths above the photo's lid line to the
#: second (between crease and brow), copied down the lid; one copy fades into the next over `_FADE`.
_BAND = (0.42, 0.18)
_FADE = 0.3


def shape_lids(
    alpha: np.ndarray,
    colour: np.ndarray,
    source: np.ndarray,
    shut: np.ndarray,
    lashes: np.ndarray,
    runs: Sequence[tuple[int, int]],
    origin: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, colour) of painted shut lids, shaped, shaded and textured as lids.

    alpha: (h, w) float32 paint coverage of a box of the crop at `origin` (x0, y0); colour: (h, w, 3)
    float32 the paint's colour there; source: the (H, W, 3) uint8 unedited crop; shut: (h, w) bool,
    the photo's eye openings the lids shut in the box; lashes: (h, w) float32 the lash lines painted
    at the shut lids' edges (`face_paint.paint_lash_line`), whose ends are the eye's corners; runs:
    [start, stop) crop columns of each shut eye. Eyes with no paint are left as they are. Returns new
    arrays; alpha never rises."""
    alpha, colour = alpha.copy(), colour.copy()
    x0, y0 = origin
    h, w = alpha.shape
    ys = np.arange(h, dtype=np.float32)[:, None]
    top = np.where(shut, ys, np.float32(h)).min(axis=0)  # the photo's lid line
    edge = np.where(lashes > _LASH, ys, np.float32(h)).min(axis=0)  # the shut lid's edge
    patch = source[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    ratio = np.clip(patch / np.maximum(cv2.GaussianBlur(patch, (0, 0), _FINE), 1.0), *_RATIO)
    for a, b in runs:
        a, b = a - x0, b - x0
        n = b - a
        middle = slice(a + n // 3, b - n // 3)
        painted = alpha[:, middle] > 0.5
        # the eye's corners: the ends of its lash line (the opening's columns where none is drawn)
        near = np.arange(max(a - n // 3, 0), min(b + n // 3, w))
        drawn = near[edge[near] < h]
        left, right = (int(drawn[0]), int(drawn[-1]) + 1) if len(drawn) >= 4 else (a, b)
        if n < 4 or not painted.any() or not np.any(edge[a:b] < h):
            continue
        cols = np.arange(max(left - 2, 0), min(right + 2, w))
        known = cols[edge[cols] < h]
        lid_edge = np.interp(cols, known, edge[known]).astype(np.float32)
        paint_top = np.where(painted, ys, np.float32(h)).min(axis=0)
        raised = (lid_edge[middle.start - cols[0] : middle.stop - cols[0]] - paint_top)[paint_top < h]
        if len(raised) == 0 or float(np.median(raised)) <= 1.0:
            continue
        reach = float(np.median(raised))  # how far up main painted over the middle
        height = min(reach, _HEIGHT * (right - left))  # the lid's: up to its crease
        half = 0.5 * (right - left)
        t = ((cols - 0.5 * (left + right - 1)) / (half + 0.5)).astype(np.float32)
        # The painted outline: an arch from corner to corner, as high as main painted in the middle
        # (never beyond main's paint); under it the lid, an arc from corner to corner up to its
        # crease, and between them the skin above the lid as main painted it
        outline = lid_edge - reach * np.clip(1.0 - t * t, 0.0, 1.0)
        mask = np.clip(0.5 + (ys - outline[None, :]) / _FEATHER, 0.0, 1.0)
        mask *= np.clip(0.5 + (1.0 - np.abs(t)) * (half + 0.5) / _FEATHER, 0.0, 1.0)[None, :]
        alpha[:, cols] *= mask
        arc = lid_edge - height * np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0))
        lid = np.clip(0.5 + (ys - arc[None, :]) / _CREASE, 0.0, 1.0)
        lid *= np.clip(0.5 + (1.0 - np.abs(t)) * (half + 0.5) / _CREASE, 0.0, 1.0)[None, :]
        region = colour[:, cols]
        tone, dark = _tones(region[(lid > 0.5) & (alpha[:, cols] > 0.5)])
        if tone is None:
            continue
        centre = lid_edge - _CENTRE * (lid_edge - arc)  # the ball's bulge, low on the lid
        up = (centre[None, :] - ys) / np.maximum(_REACH * (centre - arc), 1.0)[None, :]
        down = (ys - centre[None, :]) / np.maximum(_REACH * (lid_edge - centre), 1.0)[None, :]
        v = np.clip(np.maximum(up, down), 0.0, 1.0)
        across = (t / _REACH)[None, :]
        dome = np.sqrt(np.clip(1.0 - across * across - v * v, 0.0, 1.0))
        shade = (dark + (1.0 + _LIGHT * (1.0 - dark) - dark) * dome)[..., None]
        # The photo's own skin detail, copied 1:1 down the lid from the band above the eye
        band = (_BAND[0] - _BAND[1]) * n
        texture = np.ones_like(region)
        if band >= 2.0:
            detail = ratio[:, cols]
            detail = detail / cv2.GaussianBlur(detail, (0, 0), sigmaX=_ALONG * n, sigmaY=0.01)
            line = np.interp(cols, np.arange(a, b), top[a:b]).astype(np.float32)
            texture = band_copies(
                detail, np.maximum(outline, 0.0), line - _BAND[0] * n, band, max(_FADE * band, 1.0)
            )
        colour[:, cols] = (region + (tone * shade - region) * lid[..., None]) * texture
    np.clip(colour, 0.0, 255.0, out=colour)
    alpha[alpha < 0.05] = 0.0
    return alpha, colour


def _tones(pixels: np.ndarray) -> tuple[np.ndarray | None, float]:
    """(tone, dark) of a lid's painted (N, 3) colours: its skin's colour (the median of the pixels
    between the `_TONE` percentiles of luma: no streaks of lashes, no highlights) and how much darker
    its darker skin is (the `_DARK` percentile's luma over the tone's, within `_DARK_RANGE`): the
    shade toward the lid's outline. (None, 1.0) for too few pixels."""
    if len(pixels) < 8:
        return None, 1.0
    luma = pixels @ _LUMA
    low, high = np.percentile(luma, _TONE)
    skin = pixels[(luma >= low) & (luma <= high)]
    tone = np.median(skin, axis=0).astype(np.float32)
    dark = float(np.percentile(luma, _DARK)) / max(float(tone @ _LUMA), 1.0)
    return tone, float(np.clip(dark, *_DARK_RANGE))
