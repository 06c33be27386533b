"""The gaze as a rigid iris: the photo's iris disc moved at the image's own resolution.

A flow on the 256 px crop that moves the iris (`eyes._turned`) has to stretch what lies between
the iris and the lids, and once taken to a large photo its kinks smear: the catchlight becomes a
bar or a streak, the iris's edge smears and pink streaks cross the white. An eye looking elsewhere
shows the same round iris partly hidden by its lids, the catchlight about where the light puts it
(it travels much less than the pupil, `GLINT_TRAVEL`: a corneal reflection moves about half as far
as the pupil, less as a lid follows the eye; a third keeps it on the iris and out from under the lids), and the photo's own white.

So before the flow moves the photo, each open eye of the image (the photo, a canvas or the crop)
is changed in place, within the photo's own lids (`turn_irises`):

- the white: the iris disc (a little wider, for its dark rim) is cut out and filled smoothly from
  the white around it (`_white`): what the moved iris uncovers;
- the iris: the photo's disc with its catchlight filled from the iris around it, and the part the
  upper lid hid grown from the visible iris, translated by the gaze's shift (whole pixels of the
  image, no stretch, no resampling), laid over the white where it lies inside the photo's opening;
- the catchlight: the photo's own bright spot, moved `GLINT_TRAVEL` of the shift, kept only on
  the moved iris.

The flow then carries the eye with the face and the lids (`eyes.refine_eye_flow` without a gaze).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.eyes import GAZE_REACH, Iris
from pipeline.face_paint import curve_y

__all__ = ["EyeToTurn", "GLINT_TRAVEL", "IrisTurn", "turn_irises"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: The catchlight moves this share of the iris's shift.
GLINT_TRAVEL = 0.3
#: The hole cut in the white: this many iris radii (plus a pixel), for the iris's dark rim.
_HOLE = 1.05
#: The disc laid back: this many iris radii.
_DISC = 1.02
#: An eye whose white is less than this much lighter (luma) than its iris shows too little white
#: to fill what the iris uncovers (a squint in shadow): its iris is not moved.
_CONTRAST = 50.0


@dataclass(frozen=True)
class EyeToTurn:
    """One open eye in crop pixels: its iris, its (upper, lower) lid curves (K, 2), the shift (2,)."""

    iris: Iris
    upper: np.ndarray
    lower: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class IrisTurn:
    """The eyes to turn; called with an image and the 2 x 3 affine taking its pixels to crop pixels,
    returns a copy of the image with the irises turned (`turn_irises`)."""

    eyes: tuple[EyeToTurn, ...]

    def __call__(self, image: np.ndarray, to_crop: np.ndarray) -> np.ndarray:
        return turn_irises(image, to_crop, self.eyes)


def eyes_to_turn(
    irises: Sequence[Iris | None], lids: Sequence[tuple[np.ndarray, np.ndarray]], gaze: np.ndarray
) -> IrisTurn | None:
    """The turn of the eyes with an iris for a gaze (2,) (x right, y up, sliders' units, relative
    to the photo); None when it moves no iris by a twentieth of a crop pixel."""
    eyes = []
    for iris, (upper, lower) in zip(irises, lids, strict=True):
        width = float(np.hypot(*(upper[-1] - upper[0])))
        shift = np.array([gaze[0] * GAZE_REACH[0], -gaze[1] * GAZE_REACH[1]]) * width
        if iris is not None and width >= 4.0 and np.any(np.abs(shift) > 0.05):
            eyes.append(EyeToTurn(iris, np.asarray(upper, np.float64), np.asarray(lower, np.float64), shift))
    return IrisTurn(tuple(eyes)) if eyes else None


def turn_irises(image: np.ndarray, to_crop: np.ndarray, eyes: Sequence[EyeToTurn]) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 image with each eye's iris moved rigidly by its shift (module
    docstring); `to_crop`: 2 x 3 affine from the image's pixels to crop pixels."""
    out = image.copy()
    back = cv2.invertAffineTransform(np.asarray(to_crop, np.float64))
    scale = float(np.sqrt(abs(np.linalg.det(back[:, :2]))))  # image pixels per crop pixel
    for eye in eyes:
        _turn_one(out, image, back, scale, eye)
    return out


