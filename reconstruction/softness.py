"""How soft a photo is around the face, so that what the renderer paints can be laid on as soft.

The geometric renderer paints what the photo never showed (an opened mouth's cavity and teeth, a
shut lid's lash line) with an edge of about a photo pixel (`overlay.edge_feather`). On a blurred
or upscaled photo that paint reads as a sticker. `photo_blur` measures, once per photo, how soft
the paint should be (a Gaussian sigma, photo pixels), in two steps:

- whether the photo is blurred at all: the blur of its sharpest edges around the eyes and the
  mouth, by the re-blur gradient ratio (S. Zhuo, T. Sim, "Defocus map estimation from a single
  image", Pattern Recognition 2011; `sharpest_blur`): an edge blurred by sigma has, at its
  centre, a gradient sqrt(sigma^2 + s0^2) / sigma times that of the same edge blurred again by
  s0. Taken at the gradient's strong local maxima, median over the eyes' and the mouth's regions.
  The sharp photos tried measure 0-0.61 px (their sampling taken out), blurred or upscaled
  ones 1.8-2.9 px; under `_BLUR_OFF` the paint is left exactly as it is;
- how soft its own comparable edges are: the 10-90 % spread of the lids' edges (`lid_spread`,
  profiles across the face-mesh lid contours, `edge_spread`), as a Gaussian sigma (/ 2.563). A
  lid's margin is itself a little round, so this is softer than the camera's blur alone: what a
  painted lid's lash line or a mouth's inner edge would show in this photo.

`overlay.lay_overlay` then softens the paint by what that sigma exceeds the paint's own edge
(`paint_extra_blur`), with its colour premultiplied (`soften_layer`). docs/PAINT_SOFTNESS.md has
the figures.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.errors import InputError
from core.images import LUMA as _LUMA

__all__ = [
    "photo_blur",
    "sharpest_blur",
    "lid_spread",
    "closed_normals",
    "edge_spread",
    "paint_extra_blur",
    "soften_layer",
    "EYE_POINTS",
    "MOUTH_POINTS",
    "LID_CONTOURS",
    "MIN_EXTRA_BLUR",
]

#: MediaPipe face-mesh points of each eye (corners and lids) and of the mouth (corners, lips' outer
#: and inner middle), and how far around their box (in box widths) the edges are looked at.
EYE_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
MOUTH_POINTS = (61, 291, 0, 17, 13, 14)
_PADS = (0.5, 0.5, 0.3)
#: Each eye's closed contour (upper lid from the outer corner, lower lid back) on the face mesh.
LID_CONTOURS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382),
)
#: The lid profiles reach this fraction of the eye's width (corner to corner) either side.
_LID_REACH = 0.2
#: The second blur of the gradient ratio (photo pixels): large enough to tell 2-4 px blurs apart.
_S0 = 2.5
#: An edge counts when its gradient is at least this fraction of the region's 99.5th percentile.
_STRONG = 0.4
#: What a perfectly sharp edge measures (its sampling), photo pixels.
_SAMPLING = 0.5
#: Sharpest-edge blur (photo pixels) up to which the photo counts as sharp (paint unchanged), and
#: from which it counts as blurred (paint as soft as its lids); in between, in proportion.
_BLUR_OFF, _BLUR_ON = 0.8, 1.4
#: 10-90 % width of a Gaussian edge, in sigmas.
_SPREAD_PER_SIGMA = 2.563
#: From this sigma (pixels) on, `soften_layer` blurs at half resolution.
_HALF_RES_BLUR = 2.0
#: The paint is softened only by at least this sigma (photo pixels): below, it is left as it is.
MIN_EXTRA_BLUR = 0.6


def _gradient(luma: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=1)
    return np.hypot(gx, gy)


def _edge_blurs(luma: np.ndarray) -> np.ndarray:
    """The blur sigma (pixels, sampling included) at each strong edge of the (h, w) float32 `luma`."""
    g0 = _gradient(luma)
    g1 = _gradient(cv2.GaussianBlur(luma, (0, 0), _S0))
    peak = g0 >= cv2.dilate(g0, np.ones((3, 3), np.uint8))
    strong = peak & (g0 > _STRONG * np.percentile(g0, 99.5)) & (g0 > 4.0)
    ratio = g0[strong] / np.maximum(g1[strong], 1e-6)
    return _S0 / np.sqrt(np.maximum(ratio**2 - 1.0, 1e-6))


def _points(landmarks: np.ndarray) -> np.ndarray | None:
    """(478, 2) float64 face-mesh points, or None when the eyes and mouth are not all finite."""
    points = np.asarray(landmarks, np.float64).reshape(len(landmarks), -1)[:, :2]
    used = [*LID_CONTOURS[0], *LID_CONTOURS[1], *MOUTH_POINTS]
    if points.shape[0] < 478 or not np.all(np.isfinite(points[used])):
        return None
    return points


def _luma(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be (H, W, 3), got {image.shape}")
    return image.astype(np.float32) @ _LUMA


def sharpest_blur(image: np.ndarray, landmarks: np.ndarray) -> float:
    """The Gaussian sigma (photo pixels, its sampling taken out) of the (H, W, 3) uint8 photo's
    strong edges around its eyes and mouth (median of the gradient ratio); 0 when the landmarks
    do not show them or no edge is found there.

    landmarks: (478, >= 2) MediaPipe face-mesh points in the photo's pixels.
    """
    luma, points = _luma(image), _points(landmarks)
    if points is None:
        return 0.0
    h, w = luma.shape
    blurs = []
    for indices, pad in zip((*EYE_POINTS, MOUTH_POINTS), _PADS, strict=True):
        part = points[list(indices)]
        margin = pad * (part[:, 0].max() - part[:, 0].min()) + 2.0
        x0, y0 = np.maximum(np.floor(part.min(axis=0) - margin), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(part.max(axis=0) + margin), [w, h]).astype(int)
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            blurs.append(_edge_blurs(luma[y0:y1, x0:x1]))
    measured = np.concatenate(blurs) if blurs else np.zeros(0)
    if len(measured) < 8:
        return 0.0
    return float(np.sqrt(max(float(np.median(measured)) ** 2 - _SAMPLING**2, 0.0)))


def closed_normals(points: np.ndarray) -> np.ndarray:
    """(K, 2) unit normals of a closed polygon's (K, 2) points (from their neighbours' chord)."""
    tangent = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)


def lid_spread(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Median 10-90 % spread (photo pixels) of the (H, W, 3) uint8 photo's lid edges across the
    face-mesh eye contours (`edge_spread`); NaN when none is found.

    landmarks: (478, >= 2) MediaPipe face-mesh points in the photo's pixels.
    """
    luma, points = _luma(image), _points(landmarks)
    if points is None:
        return float("nan")
    spreads = []
    for contour in LID_CONTOURS:
        lid = points[list(contour)]
        reach = _LID_REACH * float(np.linalg.norm(lid[0] - lid[8]))
        if reach >= 1.0:
            spreads.append(edge_spread(luma, lid, closed_normals(lid), reach))
    spread = np.concatenate(spreads) if spreads else np.zeros(0)
    return float(np.nanmedian(spread)) if np.isfinite(spread).any() else float("nan")


