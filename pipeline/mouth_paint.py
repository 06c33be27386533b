"""The painted gap of the geometric renderer's mouth: what the photo never showed between its lips.

Where the target opens wider than the photo's own interior can fill (`pipeline.mouth`), the gap
between the part hanging from the upper lip and the part moving with the lower one is painted: a
cavity shaded with depth (dark under the upper teeth and towards the corners), the hint of a
tongue low down, rows of teeth (`pipeline.teeth`) where the photo showed none (drawn again finer
for the photo: `fine_paint`), and lower teeth where it showed upper teeth but no lower ones. It is
painted column by column in the target mouth's own level frame (`pipeline.mouth_frame`) and
sampled back into the crop. Points are crop pixels (x right, y down).
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from pipeline.face_paint import EDGE_RAMP, box_around, curve_y
from pipeline.mouth import MouthInterior, MouthMotion, OpeningColumns, corners_x, opening_columns
from pipeline.teeth import TOOTH_COLOUR, draw_teeth, lower_row_reach, rounded
from pipeline.teeth_tone import capped_tooth

__all__ = ["RIM_OVERLAP", "paint_mouth", "paint_mouth_fine", "fine_paint"]

#: How far past the target's inner lower lip the painted gap reaches where it does not end on the
#: photo's lower teeth, crop pixels: the photo's dark between its lips lies partly outside the
#: mesh's lip line, and moved with the lip it would run along the rim as a thin dark line.
RIM_OVERLAP = 1.0


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
    both rows, or the lower row under the photo's own upper teeth: worth drawing again finer,
    `paint_mouth_fine`).

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
    xs, ys = np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64)
    painted = _painted(xs, ys, mouth, 1.0, face_size, exposure, teeth)
    if painted is None:
        return False
    distance, extra, colour, drawn = painted
    # A gap under two pixels tall fades out (lips barely parted: nothing to paint at any resolution).
    alpha = (distance + 0.5).clip(0.0, 1.0) * extra
    if alpha.max() <= 0.0:
        return False
    cover = ((distance / EDGE_RAMP + 0.5).clip(0.0, 1.0) * extra).astype(np.float32)
    colour = (colour + 0.5).clip(0, 255)
    region = out[y0:y1, x0:x1].astype(np.float32)
    region += (colour - region) * alpha[:, :, None]
    out[y0:y1, x0:x1] = (region + 0.5).clip(0, 255).astype(np.uint8)
    if paint is not None:
        # Past the coverage's foot too: the overlay's bicubic upsampling reads two crop pixels out.
        near = distance > -(EDGE_RAMP / 2.0 + 2.0)
        paint[y0:y1, x0:x1][near] = colour[near].astype(np.uint8)
    np.maximum(coverage[y0:y1, x0:x1], cover, out=coverage[y0:y1, x0:x1])
    return drawn and (mouth.interior.teeth is None or mouth.under_upper_teeth)


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
    covered = cover > 0.0  # its box from its rows and columns (no index pair per pixel)
    ys, xs = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    if ys.size == 0:
        return fine
    x0, y0 = max(int(xs[0]) - 3, 0), max(int(ys[0]) - 3, 0)
    x1, y1 = min(int(xs[-1]) + 4, paint.shape[1]), min(int(ys[-1]) + 4, paint.shape[0])
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
    photo, where the crop's paint would be upsampled into soft bands. Under the photo's own upper
    teeth only the band of the lower row is drawn again (`_lower_band`): the rest is its cavity,
    smooth, and the upsampled crop's paint shows it as well."""
    crop = (fine.shape[0] // factor, fine.shape[1] // factor)
    box = box_around(np.concatenate(mouth.target_lips), crop, pad=2)
    if box is None:
        return
    if mouth.under_upper_teeth:
        box = _lower_band(box, mouth, face_size)
        if mouth.levelled is None:
            _fine_lower_row(fine, mouth, face_size, factor, box)
            return
    x0, y0, x1, y1 = (factor * v for v in box)
    step = 1.0 / factor
    xs, ys = ((np.arange(a, b, dtype=np.float64) + 0.5) * step - 0.5 for a, b in ((x0, x1), (y0, y1)))
    painted = _painted(xs, ys, mouth, step, face_size, exposure, True, keep_teeth=False)
    if painted is None:
        return
    distance, _, colour, _ = painted
    near = distance > -(EDGE_RAMP / 2.0 + 2.0)
    np.copyto(fine[y0:y1, x0:x1], (colour + 0.5).clip(0, 255).astype(np.uint8), where=near[:, :, None])


def _fine_lower_row(
    fine: np.ndarray, mouth: MouthMotion, face_size: float, factor: int, box: tuple[int, int, int, int]
) -> None:
    """`paint_mouth_fine` under the photo's own upper teeth (a level mouth): only the lower row is
    drawn again into `fine` (in place), in the crop box `box` (`_lower_band`), over the cavity
    the crop's paint shows just above its tips (smooth: its upsampling is as good as a redraw)."""
    x0, y0, x1, y1 = (factor * v for v in box)
    step = 1.0 / factor
    xs, ys = ((np.arange(a, b, dtype=np.float64) + 0.5) * step - 0.5 for a, b in ((x0, x1), (y0, y1)))
    if xs.size == 0 or ys.size == 0:
        return
    cols = opening_columns(xs, mouth)
    if cols.extra.max() <= 0.0:
        return
    gap_top = cols.top_t + cols.upper_h
    gap_bottom, _ = _lower_rim(mouth.interior, cols, step)
    region = fine[y0:y1, x0:x1]
    # The cavity behind the row, column by column: the crop's paint above the row's highest tips.
    edge = gap_bottom - (RIM_OVERLAP + 0.5 * EDGE_RAMP)
    above = np.maximum(edge - lower_row_reach(face_size) - 1.0, gap_top + 1.0)
    index = np.clip(np.round((above - ys[0]) / step).astype(np.int64), 0, ys.size - 1)
    behind = region[index, np.arange(xs.size)].astype(np.float32)
    colour = np.repeat(behind[None, :, :], ys.size, axis=0)
    drawn = _lower_row(
        mouth, colour.copy(), ys[:, None].astype(np.float32), cols, (gap_top, gap_bottom), face_size, step
    )
    row = np.any(np.abs(drawn - colour) > 0.5, axis=2)  # where the row is (`_lower_row` ends it)
    np.copyto(region, np.clip(drawn + 0.5, 0, 255).astype(np.uint8), where=row[:, :, None])


def _seed(mouth: MouthMotion) -> int:
    """Each tooth's small differences are the photo's (its lips' place in the crop): the same in
    every frame, and whether or not the mouth is painted in its level frame."""
    return zlib.crc32(np.round(np.concatenate(mouth.source_lips)).astype(np.int32).tobytes())


def _hidden_lower_teeth(mouth: MouthMotion) -> bool:
    """The lower row shows only its tips, level (`PreviewSettings.lower_fence`, docs/LOWER_FENCE.md)
    where the photo shows none of its lower teeth mid-mouth (its lip hides them): a photo that shows
    a few (under what the paint keeps, e.g. biden2) keeps main's row where its own were."""
    share = mouth.interior.lower_share
    if not mouth.lower_fence or share is None:
        return False
    return not bool(np.any(share[np.abs(mouth.interior.across - 0.5) < 0.25] > 0.0))


def _lower_band(
    box: tuple[int, int, int, int], mouth: MouthMotion, face_size: float
) -> tuple[int, int, int, int]:
    """The crop box (x0, y0, x1, y1) `box` of the mouth cut to the rows the lower row drawn under
    the photo's own upper teeth can reach (`_under_upper_teeth`): from its highest tip over the
    columns where the cheeks leave it seen down to the box's foot (the lower lip's rim)."""
    x0, y0, x1, y1 = box
    left, right = corners_x(mouth.target_lips[0])
    xs = np.arange(x0, x1, dtype=np.float64)
    seen = np.abs(2.0 * (xs - left) / max(right - left, 1.0) - 1.0) < np.sqrt(0.7)
    if not seen.any():
        return box
    lip = float(curve_y(mouth.target_lips[1], xs[seen]).min())
    # A rolled mouth's row leans in the crop: a quarter of its reach more.
    top = lip - 0.5 * EDGE_RAMP - 1.25 * lower_row_reach(face_size) - 2.0
    return x0, min(max(y0, int(np.floor(top))), y1), x1, y1


def _painted(
    xs: np.ndarray,
    ys: np.ndarray,
    mouth: MouthMotion,
    step: float,
    face_size: float,
    exposure: float,
    teeth: bool,
    keep_teeth: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None:
    """The painted gap at sample columns `xs` (X,) and rows `ys` (Y,) (crop pixels, `step` apart):
    (Y, X) signed distance to its rim (`_gap`), (Y, X) or (1, X) how much wider than the photo the
    target opens, (Y, X, 3) float colour (`_cavity`, with teeth when `teeth`: not where the photo's
    own lower teeth are kept, with `keep_teeth`) and whether it drew teeth; None when nothing opens.

    A rolled mouth is painted on a grid of its own level frame and sampled back at the crop's."""
    # Each tooth's small differences are the photo's (its lips' place in the crop): the same in every
    # frame, and whether or not the mouth is painted in its level frame.
    seed = _seed(mouth)
    level = mouth.levelled
    if level is not None:
        mouth, _, frame = level
        crop_x, crop_y = np.meshgrid(xs, ys)
        xs, ys = frame.level_grid(xs, ys, step)
    gap = _gap(xs, ys, mouth, step)
    if gap is None:
        return None
    distance, cols, gap_top, gap_bottom, keep = gap
    # No painted teeth where the photo's own lower teeth are kept.
    drawn = teeth and (keep.max() < 0.5 or not keep_teeth)
    colour = _cavity(mouth, ys[:, None], cols, (gap_top, gap_bottom), face_size, exposure, drawn, step, seed)
    extra = cols.extra[None, :]
    if level is None:
        return distance, extra, colour, drawn
    origin = (float(xs[0]), float(ys[0]))
    extra = np.broadcast_to(extra, distance.shape)
    distance, extra, colour = (
        frame.sample(layer, origin, step, crop_x, crop_y, outside)
        for layer, outside in ((distance, -1e3), (extra, 0.0), (colour, 0.0))
    )
    return distance, extra, colour, drawn


def _gap(
    xs: np.ndarray, ys: np.ndarray, mouth: MouthMotion, step: float
) -> tuple[np.ndarray, OpeningColumns, np.ndarray, np.ndarray, np.ndarray] | None:
    """The painted gap at sample columns `xs` (X,) and rows `ys` (Y,) (crop pixels, `step` apart):
    (Y, X) signed distance (crop pixels, > 0 inside) to its rim, the columns, (X,) y of its upper
    and lower rim, (X,) how much of the photo's lower part is kept; None when nothing opens."""
    cols = opening_columns(xs, mouth)
    if cols.extra.max() <= 0.0:
        return None
    ys = ys[:, None]
    gap_top = cols.top_t + cols.upper_h
    gap_bottom, keep = _lower_rim(mouth.interior, cols, step)
    left, right = corners_x(mouth.target_lips[0])
    # Signed distance (crop pixels, > 0 inside) to the gap's rim: between the two parts the photo's
    # teeth hang from, within the target's inner lips (a little past the lower one) and corners.
    distance = np.minimum(
        np.minimum(_below(ys, gap_top, step), -_below(ys, gap_bottom, step)),
        np.minimum(_below(ys, cols.top_t, step), -_below(ys, cols.top_t + cols.gap_t + RIM_OVERLAP, step)),
    )
    distance = np.minimum(distance, np.minimum(xs - left, right - xs)[None, :])
    return distance, cols, gap_top, gap_bottom, keep


def _lower_rim(
    interior: MouthInterior, cols: OpeningColumns, step: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
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
    cols: OpeningColumns,
    gap: tuple[np.ndarray, np.ndarray],
    face_size: float,
    exposure: float,
    teeth: bool,
    step: float,
    seed: int,
) -> np.ndarray:
    """(Y, X, 3) float colour of the synthesised gap at rows `ys` (Y, 1) and `cols` (crop pixels,
    `step` apart), between its upper and lower rim `gap` ((X,) y each): the photo's own dark colour
    (or a dark red-brown), in shadow under the upper teeth and towards the corners, a tongue low
    down, and teeth where plausible (`pipeline.teeth` where the photo shows none, `seed` the photo's)."""
    interior = mouth.interior
    # float32 is enough for colours and half the work on the fine grid; a mouth that keeps the
    # photo's own teeth is painted as before (float64), unless a lower row is drawn under them.
    f32 = np.float32 if interior.teeth is None or mouth.under_upper_teeth else np.float64
    ys = ys.astype(f32)
    gap_top, gap_bottom = (rim.astype(f32) for rim in gap)
    across = cols.across.astype(f32)
    size = max(face_size, 1.0)
    height = np.maximum(gap_bottom - gap_top, 1.0)
    v = ((ys - gap_top) / height).clip(0.0, 1.0)  # 0 under the upper part, 1 above the lower
    centre = (1.0 - (2.0 * across - 1.0) ** 2)[None, :]  # 1 mid-mouth, 0 at the corners
    default = np.array([34.0, 13.0, 15.0], f32) * exposure
    base = default if interior.cavity is None else 0.5 * default + 0.5 * np.minimum(interior.cavity, 55.0)
    shadow = ((ys - gap_top) / (0.012 * size)).clip(0.0, 1.0)  # under the upper teeth
    if mouth.under_upper_teeth:
        shadow = np.ones_like(shadow)  # shaded towards the throat instead (`_under_upper_teeth`)
    shade = (0.35 + 0.65 * centre) * (0.45 + 0.55 * shadow) * (0.75 + 0.4 * v)  # dark at the back
    colour = base[None, None, :] * shade[:, :, None]
    # A tongue: a lighter, redder mound rising from the lower part towards the middle.
    open_enough = ((height / size - 0.03) / 0.04).clip(0.0, 1.0)[None, :]
    crest = 0.45 + 0.5 * (2.0 * across[None, :] - 1.0) ** 2
    tongue = ((v - crest) / 0.2).clip(0.0, 1.0) * open_enough
    tongue_colour = np.array([160.0, 66.0, 70.0], f32) * exposure * (0.45 + 0.55 * v[:, :, None])
    colour = colour + (tongue_colour - colour) * (0.75 * tongue * np.sqrt(centre))[:, :, None]
    if not teeth:
        return colour
    if interior.teeth is None:
        # The photo showed no teeth: a row of them hangs from the upper rim (fading out where the
        # photo's own opening was already tall: its own inside is there), lower ones once well open.
        no_teeth = (1.5 - cols.gap_s / (0.04 * size)).clip(0.0, 1.0)[None, :, None]
        upper = mouth.target_lips[0]
        tooth = TOOTH_COLOUR * float(np.clip(1.3 * exposure, 0.7, 1.1))  # dimmer in a dark photo
        tooth = capped_tooth(tooth, interior.tooth_cap)  # no brighter than its skin (docs/TEETH_TONE.md)
        lower = float(np.max(open_enough))
        # The opened look is for a mouth the photo shows closed or parted a little mid-mouth (its own
        # gap under 0.04 face sizes: the row still at least half drawn there); where its own opening
        # is tall (a baby's open mouth) its inside is its own and is painted as before.
        look = mouth.open_look and float(np.interp(0.5, cols.across, no_teeth[0, :, 0])) >= 0.5
        drawn = draw_teeth(
            colour,
            ys,
            cols.x_t,
            (gap_top, gap_bottom),
            (upper[0], upper[-1]),
            size,
            tooth,
            step,
            lower,
            seed,
            lip_edge=RIM_OVERLAP + 0.5 * EDGE_RAMP if look else None,
        )
        # The cheeks hide the back of the row: only the middle half shows it fully.
        cheeks = ((centre - 0.3) / 0.45).clip(0.0, 1.0) ** 1.2
        if look:
            # Right at the corners only; further in, the teeth recede into the cheeks' shade along
            # the arch by themselves (`teeth._shade`, the buccal corridor). A rounded mouth (ooo)
            # brings the cheeks in over the canines: there only its middle shows the row.
            corner = ((centre - 0.2) / 0.3).clip(0.0, 1.0)
            cheeks = corner + (cheeks - corner) * rounded((upper[0], upper[-1]), size)
        seen = no_teeth * cheeks[:, :, None]
        return colour + (drawn - colour) * seen
    if mouth.under_upper_teeth:
        return _under_upper_teeth(
            mouth, colour, ys, cols, (gap_top, gap_bottom), size, (v, centre), step, seed
        )
    tooth = interior.teeth
    band_h = 0.018 * size
    if not interior.lower_teeth:
        # Lower teeth above the lower lip, in the lip's shadow, once the mouth is well open.
        band = ((ys - (gap_bottom - 0.7 * band_h)) / 0.8 + 0.5).clip(0.0, 1.0) * centre**2
        colour = colour + (0.7 * tooth - colour) * (0.45 * band * open_enough)[:, :, None]
    return colour


def _under_upper_teeth(
    mouth: MouthMotion,
    colour: np.ndarray,
    ys: np.ndarray,
    cols: OpeningColumns,
    gap: tuple[np.ndarray, np.ndarray],
    size: float,
    place: tuple[np.ndarray, np.ndarray],
    step: float,
    seed: int,
) -> np.ndarray:
    """(Y, X, 3) colour of the gap under the photo's own upper teeth when it showed no lower ones
    (`MouthMotion.under_upper_teeth`): the cavity `colour` lit from the front and darkest towards
    the throat (the middle of the gap, low behind the tongue's crest), and a procedural lower row
    (`pipeline.teeth`, coloured from the photo's teeth) above the lower lip, moving with it.

    place: (Y, X) way down the gap (0 at the upper teeth) and (1, X) 1 mid-mouth, 0 at the corners."""
    v, centre = place
    gap_top, gap_bottom = gap
    # Light reaches into the mouth from the front: the inside of the cheeks and the palate behind
    # the upper teeth catch some, the throat (mid-mouth, a little under half-way down) none.
    throat = np.sqrt(((2.0 * cols.across[None, :] - 1.0) / 0.75) ** 2 + ((v - 0.45) / 0.45) ** 2)
    lit = np.clip(throat, 0.0, 1.0) ** 1.2 * (0.4 + 0.6 * np.sqrt(centre))
    wall = np.array([120.0, 50.0, 48.0], colour.dtype) * float(
        np.clip(np.mean(mouth.interior.teeth) / 200.0, 0.5, 1.2)
    )
    colour = colour * (0.7 + 0.3 * lit)[:, :, None] + wall * (0.6 * lit)[:, :, None]
    return _lower_row(mouth, colour, ys, cols, gap, size, step, seed)


def _lower_row(
    mouth: MouthMotion,
    colour: np.ndarray,
    ys: np.ndarray,
    cols: OpeningColumns,
    gap: tuple[np.ndarray, np.ndarray],
    size: float,
    step: float,
    seed: int | None = None,
) -> np.ndarray:
    """(Y, X, 3) float `colour` (the cavity, changed in place) with the procedural lower row drawn
    over it at rows `ys` (Y, 1) and `cols` (`step` crop pixels apart), between the gap's rims
    `gap`: coloured from the photo's teeth, standing on the lower lip and moving with it, hidden by
    the cheeks towards the corners; `seed` the photo's (`_seed`)."""
    gap_top, gap_bottom = gap
    seed = _seed(mouth) if seed is None else seed
    centre = (1.0 - (2.0 * cols.across - 1.0) ** 2)[None, :]
    open_enough = float(np.max(np.clip(((gap_bottom - gap_top) / size - 0.03) / 0.04, 0.0, 1.0)))
    if open_enough <= 0.0:
        return colour
    upper = mouth.target_lips[0]
    # The lower row in the photo's teeth's own colour (warmth kept: scaled, never clipped), a
    # little brighter to make up for the lower lip's shadow that `draw_teeth` puts on it.
    teeth = mouth.interior.teeth.astype(np.float64)
    tooth = teeth * min(1.2, 255.0 / max(float(teeth.max()), 1.0))
    # The row stands on the lower lip's visible edge (where the coverage hands over to the photo's
    # lip, `RIM_OVERLAP` + half `EDGE_RAMP` above the painted rim), its tips above the lip.
    edge = gap_bottom - (RIM_OVERLAP + 0.5 * EDGE_RAMP)
    # Only the rows the row can reach are drawn, column by column: from above its highest tip to
    # where the paint still reaches under the lower rim (the rest is the cavity).
    y = ys[:, 0]
    seen = np.clip((centre[0] - 0.3) / 0.45, 0.0, 1.0) ** 1.2  # the cheeks hide the back of the row
    shown = np.nonzero(seen > 0.0)[0]
    if shown.size == 0:
        return colour
    lo, hi = int(shown[0]), int(shown[-1]) + 1  # the columns where it shows (around the midline)
    slope = np.sqrt(1.0 + np.gradient(gap_bottom, step) ** 2) if gap_bottom.size > 1 else 1.0
    first = np.searchsorted(y, (edge - lower_row_reach(size) - 1.0)[lo:hi])
    last = np.searchsorted(y, (gap_bottom + (EDGE_RAMP / 2.0 + 2.0) * slope + 1.0)[lo:hi], side="right")
    count = int((last - first).max())
    if count <= 0:
        return colour
    rows = first[None, :] + np.arange(count)[:, None]  # (K, X') indices into ys
    inside = rows < last[None, :]
    rows = np.minimum(rows, y.size - 1)
    columns = np.broadcast_to(np.arange(lo, hi)[None, :], rows.shape)
    band = colour[rows, columns]
    drawn = draw_teeth(
        band,
        y[rows],
        cols.x_t[lo:hi],
        (gap_top[lo:hi], edge[lo:hi]),
        (upper[0], upper[-1]),
        size,
        tooth,
        step,
        open_enough,
        seed,
        upper=False,
        fence=_hidden_lower_teeth(mouth),
    )
    mixed = band + (drawn - band) * seen[None, lo:hi, None]
    colour[rows[inside], columns[inside]] = mixed[inside]
    return colour
