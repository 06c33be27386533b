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

__all__ = ["FrameMask", "find_glasses", "frame_heights", "frame_mask", "hold_frame"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: A bridge: the darkest row across the nose between the inner corners is at most this share of
#: the nose's skin below it (a shadowed brow or nose root stays above 0.8 of it).
_BRIDGE_DARK = 0.45
#: How far above each lid point the frame is looked for, in eye widths.
_REACH = 0.6
#: An eye has a frame above it when it is found above at least this share of its lid points.
_SPAN = 0.6
#: A frame pixel is darker than the skin around it by at least this share of the top bar's contrast.
_FRAME_DARK = 0.4
#: The black-hat that finds the frame's lines: a disc this many eye widths across (a thin line
#: responds, a broad shadow or a brow's width less).
_LINE = 0.3
#: A lens's rim is traced along this many rays round the eye, out to this many eye widths, its
#: radius changing at a cost of this share of the strongest ridge per pixel between rays.
_RAYS = 72
_RIM_REACH = 1.6
_SMOOTH = 0.15
#: At most this many samples along a read test whether it crosses the frame (`hold_frame`).
_MARCH = 32
#: A read near the frame is shortened smoothly over this many crop pixels past its end (`hold_frame`).
_GIVE = 2.0
#: The rims are traced in the eyes' box widened by this many eye widths on each side.
_PAD = 0.5
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


def _rim(contrast: np.ndarray, centre: np.ndarray, top: float, width: float) -> tuple[np.ndarray, float]:
    """One lens's rim in the black-hat `contrast` (box pixels): (A, 2) points, one per angle round
    the eye's `centre`, on the dark-line ridge chosen by a smooth path over the angles (dynamic
    programming: the ridge's strength less a cost per pixel of radius change), started at the top
    bar's distance `top` above the centre; and the ridge's median thickness (pixels at half its
    height)."""
    angles = np.linspace(0.0, 2.0 * np.pi, _RAYS, endpoint=False)
    radii = np.arange(0.25 * width, _RIM_REACH * width, 0.5)
    dirs = np.stack([np.cos(angles), -np.sin(angles)], axis=1)  # angle 0: outwards in x, pi/2: up
    map_x = (centre[0] + dirs[:, :1] * radii[None]).astype(np.float32)
    map_y = (centre[1] + dirs[:, 1:] * radii[None]).astype(np.float32)
    strength = cv2.remap(contrast, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)  # (A, R)
    # Start straight up, at the top bar: the path goes round from there both ways.
    first = int(np.argmin(np.abs(angles - np.pi / 2)))
    order = np.roll(np.arange(_RAYS), -first)
    step = np.abs(radii[:, None] - radii[None]) * _SMOOTH * float(strength.max())
    score = -np.abs(radii - top) * 1e3 * float(strength.max() + 1.0)
    score = np.maximum(score, -1e9) + strength[order[0]]
    back = np.zeros((_RAYS, len(radii)), np.int64)
    for i, a in enumerate(order[1:], start=1):
        total = score[None, :] - step  # [to, from]
        back[i] = np.argmax(total, axis=1)
        score = total[np.arange(len(radii)), back[i]] + strength[a]
    path = np.zeros(_RAYS, np.int64)
    path[-1] = int(np.argmax(score))
    for i in range(_RAYS - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    r = np.empty(_RAYS)
    r[order] = radii[path]
    thick = []
    for a, k in zip(order, path, strict=True):
        peak = strength[a, k]
        above = strength[a] >= 0.5 * peak
        lo, hi = k, k
        while lo > 0 and above[lo - 1]:
            lo -= 1
        while hi < len(radii) - 1 and above[hi + 1]:
            hi += 1
        thick.append(0.5 * (hi - lo + 1))
    return centre[None] + dirs * r[:, None], float(np.median(thick))


def frame_mask(
    source: np.ndarray,
    eyes: list[tuple[np.ndarray, np.ndarray]],
    frames: tuple[np.ndarray | None, ...],
) -> FrameMask | None:
    """The glasses frame's own pixels around the eyes of the (H, W, 3) uint8 crop `source` (upper,
    lower lid curves (K, 2) per eye; `frames` from `frame_heights`): per lens its rim traced round
    the eye as a closed line on the darkest thin ridge (`_rim`), drawn at the rim's thickness, and
    the bridge between the two rims; less what a closing lid and the eyeball move (`_FREE`);
    softened by a pixel. None without a frame above both eyes. Thin by design: the skin inside and
    above the lens moves with the brows and the eyes, the frame laid over it (`hold_frame`)."""
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
    # The lenses may reach past the box: traced in a wider one (`_PAD`), held only in the box.
    pad = int(_PAD * width)
    px0, py0, px1, py1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
    luma = source[py0:py1, px0:px1].astype(np.float32) @ _LUMA
    xs = np.arange(px0, px1, dtype=np.float64)
    ys = np.arange(py0, py1, dtype=np.float64)[:, None]
    free = np.zeros(luma.shape, bool)
    # The frame is a thin dark line: darker than the skin closed over it at a few bar widths.
    size = max(int(round(_LINE * width)), 3) | 1
    contrast = cv2.morphologyEx(
        luma, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    )
    mask = np.zeros(luma.shape, np.uint8)
    inner = []
    for (upper, lower), frame in zip(eyes, frames, strict=True):
        assert frame is not None
        order = np.argsort(upper[:, 0], kind="stable")
        ux, uy = upper[order, 0], upper[order, 1]
        bottom = np.interp(xs, ux, frame[order, 0])
        lid, low = np.interp(xs, ux, uy), np.interp(xs, *lower[np.argsort(lower[:, 0])].T)
        span = (xs > ux.min() - _FREE[1] * width) & (xs < ux.max() + _FREE[1] * width)
        free |= span & (ys > lid - bottom + 0.5) & (ys < low + _FREE[0] * width)
    for (upper, lower), frame in zip(eyes, frames, strict=True):
        assert frame is not None
        centre = np.concatenate([upper, lower]).mean(axis=0)
        top = float(centre[1] - np.median(upper[:, 1] - frame.mean(axis=1)))
        rim, thick = _rim(np.where(free, 0.0, contrast), centre - (px0, py0), top, width)
        line = max(int(round(thick)), 2)
        cv2.polylines(mask, [np.round(rim * 8).astype(np.int32)], True, 1, line, cv2.LINE_8, shift=3)
        inner.append((rim, line))
    # The bridge: the rims' points nearest each other, joined at the thicker rim's thickness.
    (rim_a, line_a), (rim_b, line_b) = inner
    gap = np.hypot(*(rim_a[:, None] - rim_b[None]).transpose(2, 0, 1))
    i, j = np.unravel_index(int(np.argmin(gap)), gap.shape)
    ends = np.round(np.stack([rim_a[i], rim_b[j]]) * 8).astype(np.int32)
    cv2.line(mask, tuple(ends[0]), tuple(ends[1]), 1, max(line_a, line_b), cv2.LINE_8, shift=3)
    soft = cv2.dilate(mask.astype(np.float32), np.ones((3, 3), np.uint8))
    soft = np.minimum(cv2.GaussianBlur(soft, (0, 0), 0.7), 1.0 - free)[
        y0 - py0 : y1 - py0, x0 - px0 : x1 - px0
    ]
    return (x0, y0, x1, y1), soft.astype(np.float32)


def hold_frame(flow: np.ndarray, mask: FrameMask, source_rigid: np.ndarray, target_rigid: np.ndarray) -> None:
    """Lay the frame over the moving skin (in place in the (H, W, 2) backward flow) while the head
    stays (the mean motion of the skull's points (N, 2), source -> target, crop pixels, below
    `_STILL`[0]; fading out by `_STILL`[1], where the frame moves with the face's flow): the
    frame's pixels keep the photo's, and no other pixel reads across or onto the frame (its read
    is shortened to stop before it), so the skin on either side moves with the brows and the
    eyes and no part of the frame is copied into the skin (a second bar, dashes in the lens)."""
    moved = float(np.mean(np.hypot(*(target_rigid - source_rigid).T)))
    still = float(np.clip((_STILL[1] - moved) / (_STILL[1] - _STILL[0]), 0.0, 1.0))
    if still <= 0.0:
        return
    (x0, y0, x1, y1), share = mask
    box = flow[y0:y1, x0:x1]
    length = np.hypot(box[..., 0], box[..., 1])
    if float(length.max()) > 0.0:
        # Along each read, out to its length plus `_GIVE`: where it meets the frame at a share t of
        # that, the read is shortened to t of its length (0 at the frame, whole from `_GIVE` past
        # the read's end): the skin between stretches smoothly, no read folds or lands on the frame.
        gx, gy = np.meshgrid(np.arange(x1 - x0, dtype=np.float32), np.arange(y1 - y0, dtype=np.float32))
        reach = box * ((length + _GIVE) / np.maximum(length, 1e-6))[..., None]
        steps = int(np.clip(np.ceil(2.0 * float(length.max() + _GIVE)), 2, _MARCH))
        keep = np.ones(share.shape, np.float32)
        open_ = (share < 0.5) & (length > 0.0)
        for t in np.arange(1, steps + 1, dtype=np.float32) / steps:
            on = cv2.remap(
                share,
                gx + t * reach[..., 0],
                gy + t * reach[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            hit = open_ & (on >= 0.5)
            keep[hit] = t - 1.0 / steps
            open_ &= ~hit
        box *= (1.0 - still * (1.0 - keep))[..., None]
    box *= (1.0 - still * share)[..., None]


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
