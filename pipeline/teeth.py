"""Procedural teeth for the painted mouth gap of a photo that showed none (`pipeline.mouth`).

A row of upper teeth hangs from the upper edge of the gap: two central incisors, the laterals,
the canines, then premolars and a molar, each of its real width (millimetres, scaled by the face's
size, not by the opening) laid on a circular arch seen from the front, so that the teeth narrow
towards the corners of the mouth as the arch turns away. Each tooth gets a thin dark line at its
sides (the gap between neighbours), rounded corners at its biting edge and a translucent rim along
it, the upper lip's shadow at its top, a lit middle and a rounded face, and darkens towards the
back of the mouth. Lower teeth show as a narrow row above the lower edge, half hidden behind the
lower lip, once the mouth is well open.

Everything is a function of continuous crop coordinates, so the same teeth can be drawn at the
crop's resolution and at a multiple of it (`step`: crop pixels per sample), where their lines
stay crisp once laid over a large photo.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TOOTH_COLOUR", "draw_teeth"]

#: Warm ivory (RGB, 0-255) of teeth in the mouth's soft light, before the face's exposure.
TOOTH_COLOUR = np.array([236.0, 227.0, 208.0])
#: The face's longer side in millimetres (face_size pixels): gives the pixels per millimetre.
_FACE_MM = 135.0
#: Arch radius (mm) of the teeth's front as seen from the front: upper and lower.
_ARCH = (25.0, 21.0)
#: Widths (mm) from the midline outwards: central and lateral incisor, canine, premolars, molar.
_UPPER_WIDTHS = np.array([8.6, 6.6, 7.6, 7.0, 6.6, 10.0])
#: How far (mm) each shows below the upper lip when the mouth opens (the arch's smile curve).
_UPPER_SHOW = np.array([7.0, 6.0, 6.4, 4.4, 3.4, 2.4])
_LOWER_WIDTHS = np.array([5.4, 5.9, 6.9, 7.0, 7.1, 10.0])
_LOWER_SHOW = np.array([3.0, 3.0, 2.8, 2.0, 1.4, 1.0])


def _row(
    across_mm: np.ndarray,
    depth_mm: np.ndarray,
    radius: float,
    widths: np.ndarray,
    show: np.ndarray,
    reach: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One row of teeth at samples `across_mm` (X,) mm from the midline and `depth_mm` (Y, X) mm
    past the row's reference line (the lip at the midline, carried along the mouth's axis) into
    the gap; widths, show: (T,) mm per tooth from the midline outwards (its width, how far its
    biting edge lies past the reference line); reach: (X,) or scalar share of `show` the opening
    leaves room for.

    Returns (Y, X) signed distance (mm, > 0 on a tooth's side of its biting edge), (X,) distance
    (mm, projected) to the nearest gap between teeth, (X,) place across the tooth (0 at a side, 1
    in its middle) and (X,) arc length (mm) from the midline.
    """
    bounds = np.concatenate([[0.0], np.cumsum(widths)])  # arc length of the gaps between teeth
    seen = radius * np.sin(np.minimum(bounds / radius, np.pi / 2))  # their projected places
    side = np.abs(across_mm)
    # Past the arch's side (seen from the front) lies the inside of the cheek: no teeth there.
    arc = np.where(side < radius * 0.99, radius * np.arcsin(np.minimum(side / radius, 0.99)), np.inf)
    index = np.clip(
        np.searchsorted(bounds, np.minimum(arc, bounds[-1]), side="right") - 1, 0, len(widths) - 1
    )
    to_gap = np.maximum(np.minimum(side - seen[index], seen[index + 1] - side), 0.0)  # mm, projected
    width = np.maximum(seen[index + 1] - seen[index], 1e-3)
    middle = np.clip(2.0 * to_gap / width, 0.0, 1.0)
    # The biting edge, with corners rounded over about a millimetre (less on narrow, turned teeth).
    corner = np.minimum(0.9, 0.45 * width)
    q = np.clip(1.0 - to_gap / corner, 0.0, 1.0)
    edge = show[index] * reach - corner * (1.0 - np.sqrt(1.0 - q**2))
    return edge[None, :] - depth_mm, to_gap, middle, arc


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
) -> np.ndarray:
    """(Y, X, 3) float `colour` of the gap (the cavity) with teeth drawn over it.

    ys: (Y, 1) and xs: (X,) crop coordinates of the samples; gap: (X,) y of the gap's upper and
    lower rim at each sample column; corners: the mouth's (2,) corners (x, y), crop pixels (the
    rows of teeth are rigid: level with the line between them, their biting edges placed from the
    rims at the midline, hidden where a rim comes further in); face_size: the face's longer side,
    crop pixels; tooth: (3,) RGB of a lit tooth; step: crop pixels per sample (edges are
    anti-aliased over a sample); lower: in [0, 1], how much of the lower teeth shows (0: none).
    """
    mm, top_mid, bottom_mid, level = _frame(xs, gap, corners, face_size)
    f32 = np.float32
    ys = ys.astype(f32)
    top, bottom = (rim.astype(f32)[None, :] for rim in gap)
    height = max(bottom_mid - top_mid, 0.0) / mm  # the opening at the midline, mm
    across = (xs - 0.5 * (corners[0][0] + corners[1][0])) / mm
    level = level.astype(f32)[None, :]
    aa = max(step, 0.25 * mm) / mm  # anti-aliasing width, mm
    # What is drawn is a mix of the cavity and the lit tooth colour: out = cavity * keep + tooth * lit.
    # Upper teeth: never more than 60 % of the opening (the rest is the dark mouth behind them).
    reach = min(1.0, 0.6 * height / _UPPER_SHOW[0])
    edge, to_gap, middle, arc = _row(
        across, (ys - top_mid - level) / mm, _ARCH[0], _UPPER_WIDTHS, _UPPER_SHOW, reach
    )
    # ... nor of the gap in any column (towards the corners the lips close in on the row).
    edge = np.minimum(edge, (top + 0.5 * (bottom - top) - ys) / mm)
    cover = np.clip(edge / aa + 0.5, 0.0, 1.0) * (arc < np.sum(_UPPER_WIDTHS) - 0.5)[None, :]
    shade, parted = _shade((ys - top) / mm, edge, to_gap, middle, arc, aa)
    # The biting edge lets the dark behind it through (enamel without dentine behind it), and
    # between two teeth the dark mouth behind them shows.
    rim = np.clip(1.0 - edge / 0.8, 0.0, 1.0) ** 2 * (0.45 - 0.15 * np.clip(arc / 16.0, 0.0, 1.0))[None, :]
    keep = 1.0 - cover + cover * (parted * (1.0 - rim) + 0.6 * rim)
    lit = cover * (shade * (1.0 - parted) * (1.0 - rim) + 0.25 * rim)
    if lower > 0.0:
        # Lower teeth: narrower, shorter, behind the lower lip, in the shadow of the upper ones.
        reach = lower * min(1.0, 0.25 * height / _LOWER_SHOW[0])
        depth = (bottom_mid + level - ys) / mm
        edge, to_gap, middle, arc = _row(across, depth, _ARCH[1], _LOWER_WIDTHS, _LOWER_SHOW, reach)
        cover = np.clip(edge / aa + 0.5, 0.0, 1.0) * (arc < np.sum(_LOWER_WIDTHS[:5]))[None, :]
        shade, parted = _shade((bottom - ys) / mm, edge, to_gap, middle, arc, aa, lip=False)
        keep = keep * (1.0 - cover) + parted * cover
        lit = lit * (1.0 - cover) + 0.72 * shade * (1.0 - parted) * cover
    return colour * keep[:, :, None] + tooth.astype(f32)[None, None, :] * lit[:, :, None]


