"""Procedural teeth for the painted mouth gap of a photo that showed none (`pipeline.mouth`).

A row of upper teeth hangs from the upper edge of the gap: two central incisors, the laterals,
the canines, then premolars and a molar, each of its real width (millimetres, scaled by the face's
size, not by the opening; the scale is measured on photographed teeth, docs/TEETH.md) laid on a
circular arch seen from the front, so that the teeth narrow towards the corners of the mouth as
the arch turns away. Each tooth has a slightly convex, slightly uneven biting edge (the canines
come to a point, the laterals are a little shorter than the centrals) with corners of its own
radius, a small variation of length, colour and warmth of its own (seeded by the photo: the same
teeth in every frame), and the colours of photographed teeth (docs/TEETH.md, round 3): warmer near
the gum, a near-neutral white body brightest a third of the way down, a darker, greyer incisal edge
that lets the dark behind through, a soft highlight where the convex labial face turns towards the
camera, and the upper lip's shadow at its top. Between neighbours a dark V (pink papilla right
under the lip) is widest at the gum and closes to a thin line where the teeth touch; the biting
edges' rounded corners open a notch towards the tips. The row recedes into the cheeks' shade along
the arch (the buccal corridor). A rounded (pursed) mouth hides more of them behind the upper lip.
Lower teeth show as a narrow row above the lower edge, in the lower lip's shadow, once the mouth is
well open.

Everything is a function of continuous crop coordinates, so the same teeth can be drawn at the
crop's resolution and at a multiple of it (`step`: crop pixels per sample), where their lines
stay crisp once laid over a large photo.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["TOOTH_COLOUR", "draw_teeth", "lower_row_reach", "rounded"]

#: Warm ivory (RGB, 0-255) of teeth in the mouth's soft light, before the face's exposure.
TOOTH_COLOUR = np.array([236.0, 227.0, 208.0])
#: The face's longer side in millimetres (face_size pixels): gives the pixels per millimetre.
#: Measured: a central incisor shows 0.0505 of the face's size wide on photographed smiles
#: (docs/TEETH.md, round 2), and is 8.6 mm wide: 8.6 / 0.0505 = 170.
_FACE_MM = 170.0
#: Arch radius (mm) of the teeth's front as seen from the front: upper and lower.
_ARCH = (25.0, 21.0)
#: Widths (mm) from the midline outwards: central and lateral incisor, canine, premolars, molar.
_UPPER_WIDTHS = np.array([8.6, 6.6, 7.6, 7.0, 6.6, 10.0])
#: How far (mm) each shows below the upper lip of an opened (not smiling) mouth: the laterals a
#: millimetre shorter than the centrals, the canine's tip nearly as long, the back teeth higher up.
_UPPER_SHOW = np.array([7.0, 6.0, 6.6, 4.6, 3.6, 2.6])
#: How far (mm) the biting edge rises from its lowest point to the tooth's sides: convex incisors,
#: pointed canines (straight flanks), blunter cusps behind.
_UPPER_BOW = np.array([0.5, 0.6, 1.4, 0.8, 0.6, 0.5])
#: Width (mm) of the opening between the mouth's corners under which it is rounded (ooo), and over
#: how many mm it becomes fully so (measured: 42-48 mm opened or at aaa, 23-34 mm at ooo).
_ROUND = (37.0, 6.0)
_LOWER_WIDTHS = np.array([5.4, 5.9, 6.9, 7.0, 7.1, 10.0])
_LOWER_SHOW = np.array([3.0, 3.0, 2.8, 2.0, 1.4, 1.0])
_LOWER_BOW = np.array([0.2, 0.3, 1.0, 0.6, 0.5, 0.4])
#: How far up the lower crowns (mm) the lower lip covers them in an open smile that shows no gum,
#: and in a mouth opened without smiling (the lip is not pulled down off them: more is covered).
_HIDDEN_NECK = (1.0, 2.0)
#: The most of `_LOWER_SHOW` the lower row drawn alone (under the photo's own upper teeth) shows.
_ALONE_SHOW = 1.4
#: ... with `fence` (docs/LOWER_FENCE.md): a smile's opening (up to the first mm of `_FENCE_OPEN`)
#: shows as much as without it, a jaw-dropped one (from the second) only the lower incisors' tips
#: over its lip (1 mm of the centrals); the lip covers the crowns' necks by `_FENCE_NECK` mm more
#: (their dark V is never seen: no dashed lines between the crowns).
_FENCE_SHOW = 0.35
_FENCE_OPEN = (12.0, 20.0)
_FENCE_NECK = 1.5
#: Colours of a crown as factors of the lit tooth colour (measured on photographed teeth, docs/TEETH.md
#: round 3): warmer near the gum (dentine shows through the thin enamel there), a near-neutral white
#: body, and a greyer, slightly bluish, darker incisal edge (translucent enamel over the dark mouth).
_CERVICAL = np.array([0.95, 0.91, 0.83])
_BODY = np.array([0.96, 0.96, 1.0])
_EDGE = np.array([0.82, 0.84, 0.88])
#: Over how many mm before the biting edge the tooth turns to its edge colour (upper, lower).
_TRANSLUCENT = (0.9, 0.8)
#: Corner radius (mm) of each crown's biting edge on its side towards the midline and away from it:
#: the central's inner corner nearly square, its outer one and the lateral's rounder.
_CORNERS = (np.array([0.35, 0.6, 0.5, 0.6, 0.6, 0.8]), np.array([0.7, 0.8, 0.5, 0.6, 0.6, 0.8]))
#: Gum pink (factor of the lit tooth colour) of the papillae between the upper teeth's roots.
_GUM = np.array([0.78, 0.42, 0.42])


@lru_cache(maxsize=64)
def _variation(seed: int) -> np.ndarray:
    """(6, 2, 6) per tooth (left/right of the midline, from it outwards), in [-1, 1]: length, tilt
    of the biting edge, brightness, translucency, corner rounding, warmth. A function of the photo
    only (no flicker)."""
    values = np.random.default_rng(seed).uniform(-1.0, 1.0, (6, 2, 6))
    values.setflags(write=False)
    return values


def _row(
    across_mm: np.ndarray,
    depth_mm: np.ndarray,
    radius: float,
    shape: tuple[np.ndarray, ...],
    reach: float,
    vary: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One row of teeth at samples `across_mm` (X,) mm from the midline and `depth_mm` (Y, X) mm
    past the row's reference line (the lip at the midline, carried along the mouth's axis) into
    the gap; shape: (T,) mm per tooth from the midline outwards (its width, how far its biting edge
    lies past the reference line, how far the edge rises to its sides, the radius of its corner
    towards the midline and away from it); reach: share of the length
    the opening leaves room for; vary: `_variation` (4, 2, T).

    Returns (Y, X) signed distance (mm, > 0 on a tooth's side of its biting edge), (X,) distance
    (mm, projected) to the nearest gap between teeth, (X,) place across the tooth (0 at a side, 1
    in its middle), (X,) place from its side towards the midline (-1) to its other side (1), (X,)
    arc length (mm) from the midline and (X,) flat index of the tooth in `vary`'s last two axes.
    """
    widths, show, bow, inner, outer = shape
    bounds = np.concatenate([[0.0], np.cumsum(widths)])  # arc length of the gaps between teeth
    seen = radius * np.sin(np.minimum(bounds / radius, np.pi / 2))  # their projected places
    side = np.abs(across_mm)
    # Past the arch's side (seen from the front) lies the inside of the cheek: no teeth there.
    arc = np.where(side < radius * 0.99, radius * np.arcsin(np.minimum(side / radius, 0.99)), np.inf)
    index = (np.searchsorted(bounds, np.minimum(arc, bounds[-1]), side="right") - 1).clip(0, len(widths) - 1)
    width = np.maximum(seen[index + 1] - seen[index], 1e-3)
    along = ((side - seen[index]) / width).clip(0.0, 1.0)
    to_gap = np.maximum(np.minimum(side - seen[index], seen[index + 1] - side), 0.0)  # mm, projected
    middle = (2.0 * to_gap / width).clip(0.0, 1.0)
    flat = index + len(widths) * (across_mm > 0.0)
    length, tilt = vary[0].reshape(-1)[flat], vary[1].reshape(-1)[flat]
    # The biting edge: convex (pointed on a canine), a little uneven (each tooth a touch longer or
    # shorter and tilted), with its corners rounded (each its own radius; less on turned teeth).
    rise = np.where(index == 2, 1.0 - middle, (1.0 - middle) ** 2)
    radius_mm = np.where(along < 0.5, inner[index], outer[index]) * (1.0 + 0.25 * vary[4].reshape(-1)[flat])
    corner = np.minimum(radius_mm, 0.4 * width)
    q = (1.0 - to_gap / corner).clip(0.0, 1.0)
    lowest = show[index] + 0.3 * length + 0.2 * tilt * (2.0 * along - 1.0)
    edge = reach * (lowest - bow[index] * rise) - corner * (1.0 - np.sqrt(1.0 - q**2))
    return edge[None, :] - depth_mm, to_gap, middle, 2.0 * along - 1.0, arc, flat


