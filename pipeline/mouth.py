"""The mouth's inside for the geometric renderer: keep what the photo shows, synthesise only the rest.

Teeth hang from the lips. Between the photo's inner lips, what lies above the gap between the
teeth (the upper teeth) belongs to the upper lip and moves with it, what lies below (the lower
teeth, the tongue) belongs to the lower lip and moves with the jaw (`mouth_source`, a backward
flow, so the photo's own pixels move at the photo's resolution). When the target opens wider
than the photo, the two parts part and only the gap between them, which the photo never
showed, is painted (`paint_mouth`): a cavity shaded with depth (dark under the upper teeth and
towards the corners), the hint of a tongue low down, rows of teeth (`pipeline.teeth`) where the
photo showed none (drawn again finer for the photo: `fine_paint`), and lower teeth where it showed
upper teeth but no lower ones.

`analyse_mouth` reads the photo's opening once per photo (`MouthInterior`). Points are crop
pixels (x right, y down); lip curves are (K, 2) ordered from the image's left, corners shared.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.face_paint import EDGE_RAMP, box_around, curve_y
from pipeline.teeth import TOOTH_COLOUR, draw_teeth

__all__ = [
    "MouthInterior",
    "MouthMotion",
    "analyse_mouth",
    "mouth_source",
    "refine_mouth_area",
    "refine_mouth_flow",
    "carry_corners",
    "follow_face_below_lips",
    "paint_mouth",
    "paint_mouth_fine",
    "fine_paint",
]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Columns across the mouth and rows down the opening at which the photo's interior is read.
_COLUMNS, _ROWS = 24, 32
#: A gap between the teeth is darker than the rows above and below it by at least this much luma.
_VALLEY = 12.0
#: Reach (Gaussian sigmas, in mouth widths) of the skin around a mouth corner that moves with it:
#: towards the middle of the mouth (short: the lips' middle keeps its own motion), away from it, across.
CORNER_REACH = (0.12, 0.3, 0.25)
#: ... and where it ends (in those sigmas).
CORNER_EXTENT = 2.5
#: Under the lower lip the face's own flow takes over from this depth (mouth widths), over this much more.
BELOW_LIPS = (0.35, 0.2)
#: How far past the target's inner lower lip the painted gap reaches where it does not end on the
#: photo's lower teeth, crop pixels: the photo's dark between its lips lies partly outside the
#: mesh's lip line, and moved with the lip it would run along the rim as a thin dark line.
RIM_OVERLAP = 1.0
#: Under the target's inner lower lip, the opening's own mapping fades into the mesh's over this
#: many mouth widths (`_continue_below_lip`).
LIP_SEAM = 0.06


@dataclass(frozen=True)
class MouthInterior:
    """What the photo shows between its inner lips (`analyse_mouth`).

    across: (K,) places across the mouth (0 = image-left corner, 1 = right corner); split: (K,)
    fraction of the opening's height (0 = upper lip, 1 = lower lip) where the part hanging from
    the upper lip ends: a pixel above the lower end of the gap between the teeth, 1 where upper
    teeth reach the lower lip, 0.5 when the lips touch;
    cavity: (3,) float32 RGB of the photo's own dark gap, or None; teeth: (3,) float32 RGB of its
    teeth, or None when it shows none; lower_teeth: whether teeth show below the split;
    lower_share: (K,) share of teeth among the photo's pixels below the split, None when it
    shows no teeth.
    """

    across: np.ndarray
    split: np.ndarray
    cavity: np.ndarray | None
    teeth: np.ndarray | None
    lower_teeth: bool
    lower_share: np.ndarray | None = None


def _corners_x(upper: np.ndarray) -> tuple[float, float]:
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    return left, max(right, left + 1.0)


def analyse_mouth(source: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> MouthInterior:
    """Read the (H, W, 3) uint8 photo between its inner lip curves `upper`, `lower` (K, 2)."""
    across = np.linspace(0.06, 0.94, _COLUMNS)
    left, right = _corners_x(upper)
    xs = left + across * (right - left)
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    gap = np.maximum(bottom - top, 0.0)
    split = np.full(_COLUMNS, 0.5)
    if gap.max() < 1.5:
        return MouthInterior(across, split, None, None, False)
    t = np.linspace(0.0, 1.0, _ROWS)[:, None]  # (R, 1) down the opening
    map_y = (top[None, :] + t * gap[None, :]).astype(np.float32)
    map_x = np.broadcast_to(xs[None, :], map_y.shape).astype(np.float32)
    colours = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    colours = colours.astype(np.float32)  # (R, K, 3)
    luma = colours @ _LUMA
    smooth = cv2.GaussianBlur(luma, (1, 5), 0, sigmaY=1.2)
    # The darkest row between the lips' own edges (the outer rows are lip), below the upper teeth's
    # roots (the dark just under the upper lip is its shadow, not the gap between the teeth).
    inner = slice(_ROWS * 3 // 10, _ROWS - _ROWS // 8)
    darkest = inner.start + np.argmin(smooth[inner], axis=0)
    contrast = np.median(smooth, axis=0) - smooth[darkest, np.arange(_COLUMNS)]  # (K,)
    # The split lies near the lower end of the dark gap: the dark hangs under the upper teeth (as
    # a shadow, continued by the painted cavity), and the lower part starts a pixel above the lower
    # teeth or the lower lip's wet edge (their edge is then the photo's, not the paint's rim).
    cols = np.arange(_COLUMNS)
    level = smooth[darkest, cols] + 0.5 * contrast
    below_dark = (np.arange(_ROWS)[:, None] > darkest[None, :]) & (smooth > level[None, :])
    end = np.where(below_dark.any(axis=0), np.argmax(below_dark, axis=0), _ROWS - 1)
    # A gap is a valley: brighter rows above and below it. The darkest row of a column that only
    # brightens from the upper lip into teeth (no gap between them and the lower lip) is the ramp
    # at the slice's top; read as a gap it would cut those teeth in two.
    rows = np.arange(_ROWS)[:, None]
    above = np.where(rows < darkest[None, :], smooth, -np.inf).max(axis=0)
    below = np.where(rows > darkest[None, :], smooth, -np.inf).max(axis=0)
    valley = np.minimum(above, below) - smooth[darkest, cols] > _VALLEY
    usable = (gap >= 3.0) & (contrast > 12.0) & valley  # a gap tall enough to read
    split = np.maximum(t[end, 0] - 1.0 / np.maximum(gap, 1.0), t[darkest, 0])
    # Teeth down to the lower lip with no gap below them are the upper teeth (a smile's): all of
    # the opening hangs from the upper lip.
    chroma = colours.max(axis=2) - colours.min(axis=2)
    hangs = (((luma > 135.0) & (chroma < 70.0)).mean(axis=0) > 0.5) & ~usable & (gap >= 3.0)
    split[hangs] = 1.0
    usable |= hangs
    # Columns without a readable gap (the corners, lips touching) take their neighbours' split.
    split = np.interp(across, across[usable], split[usable]) if usable.any() else np.full(_COLUMNS, 0.5)
    # Beside such teeth a gap is a shorter tooth's tip next to a long one (an incisor's): not cut off.
    split[np.lib.stride_tricks.sliding_window_view(np.pad(hangs, 2), 5).any(axis=1)] = 1.0
    split = np.convolve(np.pad(split, 2, mode="edge"), np.ones(5) / 5.0, mode="valid")
    # Colours of what the photo shows: its dark gap, and teeth (bright, little saturated).
    opened = gap[None, :] >= 1.5
    dark = opened & (luma < np.percentile(luma[:, gap >= 1.5], 15) + 10.0) & (luma < 90.0)
    cavity = np.median(colours[dark], axis=0) if dark.sum() >= 6 else None
    bright = opened & (luma > 135.0) & (chroma < 70.0) & (t > 0.05) & (t < 0.95)
    teeth = np.median(colours[bright], axis=0) if bright.sum() >= 0.08 * opened.sum() * _ROWS else None
    central = usable & (np.abs(across - 0.5) < 0.25)  # where lower teeth would show
    below = (t > split[None, :] + 0.1) & (t < 0.9) & central[None, :]  # under the gap, off the lip
    lower_teeth = bool((bright & below).sum() >= 0.1 * max((opened & below).sum(), 1) > 0)
    # Per column, the teeth's share of the lower part down to the lower lip: lower teeth are often a
    # thin strip on the lip's edge, in the upper lip's shadow (less bright than the upper teeth, but
    # less saturated than the lip).
    lower_part = opened & (t > split[None, :])
    lower_bright = lower_part & (luma > 100.0) & (chroma < 55.0)
    share = lower_bright.sum(axis=0) / np.maximum(lower_part.sum(axis=0), 1)
    share = np.convolve(np.pad(share, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    return MouthInterior(
        across,
        split.astype(np.float64),
        None if cavity is None else cavity.astype(np.float32),
        None if teeth is None else teeth.astype(np.float32),
        lower_teeth,
        share if teeth is not None else None,
    )


@dataclass(frozen=True)
class MouthMotion:
    """The photo's mouth interior with the inner lips of the photo and of the target.

    interior: `analyse_mouth` of the photo; source_lips / target_lips: (upper, lower) inner lip
    curves, (K, 2) crop pixels each, ordered from the image's left; posed_lips: the photo's inner lips
    carried with the skull into the target's pose (its expression kept): a turn foreshortens the
    mouth across, not down, and its opening is no gap to paint.
    """

    interior: MouthInterior
    source_lips: tuple[np.ndarray, np.ndarray]
    target_lips: tuple[np.ndarray, np.ndarray]
    posed_lips: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class _Columns:
    """The opening at given target pixel columns, and the same places in the photo."""

    across: np.ndarray
    x_t: np.ndarray  # the columns themselves, crop pixels
    x_src: np.ndarray
    top_t: np.ndarray
    gap_t: np.ndarray
    top_s: np.ndarray
    gap_s: np.ndarray
    upper_h: np.ndarray  # height of the upper lip's part in the target, pixels
    lower_h: np.ndarray
    ratio: np.ndarray  # target pixels per photo pixel, down the opening
    extra: np.ndarray  # in [0, 1]: how much wider than the photo the target opens
    within: np.ndarray  # between the corners


def _columns(xs: np.ndarray, mouth: MouthMotion) -> _Columns:
    (up_s, lo_s), (up_t, lo_t) = mouth.source_lips, mouth.target_lips
    left_t, right_t = _corners_x(up_t)
    left_s, right_s = _corners_x(up_s)
    across = (xs - left_t) / (right_t - left_t)
    a = np.clip(across, 0.0, 1.0)
    x_src = left_s + a * (right_s - left_s)
    top_t = curve_y(up_t, xs)
    gap_t = np.maximum(curve_y(lo_t, xs) - top_t, 0.0)
    top_s = curve_y(up_s, x_src)
    gap_s = np.maximum(curve_y(lo_s, x_src) - top_s, 0.0)
    scale = float(np.hypot(*(up_t[-1] - up_t[0])) / max(np.hypot(*(up_s[-1] - up_s[0])), 1.0))
    needed = gap_s * scale
    if mouth.posed_lips is not None:
        # The photo's opening as the target's pose alone shows it, at the same place across.
        up_p, lo_p = mouth.posed_lips
        left_p, right_p = _corners_x(up_p)
        x_p = left_p + a * (right_p - left_p)
        needed = np.maximum(needed, curve_y(lo_p, x_p) - curve_y(up_p, x_p))
    opening = gap_t > needed
    # A mouth that closes where the photo's was open squeezes its inside (never below 5 %).
    ratio = np.where(opening | (gap_s < 1e-3), scale, np.maximum(gap_t / np.maximum(gap_s, 1e-3), 0.05))
    split = np.interp(a, mouth.interior.across, mouth.interior.split)
    return _Columns(
        across=a,
        x_t=xs,
        x_src=x_src,
        top_t=top_t,
        gap_t=gap_t,
        top_s=top_s,
        gap_s=gap_s,
        upper_h=split * gap_s * ratio,
        lower_h=(1.0 - split) * gap_s * ratio,
        ratio=ratio,
        extra=np.clip((gap_t - needed) / 2.0, 0.0, 1.0),
        within=(across > 0.0) & (across < 1.0),
    )


def mouth_source(
    px: np.ndarray, py: np.ndarray, mouth: MouthMotion
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where target pixels (px, py) (same shape) inside the opening take the photo from.

    Returns source x, source y and `inside` (soft, in [0, 1]: the pixel lies between the target's
    inner lips). Above the middle of the target's opening the photo is read hanging from the
    upper lip (down to the photo's split), below it from the lower lip.
    """
    cols = _columns(px.reshape(-1), mouth)
    y = py.reshape(-1)
    d_top = y - cols.top_t
    d_bot = cols.top_t + cols.gap_t - y
    middle = cols.upper_h + 0.5 * (cols.gap_t - cols.upper_h - cols.lower_h)
    split_s = cols.top_s + cols.upper_h / np.maximum(cols.ratio, 1e-6)
    from_top = np.minimum(cols.top_s + d_top / cols.ratio, split_s)
    from_bottom = np.maximum(cols.top_s + cols.gap_s - d_bot / cols.ratio, split_s)
    sy = np.clip(
        np.where(d_top <= middle, from_top, from_bottom), cols.top_s - 1.0, cols.top_s + cols.gap_s + 1.0
    )
    inside = np.clip(np.minimum(d_top, d_bot) + 0.5, 0.0, 1.0) * cols.within
    shape = px.shape
    return cols.x_src.reshape(shape), sy.reshape(shape), inside.reshape(shape)