def photo_blur(image: np.ndarray, landmarks: np.ndarray) -> float:
    """How soft paint laid on the (H, W, 3) uint8 photo should be: a Gaussian sigma (photo pixels),
    0 for a sharp photo (module docstring).

    landmarks: (478, >= 2) MediaPipe face-mesh points in the photo's pixels.
    """
    sharpest = sharpest_blur(image, landmarks)
    weight = float(np.clip((sharpest - _BLUR_OFF) / (_BLUR_ON - _BLUR_OFF), 0.0, 1.0))
    if weight == 0.0:
        return 0.0
    lids = lid_spread(image, landmarks) / _SPREAD_PER_SIGMA
    return weight * (max(sharpest, lids) if np.isfinite(lids) else sharpest)


def paint_extra_blur(photo_sigma: float, feather: float) -> float:
    """The sigma (pixels) to blur paint drawn with a linear edge ramp `feather` pixels wide by, so
    that its edge is as soft as a photo blurred by `photo_sigma`; 0 when that is under `MIN_EXTRA_BLUR`.

    A linear ramp w wide rises from 10 % to 90 % over 0.8 w, a Gaussian edge over 2.563 sigma: the
    ramp is as soft as a Gaussian of sigma 0.312 w, and blurs add in squares.
    """
    own = 0.8 / _SPREAD_PER_SIGMA * feather
    extra = float(np.sqrt(max(photo_sigma**2 - own**2, 0.0)))
    return extra if extra >= MIN_EXTRA_BLUR else 0.0


