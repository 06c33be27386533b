"""Glasses in the photo: where a frame's lower rim lies above each eye (docs/GLASSES.md).

A closing lid is drawn from the skin above the photo's lid line (`eyes.refine_eye_flow`); behind
glasses that band holds the frame's rim, and the lid would drag it down into the eye. Found once
per photo: a bridge of dark frame crossing the nose between the inner eye corners, then, per
eye, the first frame-dark row above the lashes at each point of the upper lid.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["frame_heights"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: A bridge: the darkest row across the nose between the inner corners is at most this share of
#: the nose's skin below it (a shadowed brow or nose root stays above 0.8 of it).
_BRIDGE_DARK = 0.45
#: How far above each lid point the frame is looked for, in eye widths.
_REACH = 0.6
#: An eye has a frame above it when it is found above at least this share of its lid points.
_SPAN = 0.6


def _profiles(luma: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(len(xs), len(ys)) luma sampled on the grid xs x ys (crop pixels)."""
    map_x = np.repeat(xs[:, None], len(ys), axis=1).astype(np.float32)
    map_y = np.repeat(ys[None, :], len(xs), axis=0).astype(np.float32)
    return cv2.remap(luma, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _bridge(
    luma: np.ndarray, inner_a: np.ndarray, inner_b: np.ndarray, width: float
) -> tuple[float, float] | None:
    """(frame luma, skin luma) where a dark bridge crosses the nose between the inner eye corners
    (the median over the middle 60 % of the gap of each row from 0.6 eye widths above the corners
    to 0.3 below), else None."""
    mid = 0.5 * (inner_a + inner_b)
    xs = np.linspace(
        inner_a[0] + 0.2 * (inner_b[0] - inner_a[0]), inner_b[0] - 0.2 * (inner_b[0] - inner_a[0]), 7
    )
    ys = np.arange(mid[1] - 0.6 * width, mid[1] + 0.3 * width, 1.0)
    rows = np.median(_profiles(luma, xs, ys), axis=0)
    darkest = int(np.argmin(rows))
    below = rows[darkest:]
    skin = (
        float(np.median(below[below > rows[darkest] + 0.5 * (below.max() - rows[darkest])]))
        if len(below) > 1
        else 0.0
    )
    if skin < 32.0 or rows[darkest] > _BRIDGE_DARK * skin:
        return None
    return float(rows[darkest]), skin


def frame_heights(
    source: np.ndarray, eyes: list[tuple[np.ndarray, np.ndarray]], lashes: list[np.ndarray]
) -> tuple[np.ndarray | None, ...]:
    """Per eye, (K, 2) crop pixels: how far above each point of its fitted upper lid curve (K, 2)
    the lower and the upper edge of a glasses frame lie in the (H, W, 3) uint8 crop `source` (above the lash
    run `lashes`, `eyes.lash_heights`), or None where no frame is found (no glasses: no bridge
    across the nose, or an eye without a frame above at least `_SPAN` of its lid)."""
    none: tuple[np.ndarray | None, ...] = tuple(None for _ in eyes)
    if len(eyes) != 2:
        return none
    luma = source.astype(np.float32) @ _LUMA
    (up_a, _), (up_b, _) = eyes
    ends = sorted([up_a, up_b], key=lambda up: float(up[:, 0].mean()))
    inner_a = ends[0][np.argmax(ends[0][:, 0])]
    inner_b = ends[1][np.argmin(ends[1][:, 0])]
    width = float(np.mean([np.hypot(*(up[-1] - up[0])) for up in (up_a, up_b)]))
    if width < 4.0:
        return none
    bridge = _bridge(luma, inner_a, inner_b, width)
    if bridge is None:
        return none
    out = []
    for (upper, _), run in zip(eyes, lashes, strict=True):
        steps = np.arange(0.0, _REACH * width, 0.5)
        profile = np.stack(
            [_profiles(luma, upper[k : k + 1, 0], upper[k, 1] - steps)[0] for k in range(len(upper))]
        )
        # Per column above the lashes: the frame's rows are darker than 0.6 of the lightest (the
        # skin); its lower edge is the lowest of them, its upper edge the highest.
        height = np.full((len(upper), 2), np.nan)
        for k in range(len(upper)):
            seen = steps > run[k] + 1.0
            rows = profile[k, seen]
            skin = float(rows.max()) if len(rows) else 0.0
            dark = np.flatnonzero(rows < 0.6 * skin)
            if skin < 2.0 * bridge[0] + 16.0 or len(dark) == 0:
                continue
            height[k] = steps[seen][dark[0]], steps[seen][dark[-1]]
        if np.mean(np.isfinite(height[:, 0])) < _SPAN:
            return none
        height = np.where(np.isfinite(height), height, np.nanmin(height, axis=0))  # unseen: the lowest
        padded = np.pad(height, ((1, 1), (0, 0)), mode="edge")
        out.append(np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0))
    return tuple(out)