def refine_mouth_area(flow: np.ndarray, face_flow: np.ndarray, mouth: MouthMotion) -> None:
    """Set the (H, W, 2) full-resolution backward flow of the mouth area (in place): under the lower
    lip the face's own flow `face_flow` (`follow_face_below_lips`), around the corners the corners'
    motion (`carry_corners`), inside the opening the photo's interior (`refine_mouth_flow`)."""
    follow_face_below_lips(flow, face_flow, mouth)
    carry_corners(flow, mouth)
    refine_mouth_flow(flow, mouth)


def refine_mouth_flow(flow: np.ndarray, mouth: MouthMotion) -> None:
    """Set the (H, W, 2) full-resolution backward flow inside the target's opening (in place)."""
    box = box_around(np.concatenate(mouth.target_lips), flow.shape[:2], pad=2)
    if box is None:
        return
    x0, y0, x1, y1 = box
    px, py = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    sx, sy, inside = mouth_source(px, py, mouth)
    if inside.max() <= 0.0:
        return
    region = flow[y0:y1, x0:x1]
    w = inside[:, :, None]
    moved = np.stack([sx - px, sy - py], axis=-1)
    region[...] = (w * moved + (1.0 - w) * region).astype(np.float32)
    _continue_below_lip(region, px, py, mouth)