def lower_row_reach(face_size: float) -> float:
    """Crop pixels above its base that the lower row drawn alone (`draw_teeth(..., upper=False)`)
    can reach: its longest crown fully shown, a tooth's small differences and the anti-aliasing."""
    return (_ALONE_SHOW * (float(_LOWER_SHOW.max()) + 0.5) + 1.0) * max(face_size, 1.0) / _FACE_MM


def rounded(corners: tuple[np.ndarray, np.ndarray], face_size: float) -> float:
    """In [0, 1], how rounded (pursed: ooo) a mouth with inner corners `corners` ((2,) x, y each,
    crop pixels) is in a face of `face_size` crop pixels: 0 opened wide, 1 fully rounded."""
    wide = (
        float(np.hypot(*(np.asarray(corners[1]) - np.asarray(corners[0])))) * _FACE_MM / max(face_size, 1.0)
    )
    return float(np.clip((_ROUND[0] - wide) / _ROUND[1], 0.0, 1.0))


def _frame(
    xs: np.ndarray,
    gap: tuple[np.ndarray, np.ndarray],
    corners: tuple[np.ndarray, np.ndarray],
    face_size: float,
) -> tuple[float, float, float, np.ndarray]:
    """Crop pixels per millimetre, y of the gap's upper and lower rim at the midline, and (X,) the
    mouth's axis at `xs` relative to the midline (pixels, down)."""
    mm = max(face_size, 1.0) / _FACE_MM
    (lx, ly), (rx, ry) = corners
    mid = 0.5 * (lx + rx)
    order = np.argsort(xs)
    top_mid, bottom_mid = (float(np.interp(mid, xs[order], rim[order])) for rim in gap)
    return mm, top_mid, bottom_mid, (ry - ly) / max(rx - lx, 1.0) * (xs - mid)


