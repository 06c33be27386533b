"""Shutting wide-open eyes (`PreviewSettings.wide_eyes`, docs/WIDE_EYES.md).

An eye that shows its white above and below the iris (surprise, fear) is open wider than the face
model's lids: the eye controls move the lids by a mean eye's gap, so at close_eyes 1 such an eye
keeps part of its gap, and its white above the fitted upper lid is read into the shut lid. Here:

- `wide_closure`: the closure of a large closing move counted in mean eye gaps, so close_eyes 1
  shuts the eye;
- `white_above`: how far the eye's white reaches above the fitted upper lid (hidden with the
  eyeball, the shut lid's skin read from above it: `eyes.lash_heights`);
- `white_pixels`: the eye's white in the lid region, left out of the painted lid's colours
  (`lid_skin.lid_colours`).

All of it only for an eye the photo shows wide open (`is_wide`: its fitted lids far apart). Round 2
applied it to every eye: on an eye looking up (DECA exp_3), whose fitted upper lid lies on the
iris under a dark run of iris top, lashes and socket, `white_above` took light bits of that run
for the white (lighter than the shadowed skin it compared them with), and the shut lid, read
from above them, left a light sliver under its lash line.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from core.geometry import smoothstep
from core.images import LUMA as _LUMA
from pipeline.face_paint import curve_y

__all__ = ["MEAN_GAP", "WIDE_EYE", "is_wide", "wide_closure", "wide_open", "white_above", "white_pixels"]

#: How far `close_eyes` 1 moves the lids towards each other, in eye widths (mean over the lid
#: points): the face model's mean gap; measured 0.12-0.15 on 7 photos, narrow to wide-open eyes.
MEAN_GAP = 0.14
#: An eye whose fitted lids are at least this many eye widths apart at their widest is wide open:
#: surprised and fearful measure 0.42-0.46; open eyes 0.26-0.37 (docs/SQUINT_SHUT.md), DECA
#: exp_3 looking up 0.34 / 0.31, deepface img3 0.35 (docs/WIDE_EYES.md, round 3).
WIDE_EYE = 0.38
#: The eye's white above a fitted upper lid: at most this many eye widths; a row is white while
#: its luma is above the lid skin's median (by this many levels) and its saturation below this
#: share of the skin's (a dim white in a small photo is lighter than the skin by only a little).
_WHITE_REACH = 0.15
_WHITE_LIGHTER = 0.0
_WHITE_GREY = 0.5


def wide_open(
    source: np.ndarray, points: np.ndarray, eyes: Sequence[tuple[Sequence[int], Sequence[int]]], on: bool
) -> tuple[bool, ...]:
    """Per eye of the face model's (upper, lower) lid point indices `eyes`: whether the (H, W, 3)
    uint8 crop `source` shows it wide open (`is_wide`; fitted points (N, 2+), crop pixels); all
    False unless `on` (`PreviewSettings.wide_eyes`)."""
    return tuple(on and is_wide(source, points[list(u), :2], points[list(lo), :2]) for u, lo in eyes)


def is_wide(source: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> bool:
    """Whether the (H, W, 3) uint8 crop `source` shows the eye between its fitted lid curves
    (K, 2) wide open: its fitted lids at least `WIDE_EYE` eye widths apart at their widest (the
    face model opens that far only on an eye showing its white above and below the iris; an eye
    looking up, its fitted upper lid on the iris, is not wide open and keeps main's lids)."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    if width < 4.0:
        return False
    return float(np.max(curve_y(lower, upper[:, 0]) - upper[:, 1])) >= WIDE_EYE * width


def wide_closure(closure: float, open_s: float, open_t: float, width: float) -> float:
    """The closure (0-1) of a wide-open eye: the lids' travel `open_s - open_t` (mean gaps of the
    photo and the target, crop pixels) in mean eye gaps of an eye `width` wide takes over from
    `closure` (the share of its own gap closed) for a large closing move only, so close_eyes 1
    shuts the eye and a smile's small move does not."""
    travel = (open_s - open_t) / (MEAN_GAP * width + 1e-9)
    if travel <= closure:
        return closure
    return float(np.clip(closure + (travel - closure) * smoothstep((travel - 0.3) / 0.3), 0.0, 1.0))


def white_above(source: np.ndarray, upper: np.ndarray, width: float) -> np.ndarray:
    """(K,) crop pixels: how far the eye's white reaches above each point of the fitted upper lid
    (K, 2): a wide-open eye (white above the iris) opens further than the face model's lids can,
    most near its outer corner, between two of the lid's points. Per half crop pixel along the
    lid, the rows from the line up that are lighter and greyer than the lid skin 0.15-0.35 eye
    widths above (a 3-column median: no single-column spikes); per point, the most between the
    midpoints to its neighbours."""
    order = np.argsort(upper[:, 0], kind="stable")
    xs = np.arange(float(upper[order[0], 0]), float(upper[order[-1], 0]) + 0.25, 0.5)
    line = np.stack([xs, np.interp(xs, upper[order, 0], upper[order, 1])], axis=1)
    rgb = source.astype(np.float32)
    steps = np.arange(0.0, 0.35 * width + 0.5, 0.5)
    luma, sat = _above(rgb @ _LUMA, line, steps), _above(_saturation(rgb), line, steps)
    skin = steps >= 0.15 * width
    white = (luma > np.median(luma[:, skin], axis=1)[:, None] + _WHITE_LIGHTER) & (
        sat < _WHITE_GREY * np.median(sat[:, skin], axis=1)[:, None]
    )
    white[:, steps > _WHITE_REACH * width] = False
    padded = np.pad(steps[np.argmin(white, axis=1)], 1, mode="edge")  # the first row not white
    run = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    mids = np.concatenate([[-np.inf], 0.5 * (upper[order[1:], 0] + upper[order[:-1], 0]), [np.inf]])
    reach = np.zeros(len(upper))
    for i, k in enumerate(order):
        near = (xs >= mids[i]) & (xs <= mids[i + 1])
        reach[k] = float(run[near].max()) if near.any() else 0.0
    return reach


def white_pixels(region: np.ndarray, luma: np.ndarray, level: float) -> np.ndarray:
    """(h, w) bool: the eye's white in the (h, w, 3) float32 lid `region` (luma `luma`): lighter than
    the lid's skin `level` and less than `_WHITE_GREY` of the region's mean saturation."""
    grey = _saturation(region)
    return (luma > level) & (grey < _WHITE_GREY * grey.mean())


def _saturation(rgb: np.ndarray) -> np.ndarray:
    high = rgb.max(axis=-1)
    return (high - rgb.min(axis=-1)) / np.maximum(high, 1.0)


def _above(image: np.ndarray, line: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """(K, D) values of the (H, W) float32 `image` at `steps` (D,) crop pixels above each point (K, 2)."""
    map_x = np.repeat(line[:, :1], len(steps), axis=1).astype(np.float32)
    map_y = (line[:, 1:2] - steps[None, :]).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