def _continue_below_lip(region: np.ndarray, px: np.ndarray, py: np.ndarray, mouth: MouthMotion) -> None:
    """Just under the target's inner lower lip, continue the opening's own mapping into the lip
    (the (h, w, 2) backward flow `region` at pixels (px, py), in place), fading out over
    `LIP_SEAM` mouth widths, where the target opens wider than the photo.

    A dropped jaw folds the mesh's lip triangles at the inner lip: the rows just under it read the
    photo a few pixels too far down, and what lies on the photo's lip line (the lower teeth's
    strip, the lip's wet edge) is skipped. Reads are moved up to the continuation, never down."""
    cols = _columns(px[0], mouth)
    width = float(np.ptp(mouth.target_lips[0][:, 0]))
    depth = py - (cols.top_t + cols.gap_t)[None, :]  # pixels under the target's inner lower lip
    # From the last pixel row of the opening (its soft edge blends in the folded reads too).
    weight = np.clip(1.0 - depth / max(LIP_SEAM * width, 1.0), 0.0, 1.0) * (depth > -1.0)
    weight *= (cols.extra * cols.within)[None, :]
    if weight.max() <= 0.0:
        return
    read_y = (cols.top_s + cols.gap_s)[None, :] + depth / np.maximum(cols.ratio, 1e-6)[None, :]
    read_y = np.minimum(read_y, py + region[..., 1])
    wanted = np.stack(np.broadcast_arrays(cols.x_src[None, :] - px, read_y - py), axis=-1)
    region += (weight[:, :, None] * (wanted - region)).astype(np.float32)