def draw_teeth(
    colour: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    gap: tuple[np.ndarray, np.ndarray],
    corners: tuple[np.ndarray, np.ndarray],
    face_size: float,
    tooth: np.ndarray,
    step: float = 1.0,
    lower: float = 1.0,
    seed: int = 0,
    upper: bool = True,
    lip_edge: float | None = None,
    fence: bool = False,
) -> np.ndarray:
    """(Y, X, 3) float `colour` of the gap (the cavity) with teeth drawn over it.

    ys: (Y, 1) and xs: (X,) crop coordinates of the samples; gap: (X,) y of the gap's upper and
    lower rim at each sample column; corners: the mouth's (2,) corners (x, y), crop pixels (the
    rows of teeth are rigid: level with the line between them, their biting edges placed from the
    rims at the midline, hidden where a rim comes further in); face_size: the face's longer side,
    crop pixels; tooth: (3,) RGB of a lit tooth (its highlight is derived from it, so it follows
    the photo's exposure); step: crop pixels per sample (edges are anti-aliased over a sample);
    lower: in [0, 1], how much of the lower teeth shows (0: none); seed: the photo's (each tooth's
    small differences of length, tilt and colour); upper: False draws the lower row alone (under
    the photo's own upper teeth; then `ys` may be (Y, X), each column's own rows, `colour` (Y, X, 3));
    lip_edge: crop pixels above the lower rim where the lower lip's visible edge lies: the lower row
    stands there, its necks hidden behind the lip (always so for the lower row alone); None: beside
    the upper row it stands on the rim itself, its base in the lip's shadow (docs/TEETH.md, "An
    opened mouth that looks photographed": off by default); fence: the lower row alone stands level
    (rigid, its base on the lip's edge at the midline; the lip, rising towards the corners, hides it
    there) and shows only its tips (docs/LOWER_FENCE.md), not a tall row following the lip's curve.
    """
    mm, top_mid, bottom_mid, level = _frame(xs, gap, corners, face_size)
    f32 = np.float32
    vary = _variation(int(seed) & 0xFFFFFFFF)
    ys = ys.astype(f32)
    top, bottom = (rim.astype(f32)[None, :] for rim in gap)
    height = max(bottom_mid - top_mid, 0.0) / mm  # the opening at the midline, mm
    across = (xs - 0.5 * (corners[0][0] + corners[1][0])) / mm
    level = level.astype(f32)[None, :]
    aa = max(step, 0.25 * mm) / mm  # anti-aliasing width, mm
    # A rounded mouth (its corners closer than `_ROUND`: ooo) pushes the lips forward over the teeth.
    pursed = rounded(corners, face_size)
    # What is drawn is a mix of the cavity and the tooth: out = cavity * keep + light @ colours,
    # light (Y, X, 5): how much of the cervical, body and edge colour, of the gloss and of the gum.
    if upper:
        keep, light = _upper_row(ys, (top, bottom), top_mid, level, across, mm, height, aa, pursed, vary)
    else:
        keep, light = np.ones(colour.shape[:2], f32), [np.zeros(colour.shape[:2], f32) for _ in range(5)]
    on_lip = not upper or lip_edge is not None  # the row stands on the lip's visible edge
    lift = lip_edge or 0.0
    if lower > 0.0:
        # Lower teeth: narrower, shorter, mostly in the lower lip's shadow and the upper ones'.
        if upper:
            # Standing on the lower lip's visible edge (as photographed open mouths show them: the
            # lip hides their necks), never more than a fifth of the opening; or on the rim.
            share = 0.2 if on_lip else 0.25
            reach = lower * min(1.0, share * height / _LOWER_SHOW[0]) * (1.0 - pursed)
            depth = (bottom_mid - lift + level - ys) / mm
        else:
            # Under a smile's own upper teeth the lower row follows the lower lip's curve (the lip
            # rises towards the corners over the arch) and shows a little more of the crowns.
            most = float(np.interp(height, _FENCE_OPEN, (_ALONE_SHOW, _FENCE_SHOW))) if fence else _ALONE_SHOW
            reach = lower * min(most, 0.35 * height / _LOWER_SHOW[0]) * (1.0 - pursed)
            depth = ((bottom_mid + level if fence else bottom) - lift - ys) / mm
        shape = (_LOWER_WIDTHS, _LOWER_SHOW, _LOWER_BOW, _CORNERS[1], _CORNERS[1])
        edge, to_gap, middle, along, arc, flat = _row(across, depth, _ARCH[1], shape, reach, vary[:, ::-1])
        cover = (edge / aa + 0.5).clip(0.0, 1.0) * (arc < np.sum(_LOWER_WIDTHS[:5]))[None, :]
        below = (bottom - lift - ys) / mm
        if fence and not upper:
            # A level row (the lip, where it lies higher than at the midline, hides it: the paint
            # hands over to the photo's lip there) whose necks lie well behind the lip.
            below = depth + _FENCE_NECK
        if on_lip:
            # The lower lip hides the crowns' necks: what shows above its visible edge starts
            # `_HIDDEN_NECK` up the crown (no gum, no wide dark V at the lip: only the thin lines
            # where the crowns touch), and under the lip's soft edge the crown stays as lit as at
            # the lip (no dark band there).
            below = np.maximum(below, 0.0) + _HIDDEN_NECK[int(upper)]
        turn = arc / _ARCH[1] + 0.6 * along**3
        shade, parted, _ = _shade(
            below, below / np.maximum(below + edge, 0.5), to_gap, turn, arc / _ARCH[1], aa
        )
        keep = keep * (1.0 - cover) + parted * cover
        lit = 0.95 if not upper else (0.85 if on_lip else 0.8)  # more when opened wide
        low = lit * shade * (1.0 - parted) * cover
        grey = (1.0 - edge / _TRANSLUCENT[1]).clip(0.0, 1.0) ** 1.5
        light = [part * (1.0 - cover) for part in light]
        # In shade: greyer towards the edge, half warm and half the body's white (the warmth alone
        # reads as a khaki row at 100 %; on the rim it is all warm).
        warm = 0.5 if on_lip else 1.0
        light[0] += warm * low * (1.0 - grey)
        light[1] += (1.0 - warm) * low * (1.0 - grey)
        light[2] += low * grey
    tooth = tooth.astype(f32)
    colours = np.stack(
        [tooth * _CERVICAL, tooth * _BODY, tooth * _EDGE, np.minimum(1.1 * tooth + 30.0, 255.0), tooth * _GUM]
    ).astype(f32)
    return colour * keep[:, :, None] + np.stack(light, axis=-1) @ colours


