"""Lips that meet: where the target closes a mouth the photo shows open, its inside goes behind them.

`pipeline.mouth` squeezes the photo's opening into the target's (teeth hang from the lips, in
proportion to the gap). Where the target's inner lips meet (a gap under `CLOSED_GAP` crop pixel)
there is no row left for the inside, yet every interpolation of the backward flow across the
lips' seam (the rasterised mesh's light blur, the flow's upsampling to the photo's resolution)
jumps from the upper lip's edge to the lower lip's through it and reads the whole inside in a
couple of pixels: a thin band of squeezed teeth between the lips that a detector reads as an open
mouth. The fitted mesh's inner lips of a wide-open mouth also often run through the teeth, and
its mouth corners lie inside the dark of the real ones: the lip triangles then carry a strip of
teeth and dark wedges at the corners that no squeezing removes.

So `inside_mask` reads, once per photo, what of it is the mouth's inside (between the mesh's
inner lips, and the teeth and dark connected to it up to the real lips and corners), and in the
columns the target closes:

- `close_lips` sets the crop's flow to read the lips from the inside's edges on (rows above the
  target's seam the upper lip moved down onto the inside's upper edge, rows below it the lower
  lip moved up onto its lower edge), never the inside;
- `hidden_inside` marks that inside as hidden on the source crop, so reads the upsampling places
  there leave it to the nearer lip's edge (`reconstruction.crop.warp_photo`, as for an eyeball
  behind a shut lid).

Columns where the target keeps a gap of a pixel or more, closed photos, lips barely parted without
teeth (`MIN_OPEN`) and opened mouths are unchanged. In between, `pipeline.mouth` squeezes the
inside with the gap (cropping it instead, below 30 %, lowered the lip-sync evaluation's correlation
on the photos caught with an open mouth: its re-detected opening followed the target less).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pipeline.face_paint import box_around, curve_y

if TYPE_CHECKING:  # pipeline.mouth reads the photo's inside with `inside_mask`
    from pipeline.mouth import MouthMotion

__all__ = ["CLOSED_GAP", "InsideMask", "inside_mask", "close_lips", "hidden_inside"]

#: A column of the target's mouth whose inner-lip gap is under this (crop pixels) is closed ...
CLOSED_GAP = 1.0
#: ... when it is also under this share of the photo's gap there (the corners, shut in both, are not).
CLOSED_SHARE = 0.5
#: How far (mouth widths) past the fitted mesh's inner lips (up, down) and corners (sideways) the
#: photo's inside may reach.
REACH = (0.1, 0.2)
#: A photo's mouth without teeth is left to squeezing below this opening (mouth widths).
MIN_OPEN = 0.15
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class InsideMask:
    """The photo's mouth inside: (h, w) float32 in [0, 1] from crop pixel (x0, y0); top, bottom: (w,)
    its upper and lower edge (y, crop pixels) in each of those columns."""

    x0: int
    y0: int
    mask: np.ndarray
    top: np.ndarray
    bottom: np.ndarray


def _corners_x(lips: np.ndarray) -> tuple[float, float]:
    left, right = sorted((float(lips[0, 0]), float(lips[-1, 0])))
    return left, max(right, left + 1.0)


def inside_mask(
    source: np.ndarray, upper: np.ndarray, lower: np.ndarray, shows_teeth: bool
) -> InsideMask | None:
    """The (H, W, 3) uint8 photo's mouth inside, None for a closed mouth or lips barely parted (no
    teeth, `shows_teeth` False, and a gap under `MIN_OPEN`: squeezed, their dark gap is the line
    where lips meet, not a band of teeth): the pixels between its fitted
    inner lips `upper`, `lower` (K, 2) (their edges anti-aliased), and the teeth (bright, little
    saturated; not told from lips in a black-and-white photo) and dark connected to them within
    `REACH` of the lips and corners."""
    left, right = _corners_x(upper)
    width = right - left
    h, w = source.shape[:2]
    reach_y, reach_x = REACH[0] * width, REACH[1] * width
    x0, x1 = max(int(left - reach_x), 0), min(int(math.ceil(right + reach_x)) + 1, w)
    y0 = max(int(upper[:, 1].min() - reach_y), 0)
    y1 = min(int(math.ceil(lower[:, 1].max() + reach_y)) + 1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)  # level at the corners beyond them
    between = (xs > left) & (xs < right)
    opening = (bottom - top)[between].max(initial=0.0)
    if opening < 1.5 or (not shows_teeth and opening < MIN_OPEN * width):
        return None
    meshed = np.clip(np.minimum(ys - top, bottom - ys) + 0.5, 0.0, 1.0) * between
    pixels = source[y0:y1, x0:x1].astype(np.float32)
    luma, chroma = pixels @ _LUMA, pixels.max(axis=2) - pixels.min(axis=2)
    looks_inside = ((luma > 120.0) & (chroma < 60.0)) | (luma < 50.0)
    if np.median(chroma) < 12.0:  # a black-and-white photo: its lips look like teeth, the mesh's inside only
        looks_inside[...] = False
    near = (ys > top - reach_y) & (ys < bottom + reach_y)
    grown = ((looks_inside & near) | (meshed > 0.0)).astype(np.uint8)
    count, labels = cv2.connectedComponents(grown, connectivity=4)
    seeds = np.unique(labels[meshed >= 0.5])
    if count <= 1 or not (seeds > 0).any():
        return None
    connected = np.isin(labels, seeds[seeds > 0])
    # Its upper and lower edge in each column, smoothed along the mouth (the lips' edges are smooth
    # curves; a pixel's colour test is not), anti-aliased over a pixel.
    present = connected.any(axis=0)
    rows = np.arange(y0, y1, dtype=np.float64)
    upper_edge = np.where(present, rows[np.argmax(connected, axis=0)] - 0.5, np.nan)
    lower_edge = np.where(
        present, rows[connected.shape[0] - 1 - np.argmax(connected[::-1], axis=0)] + 0.5, np.nan
    )
    upper_edge, lower_edge = (_smooth(edge, present) for edge in (upper_edge, lower_edge))
    mask = np.clip(np.minimum(ys - upper_edge, lower_edge - ys) + 0.5, 0.0, 1.0) * present
    mask = np.maximum(mask, meshed).astype(np.float32)
    return InsideMask(x0, y0, mask, upper_edge, lower_edge)


def _smooth(edge: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(X,) an edge's y per column, median- then Gaussian-smoothed over the columns where `present`."""
    filled = np.interp(np.arange(edge.size), np.flatnonzero(present), edge[present])
    padded = np.pad(filled, 2, mode="edge")
    median = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    return cv2.GaussianBlur(median.reshape(1, -1), (0, 0), 1.5, borderType=cv2.BORDER_REPLICATE).ravel()