def follow_face_below_lips(flow: np.ndarray, face_flow: np.ndarray, mouth: MouthMotion) -> None:
    """Under the lower lip, hand the (H, W, 2) flow over to the face's own flow `face_flow` (in place):
    from `BELOW_LIPS` [0] mouth widths under the target's inner lower lip, fully by [0] + [1].

    The mesh is drawn again at full resolution around the mouth so that the lips' edges are sharp;
    lower down (the chin) that only brings back what the face's flow smoothed: where a nod or a
    dropped jaw unfolds the underside of the chin, the mesh stretches a strip the photo shows
    edge-on over many rows (streaks in a beard), and the box it was drawn in ends in a seam."""
    _, lower = mouth.target_lips
    left, right = _corners_x(mouth.target_lips[0])
    width = right - left
    start, ramp = (v * width for v in BELOW_LIPS)
    h, w = flow.shape[:2]
    x0, x1 = max(int(left - 0.6 * width), 0), min(int(right + 0.6 * width) + 1, w)
    y0 = max(int(lower[:, 1].min() + start), 0)
    if x1 <= x0 or y0 >= h:
        return
    xs = np.arange(x0, x1, dtype=np.float64)
    depth = np.arange(y0, h, dtype=np.float64)[:, None] - curve_y(lower, np.clip(xs, left, right))[None, :]
    weight = np.clip((depth - start) / max(ramp, 1.0), 0.0, 1.0).astype(np.float32)[:, :, None]
    region = flow[y0:, x0:x1]
    region += weight * (face_flow[y0:, x0:x1] - region)


