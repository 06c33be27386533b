"""The mouth's inside for the geometric renderer: keep what the photo shows, synthesise only the rest.

Teeth hang from the lips. Between the photo's inner lips, what lies above the gap between the
teeth (the upper teeth) belongs to the upper lip and moves with it, what lies below (the lower
teeth, the tongue) belongs to the lower lip and moves with the jaw (`mouth_source`, a backward
flow, so the photo's own pixels move at the photo's resolution). When the target opens wider
than the photo, the two parts part and only the gap between them, which the photo never
showed, is painted (`pipeline.mouth_paint`): a cavity shaded with depth (dark under the upper teeth and
towards the corners), the hint of a tongue low down, rows of teeth (`pipeline.teeth`) where the
photo showed none (drawn again finer for the photo), and lower teeth where it showed
upper teeth but no lower ones.

`analyse_mouth` reads the photo's opening once per photo (`MouthInterior`). Points are crop
pixels (x right, y down); lip curves are (K, 2) ordered from the image's left, corners shared.
The opening is read and painted column by column in the mouth's own level frame
(`pipeline.mouth_frame`: a rolled head's lips are steep in the crop); a level mouth's frame is the
crop itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from core.images import LUMA as _LUMA
from pipeline.face_paint import box_around, curve_y
from pipeline.mouth_corners import carry_lift, corner_weight, lifted_reach
from pipeline.mouth_frame import MouthFrame

__all__ = [
    "MouthInterior",
    "MouthMotion",
    "OpeningColumns",
    "opening_columns",
    "corners_x",
    "analyse_mouth",
    "mouth_source",
    "refine_mouth_area",
    "refine_mouth_flow",
    "carry_corners",
    "follow_face_below_lips",
]

#: Columns across the mouth and rows down the opening at which the photo's interior is read.
_COLUMNS, _ROWS = 24, 32
#: A gap between the teeth is darker than the rows above and below it by at least this much luma.
_VALLEY = 12.0
#: The photo shows teeth when they cover at least this share of its opening's samples.
_TEETH_AREA = 0.08
#: The lips around the opening are read this far outside its inner lip curves (mouth widths).
_LIP_BAND = (0.02, 0.08)
#: Teeth read against the lips: luma above `_LIP_LIGHTER[0]` times the lighter lip's plus
#: `_LIP_LIGHTER[1]`, and a saturation (chroma / luma) under `_LIP_WHITER` times the lips'; lower
#: teeth (often in the upper lip's shadow) by the second of each.
_LIP_LIGHTER = ((1.25, 10.0), (1.1, 5.0))
_LIP_WHITER = (0.6, 0.75)
#: A wide-open mouth (the opening mid-mouth at least [0] mouth widths tall) shows its front teeth
#: when they cover [1] of its upper rim's middle: the top [2] of the opening, the central [3] of
#: the mouth (`_front_teeth`).
_FRONT_TEETH = (0.4, 0.25, 0.35, 0.4)
#: Reach (Gaussian sigmas, in mouth widths) of the skin around a mouth corner that moves with it:
#: towards the middle of the mouth (short: the lips' middle keeps its own motion), away from it, across.
CORNER_REACH = (0.12, 0.3, 0.25)
#: ... and where it ends (in those sigmas).
CORNER_EXTENT = 2.5
#: Under the lower lip the face's own flow takes over from this depth (mouth widths), over this much more.
BELOW_LIPS = (0.35, 0.2)
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
    shows no teeth; tooth_cap: (luma, saturation) the procedural teeth's lit colour may reach
    (`pipeline.teeth_tone`, with `PreviewSettings.teeth_tone`), None: uncapped.
    """

    across: np.ndarray
    split: np.ndarray
    cavity: np.ndarray | None
    teeth: np.ndarray | None
    lower_teeth: bool
    lower_share: np.ndarray | None = None
    tooth_cap: tuple[float, float] | None = None

    @property
    def upper_teeth_only(self) -> bool:
        """The photo shows upper teeth but no lower ones: none below the split, and in no column
        of the mouth's central half a share of teeth in its lower part that the painted gap keeps
        (`pipeline.mouth_paint._lower_rim` keeps from 0.15)."""
        if self.teeth is None or self.lower_teeth or self.lower_share is None:
            return False
        return bool(self.lower_share[np.abs(self.across - 0.5) < 0.25].max() < 0.15)