def _closed_columns(mouth: MouthMotion, xs: np.ndarray) -> np.ndarray:
    """(X,) bool: the target closes the photo's mouth at photo columns `xs` (beyond the corners: as it
    does a tenth of the way in from them)."""
    (up_s, lo_s), (up_t, lo_t) = mouth.source_lips, mouth.target_lips
    left_s, right_s = _corners_x(up_s)
    left_t, right_t = _corners_x(up_t)
    across = np.clip((xs - left_s) / (right_s - left_s), 0.1, 0.9)
    gap_t = curve_y(lo_t, left_t + across * (right_t - left_t)) - curve_y(
        up_t, left_t + across * (right_t - left_t)
    )
    x_s = left_s + across * (right_s - left_s)
    gap_s = curve_y(lo_s, x_s) - curve_y(up_s, x_s)
    return (gap_t < CLOSED_GAP) & (gap_t < CLOSED_SHARE * gap_s)


def hidden_inside(mouth: MouthMotion, size: tuple[int, int]) -> np.ndarray | None:
    """(H, W) float32 on the source crop: the photo's inside (`inside_mask`) in the columns the target
    closes, else 0; None where it closes none."""
    inside = mouth.interior.inside
    if inside is None:
        return None
    h, w = inside.mask.shape
    closed = _closed_columns(mouth, np.arange(inside.x0, inside.x0 + w, dtype=np.float64))
    if not closed.any():
        return None
    hidden = np.zeros(size, np.float32)
    hidden[inside.y0 : inside.y0 + h, inside.x0 : inside.x0 + w] = inside.mask * closed[None, :]
    return hidden


def close_lips(flow: np.ndarray, mouth: MouthMotion) -> None:
    """In the (H, W, 2) backward flow (in place), where the target closes the mouth: target pixels above
    the target's seam that read the photo's inside or upper lip read the upper lip moved down onto
    the inside's upper edge, those below it the lower lip moved up onto its lower edge.

    The lip's rows from the fitted mesh's lip line outwards are read from the inside's edge instead,
    over `REACH` [0] mouth widths plus twice the strip of teeth the mesh's lip carried (the lip is
    a little shortened there, not stretched: an edge pixel read over many rows is a streak)."""
    inside = mouth.interior.inside
    if inside is None:
        return
    (up_s, lo_s), (up_t, lo_t) = mouth.source_lips, mouth.target_lips
    left, right = _corners_x(up_t)
    box = box_around(
        np.concatenate(mouth.target_lips), flow.shape[:2], pad=int(REACH[1] * (right - left)) + 2
    )
    if box is None:
        return
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    region = flow[y0:y1, x0:x1]
    read_x, read_y = xs[None, :] + region[..., 0], ys + region[..., 1]
    closed = _closed_columns(mouth, read_x)
    if not closed.any():
        return
    columns = inside.x0 + np.arange(inside.top.size, dtype=np.float64)
    mesh_top, mesh_bottom = curve_y(up_s, read_x), curve_y(lo_s, read_x)
    top = np.minimum(np.interp(read_x, columns, inside.top), mesh_top) - 0.5  # the lips' first rows
    bottom = np.maximum(np.interp(read_x, columns, inside.bottom), mesh_bottom) + 0.5
    reach = REACH[0] * float(np.ptp(up_s[:, 0]))
    below_seam = ys >= 0.5 * (curve_y(up_t, xs) + curve_y(lo_t, xs))[None, :]  # level beyond the corners
    # Below the seam: mesh_bottom -> bottom, mesh_bottom + span -> itself, linear between.
    span = 2.0 * (bottom - mesh_bottom) + reach
    down = bottom + (np.clip(read_y, mesh_bottom, None) - mesh_bottom) * (mesh_bottom + span - bottom) / span
    span_up = 2.0 * (mesh_top - top) + reach
    up = top - (mesh_top - np.clip(read_y, None, mesh_top)) * (top - (mesh_top - span_up)) / span_up
    moved = np.where(below_seam, down, up)
    change = closed & np.where(
        below_seam,
        (read_y > top) & (read_y < mesh_bottom + span),
        (read_y < bottom) & (read_y > mesh_top - span_up),
    )
    region[..., 1] = np.where(change, moved - ys, region[..., 1]).astype(np.float32)