def carry_corners(flow: np.ndarray, mouth: MouthMotion) -> None:
    """Move the skin around each mouth corner with the corner (the (H, W, 2) backward flow, in place):
    the flow within `CORNER_REACH` mouth widths is drawn towards the corner's own motion (plus what
    the mouth does as a whole, an affine map), with a Gaussian falloff (shorter towards the middle of
    the mouth, 0 from `CORNER_EXTENT` sigmas: the skin beside the jaw is not reached).

    An expression basis can lift a corner while the skin a few millimetres beside it moves the
    other way (the smile's least-squares direction does: the corner goes up, the cheek beside it
    slightly down). The mesh then shears at the corner, the cheek's triangles fold over it, and the
    picture's corner (its shadow, the ends of the lips) keeps its place: only a point lifts."""
    (up_s, lo_s), (up_t, lo_t) = mouth.source_lips, mouth.target_lips
    axis = up_t[-1] - up_t[0]
    width = float(np.hypot(*axis))
    if width * min(CORNER_REACH) < 1.0:
        return
    axis = (axis / width).astype(np.float32)
    inward_s, outward_s, across_s = (r * width for r in CORNER_REACH)
    # What the head does around the mouth (a move, a turn, a size change): the similarity taking the
    # target's lips to the photo's (a smile bends the lips, which a similarity cannot follow); its
    # slope is kept around the corners.
    lips_t, lips_s = np.concatenate([up_t, lo_t]), np.concatenate([up_s, lo_s])
    x, y = lips_t[:, 0], lips_t[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])  # (2P, 4)
    (a, b, _, _) = np.linalg.lstsq(design, np.concatenate([lips_s[:, 0], lips_s[:, 1]]), rcond=None)[0]
    slope = np.array([[a - 1.0, -b], [b, a - 1.0]], np.float32)  # (2, 2) flow per pixel
    for corner, inward in ((0, axis), (-1, -axis)):
        target, motion = up_t[corner], up_s[corner] - up_t[corner]  # backward flow of the corner itself
        across = np.array([-inward[1], inward[0]], np.float32)
        # The box around the weight's rectangle (along the mouth's axis and across it).
        sides = (-CORNER_EXTENT * across_s, CORNER_EXTENT * across_s)
        reach = [
            target + a * inward + b * across
            for a in (-CORNER_EXTENT * outward_s, CORNER_EXTENT * inward_s)
            for b in sides
        ]
        x0, y0 = (max(int(np.floor(v)), 0) for v in np.min(reach, axis=0))
        x1, y1 = (int(np.ceil(v)) + 1 for v in np.max(reach, axis=0))
        x1, y1 = min(x1, flow.shape[1]), min(y1, flow.shape[0])
        if x1 <= x0 or y1 <= y0:
            continue
        dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(target[0]))[None, :]
        dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(target[1]))[:, None]
        along = dx * inward[0] + dy * inward[1]  # > 0 towards the middle of the mouth
        side = dx * across[0] + dy * across[1]
        scaled = np.where(along > 0.0, along / inward_s, along / outward_s) ** 2 + (side / across_s) ** 2
        # A Gaussian brought to exactly 0 at CORNER_EXTENT sigmas (nothing changes outside the box).
        weight = np.exp(-0.5 * scaled) * np.clip(1.0 - scaled / CORNER_EXTENT**2, 0.0, 1.0) ** 2
        region = flow[y0:y1, x0:x1]
        offsets = np.stack(np.broadcast_arrays(dx, dy), axis=-1)  # (h, w, 2)
        wanted = motion.astype(np.float32) + offsets @ slope.T
        region += weight[:, :, None] * (wanted - region)