def soften_layer(colour: np.ndarray, cover: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """A painted layer blurred as the camera would have blurred it: (H, W, 3) uint8 `colour` of
    (H, W) float32 `cover` in [0, 1], blurred by `sigma` pixels with its colour premultiplied (so
    the paint does not bleed the photo's colour under it, nor darken at its edge).

    Returns the (H, W, 3) uint8 colour and the (H, W) float32 coverage to lay it with; unchanged
    when `sigma` is 0. From `_HALF_RES_BLUR` on, the blur runs at half resolution (down and up by
    the Gaussian pyramid's own 5-tap filter, sigma 1 pixel each, accounted for): 4x fewer pixels.
    """
    if sigma <= 0.0:
        return colour, cover
    h, w = cover.shape

    def blur(image: np.ndarray) -> np.ndarray:
        if sigma >= _HALF_RES_BLUR and min(h, w) >= 8:
            half = cv2.pyrDown(image)  # (its border is reflected: the coverage is ~0 there)
            half = cv2.GaussianBlur(
                half, (0, 0), np.sqrt(sigma**2 - 2.0) / 2.0, borderType=cv2.BORDER_CONSTANT
            )
            return cv2.pyrUp(half, dstsize=(w, h))
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)

    paint = blur(cv2.multiply(colour, cv2.merge([cover] * 3), dtype=cv2.CV_32F))  # premultiplied
    soft_cover = np.clip(blur(cover), 0.0, 1.0)
    inverse = 1.0 / np.maximum(soft_cover, 1e-3)
    return cv2.convertScaleAbs(cv2.multiply(paint, cv2.merge([inverse] * 3))), soft_cover


def _rise(profile: np.ndarray, k: int, step: float, min_contrast: float) -> float:
    """10-90 % width (profile samples * `step`) of the monotone run through sample `k`; NaN if flat."""
    sign = 1.0 if profile[k + 1] >= profile[k] else -1.0
    p = sign * profile
    lo, hi = k, k + 1
    while lo > 0 and p[lo - 1] <= p[lo] + 0.5:  # down to the darker side's floor (noise of half a level)
        lo -= 1
    while hi < len(p) - 1 and p[hi + 1] >= p[hi] - 0.5:
        hi += 1
    run = np.maximum.accumulate(p[lo : hi + 1])  # made monotone for the crossings
    bottom, top = run[0], run[-1]
    if top - bottom < min_contrast:
        return float("nan")
    crossings = []
    for level in (bottom + 0.1 * (top - bottom), bottom + 0.9 * (top - bottom)):
        i = max(int(np.argmax(run >= level)), 1)  # the first sample at or past the level
        crossings.append(i - 1 + (level - run[i - 1]) / max(run[i] - run[i - 1], 1e-9))
    t10, t90 = crossings
    return float((t90 - t10) * step)


def edge_spread(
    luma: np.ndarray,
    points: np.ndarray,
    normals: np.ndarray,
    reach: float,
    step: float = 0.25,
    min_contrast: float = 12.0,
) -> np.ndarray:
    """(K,) the 10-90 % width (pixels) of the edge each profile crosses: across the (H, W) float32
    `luma` through the (K, 2) `points` (x, y pixels) along the (K, 2) unit `normals`, `reach` pixels
    either side. The edge is the steepest step within the profile's middle half, followed out to
    where it stops rising (a thin dark line's middle, a plateau); NaN where it rises by less
    than `min_contrast` levels. This is the measure of docs/PAINT_SOFTNESS.md (photo and paint alike).
    """
    t = np.arange(-reach, reach + step / 2, step, dtype=np.float32)
    xs = (points[:, 0:1] + t[None, :] * normals[:, 0:1]).astype(np.float32)
    ys = (points[:, 1:2] + t[None, :] * normals[:, 1:2]).astype(np.float32)
    profiles = cv2.remap(luma.astype(np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    quarter = len(t) // 4
    widths = np.full(len(points), np.nan)
    for i, profile in enumerate(profiles.astype(np.float64)):
        slope = np.abs(np.diff(profile))
        k = quarter + int(np.argmax(slope[quarter : len(t) - 1 - quarter]))
        widths[i] = _rise(profile, k, step, min_contrast)
    return widths
