"""Painted layers matched to the photo's own degradation: tone range, colour cast, grain, sharpness.

The geometric renderer paints an opened mouth (cavity, tongue, teeth) and a shut lid's lash line in
clean, full-range colours. On a small, grainy, faded photo (a face smaller than the 256 px crop,
a face spanning a fraction of the grey levels, a colour cast) that paint reads as a cartoon: pure
black and white in a face of greys, clean in a grainy face, crisper than anything around it.
docs/PAINT_SOFTNESS.md softens paint only where the photo's sharpest edges read blurred, and on a
grainy photo the grain reads sharp. This module matches the paint to what it is laid in
(docs/PAINT_MATCH.md):

- tone (`PaintMatch.tone`): on a face spanning few grey levels (a faded or flat photo; in
  proportion as its luma's 1st to 99th percentile span falls under `_SPAN_OFF`, a full-range photo's
  paint is left as it is), the paint's luma range mapped onto the face's, widened by `_REACH` of
  it either side (a large dark cavity may be a little darker than the face's small dark features,
  which the photo's blur lifts; the clean photos' paint reaches as far past their faces' range),
  its colour faded alike (by the square root of the range's ratio) and the photo's colour cast
  (grey-world: the image's mean colour off its mean luma, at most `_MAX_CAST` levels) added;
- sharpness (`matched_blur`): on a small face (a crop pixel covers under `SMALL_FACE` photo
  pixels: the paint is drawn finer than the photo) at least as soft as the softer of the photo's
  lids' and lips' edges (`softness.lid_spread`, `lip_spread`; at that scale their margins are
  sharper than the photo's pixels, so their spread is the camera's and the resampling's blur),
  whatever the grain makes the sharpness gate read;
- grain (`add_photo_grain`): on a small face (where `overlay.add_grain` adds none), grain with the
  per-channel strength and colour correlation of the photo's own fine residual just outside the
  paint, and its grain size (`_GRAIN_SIZES`), weaker on darker paint, from a fixed seed (a still edit is reproducible, a
  video's grain does not flicker).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from reconstruction.softness import lid_spread, lip_spread

__all__ = [
    "PaintMatch",
    "measure_paint_match",
    "matched_blur",
    "add_photo_grain",
    "match_layer",
    "SMALL_FACE",
]

#: Photo pixels per crop pixel under which the face counts as small (the paint drawn finer than the
#: photo): `overlay.add_grain` works from here up.
SMALL_FACE = 1.5
#: Face luma span (1st to 99th percentile) from which the paint's tone is left as it is, and up to
#: which it is fully mapped into the face's range; in proportion between.
_SPAN_OFF, _SPAN_ON = 140.0, 90.0
#: Percentiles of the face taken as its black and white points.
_BLACK, _WHITE = 1.0, 99.0
#: The paint's range reaches this fraction of the face's span past its black and white points.
_REACH = 0.15
#: The largest colour cast (grey levels per channel) carried over to the paint.
_MAX_CAST = 20.0
#: At most this many face pixels are read for the percentiles (a 12 Mpx portrait is subsampled).
_MAX_PIXELS = 60_000
#: Sigma (pixels) of the Gaussian whose residual is the fine grain measured and matched.
_FINE = 1.0
#: The ring where the photo's grain is measured: from this many pixels outside the paint (past the
#: lips' edge next to it) to this many more; there, the flatter half (`_flat_ring`).
_RING_GAP, _RING = 2, 6
#: Candidate grain sizes (sigma of the Gaussian blurring white noise, pixels).
_GRAIN_SIZES = (0.0, 0.5, 0.8, 1.2)
#: Paint darker than the ring around it gets grain weaker in proportion, down to this fraction.
_DARK_GAIN = 0.2
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class PaintMatch:
    """What painted layers are matched to on one photo (`measure_paint_match`).

    lid_sigma: the larger 10-90 % edge spread of the lids' and the lips' as a Gaussian sigma
    (pixels; NaN when not measured);
    black, white: the luma the paint's 0 and 255 map to; cast: (3,) RGB offset of the photo's
    colour cast; tone: weight in [0, 1] of the tone map (0: the paint's tone kept).
    """

    lid_sigma: float
    black: float
    white: float
    cast: tuple[float, float, float]
    tone: float

    def scaled(self, scale: float) -> PaintMatch:
        """The same photo shown `scale` times its size (a canvas): its lids' spread in those pixels."""
        return replace(self, lid_sigma=self.lid_sigma * scale)

    def map_tone(self, colour: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 paint in the photo's tone range and cast (unchanged when `tone` is 0)."""
        if self.tone <= 0.0:
            return colour
        image = colour.astype(np.float32)
        luma = image @ _LUMA
        contrast = (self.white - self.black) / 255.0
        fade = 1.0 + self.tone * (np.sqrt(contrast) - 1.0)
        mapped = luma + self.tone * (self.black + contrast * luma - luma)
        offset = self.tone * np.asarray(self.cast, np.float32)
        out = mapped[:, :, None] + fade * (image - luma[:, :, None]) + offset
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def measure_paint_match(image: np.ndarray, landmarks: np.ndarray) -> PaintMatch | None:
    """The (H, W, 3) uint8 RGB photo's face range and lids' spread; None when the landmarks
    ((478, >= 2) face-mesh points, photo pixels) do not show the face."""
    points = np.asarray(landmarks, np.float64).reshape(len(landmarks), -1)[:, :2]
    if points.shape[0] < 3 or not np.all(np.isfinite(points)):
        return None
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    pixels = image[mask > 0]
    if len(pixels) < 64:
        return None
    pixels = pixels[:: max(len(pixels) // _MAX_PIXELS, 1)].astype(np.float32)
    lo, hi = (float(v) for v in np.percentile(pixels @ _LUMA, [_BLACK, _WHITE]))
    tone = float(np.clip((_SPAN_OFF - (hi - lo)) / (_SPAN_OFF - _SPAN_ON), 0.0, 1.0))
    mean = (
        image[:: max(image.shape[0] // 256, 1), :: max(image.shape[1] // 256, 1)].reshape(-1, 3).mean(axis=0)
    )
    cast = np.clip(mean - float(mean @ _LUMA), -_MAX_CAST, _MAX_CAST)
    spreads = [lid_spread(image, points), lip_spread(image, points)] if points.shape[0] >= 478 else []
    spread = float(np.nanmax(spreads)) if np.isfinite(spreads).any() else float("nan")
    black, white = max(lo - _REACH * (hi - lo), 0.0), min(hi + _REACH * (hi - lo), 255.0)
    return PaintMatch(spread / 2.563, black, white, (float(cast[0]), float(cast[1]), float(cast[2])), tone)


def matched_blur(blur: float, scale: float, match: PaintMatch) -> float:
    """The paint's blur (Gaussian sigma, pixels) given the photo's measured `blur`: on a small face
    (`scale` photo pixels per crop pixel under `SMALL_FACE`) at least the lids' or lips' own."""
    if scale >= SMALL_FACE or not np.isfinite(match.lid_sigma):
        return blur
    return max(blur, match.lid_sigma)


def _grain_field(rng: np.random.Generator, shape: tuple[int, ...], size: float) -> np.ndarray:
    """Unit-variance noise of `shape` ((h, w) or (h, w, 3) independent channels): white noise
    blurred by `size` pixels."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    if size > 0.0:
        noise = cv2.GaussianBlur(noise, (0, 0), size)
    spread = cv2.meanStdDev(noise)[1][:, 0].astype(np.float32)  # per channel
    return noise / np.maximum(spread if len(shape) == 3 else spread[0], 1e-6)


@lru_cache(maxsize=8)
def _fine_residuals(size: float) -> tuple[float, float]:
    """Sigma of unit-variance noise of grain `size`'s residual finer than `_FINE` and the median of
    its residual finer than half that over the median of the first (a coarser grain loses more of
    its finest residual)."""
    noise = _grain_field(np.random.default_rng(1), (96, 96), size)
    finer = noise - cv2.GaussianBlur(noise, (0, 0), 0.5 * _FINE)
    fine = noise - cv2.GaussianBlur(noise, (0, 0), _FINE)
    return float(fine.std()), float(np.median(np.abs(finer)) / np.median(np.abs(fine)))


def _median(values: np.ndarray) -> np.ndarray:
    """Median along the first axis (the lower middle one of an even count): numpy's without its overhead."""
    k = (len(values) - 1) // 2
    return np.partition(values, k, axis=0)[k]


def _grain_size(luma: np.ndarray, fine: np.ndarray, ring: np.ndarray) -> float:
    """The candidate grain size (`_GRAIN_SIZES`) whose finest residual over its fine one (the photo's
    `fine` luma residual) is nearest the photo's, in the `ring`."""
    finer = (luma - cv2.GaussianBlur(luma, (0, 0), 0.5 * _FINE))[ring]
    ratio = float(_median(np.abs(finer)) / max(float(_median(np.abs(fine[ring]))), 1e-6))
    return min(_GRAIN_SIZES, key=lambda size: abs(_fine_residuals(size)[1] - ratio))


def _flat_ring(luma: np.ndarray, cover: np.ndarray) -> np.ndarray | None:
    """(H, W) bool: the flatter half (smoothed gradient under its median) of a ring `_RING_GAP` to
    `_RING_GAP + _RING` pixels outside the (H, W) `cover`: skin, not the lips' edges, whose
    fine residual is the grain's; None when too few pixels to tell."""
    inside = (cover > 0.0).astype(np.uint8)
    near = cv2.dilate(inside, None, iterations=_RING_GAP)
    ring = (cv2.dilate(near, None, iterations=_RING) > 0) & (near == 0)
    if ring.sum() < 48:
        return None
    smooth = cv2.GaussianBlur(luma, (0, 0), 1.5)
    slope = np.abs(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=1)) + np.abs(
        cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=1)
    )
    return ring & (slope <= _median(slope[ring]))


def add_photo_grain(colour: np.ndarray, photo: np.ndarray, cover: np.ndarray, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 `colour` (the paint) with grain as strong, as coarse and as coloured as the
    (H, W, 3) uint8 `photo`'s own fine residual in a ring just outside the (H, W) float32 `cover`
    (`_flat_ring`; robust per-channel sigma, their correlation from the pixels within 2.5 of them),
    weaker where the paint is darker than the ring (as `overlay.add_grain`: the photos' flat dark
    parts show less grain than their skin, a dark cavity less than the skin around it); `colour`
    unchanged when the ring is too small to tell."""
    image = photo.astype(np.float32)
    luma = image @ _LUMA
    ring = _flat_ring(luma, cover)
    if ring is None:
        return colour
    residual = image - cv2.GaussianBlur(image, (0, 0), _FINE)
    values = residual[ring]
    centre = _median(values)
    sigma = 1.4826 * _median(np.abs(values - centre))
    kept = values[np.all(np.abs(values - centre) <= 2.5 * np.maximum(sigma, 1e-3), axis=1)]
    correlation = np.eye(3, dtype=np.float32)
    if len(kept) >= 24:
        kept = kept - kept.mean(axis=0)
        covariance = kept.T @ kept
        scale = 1.0 / np.sqrt(np.maximum(np.diag(covariance), 1e-6))
        correlation = covariance * scale[:, None] * scale[None, :]
    np.fill_diagonal(correlation, 1.0 + 1e-3)
    size = _grain_size(luma, residual @ _LUMA, ring)
    mix = np.linalg.cholesky(correlation) * (sigma / _fine_residuals(size)[0])[:, None]
    fields = _grain_field(np.random.default_rng(seed), (*cover.shape, 3), size)
    grain = cv2.transform(fields, mix.astype(np.float32))  # each pixel's three fields mixed
    paint = colour.astype(np.float32)
    gain = np.clip((paint @ _LUMA) / max(float(luma[ring].mean()), 1.0), _DARK_GAIN, 1.0)
    return np.clip(paint + grain * gain[:, :, None] + 0.5, 0, 255).astype(np.uint8)


def match_layer(
    colour: np.ndarray, photo: np.ndarray, cover: np.ndarray, scale: float, match: PaintMatch
) -> np.ndarray:
    """(H, W, 3) uint8 paint `colour` (coverage `cover`, laid over the (H, W, 3) uint8 `photo` at
    `scale` photo pixels per crop pixel) in the face's tone range and, on a small face, with its grain."""
    colour = match.map_tone(colour)
    if scale < SMALL_FACE:
        colour = add_photo_grain(colour, photo, cover)
    return colour