def paint_mouth(
    out: np.ndarray,
    coverage: np.ndarray,
    mouth: MouthMotion,
    face_size: float,
    exposure: float,
    teeth: bool = True,
    paint: np.ndarray | None = None,
) -> bool:
    """Paint the gap the photo never showed into the (H, W, 3) uint8 crop `out` (in place) and
    record where in `coverage` (H, W) float32; True when it drew teeth of its own (`pipeline.teeth`,
    worth drawing again finer: `paint_mouth_fine`).

    The crop gets the gap anti-aliased over a crop pixel; `coverage` ramps over `EDGE_RAMP` crop
    pixels across the gap's rim (its signed distance, which the photo's resolution keeps sharp
    along the same smooth contour: `reconstruction.overlay.photo_alpha`); `paint` (H, W, 3) uint8,
    when given, receives the gap's own colour wherever it covers anything and two pixels beyond
    (not blended with the lips, so the rim at the photo's resolution has no fringe of the crop's
    lip colour).
    """
    box = box_around(np.concatenate(mouth.target_lips), out.shape[:2], pad=2)
    if box is None:
        return False
    x0, y0, x1, y1 = box
    gap = _gap(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64), mouth, 1.0)
    if gap is None:
        return False
    distance, cols, gap_top, gap_bottom, keep = gap
    # A gap under two pixels tall fades out (lips barely parted: nothing to paint at any resolution).
    alpha = np.clip(distance + 0.5, 0.0, 1.0) * cols.extra[None, :]
    if alpha.max() <= 0.0:
        return False
    cover = (np.clip(distance / EDGE_RAMP + 0.5, 0.0, 1.0) * cols.extra[None, :]).astype(np.float32)
    # No painted teeth where the photo's own lower teeth are kept.
    drawn = teeth and keep.max() < 0.5
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    colour = _cavity(mouth, ys, cols, (gap_top, gap_bottom), face_size, exposure, drawn, 1.0)
    colour = np.clip(colour + 0.5, 0, 255)
    region = out[y0:y1, x0:x1].astype(np.float32)
    region += (colour - region) * alpha[:, :, None]
    out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
    if paint is not None:
        # Past the coverage's foot too: the overlay's bicubic upsampling reads two crop pixels out.
        near = distance > -(EDGE_RAMP / 2.0 + 2.0)
        paint[y0:y1, x0:x1][near] = colour[near].astype(np.uint8)
    np.maximum(coverage[y0:y1, x0:x1], cover, out=coverage[y0:y1, x0:x1])
    return drawn and mouth.interior.teeth is None


