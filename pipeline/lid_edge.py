"""Where the real upper lid's edge lies above the fitted one (an eye looking up), for shutting it.

On an eye that looks up the iris's top is hidden under the real upper lid and the face mesh's upper
lid is fitted onto the iris, below the real lid's edge: the band a shutting lid reads as its skin
(`eyes.refine_eye_flow`, 0.4 eye widths above the fitted lid, above the lash run) is then half iris
top and shadowed socket, drawn down over the lid as a grey smear with the iris showing through
(docs/UPWARD_LIDS.md). `upward_lid_run` finds, for such an eye only, the dark run from the fitted
lid up to the real lid's edge, and hands it on as the eye's lash run: the shut lid then reads its
skin from above the run, the run is hidden with the eyeball and the lash line is painted at the
lid's edge, as for lashes (docs/SHUT_LIDS.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.eyes import SQUINT_EYE, UPWARD_REACH
from pipeline.face_paint import curve_y

__all__ = ["upward_lid_run"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: An eye is read from above its real lid edge when at least this share of the band its shutting
#: lid reads (the inner half of its width) is darker than `_DARK` of the skin under the eye.
_UPWARD_DARK = 0.3
#: Darker than this share of the skin under the eye: iris, lashes or shadowed socket, not lid skin.
_DARK = 0.5
#: The iris top or lashes the real lid's edge is found above lie within this many eye widths of the fitted lid.
_DARKEST = 0.25


def upward_lid_run(
    source: np.ndarray, upper: np.ndarray, lower: np.ndarray, lashes: np.ndarray
) -> np.ndarray:
    """(K,) crop pixels: the lash run `lashes` (K,) (`eyes.lash_heights`) above an eye's fitted
    upper lid curve (K, 2) in the (H, W, 3) uint8 crop `source`, raised to the real lid's edge
    where the fitted lid lies below it: per column the first row above its darkest (within
    `_DARKEST` eye widths of the lid line) lighter than half-way from it to the lid skin (0.35-0.45
    eye widths up), up to `UPWARD_REACH` eye widths; its median over the inner half of the width, lowered smoothly to the corners.
    `lashes` unchanged where the band a shutting lid reads (0.4 eye widths above the lid, above the
    lashes, inner half of the width) is less than `_UPWARD_DARK` dark (darker than `_DARK` of the
    skin under the eye, the median luma 0.1-0.3 eye widths under the fitted lower lid (K, 2)), or
    the lid gap is below `eyes.SQUINT_EYE` eye widths (a squint, which shuts where it is)."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    if width < 4.0:
        return lashes
    gap = float(np.max(curve_y(lower, upper[:, 0]) - upper[:, 1])) / width
    if gap < SQUINT_EYE:
        return lashes
    luma = source.astype(np.float32) @ _LUMA
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    inner = np.abs(upper[:, 0] - 0.5 * (left + right)) <= 0.25 * width
    under = np.arange(0.1 * width, 0.3 * width + 0.5, 0.5)
    skin_x = np.repeat(lower[inner, :1], len(under), axis=1).astype(np.float32)
    skin_y = (lower[inner, 1:2] + under[None, :]).astype(np.float32)
    skin = float(
        np.median(cv2.remap(luma, skin_x, skin_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    )
    steps = np.arange(0.5, 0.45 * width + 0.5, 0.5)  # rows above the lid line, crop pixels
    map_x = np.repeat(upper[:, :1], len(steps), axis=1).astype(np.float32)
    map_y = (upper[:, 1:2] - steps[None, :]).astype(np.float32)
    profile = cv2.remap(luma, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # (K, D)
    read = (steps[None, :] >= lashes[:, None] + 0.5) & (steps <= 0.4 * width)[None, :]
    if not np.any(read[inner]) or np.mean(profile[inner][read[inner]] < _DARK * skin) < _UPWARD_DARK:
        return lashes
    # Per column, the real lid's edge: going up from the darkest row near the lid (iris top,
    # lashes), the first row lighter than half-way from it to the lid skin at the top of the band
    # (that skin the lid's own, often shadowed); none where no such row comes within reach (a
    # brow or a shadow reaching down to the lid, not a lid's edge).
    near = steps <= UPWARD_REACH * width
    low = steps <= _DARKEST * width
    deepest = np.argmin(np.where(low[None, :], profile, np.inf), axis=1)
    darkest = profile[np.arange(len(profile)), deepest][:, None]
    lid_skin = np.median(profile[:, steps >= 0.35 * width], axis=1, keepdims=True)
    light = (profile >= darkest + 0.5 * (lid_skin - darkest)) & near[None, :]
    light &= np.arange(len(steps))[None, :] > deepest[:, None]
    found = light.any(axis=1) & (lid_skin[:, 0] - darkest[:, 0] >= 16.0)
    run = np.where(found, steps[np.argmax(light, axis=1)] - 0.5, 0.0)
    # One height per eye (the median over its inner half), lowered smoothly to the corners: the
    # read row must not step from column to column, or the shut lid shows vertical edges.
    height = float(np.median(run[inner]))
    t = np.clip(np.minimum(upper[:, 0] - left, right - upper[:, 0]) / (0.4 * width), 0.0, 1.0)
    return np.maximum(lashes, height * t * t * (3.0 - 2.0 * t))