def corners_x(upper: np.ndarray) -> tuple[float, float]:
    """x of the image-left and the other corner of a (K, 2) lip curve (at least a pixel apart)."""
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    return left, max(right, left + 1.0)


def analyse_mouth(
    source: np.ndarray, upper: np.ndarray, lower: np.ndarray, relative_teeth: bool = False
) -> MouthInterior:
    """Read the (H, W, 3) uint8 photo between its inner lip curves `upper`, `lower` (K, 2).

    The columns are the mouth's own (`MouthFrame`): on a rolled head the read positions are
    carried out of its level frame into the crop. Teeth are bright and little saturated; where
    none are that (a warm, soft or dim photo), with `relative_teeth` they are what is much lighter
    and less saturated than the lips around the opening (`_teeth_beside_lips`, docs/OWN_TEETH.md)."""
    frame = MouthFrame.of_lips(upper)
    if not frame.is_level:
        upper, lower = frame.curve_to_level(upper), frame.curve_to_level(lower)
    across = np.linspace(0.06, 0.94, _COLUMNS)
    left, right = corners_x(upper)
    xs = left + across * (right - left)
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    gap = np.maximum(bottom - top, 0.0)
    split = np.full(_COLUMNS, 0.5)
    if gap.max() < 1.5:
        return MouthInterior(across, split, None, None, False)
    t = np.linspace(0.0, 1.0, _ROWS)[:, None]  # (R, 1) down the opening
    map_y = (top[None, :] + t * gap[None, :]).astype(np.float32)
    map_x = np.broadcast_to(xs[None, :], map_y.shape).astype(np.float32)
    if not frame.is_level:
        map_x, map_y = (a.astype(np.float32) for a in frame.from_level(map_x.astype(np.float64), map_y))
    colours = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    colours = colours.astype(np.float32)  # (R, K, 3)
    luma = colours @ _LUMA
    chroma = colours.max(axis=2) - colours.min(axis=2)
    opened = gap[None, :] >= 1.5
    inside = opened & (t > 0.05) & (t < 0.95)
    # Teeth pixels: bright and little saturated (`toothy`), or, in the lower part, a little less so
    # (`lower_toothy`); read against the lips instead where nothing in the opening is that.
    toothy, lower_toothy = (luma > 135.0) & (chroma < 70.0), (luma > 100.0) & (chroma < 55.0)
    enough = _TEETH_AREA * opened.sum() * _ROWS
    few = (toothy & inside).sum() < enough
    beside = None
    if relative_teeth and few:
        lips = _lip_colours(source, frame, xs, top, bottom, right - left)
        beside = _teeth_beside_lips(luma, chroma, lips)
        if beside is not None and (beside[0] & inside).sum() >= enough:
            toothy, lower_toothy = beside
        else:
            beside = None
    front = (
        relative_teeth
        and few
        and beside is None
        and _front_teeth(toothy & inside, t, across, gap, right - left)
    )
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
    hangs = (toothy.mean(axis=0) > 0.5) & ~usable & (gap >= 3.0)
    split[hangs] = 1.0
    usable |= hangs
    # Columns without a readable gap (the corners, lips touching) take their neighbours' split.
    split = np.interp(across, across[usable], split[usable]) if usable.any() else np.full(_COLUMNS, 0.5)
    # Beside such teeth a gap is a shorter tooth's tip next to a long one (an incisor's): not cut off.
    split[np.lib.stride_tricks.sliding_window_view(np.pad(hangs, 2), 5).any(axis=1)] = 1.0
    split = np.convolve(np.pad(split, 2, mode="edge"), np.ones(5) / 5.0, mode="valid")
    # Colours of what the photo shows: its dark gap, and teeth (bright, little saturated).
    dark = opened & (luma < np.percentile(luma[:, gap >= 1.5], 15) + 10.0) & (luma < 90.0)
    cavity = np.median(colours[dark], axis=0) if dark.sum() >= 6 else None
    bright = inside & toothy
    teeth = np.median(colours[bright], axis=0) if bright.sum() >= enough or front else None
    central = usable & (np.abs(across - 0.5) < 0.25)  # where lower teeth would show
    below = (t > split[None, :] + 0.1) & (t < 0.9) & central[None, :]  # under the gap, off the lip
    lower_teeth = bool((bright & below).sum() >= 0.1 * max((opened & below).sum(), 1) > 0)
    # Per column, the teeth's share of the lower part down to the lower lip: lower teeth are often a
    # thin strip on the lip's edge, in the upper lip's shadow (less bright than the upper teeth, but
    # less saturated than the lip).
    lower_part = opened & (t > split[None, :])
    lower_bright = lower_part & lower_toothy
    share = lower_bright.sum(axis=0) / np.maximum(lower_part.sum(axis=0), 1)
    share = np.convolve(np.pad(share, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    if beside is not None:
        split, share = _soft_lower_teeth(split, share, gap)
    return MouthInterior(
        across,
        split.astype(np.float64),
        None if cavity is None else cavity.astype(np.float32),
        None if teeth is None else teeth.astype(np.float32),
        lower_teeth,
        share if teeth is not None else None,
    )


def _front_teeth(teeth: np.ndarray, t: np.ndarray, across: np.ndarray, gap: np.ndarray, width: float) -> bool:
    """Whether a wide-open mouth shows its front teeth: the (R, K) teeth samples `teeth` (rows `t`
    (R, 1) down the opening, columns `across` (K,), `gap` (K,) crop pixels tall, `width` the
    mouth's) cover `_FRONT_TEETH` [1] of its upper rim's middle, though few of the whole opening
    (a scream's two incisors under the upper lip, over a deep mouth and tongue)."""
    tall, share, rim, middle = _FRONT_TEETH
    central = np.abs(across - 0.5) < 0.5 * middle
    if not central.any() or float(np.median(gap[central])) < tall * width:
        return False
    upper_rim = (t < rim) & central[None, :]
    return bool(teeth[upper_rim].mean() >= share)


def _soft_lower_teeth(split: np.ndarray, share: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`split` and lower `share` (K,) of lower teeth read against the lips (a soft photo): at the
    crop's resolution their edges are a crop pixel soft, and read where they are plain they end a
    pixel early. The kept part reaches a column further along the mouth, and in the columns that
    keep it (`pipeline.mouth_paint._lower_rim` keeps from a share of 0.15) starts a crop pixel
    higher, in the photo's dark: the painted rim, whose coverage ramps a pixel either side of it,
    then stays off the teeth."""
    share = np.lib.stride_tricks.sliding_window_view(np.pad(share, 1, mode="edge"), 3).max(axis=1)
    keep = np.clip((share - 0.15) / 0.2, 0.0, 1.0)
    keep = np.convolve(np.pad(keep, 2, mode="edge"), np.ones(5) / 5.0, mode="valid")
    higher = np.maximum(split - keep / np.maximum(gap, 1.0), 0.0)
    return np.where(split < 1.0, higher, split), share


def _lip_colours(
    source: np.ndarray, frame: MouthFrame, xs: np.ndarray, top: np.ndarray, bottom: np.ndarray, width: float
) -> np.ndarray:
    """(2, B, K, 3) float32 RGB of the upper and lower lip at columns `xs` (the level frame's),
    in B bands `_LIP_BAND` mouth widths outside the inner lip curves' y `top`, `bottom` (K,)."""
    offsets = np.linspace(*_LIP_BAND, 4)[:, None] * width  # (B, 1)
    map_y = np.concatenate([top[None, :] - offsets, bottom[None, :] + offsets]).astype(np.float32)
    map_x = np.broadcast_to(xs[None, :], map_y.shape).astype(np.float32)
    if not frame.is_level:
        map_x, map_y = (a.astype(np.float32) for a in frame.from_level(map_x.astype(np.float64), map_y))
    lips = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return lips.astype(np.float32).reshape(2, len(offsets), len(xs), 3)


def _teeth_beside_lips(
    luma: np.ndarray, chroma: np.ndarray, lips: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(R, K) teeth pixels of an opening's `luma`, `chroma` read against its `lips` (`_lip_colours`),
    and the looser ones of its lower part; None when the lips cannot be read.

    Per column, the lighter of the two lips (its bands' mean luma) sets how light teeth must be:
    a light lower band there is skin or a wet lip's shine, and what shows between the lips is then
    no lighter than it (a ramp into the lip, not teeth). Saturation is the lips' median over the
    mouth's middle: teeth are white, lips red."""
    lip_luma = lips @ _LUMA  # (2, B, K)
    lip_chroma = lips.max(axis=3) - lips.min(axis=3)
    middle = slice(lips.shape[2] // 5, lips.shape[2] - lips.shape[2] // 5)
    lip_sat = float(np.median(lip_chroma[:, :, middle] / np.maximum(lip_luma[:, :, middle], 1.0)))
    if lip_sat < 0.1:  # grey lips (a black-and-white photo): no colour to tell teeth by
        return None
    lighter = lip_luma.mean(axis=1).max(axis=0)[None, :]  # (1, K)
    sat = chroma / np.maximum(luma, 1.0)
    (scale, add), (lower_scale, lower_add) = _LIP_LIGHTER
    teeth = (luma > scale * lighter + add) & (sat < _LIP_WHITER[0] * lip_sat)
    lower = (luma > lower_scale * lighter + lower_add) & (sat < _LIP_WHITER[1] * lip_sat)
    return teeth, lower


@dataclass(frozen=True)
class MouthMotion:
    """The photo's mouth interior with the inner lips of the photo and of the target.

    interior: `analyse_mouth` of the photo; source_lips / target_lips: (upper, lower) inner lip
    curves, (K, 2) crop pixels each, ordered from the image's left; posed_lips: the photo's inner lips
    carried with the skull into the target's pose (its expression kept): a turn foreshortens the
    mouth across, not down, and its opening is no gap to paint; lower_row: under the photo's own
    upper teeth, when it shows no lower ones, paint a lower row and a cavity shaded towards the
    throat (`under_upper_teeth`; the renderer sets it from `PreviewSettings.lower_row`, on by default;
    docs/TEETH.md "Lower row under the photo's upper teeth"); open_look: the procedural rows of a
    mouth the photo showed closed keep their laterals and canines lit and stand the lower row on the
    lower lip's visible edge (`PreviewSettings.open_look`; docs/TEETH.md "An opened mouth that looks
    photographed"); lifted_corners: a rising corner carries the skin further above and below it
    (`mouth_corners.lifted_reach`, `PreviewSettings.smile_corners`; docs/SMILE_FROWN.md);
    lower_fence: the lower row under the photo's own upper teeth shows only its tips, level
    (`PreviewSettings.lower_fence`; docs/LOWER_FENCE.md).
    """

    interior: MouthInterior
    source_lips: tuple[np.ndarray, np.ndarray]
    target_lips: tuple[np.ndarray, np.ndarray]
    posed_lips: tuple[np.ndarray, np.ndarray] | None = None
    lower_row: bool = False
    open_look: bool = False
    lifted_corners: bool = False
    lower_fence: bool = False

    @property
    def under_upper_teeth(self) -> bool:
        """The painted gap gets a lower row under the photo's own upper teeth."""
        return self.lower_row and self.interior.upper_teeth_only

    @cached_property
    def columns_made(self) -> dict[bytes, OpeningColumns]:
        """`opening_columns` already made for this motion, by its columns' bytes (read, not changed)."""
        return {}

    @cached_property
    def levelled(self) -> tuple[MouthMotion, MouthFrame, MouthFrame] | None:
        """The same motion in the mouths' own level frames (the photo's lips in the photo's, the
        target's and the posed lips in the target's), with the photo's frame and the target's;
        None when both mouths are level (the crop's own columns are the mouth's)."""
        source, target = MouthFrame.of_lips(self.source_lips[0]), MouthFrame.of_lips(self.target_lips[0])
        if source.is_level and target.is_level:
            return None
        posed = self.posed_lips
        level = MouthMotion(
            self.interior,
            (source.curve_to_level(self.source_lips[0]), source.curve_to_level(self.source_lips[1])),
            (target.curve_to_level(self.target_lips[0]), target.curve_to_level(self.target_lips[1])),
            None if posed is None else (target.curve_to_level(posed[0]), target.curve_to_level(posed[1])),
            self.lower_row,
            self.open_look,
            self.lifted_corners,
            self.lower_fence,
        )
        return level, source, target


@dataclass(frozen=True)
class OpeningColumns:
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


def opening_columns(xs: np.ndarray, mouth: MouthMotion) -> OpeningColumns:
    """The opening at target columns `xs` (X,); made once per frame for the same columns (the
    mouth's box is set again in the flow and painted: `refine_mouth_flow`, `mouth_paint`)."""
    key = xs.tobytes() if xs.ndim == 1 and xs.dtype == np.float64 else None
    if key is not None and key in mouth.columns_made:
        return mouth.columns_made[key]
    cols = _opening_columns(xs, mouth)
    if key is not None:
        mouth.columns_made[key] = cols
    return cols


def _opening_columns(xs: np.ndarray, mouth: MouthMotion) -> OpeningColumns:
    (up_s, lo_s), (up_t, lo_t) = mouth.source_lips, mouth.target_lips
    left_t, right_t = corners_x(up_t)
    left_s, right_s = corners_x(up_s)
    across = (xs - left_t) / (right_t - left_t)
    a = across.clip(0.0, 1.0)
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
        left_p, right_p = corners_x(up_p)
        x_p = left_p + a * (right_p - left_p)
        needed = np.maximum(needed, curve_y(lo_p, x_p) - curve_y(up_p, x_p))
    opening = gap_t > needed
    # A mouth that closes where the photo's was open squeezes its inside (never below 5 %).
    ratio = np.where(opening | (gap_s < 1e-3), scale, np.maximum(gap_t / np.maximum(gap_s, 1e-3), 0.05))
    split = np.interp(a, mouth.interior.across, mouth.interior.split)
    return OpeningColumns(
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
        extra=((gap_t - needed) / 2.0).clip(0.0, 1.0),
        within=(across > 0.0) & (across < 1.0),
    )


def mouth_source(
    px: np.ndarray, py: np.ndarray, mouth: MouthMotion
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where target pixels (px, py) (same shape) inside the opening take the photo from.

    Returns source x, source y and `inside` (soft, in [0, 1]: the pixel lies between the target's
    inner lips). Above the middle of the target's opening the photo is read hanging from the
    upper lip (down to the photo's split), below it from the lower lip. A rolled mouth's pixels are
    carried into the target's level frame and the reads out of the photo's.
    """
    if mouth.levelled is not None:
        level, source, target = mouth.levelled
        sx, sy, inside = mouth_source(*target.to_level(px, py), level)
        return (*source.from_level(sx, sy), inside)
    cols = opening_columns(px.reshape(-1), mouth)
    sy, inside = _rows_source(cols, py.reshape(-1))
    shape = px.shape
    return cols.x_src.reshape(shape), sy.reshape(shape), inside.reshape(shape)


def _rows_source(cols: OpeningColumns, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`mouth_source`'s source y and `inside` at rows `y` of the columns `cols` (element by element,
    broadcast: a list of pixels, or a grid's (h, 1) rows against its (w,) columns)."""
    d_top = y - cols.top_t
    d_bot = cols.top_t + cols.gap_t - y
    middle = cols.upper_h + 0.5 * (cols.gap_t - cols.upper_h - cols.lower_h)
    split_s = cols.top_s + cols.upper_h / np.maximum(cols.ratio, 1e-6)
    from_top = np.minimum(cols.top_s + d_top / cols.ratio, split_s)
    from_bottom = np.maximum(cols.top_s + cols.gap_s - d_bot / cols.ratio, split_s)
    sy = np.where(d_top <= middle, from_top, from_bottom).clip(
        cols.top_s - 1.0, cols.top_s + cols.gap_s + 1.0
    )
    return sy, (np.minimum(d_top, d_bot) + 0.5).clip(0.0, 1.0) * cols.within


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
    xs, ys = np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64)
    px, py = np.meshgrid(xs, ys)
    cols = None
    if mouth.levelled is None:  # every row of the box crosses the same columns: made once per column
        cols = opening_columns(xs, mouth)
        sy, inside = _rows_source(cols, ys[:, None])
        sx = np.broadcast_to(cols.x_src, px.shape)
    else:
        sx, sy, inside = mouth_source(px, py, mouth)
    if inside.max() <= 0.0:
        return
    region = flow[y0:y1, x0:x1]
    w = inside[:, :, None]
    moved = np.stack([sx - px, sy - py], axis=-1)
    region[...] = (w * moved + (1.0 - w) * region).astype(np.float32)
    _continue_below_lip(region, px, py, mouth, cols)


def _continue_below_lip(
    region: np.ndarray, px: np.ndarray, py: np.ndarray, mouth: MouthMotion, cols: OpeningColumns | None = None
) -> None:
    """Just under the target's inner lower lip, continue the opening's own mapping into the lip
    (the (h, w, 2) backward flow `region` at pixels (px, py), in place), fading out over
    `LIP_SEAM` mouth widths, where the target opens wider than the photo. `cols`: the opening's
    columns at px's columns when already made (a level mouth).

    A dropped jaw folds the mesh's lip triangles at the inner lip: the rows just under it read the
    photo a few pixels too far down, and what lies on the photo's lip line (the lower teeth's
    strip, the lip's wet edge) is skipped. Reads are moved up to the continuation, never down."""
    if mouth.levelled is None:
        source = target = None
        cols = opening_columns(px[0], mouth) if cols is None else cols
        u, v = px, py

        def at(a: np.ndarray) -> np.ndarray:
            return a[None, :]
    else:
        mouth, source, target = mouth.levelled
        u, v = target.to_level(px, py)
        cols = opening_columns(u.reshape(-1), mouth)

        def at(a: np.ndarray) -> np.ndarray:
            return a.reshape(px.shape)

    width = float(np.ptp(mouth.target_lips[0][:, 0]))
    depth = v - at(cols.top_t + cols.gap_t)  # pixels under the target's inner lower lip
    # From the last pixel row of the opening (its soft edge blends in the folded reads too).
    weight = (1.0 - depth / max(LIP_SEAM * width, 1.0)).clip(0.0, 1.0) * (depth > -1.0)
    weight *= at(cols.extra * cols.within)
    if weight.max() <= 0.0:
        return
    read_y = at(cols.top_s + cols.gap_s) + depth / at(np.maximum(cols.ratio, 1e-6))
    if source is None:
        read_y = np.minimum(read_y, py + region[..., 1])
        wanted = np.stack(np.broadcast_arrays(cols.x_src[None, :] - px, read_y - py), axis=-1)
    else:
        read_y = np.minimum(read_y, source.to_level(px + region[..., 0], py + region[..., 1])[1])
        read_x, read_y = source.from_level(at(cols.x_src), read_y)
        wanted = np.stack([read_x - px, read_y - py], axis=-1)
    region += (weight[:, :, None] * (wanted - region)).astype(np.float32)


def follow_face_below_lips(flow: np.ndarray, face_flow: np.ndarray, mouth: MouthMotion) -> None:
    """Under the lower lip, hand the (H, W, 2) flow over to the face's own flow `face_flow` (in place):
    from `BELOW_LIPS` [0] mouth widths under the target's inner lower lip, fully by [0] + [1].

    The mesh is drawn again at full resolution around the mouth so that the lips' edges are sharp;
    lower down (the chin) that only brings back what the face's flow smoothed: where a nod or a
    dropped jaw unfolds the underside of the chin, the mesh stretches a strip the photo shows
    edge-on over many rows (streaks in a beard), and the box it was drawn in ends in a seam.
    On a rolled mouth "under" is down its own level frame."""
    if mouth.levelled is not None:
        _follow_face_below_rolled_lips(flow, face_flow, *mouth.levelled[::2])
        return
    _, lower = mouth.target_lips
    left, right = corners_x(mouth.target_lips[0])
    width = right - left
    start, ramp = (v * width for v in BELOW_LIPS)
    h, w = flow.shape[:2]
    x0, x1 = max(int(left - 0.6 * width), 0), min(int(right + 0.6 * width) + 1, w)
    y0 = max(int(lower[:, 1].min() + start), 0)
    if x1 <= x0 or y0 >= h:
        return
    xs = np.arange(x0, x1, dtype=np.float64)
    depth = np.arange(y0, h, dtype=np.float64)[:, None] - curve_y(lower, xs.clip(left, right))[None, :]
    weight = ((depth - start) / max(ramp, 1.0)).clip(0.0, 1.0).astype(np.float32)[:, :, None]
    region = flow[y0:, x0:x1]
    region += weight * (face_flow[y0:, x0:x1] - region)


def _follow_face_below_rolled_lips(
    flow: np.ndarray, face_flow: np.ndarray, level: MouthMotion, frame: MouthFrame
) -> None:
    """`follow_face_below_lips` for a rolled target: `level`, the motion in its level `frame`."""
    _, lower = level.target_lips
    left, right = corners_x(level.target_lips[0])
    width = right - left
    start, ramp = (v * width for v in BELOW_LIPS)
    h, w = flow.shape[:2]
    # The level strip under the lips, down past the crop, and the crop's box around it.
    u0, u1 = left - 0.6 * width, right + 0.6 * width
    v0, v1 = lower[:, 1].min() + start, lower[:, 1].min() + start + float(np.hypot(h, w))
    x, y = frame.from_level(np.array([u0, u1, u0, u1]), np.array([v0, v0, v1, v1]))
    x0, x1 = max(int(np.floor(x.min())), 0), min(int(np.ceil(x.max())) + 1, w)
    y0, y1 = max(int(np.floor(y.min())), 0), min(int(np.ceil(y.max())) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    px, py = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    u, v = frame.to_level(px, py)
    depth = v - curve_y(lower, np.clip(u, left, right))
    weight = np.clip((depth - start) / max(ramp, 1.0), 0.0, 1.0) * ((u >= u0) & (u < u1))
    region = flow[y0:y1, x0:x1]
    region += weight.astype(np.float32)[:, :, None] * (face_flow[y0:y1, x0:x1] - region)


def carry_corners(flow: np.ndarray, mouth: MouthMotion) -> None:
    """Move the skin around each mouth corner with the corner (the (H, W, 2) backward flow, in place):
    the flow within `CORNER_REACH` mouth widths is drawn towards the corner's own motion (plus what
    the mouth does as a whole, an affine map), with a Gaussian falloff (shorter towards the middle of
    the mouth, 0 from `CORNER_EXTENT` sigmas: the skin beside the jaw is not reached).

    An expression basis can lift a corner while the skin a few millimetres beside it moves the
    other way (the smile's least-squares direction does: the corner goes up, the cheek beside it
    slightly down). The mesh then shears at the corner, the cheek's triangles fold over it, and the
    picture's corner (its shadow, the ends of the lips) keeps its place: only a point lifts.
    With `mouth.lifted_corners`, a rising corner reaches further across (`mouth_corners`)."""
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
    posed = None if mouth.posed_lips is None else mouth.posed_lips[0]
    lifted = lifted_reach(posed, up_t, CORNER_REACH[1:]) if mouth.lifted_corners else None
    for corner, inward in ((0, axis), (-1, -axis)):
        target, motion = up_t[corner], up_s[corner] - up_t[corner]  # backward flow of the corner itself
        across = np.array([-inward[1], inward[0]], np.float32)  # down at the first corner, up at the last
        # Gaussian sigmas (inward, outward, above, below): the lift of a rising corner reaches further.
        usual = (inward_s, outward_s, across_s, across_s)
        sigmas = usual if lifted is None else (inward_s, *(r * width for r in lifted[corner]))
        # The box around the weight's rectangle (along the mouth's axis and across it).
        _, outward, above, below = sigmas
        sides = (-above, below) if corner == 0 else (-below, above)
        reach = [
            target + a * inward + b * across
            for a in (-CORNER_EXTENT * outward, CORNER_EXTENT * inward_s)
            for b in (CORNER_EXTENT * sides[0], CORNER_EXTENT * sides[1])
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
        # A Gaussian brought to exactly 0 at CORNER_EXTENT sigmas (nothing changes outside the box).
        weight = corner_weight(along, side, usual, corner == 0, CORNER_EXTENT)
        region = flow[y0:y1, x0:x1]
        if sigmas != usual:  # a rising corner's lift (docs/SMILE_FROWN.md)
            lift = corner_weight(along, side, sigmas, corner == 0, CORNER_EXTENT)
            carry_lift(region, (dx, dy), motion.astype(np.float32), slope, (weight, lift), across)
            continue
        offsets = np.stack(np.broadcast_arrays(dx, dy), axis=-1)  # (h, w, 2)
        wanted = motion.astype(np.float32) + offsets @ slope.T
        region += weight[:, :, None] * (wanted - region)