def fine_paint(
    paint: np.ndarray,
    cover: np.ndarray,
    mouth: MouthMotion,
    face_size: float,
    exposure: float,
    factor: int,
    greyscale: bool = False,
) -> np.ndarray:
    """The (c, c, 3) uint8 overlay `paint` at `factor` times the crop's resolution, its mouth gap
    drawn again at that resolution (`paint_mouth_fine`); grey where the photo is.

    Only what the (c, c) coverage `cover` reaches, and 3 pixels around it (the overlay's bicubic
    reads), is upsampled; the rest stays black (it is never laid over the photo)."""
    fine = np.zeros((paint.shape[0] * factor, paint.shape[1] * factor, 3), np.uint8)
    ys, xs = np.nonzero(cover > 0.0)
    if ys.size == 0:
        return fine
    x0, y0 = max(int(xs.min()) - 3, 0), max(int(ys.min()) - 3, 0)
    x1, y1 = min(int(xs.max()) + 4, paint.shape[1]), min(int(ys.max()) + 4, paint.shape[0])
    box = fine[y0 * factor : y1 * factor, x0 * factor : x1 * factor]
    box[...] = cv2.resize(paint[y0:y1, x0:x1], None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    paint_mouth_fine(fine, mouth, face_size, exposure, factor)
    if greyscale:
        box[...] = cv2.cvtColor(box, cv2.COLOR_RGB2GRAY)[:, :, None]
    return fine


def paint_mouth_fine(
    fine: np.ndarray, mouth: MouthMotion, face_size: float, exposure: float, factor: int
) -> None:
    """Draw the gap's own colour (with `paint_mouth`'s own teeth) again into `fine` (in place), an
    (f H, f W, 3) uint8 paint at `factor` f samples per crop pixel (sample u lies at crop x
    (u + 0.5) / f - 0.5): the lines between the teeth stay a photo pixel or two wide on a large
    photo, where the crop's paint would be upsampled into soft bands."""
    crop = (fine.shape[0] // factor, fine.shape[1] // factor)
    box = box_around(np.concatenate(mouth.target_lips), crop, pad=2)
    if box is None:
        return
    x0, y0, x1, y1 = (factor * v for v in box)
    step = 1.0 / factor
    xs, ys = ((np.arange(a, b, dtype=np.float64) + 0.5) * step - 0.5 for a, b in ((x0, x1), (y0, y1)))
    gap = _gap(xs, ys, mouth, step)
    if gap is None:
        return
    distance, cols, gap_top, gap_bottom, _ = gap
    near = distance > -(EDGE_RAMP / 2.0 + 2.0)
    colour = _cavity(mouth, ys[:, None], cols, (gap_top, gap_bottom), face_size, exposure, True, step)
    np.copyto(fine[y0:y1, x0:x1], np.clip(colour + 0.5, 0, 255).astype(np.uint8), where=near[:, :, None])


def _gap(
    xs: np.ndarray, ys: np.ndarray, mouth: MouthMotion, step: float
) -> tuple[np.ndarray, _Columns, np.ndarray, np.ndarray, np.ndarray] | None:
    """The painted gap at sample columns `xs` (X,) and rows `ys` (Y,) (crop pixels, `step` apart):
    (Y, X) signed distance (crop pixels, > 0 inside) to its rim, the columns, (X,) y of its upper
    and lower rim, (X,) how much of the photo's lower part is kept; None when nothing opens."""
    cols = _columns(xs, mouth)
    if cols.extra.max() <= 0.0:
        return None
    ys = ys[:, None]
    gap_top = cols.top_t + cols.upper_h
    gap_bottom, keep = _lower_rim(mouth.interior, cols, step)
    left, right = _corners_x(mouth.target_lips[0])
    # Signed distance (crop pixels, > 0 inside) to the gap's rim: between the two parts the photo's
    # teeth hang from, within the target's inner lips (a little past the lower one) and corners.
    distance = np.minimum(
        np.minimum(_below(ys, gap_top, step), -_below(ys, gap_bottom, step)),
        np.minimum(_below(ys, cols.top_t, step), -_below(ys, cols.top_t + cols.gap_t + RIM_OVERLAP, step)),
    )
    distance = np.minimum(distance, np.minimum(xs - left, right - xs)[None, :])
    return distance, cols, gap_top, gap_bottom, keep


def _lower_rim(interior: MouthInterior, cols: _Columns, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(X,) y of the painted gap's lower rim, and (X,) in [0, 1] how much of the photo's lower part
    is kept: all of it where it shows teeth in a band thick enough to see (the rim lies on its
    top, in the photo's dark a pixel above the teeth), none where it would be a sliver along a
    steep rim or shows no teeth (the rim lies `RIM_OVERLAP` past the inner lower lip)."""
    lip = cols.top_t + cols.gap_t
    if interior.lower_share is None:
        return lip + RIM_OVERLAP, np.zeros_like(lip)
    share = np.interp(cols.across, interior.across, interior.lower_share)
    slope = np.gradient(lip, step) if lip.size > 1 else np.zeros_like(lip)
    thickness = cols.lower_h / np.sqrt(1.0 + slope**2)  # across the rim, crop pixels
    keep = np.clip((share - 0.15) / 0.2, 0.0, 1.0) * np.clip((thickness - 0.2) / 0.4, 0.0, 1.0)
    # Smooth along the mouth (over a tenth of its width): the rim has no steps where keeping ends.
    reach = max(int(0.05 * np.ptp(cols.x_src) * float(np.median(cols.ratio)) / step), 1)
    keep = np.convolve(
        np.pad(keep, reach, mode="edge"), np.ones(2 * reach + 1) / (2 * reach + 1), mode="valid"
    )
    return lip - keep * cols.lower_h + (1.0 - keep) * RIM_OVERLAP, keep


def _below(ys: np.ndarray, curve: np.ndarray, step: float = 1.0) -> np.ndarray:
    """(Y, X) signed distance (pixels) of rows `ys` (Y, 1) below a curve given by its y at each
    column (X,), `step` pixels apart: the vertical distance, shortened where the curve slopes."""
    slope = np.gradient(curve, step) if curve.size > 1 else np.zeros_like(curve)
    return (ys - curve[None, :]) / np.sqrt(1.0 + slope**2)[None, :]


def _cavity(
    mouth: MouthMotion,
    ys: np.ndarray,
    cols: _Columns,
    gap: tuple[np.ndarray, np.ndarray],
    face_size: float,
    exposure: float,
    teeth: bool,
    step: float,
) -> np.ndarray:
    """(Y, X, 3) float colour of the synthesised gap at rows `ys` (Y, 1) and `cols` (crop pixels,
    `step` apart), between its upper and lower rim `gap` ((X,) y each): the photo's own dark colour
    (or a dark red-brown), in shadow under the upper teeth and towards the corners, a tongue low
    down, and teeth where plausible (`pipeline.teeth` where the photo shows none)."""
    interior = mouth.interior
    # float32 is enough for colours and half the work on the fine grid; a mouth that keeps the
    # photo's own teeth is painted as before (float64).
    f32 = np.float32 if interior.teeth is None else np.float64
    ys = ys.astype(f32)
    gap_top, gap_bottom = (rim.astype(f32) for rim in gap)
    across = cols.across.astype(f32)
    size = max(face_size, 1.0)
    height = np.maximum(gap_bottom - gap_top, 1.0)
    v = np.clip((ys - gap_top) / height, 0.0, 1.0)  # 0 under the upper part, 1 above the lower
    centre = (1.0 - (2.0 * across - 1.0) ** 2)[None, :]  # 1 mid-mouth, 0 at the corners
    default = np.array([34.0, 13.0, 15.0], f32) * exposure
    base = default if interior.cavity is None else 0.5 * default + 0.5 * np.minimum(interior.cavity, 55.0)
    shadow = np.clip((ys - gap_top) / (0.012 * size), 0.0, 1.0)  # under the upper teeth
    shade = (0.35 + 0.65 * centre) * (0.45 + 0.55 * shadow) * (0.75 + 0.4 * v)  # dark at the back
    colour = base[None, None, :] * shade[:, :, None]
    # A tongue: a lighter, redder mound rising from the lower part towards the middle.
    open_enough = np.clip((height / size - 0.03) / 0.04, 0.0, 1.0)[None, :]
    crest = 0.45 + 0.5 * (2.0 * across[None, :] - 1.0) ** 2
    tongue = np.clip((v - crest) / 0.2, 0.0, 1.0) * open_enough
    tongue_colour = np.array([160.0, 66.0, 70.0], f32) * exposure * (0.45 + 0.55 * v[:, :, None])
    colour = colour + (tongue_colour - colour) * (0.75 * tongue * np.sqrt(centre))[:, :, None]
    if not teeth:
        return colour
    if interior.teeth is None:
        # The photo showed no teeth: a row of them hangs from the upper rim (fading out where the
        # photo's own opening was already tall: its own inside is there), lower ones once well open.
        no_teeth = np.clip(1.5 - cols.gap_s / (0.04 * size), 0.0, 1.0)[None, :, None]
        upper = mouth.target_lips[0]
        tooth = TOOTH_COLOUR * float(np.clip(1.3 * exposure, 0.7, 1.1))  # dimmer in a dark photo
        lower = float(np.max(open_enough))
        # Each tooth's small differences are the photo's (its lips' place): the same in every frame.
        seed = zlib.crc32(np.round(np.concatenate(mouth.source_lips)).astype(np.int32).tobytes())
        drawn = draw_teeth(
            colour, ys, cols.x_t, (gap_top, gap_bottom), (upper[0], upper[-1]), size, tooth, step, lower, seed
        )
        # In the corners' shadow (the cheeks hide the back of the row) the teeth sink into the dark.
        seen = no_teeth * (np.clip((centre - 0.3) / 0.45, 0.0, 1.0) ** 1.2)[:, :, None]
        return colour + (drawn - colour) * seen
    tooth = interior.teeth
    band_h = 0.018 * size
    if not interior.lower_teeth:
        # Lower teeth above the lower lip, in the lip's shadow, once the mouth is well open.
        band = np.clip((ys - (gap_bottom - 0.7 * band_h)) / 0.8 + 0.5, 0.0, 1.0) * centre**2
        colour = colour + (0.7 * tooth - colour) * (0.45 * band * open_enough)[:, :, None]
    return colour
