"""Glasses in the photo: where a frame's lower rim lies above each eye (docs/GLASSES.md).

A closing lid is drawn from the skin above the photo's lid line (`eyes.refine_eye_flow`); behind
glasses that band holds the frame's rim, and the lid would drag it down into the eye. Found once
per photo: a bridge of dark frame crossing the nose between the inner eye corners, then, per
eye, the first frame-dark row above the lashes at each point of the upper lid.

Round 2: the frame's own pixels around the eyes (`frame_mask`, once per photo) keep the flow of
the head alone (`hold_frame`): no eye edit moves them (a wink's face flow bends the skin around
the eye, and the frame with it, by several pixels).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.images import LUMA as _LUMA

__all__ = ["FrameMask", "find_glasses", "frame_heights", "frame_mask", "hold_frame"]

#: A bridge: the darkest row across the nose between the inner corners is at most this share of
#: the nose's skin below it (a shadowed brow or nose root stays above 0.8 of it).
_BRIDGE_DARK = 0.45
#: How far above each lid point the frame is looked for, in eye widths.
_REACH = 0.6
#: An eye has a frame above it when it is found above at least this share of its lid points.
_SPAN = 0.6
#: A frame pixel is darker than the skin around it by at least this share of the top bar's contrast.
_FRAME_DARK = 0.4
#: The frame is held this many eye widths around each eye (left/right, up, down).
_AROUND = (0.8, 0.7, 0.9)
#: Below the frame's lower edge the closing lid and the eyeball move: never held, down to this many
#: eye widths below the lower lid and this many past the corners.
_FREE = (0.2, 0.1)
#: The hold fades out while the head moves (mean motion of the skull's points, crop pixels): held
#: fully below the first, not at all from the second (the frame rides the turning face).
_STILL = (1.5, 3.0)

#: (x0, y0, x1, y1) box in the crop and the (y1 - y0, x1 - x0) float32 share of each pixel that
#: is frame.
FrameMask = tuple[tuple[int, int, int, int], np.ndarray]


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


def frame_mask(
    source: np.ndarray,
    eyes: list[tuple[np.ndarray, np.ndarray]],
    frames: tuple[np.ndarray | None, ...],
) -> FrameMask | None:
    """The glasses frame's pixels around the eyes of the (H, W, 3) uint8 crop `source`: the dark
    pixels (`_FRAME_DARK` of the skin) within `_AROUND` of the eyes (upper, lower lid curves (K, 2))
    connected to the top bar found by `frame_heights` (`frames`), less what a closing lid and
    the eyeball move (below the bar, down past the lower lid: `_FREE`); softened by a pixel. None
    without a frame above both eyes."""
    if len(frames) != len(eyes) or any(f is None for f in frames) or not eyes:
        return None
    h, w = source.shape[:2]
    pts = np.concatenate([np.concatenate(eye) for eye in eyes])
    width = float(np.mean([np.hypot(*(up[-1] - up[0])) for up, _ in eyes]))
    side, up, down = (a * width for a in _AROUND)
    x0, y0 = max(int(pts[:, 0].min() - side), 0), max(int(pts[:, 1].min() - up), 0)
    x1, y1 = min(int(pts[:, 0].max() + side) + 1, w), min(int(pts[:, 1].max() + down) + 1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    luma = source[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    seeds = np.zeros(luma.shape, np.uint8)
    free = np.zeros(luma.shape, bool)
    for (upper, lower), frame in zip(eyes, frames, strict=True):
        assert frame is not None
        order = np.argsort(upper[:, 0], kind="stable")
        ux, uy = upper[order, 0], upper[order, 1]
        bottom, top = (np.interp(xs, ux, frame[order, j]) for j in (0, 1))
        lid, low = np.interp(xs, ux, uy), np.interp(xs, *lower[np.argsort(lower[:, 0])].T)
        inside = (xs > ux.min()) & (xs < ux.max())
        seeds |= (inside & (ys >= lid - top - 0.5) & (ys <= lid - bottom + 0.5)).astype(np.uint8)
        span = (xs > ux.min() - _FREE[1] * width) & (xs < ux.max() + _FREE[1] * width)
        free |= span & (ys > lid - bottom + 0.5) & (ys < low + _FREE[0] * width)
    # The frame is a thin dark line: darker than the skin closing over it (a black-hat), which a
    # broad shadow is not; as dark as `_FRAME_DARK` of the bar's own contrast.
    thick = float(np.median(np.concatenate([f[:, 1] - f[:, 0] for f in frames if f is not None])))
    size = 3 * int(np.ceil(thick)) + 5
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    contrast = cv2.morphologyEx(luma, cv2.MORPH_CLOSE, kernel) - luma
    bar = contrast[(seeds > 0) & ~free]
    if bar.size == 0:
        return None
    dark = (contrast > _FRAME_DARK * float(np.median(bar))) & ~free
    _, labels = cv2.connectedComponents(dark.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[(seeds > 0) & dark])
    mask = np.isin(labels, keep[keep > 0]).astype(np.float32)
    # Its lighter stretches (a highlight, a tortoiseshell's amber) closed over, its soft outline added.
    mask = cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel), np.ones((3, 3), np.uint8))
    mask = np.minimum(cv2.GaussianBlur(mask, (0, 0), 0.7), 1.0 - free)
    return (x0, y0, x1, y1), mask.astype(np.float32)


def hold_frame(flow: np.ndarray, mask: FrameMask, source_rigid: np.ndarray, target_rigid: np.ndarray) -> None:
    """Hold the frame's pixels where the photo has them (in place in the (H, W, 2) backward flow)
    while the head stays: the mean motion of the skull's points (N, 2) (source -> target, crop
    pixels) below `_STILL`[0]; the hold fades out by `_STILL`[1], where the frame moves with the
    face's flow."""
    moved = float(np.mean(np.hypot(*(target_rigid - source_rigid).T)))
    still = float(np.clip((_STILL[1] - moved) / (_STILL[1] - _STILL[0]), 0.0, 1.0))
    if still <= 0.0:
        return
    (x0, y0, x1, y1), share = mask
    flow[y0:y1, x0:x1] *= (1.0 - still * share)[..., None]


def find_glasses(
    source: np.ndarray, eyes: list[tuple[np.ndarray, np.ndarray]], lashes: tuple[np.ndarray, ...]
) -> tuple[tuple[np.ndarray, ...], FrameMask] | None:
    """Once per photo: per eye the frame's (lower, upper) edge above its lid points
    (`frame_heights`) and the frame's pixels (`frame_mask`), or None (no glasses found)."""
    frames = frame_heights(source, eyes, list(lashes))
    mask = frame_mask(source, eyes, frames)
    if mask is None:
        return None
    return tuple(f for f in frames if f is not None), mask