def _shade(
    depth: np.ndarray,
    edge: np.ndarray,
    to_gap: np.ndarray,
    middle: np.ndarray,
    arc: np.ndarray,
    aa: float,
    lip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(Y, X) light on the teeth (1 = lit tooth colour) at `depth` (Y, X) mm past the lip's rim and
    `edge` (Y, X) mm before the biting edge (the lip's shadow at the top, a rounded face, less light
    towards the back of the mouth), and (Y, X) in [0, 1] how much the gap between two neighbours
    shows there (most near the lip and the edge, where the teeth part)."""
    shade = np.ones_like(edge)
    if lip:
        shade = 0.62 + 0.38 * np.clip(depth / 1.0, 0.0, 1.0) ** 0.7
    face = (0.84 + 0.16 * np.sqrt(middle))[None, :]  # rounded: darker towards the sides
    back = (1.0 - 0.75 * np.clip(arc / 30.0, 0.0, 1.0) ** 1.1)[None, :]
    # Just above the biting edge the enamel is a touch brighter (it catches the light).
    catch = 1.0 + 0.06 * np.exp(-(((edge - 1.0) / 0.6) ** 2))
    parting = 0.5 + 0.4 * np.maximum(
        np.exp(-np.maximum(edge, 0.0) / 1.2), np.exp(-np.maximum(depth, 0.0) / 1.5)
    )
    parted = parting * np.exp(-((to_gap / max(0.22, 0.6 * aa)) ** 2))[None, :]
    return shade * catch * face * back, parted