def _turn_one(out: np.ndarray, image: np.ndarray, back: np.ndarray, scale: float, eye: EyeToTurn) -> None:
    def to_image(p: np.ndarray) -> np.ndarray:
        return p @ back[:, :2].T + back[:, 2]

    upper, lower = to_image(eye.upper), to_image(eye.lower)
    centre, radius = to_image(eye.iris.centre), eye.iris.radius * scale
    shift = eye.shift @ back[:, :2].T
    if radius < 1.0:
        return
    pts = np.concatenate([upper, lower, [centre - radius, centre + radius]])
    pad = 3.0 + float(np.abs(shift).max()) + 0.3 * radius
    h, w = image.shape[:2]
    x0, y0 = (int(max(np.floor(v - pad), 0)) for v in pts.min(axis=0))
    x1, y1 = int(min(np.ceil(pts[:, 0].max() + pad), w)), int(min(np.ceil(pts[:, 1].max() + pad), h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    inside = (xs > left) & (xs < right)
    opening = np.clip(np.minimum(ys - top, bottom - ys) + 0.5, 0.0, 1.0) * inside
    box = image[y0:y1, x0:x1]
    luma = box.astype(np.float32) @ _LUMA
    dist = np.hypot(xs - centre[0], ys - centre[1])
    radius = _iris_radius(luma, opening > 0.5, dist, centre - [x0, y0], radius)
    seen = (opening > 0.5) & (dist <= radius)
    rim = (opening > 0.5) & (dist <= _DISC * radius)
    if seen.sum() < 4:
        return
    glint = _catchlight(luma, seen, (opening > 0.5) & (dist > 1.2 * radius))
    # The white: the disc cut out of the opening and filled from around it. An eye showing too
    # little white clear of the fitted lids (which can miss the lid's edge), or white hardly
    # lighter than its iris (a squint in shadow), has none to fill it with: its iris stays.
    hole = ((dist <= _HOLE * radius + 1.0) & (opening > 0.0)).astype(np.uint8)
    clear = (np.minimum(ys - top, bottom - ys) >= max(1.5, scale)) & (opening > 0.5) & (hole == 0)
    if clear.sum() < 4:
        return
    iris_luma, white_luma = float(np.median(luma[seen])), float(np.percentile(luma[clear], 75))
    level = iris_luma + 0.75 * (white_luma - iris_luma)
    if white_luma - iris_luma < _CONTRAST or np.count_nonzero(clear & (luma >= level)) < 4:
        return
    white = _white(box, hole, clear & (luma >= level), radius, np.minimum(ys - top, bottom - ys))
    # The iris: its catchlight and the part the lids hid grown from its visible pixels.
    visible = rim & ~(cv2.dilate(glint.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    grow = ((dist <= _DISC * radius + 1.5) & ~visible).astype(np.uint8)
    iris = cv2.inpaint(np.ascontiguousarray(box), grow, 2, cv2.INPAINT_TELEA)
    soft = max(1.0, 0.5 * scale)  # the disc's edge: about half a crop pixel, at least one pixel
    disc = np.clip((_DISC * radius - dist) / soft + 0.5, 0.0, 1.0).astype(np.float32)
    moved_iris, moved_disc = (_translate(a, np.round(shift)) for a in (iris, disc))
    alpha = (moved_disc * opening)[..., None]
    result = white.astype(np.float32) + (moved_iris.astype(np.float32) - white) * alpha
    if glint.any():
        spot = cv2.GaussianBlur(cv2.dilate(glint.astype(np.float32), np.ones((3, 3), np.uint8)), (3, 3), 0.7)
        glint_shift = np.round(GLINT_TRAVEL * shift)
        spot = _translate(spot, glint_shift) * moved_disc * opening
        moved_glint = _translate(box, glint_shift).astype(np.float32)
        lit = np.maximum(moved_glint, result)  # a catchlight only brightens
        result = result + (lit - result) * spot[..., None]
    out[y0:y1, x0:x1] = np.clip(result + 0.5, 0, 255).astype(np.uint8)


def _white(
    box: np.ndarray, hole: np.ndarray, white: np.ndarray, radius: float, from_lids: np.ndarray
) -> np.ndarray:
    """The eye without the photo's iris: the box's pixels with `hole` (Y, X uint8) filled, per row,
    between the white just left and just right of it (`white`: (Y, X) bool, the white clear of
    lids, lashes and the iris's rim; the mean of what lies within half a radius beyond the hole,
    smoothed across rows so no row stands out as a streak): the white's shading belongs to the
    eye, not to the iris. Towards the lids (`from_lids`: (Y, X) pixels to the nearer lid), within
    0.4 radii, it fades into `cv2.inpaint`'s fill from around the hole (the lids' shadow), which
    rows with no white near keep."""
    filled = cv2.inpaint(np.ascontiguousarray(box), hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
    colour = box.astype(np.float32)
    h, w = hole.shape
    ys, xs = np.arange(h), np.arange(w)
    cut = hole > 0
    rows = cut.any(axis=1)
    first = np.argmax(cut, axis=1)
    last = w - 1 - np.argmax(cut[:, ::-1], axis=1)
    reach = np.arange(1, int(max(3.0, 0.5 * radius)) + 1)
    sigma = max(1.0, 0.25 * radius)

    def side(edge: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        cols = edge[:, None] + step * reach[None, :]
        ok = (cols >= 0) & (cols < w)
        cols = np.clip(cols, 0, w - 1)
        ok &= white[ys[:, None], cols] & rows[:, None]
        total = (colour[ys[:, None], cols] * ok[..., None]).sum(axis=1)  # (Y, 3)
        count = ok.sum(axis=1).astype(np.float32)[:, None]
        total, count = (cv2.GaussianBlur(v, (1, 0), sigmaX=0.1, sigmaY=sigma) for v in (total, count))
        return total / np.maximum(count, 1e-6), count[:, 0] > 0.05

    (left, ok_l), (right, ok_r) = side(first, -1), side(last, 1)
    left = np.where(ok_l[:, None], left, right)
    right = np.where(ok_r[:, None], right, left)
    t = np.clip((xs[None, :] - first[:, None]) / np.maximum(last - first, 1)[:, None], 0.0, 1.0)[..., None]
    between = left[:, None] * (1.0 - t) + right[:, None] * t
    use = (cut & (ok_l | ok_r)[:, None]) * np.clip(from_lids / (0.4 * radius), 0.0, 1.0)
    return np.clip(filled + (between - filled) * use[..., None] + 0.5, 0, 255).astype(np.uint8)


def _iris_radius(
    luma: np.ndarray, opening: np.ndarray, dist: np.ndarray, centre: np.ndarray, radius: float
) -> float:
    """The iris's radius read from the image (MediaPipe's can miss its dark rim): the median half
    width of the dark run through the centre, in the rows within 0.35 radii of it; MediaPipe's
    where that is not readable, within 0.9 to 1.25 of it."""
    iris = opening & (dist <= 0.7 * radius)
    ring = opening & (dist > 1.5 * radius) & (dist <= 2.5 * radius)
    if iris.sum() < 4 or ring.sum() < 4:
        return radius
    dark = luma < 0.5 * (float(np.median(luma[iris])) + float(np.percentile(luma[ring], 75)))
    cx, cy = centre
    col = int(round(cx))
    halves = []
    for row in range(max(int(np.ceil(cy - 0.35 * radius)), 0), min(int(cy + 0.35 * radius) + 1, len(luma))):
        run = dark[row] & opening[row]
        if not 0 <= col < len(run) or not run[col]:
            continue
        ends = np.nonzero(~run)[0]
        lo, hi = ends[ends < col], ends[ends > col]
        if len(lo) and len(hi):
            halves.append(0.5 * (hi[0] - lo[-1] - 1))
    if len(halves) < 3:
        return radius
    return float(np.clip(np.median(halves), 0.9 * radius, 1.25 * radius))


def _catchlight(luma: np.ndarray, iris: np.ndarray, sclera: np.ndarray) -> np.ndarray:
    """(Y, X) bool: the iris's bright specular spot (brighter than most of the white), or none."""
    values = luma[iris]
    median, peak = float(np.median(values)), float(values.max())
    level = median + 0.5 * (peak - median)
    if sclera.sum() >= 4:
        level = max(level, float(np.percentile(luma[sclera], 90)) + 15.0)
    if peak <= level:
        return np.zeros_like(iris)
    return iris & (luma > level)


def _translate(a: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`a` moved by `shift` (2,) whole pixels (the border replicated): a rounded shift (at most half
    a pixel off) keeps the iris's texture and a catchlight of a pixel or two as crisp as the photo's."""
    m = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    return cv2.warpAffine(
        a, m, (a.shape[1], a.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