def _upper_row(
    ys: np.ndarray,
    rims: tuple[np.ndarray, np.ndarray],
    top_mid: float,
    level: np.ndarray,
    across: np.ndarray,
    mm: float,
    height: float,
    aa: float,
    pursed: float,
    vary: np.ndarray,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """`draw_teeth`'s upper row: (Y, X) share of the cavity kept and the (Y, X) lights of the five
    colours (cervical, body, edge, gloss, gum), at rows `ys` (Y, 1) between the rims (1, X) each."""
    top, bottom = rims
    # Upper teeth: never more than half the opening (the rest is the dark mouth behind them).
    reach = min(1.0, 0.5 * height / _UPPER_SHOW[0]) * (1.0 - 0.5 * pursed)
    shape = (_UPPER_WIDTHS, _UPPER_SHOW, _UPPER_BOW, *_CORNERS)
    edge, to_gap, middle, along, arc, flat = _row(
        across, (ys - top_mid - level) / mm, _ARCH[0], shape, reach, vary
    )
    # ... nor of the gap in any column (towards the corners the lips close in on the row).
    edge = np.minimum(edge, (top + 0.5 * (bottom - top) - ys) / mm)
    cover = (edge / aa + 0.5).clip(0.0, 1.0) * (arc < np.sum(_UPPER_WIDTHS) - 0.5)[None, :]
    depth = (ys - top) / mm
    down = depth / np.maximum(depth + edge, 0.5)  # 0 at the lip, 1 at the biting edge
    # How far each bit of the labial face turns away (rad): the arch's turn, and each crown's face
    # flat in its middle, rounding off towards its sides.
    turn = arc / _ARCH[0] + 0.6 * along**3
    shade, parted, gum = _shade(depth, down, to_gap, turn, arc / _ARCH[0], aa)
    shade *= (1.0 + 0.05 * vary[2].reshape(-1)[flat])[None, :]
    # The biting edge lets the dark behind it through (enamel without dentine behind it), and
    # between two teeth the dark mouth behind them shows (or the gum, right under the lip).
    rim = (1.0 - edge / 0.6).clip(0.0, 1.0) ** 2 * (0.35 - 0.15 * (arc / 16.0).clip(0.0, 1.0))[None, :]
    keep = 1.0 - cover + cover * (parted * (1.0 - gum) * (1.0 - rim) + 0.5 * rim)
    lit = cover * (shade * (1.0 - parted) * (1.0 - rim) + 0.45 * rim)
    translucent = (1.0 + 0.3 * vary[3].reshape(-1)[flat])[None, :]
    grey = np.minimum((1.0 - edge / _TRANSLUCENT[0]).clip(0.0, 1.0) ** 1.5 * translucent, 1.0)
    # Warm near the gum (more on the canines, which are yellower), over the crown's upper third.
    warmth = 0.8 + 0.2 * vary[5].reshape(-1)[flat] + 0.4 * (flat % len(_UPPER_WIDTHS) == 2)
    warm = np.minimum((1.0 - down / 0.45).clip(0.0, 1.0) * warmth[None, :], 1.0) * (1.0 - grey)
    # Wet enamel: a soft highlight where the convex labial face turns towards the light (just
    # towards the midline of each front tooth's middle), a third of the way down.
    gloss = 0.4 * np.exp(-(((turn + 0.12) / 0.22) ** 2))[None, :] * np.exp(-(((down - 0.38) / 0.2) ** 2))
    body = lit * (1.0 - gloss)
    return keep, [
        body * warm,
        body * (1.0 - warm - grey),
        body * grey,
        lit * gloss,
        cover * parted * gum * shade,
    ]


def _shade(
    depth: np.ndarray,
    down: np.ndarray,
    to_gap: np.ndarray,
    turn: np.ndarray,
    arch: np.ndarray,
    aa: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Light on a row of teeth and what shows between them, at `depth` (Y, X) mm past the lip's rim,
    `down` (Y, X) in [0, 1] the way from the lip to the biting edge, `to_gap` (X,) mm to the nearest
    gap between teeth and `turn` (X,) radians that the labial face there turns away from the camera
    (the arch's turn plus each crown's convexity), `arch` (X,) radians the arch has turned there.

    Returns (Y, X) light (1 = lit tooth colour): the lip's shadow at the top, brightest a third of
    the way down the crown (its face is convex top to bottom), each face lit as it turns towards
    the camera and, along the arch, the teeth receding into the cheeks' shade (the buccal
    corridor); (Y, X) in [0, 1] how much of the embrasure between two neighbours shows: a dark
    V, widest and darkest at the gum, closing to a thin line where the teeth touch; and (Y, X) in
    [0, 1] how much of that is the pink gum papilla rather than the dark behind (right under the
    lip)."""
    lip = 0.62 + 0.38 * (depth / 1.0).clip(0.0, 1.0) ** 0.8
    convex = 1.0 - 0.12 * ((down - 0.35) / 0.65) ** 2
    facing = 0.4 + 0.6 * np.cos(turn.clip(-1.5, 1.5))
    # The cheeks shade the back of the row along the arch (not a flat darkening of the sides).
    corridor = 1.0 - 0.8 * ((arch - 0.4) / 0.8).clip(0.0, 1.0) ** 1.3
    gingival = (1.0 - depth / 2.2).clip(0.0, 1.0) ** 1.4  # the V's share at this depth
    width = 0.12 + 0.6 * gingival  # half the embrasure's width, mm
    # Narrower than the samples can draw: spread over them, as faint as its share of their area.
    wide = np.maximum(width, 0.5 * aa)
    parted = (0.5 + 0.45 * gingival) * (width / wide) * np.exp(-((to_gap[None, :] / wide) ** 2))
    gum = (1.0 - depth / 0.8).clip(0.0, 1.0) * 0.9
    return lip * convex * (facing * corridor)[None, :], parted, gum
