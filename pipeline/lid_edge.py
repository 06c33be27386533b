"""Where the real upper lid's edge lies above the fitted one (an eye looking up), for shutting it.

On an eye that looks up the iris's top is hidden under the real upper lid and the face mesh's upper
lid is fitted onto the iris, below the real lid's edge: the band a shutting lid reads as its skin
(`eyes.refine_eye_flow`, 0.4 eye widths above the fitted lid, above the lash run) is then half iris
top and shadowed socket, drawn down over the lid as a grey smear with the iris showing through
(docs/UPWARD_LIDS.md). `upward_lid_run` finds, for such an eye only, the dark run from the fitted
lid up to the real lid's lit skin, and hands it on as the eye's lash run: the shut lid then reads
its skin from above the run (`eyes.refine_eye_flow`), the run is hidden with the eyeball and the
lash line is painted at the lid's edge, as for lashes (docs/SHUT_LIDS.md). A lid in shadow right
above its edge (DECA exp_3's image-right eye) counts that shadow with the run, so the shut lid
reads the lit lid skin above it. All of it once per photo (`lash_runs`, in `prepare`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from core.geometry import smoothstep
from pipeline.eyes import SQUINT_EYE, Iris, lash_heights
from pipeline.face_paint import curve_y

__all__ = ["UPWARD_REACH", "lash_runs", "upward_lid_run"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: An eye is read from above its real lid edge when at least this share of the band its shutting
#: lid reads (the inner half of its width) is darker than `_DARK` of the skin under the eye.
_UPWARD_DARK = 0.3
#: Darker than this share of the skin under the eye: iris, lashes or shadowed socket, not lit lid skin.
_DARK = 0.5
#: The iris top or lashes the real lid's edge is found above lie within this many eye widths of the fitted lid.
_DARKEST = 0.25
#: How far above the fitted upper lid the real lid's lit skin may begin, in eye widths.
UPWARD_REACH = 0.55


def lash_runs(
    source: np.ndarray,
    points: np.ndarray,
    eyes: Sequence[tuple[Sequence[int], Sequence[int]]],
    irises: Sequence[Iris | None],
    wide: Sequence[bool],
    upward: bool,
) -> tuple[np.ndarray, ...]:
    """Per eye of the face model's (upper, lower) lid point indices `eyes` (fitted points (N, 2+) in
    the (H, W, 3) uint8 crop `source`): its lash run (`eyes.lash_heights`, with the white above a
    wide-open eye), raised to the real lid's lit skin on an eye looking up (`upward_lid_run`) when
    `upward` (`PreviewSettings.upward_lids`)."""
    runs = []
    for (u, lo), iris, white in zip(eyes, irises, wide, strict=True):
        upper, lower = points[list(u), :2], points[list(lo), :2]
        lashes = lash_heights(source, upper, white)
        runs.append(upward_lid_run(source, upper, lower, lashes, iris) if upward and not white else lashes)
    return tuple(runs)


def upward_lid_run(
    source: np.ndarray, upper: np.ndarray, lower: np.ndarray, lashes: np.ndarray, iris: Iris | None
) -> np.ndarray:
    """(K,) crop pixels: the lash run `lashes` (K,) (`eyes.lash_heights`) above an eye's fitted
    upper lid curve (K, 2) in the (H, W, 3) uint8 crop `source`, raised to the real lid's lit skin
    where the fitted lid lies on the iris: per column the first row above its darkest (within
    `_DARKEST` eye widths of the lid line) lighter than half-way from it to the lid skin (0.35-0.45
    eye widths up) and than `_DARK` of the skin under the eye (the median luma 0.1-0.3 eye widths
    under the fitted lower lid (K, 2)), up to `UPWARD_REACH` eye widths; its median over the inner
    half of the width, lowered smoothly over the outer quarters (as lashes are).
    `lashes` unchanged unless the eye looks up: its `iris` (MediaPipe's) reaches above the fitted lid
    at the iris's centre, the band a shutting lid reads (0.4 eye widths above the lid, above the
    lashes, inner half of the width) is at least `_UPWARD_DARK` dark (darker than `_DARK` of the skin
    under the eye), and the lid gap is at least `eyes.SQUINT_EYE` eye widths (a squint shuts where it is)."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    if width < 4.0 or iris is None:
        return lashes
    gap = float(np.max(curve_y(lower, upper[:, 0]) - upper[:, 1])) / width
    lid_at_iris = float(curve_y(upper, np.array([iris.centre[0]]))[0])
    if gap < SQUINT_EYE or iris.centre[1] - iris.radius >= lid_at_iris:
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
    steps = np.arange(0.5, UPWARD_REACH * width + 0.5, 0.5)  # rows above the lid line, crop pixels
    map_x = np.repeat(upper[:, :1], len(steps), axis=1).astype(np.float32)
    map_y = (upper[:, 1:2] - steps[None, :]).astype(np.float32)
    profile = cv2.remap(luma, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # (K, D)
    read = (steps[None, :] >= lashes[:, None] + 0.5) & (steps <= 0.4 * width)[None, :]
    if not np.any(read[inner]) or np.mean(profile[inner][read[inner]] < _DARK * skin) < _UPWARD_DARK:
        return lashes
    # Per column, the real lid's lit skin: going up from the darkest row near the lid (iris top,
    # lashes), the first row lighter than half-way from it to the lid skin at 0.35-0.45 eye widths
    # up and than `_DARK` of the skin under the eye (a shadowed margin counts with the run), else
    # the first lighter than half-way (round 1); none where no such row comes within reach (a brow
    # or a shadow reaching down to the lid).
    low = steps <= _DARKEST * width
    deepest = np.argmin(np.where(low[None, :], profile, np.inf), axis=1)
    darkest = profile[np.arange(len(profile)), deepest][:, None]
    band = (steps >= 0.35 * width) & (steps <= 0.45 * width)
    lid_skin = np.median(profile[:, band], axis=1, keepdims=True)
    halfway = profile >= darkest + 0.5 * (lid_skin - darkest)
    halfway &= np.arange(len(steps))[None, :] > deepest[:, None]
    lit = halfway & (profile >= _DARK * skin)
    light = np.where(lit.any(axis=1, keepdims=True), lit, halfway)  # the lit skin, else round 1's edge
    found = light.any(axis=1) & (lid_skin[:, 0] - darkest[:, 0] >= 16.0)
    run = np.where(found, steps[np.argmax(light, axis=1)] - 0.5, 0.0)
    # One height per eye (the median over its inner half), lowered smoothly to the corners: the
    # read row must not step from column to column, or the shut lid shows vertical edges.
    height = float(np.median(run[inner]))
    return np.maximum(
        lashes, height * smoothstep(np.minimum(upper[:, 0] - left, right - upper[:, 0]) / (0.25 * width))
    )
