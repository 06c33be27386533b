"""What a warp of the photo cannot show, painted on the crop: an opened mouth's inside and closed lids.

The geometric renderer moves the photo's own pixels; where the target opens the mouth wider than
the photo, or closes the lids, there is nothing in the photo to move there. These painters draw
that content into the warped crop in place and record in `coverage` (H, W, float32 in [0, 1]) where
they drew, so the full-resolution path can lay exactly those pixels over the warped photo.

`state` is the renderer's per-photo `PreviewState` (source crop, projected source mesh, face
size, exposure, lid colours); `layout` the face mesh's `MeshLayout` (mouth and eye curves,
rigid vertices); points are (N, 3) crop pixels (x, y down, depth).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

__all__ = ["paint_mouth", "paint_lids", "similarity_2d", "lid_colour"]


def _curve_y(curve: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a polyline (K, 2) ordered left to right, at columns xs (clamped at the ends)."""
    order = np.argsort(curve[:, 0], kind="stable")
    return np.interp(xs, curve[order, 0], curve[order, 1])


def _polygon_mask(upper: np.ndarray, lower: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 mask (255 inside) of the region between two curves sharing their end points."""
    ring = np.concatenate([upper, lower[::-1]], axis=0)
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.round(ring * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) rotation + uniform scale + translation taking two points `src` (2, 2) onto `dst`."""
    a, b = src[1] - src[0], dst[1] - dst[0]
    za, zb = complex(a[0], a[1]), complex(b[0], b[1])
    z = zb / za if abs(za) > 1e-9 else 1.0 + 0.0j
    rot = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.concatenate([rot, (dst[0] - rot @ src[0])[:, None]], axis=1)


def _rigid_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares affine taking (R, 2) points `src` onto `dst`."""
    a = np.concatenate([src, np.ones((len(src), 1))], axis=1)
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return sol.T


def lid_colour(image: np.ndarray, upper_lid: np.ndarray) -> np.ndarray:
    """(3,) float32 skin colour of a closed upper lid: the median of the brighter 70 % of the pixels
    in a band above the lid (leaving out brow hairs, lashes and shadow), a little shaded."""
    h, w = image.shape[:2]
    width = max(float(np.ptp(upper_lid[:, 0])), 4.0)
    cx, top = float(upper_lid[:, 0].mean()), float(upper_lid[:, 1].min())
    x0, x1 = int(max(0, cx - 0.25 * width)), int(min(w, cx + 0.25 * width + 1))
    y0, y1 = int(max(0, top - 0.5 * width)), int(min(h, top - 0.1 * width + 1))
    if x1 <= x0 or y1 <= y0:
        return np.full(3, 160.0, np.float32)
    pixels = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    bright = pixels[luma >= np.percentile(luma, 30)]
    return (0.94 * np.median(bright, axis=0)).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# The renderer
# ------------------------------------------------------------------------------------------------


def paint_mouth(
    out: np.ndarray,
    coverage: np.ndarray,
    state: Any,
    layout: Any,
    target_points: np.ndarray,
    teeth: bool = True,
) -> None:
    """Redraw the inside of the target's mouth opening (in place, uint8); `cover` (H, W) float32 records where.

    Teeth hang from the lips: the part of the opening within half the photo's own gap of the
    upper (lower) lip shows the photo's interior next to that lip; whatever opens beyond that
    is a dark, shaded cavity, with a hint of upper teeth when the photo showed none.
    """
    up_t, lo_t = target_points[layout.mouth[0], :2], target_points[layout.mouth[1], :2]
    up_s, lo_s = state.points[layout.mouth[0], :2], state.points[layout.mouth[1], :2]
    box = _box(up_t, lo_t, state.size, pad=2)
    if box is None:
        return
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float64)
    top_t, bot_t = _curve_y(up_t, xs), _curve_y(lo_t, xs)
    gap_t = bot_t - top_t
    if gap_t.max() < 0.75:
        return
    left_t, right_t = np.sort([up_t[0, 0], up_t[-1, 0]])
    left_s, right_s = np.sort([up_s[0, 0], up_s[-1, 0]])
    across = np.clip((xs - left_t) / max(right_t - left_t, 1.0), 0.0, 1.0)
    xs_s = left_s + across * (right_s - left_s)  # the same place across the photo's mouth
    top_s, bot_s = _curve_y(up_s, xs_s), _curve_y(lo_s, xs_s)
    gap_s = np.maximum(bot_s - top_s, 0.0)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]  # (Y, 1)
    d_top, d_bot = ys - top_t, bot_t - ys  # (Y, X) distances to the lips
    inside = np.clip(np.minimum(d_top, d_bot) + 0.5, 0.0, 1.0) * ((xs > left_t) & (xs < right_t))[None, :]
    if inside.max() <= 0.0:
        return
    opening = gap_t > gap_s  # columns that open wider than in the photo
    squeeze = np.where(opening, 1.0, gap_s / np.maximum(gap_t, 1e-6))
    attached = np.where(d_top <= d_bot, top_s + d_top, bot_s - d_bot)
    src_y = np.where(opening, attached, top_s + d_top * squeeze)
    # The cavity grows in with the extra opening (full from 2 px wider than in the photo): a
    # turned head changes the lips' gap by a pixel through parallax alone, which must not
    # draw a dark line across the photo's own teeth.
    extra = np.clip((gap_t - gap_s) / 2.0, 0.0, 1.0)[None, :]
    cavity = np.where(
        opening, np.clip((np.minimum(d_top, d_bot) - gap_s / 2.0) / 1.5 + 0.5, 0.0, 1.0) * extra, 0.0
    )
    map_x = np.broadcast_to(xs_s[None, :], src_y.shape).astype(np.float32)
    photo = cv2.remap(
        state.source, map_x, src_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    dark = _cavity_colour(state, ys, top_t, gap_t, gap_s, across, teeth)
    colour = photo + (dark - photo) * cavity[:, :, None]
    region = out[y0:y1, x0:x1].astype(np.float32)
    region += (colour - region) * inside[:, :, None]
    out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
    # Where the opening keeps the photo's own gap, the flow already shows the photo's mouth at full
    # resolution: only what opens or closes by a pixel or more is laid over it.
    reshaped = np.clip(np.abs(gap_t - gap_s), 0.0, 1.0)[None, :]
    np.maximum(coverage[y0:y1, x0:x1], (inside * reshaped).astype(np.float32), out=coverage[y0:y1, x0:x1])


def _cavity_colour(
    state: Any,
    ys: np.ndarray,
    top: np.ndarray,
    gap: np.ndarray,
    gap_photo: np.ndarray,
    across: np.ndarray,
    teeth: bool,
) -> np.ndarray:
    """(Y, X, 3) float colour of an open mouth's inside: dark red-brown, darker under the upper
    lip and towards the corners, a little lighter and redder low down (tongue)."""
    v = np.clip((ys - top) / np.maximum(gap, 1.0), 0.0, 1.0)  # 0 at the upper lip, 1 at the lower
    centre = (1.0 - (2.0 * across - 1.0) ** 2)[None, :]  # 1 mid-mouth, 0 at the corners
    shade = (0.55 + 0.45 * centre) * (0.75 + 0.25 * v) * state.exposure
    colour = np.stack([38.0 + 30.0 * v**2, 16.0 + 6.0 * v**2, 18.0 + 8.0 * v**2], axis=-1) * shade[:, :, None]
    if not teeth:
        return colour
    size = max(state.face_size, 1.0)
    wide = np.clip(gap / size * 12.0 - 0.3, 0.0, 1.0)  # only clearly open mouths
    no_teeth_in_photo = np.clip(1.0 - gap_photo / (0.03 * size), 0.0, 1.0)
    height = 0.02 * size  # visible upper teeth, pixels below the upper lip
    band = np.clip((top + height - ys) / 1.5 + 0.5, 0.0, 1.0) * (wide * no_teeth_in_photo)[None, :]
    band = band * np.sqrt(centre)
    teeth = np.array([200.0, 192.0, 178.0]) * min(state.exposure, 1.2)
    return colour + (teeth - colour) * (0.7 * band)[:, :, None]


def paint_lids(
    out: np.ndarray, coverage: np.ndarray, state: Any, layout: Any, target_points: np.ndarray
) -> None:
    """Skin-coloured lids over the part of each eye that the target's lids now cover (in place).

    Closure = 1 - target opening / photo opening; from 0.35 on, the drawn lid edge is pulled
    further down to meet the lower lid at 0.7, so that a strongly closing eye looks shut.
    """
    to_target = _rigid_affine(state.points[layout.rigid, :2], target_points[layout.rigid, :2])
    lash_width = max(0.8, state.face_size / 160.0)
    for (upper_i, lower_i), colour in zip(layout.eyes, state.lid_colours, strict=True):
        up_t, lo_t = target_points[upper_i, :2], target_points[lower_i, :2]
        up_s = state.points[upper_i, :2] @ to_target[:, :2].T + to_target[:, 2]  # photo's lids, target frame
        lo_s = state.points[lower_i, :2] @ to_target[:, :2].T + to_target[:, 2]
        open_s = float(np.mean(lo_s[:, 1] - up_s[:, 1]))
        open_t = float(np.mean(lo_t[:, 1] - up_t[:, 1]))
        if open_s <= 0.5:
            continue
        closure = float(np.clip(1.0 - open_t / open_s, 0.0, 1.0))
        if closure < 0.05:
            continue
        box = _box(np.concatenate([up_s, up_t]), lo_t, state.size, pad=2)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        xs = np.arange(x0, x1, dtype=np.float64)
        ys = np.arange(y0, y1, dtype=np.float64)[:, None]
        lid_top = _curve_y(up_s, xs)  # where the open lid was
        k = float(np.clip((closure - 0.35) / 0.35, 0.0, 1.0))
        k = k * k * (3.0 - 2.0 * k)
        lid_edge = _curve_y(up_t, xs)
        lid_edge = lid_edge + k * (np.maximum(_curve_y(lo_t, xs), lid_edge) - lid_edge)  # where it ends
        left, right = np.sort([up_t[0, 0], up_t[-1, 0]])
        across = ((xs > left) & (xs < right))[None, :].astype(np.float64)
        fade_in = np.maximum(0.3 * (lid_edge - lid_top), 1.0)  # blend into the skin above the old lid line
        cover = np.clip(np.minimum((ys - lid_top + 1.0) / fade_in, lid_edge - ys + 0.5), 0.0, 1.0) * across
        alpha = cover * min(1.0, closure * 1.6)
        v = np.clip((ys - lid_top) / np.maximum(lid_edge - lid_top, 1.0), 0.0, 1.0)
        lid = colour[None, None, :] * (1.0 - 0.12 * v[:, :, None])  # a little darker towards the lashes
        lash = np.clip(1.0 - np.abs(ys - lid_edge) / lash_width, 0.0, 1.0) * across * closure
        region = out[y0:y1, x0:x1].astype(np.float32)
        region += (lid - region) * alpha[:, :, None]
        region += (colour * 0.3 - region) * (0.85 * lash)[:, :, None]
        out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        painted = np.maximum(alpha, 0.85 * lash).astype(np.float32)
        np.maximum(coverage[y0:y1, x0:x1], painted, out=coverage[y0:y1, x0:x1])


def _box(
    upper: np.ndarray, lower: np.ndarray, size: tuple[int, int], pad: int
) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) around two point sets, padded and clipped to the image; None if empty."""
    h, w = size
    pts = np.concatenate([upper, lower])
    x0 = max(0, int(math.floor(pts[:, 0].min())) - pad)
    x1 = min(w, int(math.ceil(pts[:, 0].max())) + pad + 1)
    y0 = max(0, int(math.floor(pts[:, 1].min())) - pad)
    y1 = min(h, int(math.ceil(pts[:, 1].max())) + pad + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1
