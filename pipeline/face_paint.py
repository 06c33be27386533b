"""Small 2-D helpers shared by the mouth and eye parts of the geometric renderer, and the lash line.

Points are crop pixels (x right, y down); curves are (K, 2) polylines ordered from the image's
left (a lip or lid), boxes integer (x0, y0, x1, y1) with x1, y1 exclusive.

Painted content is recorded twice: in the crop, anti-aliased over a crop pixel, and in the
overlay's coverage, as a linear ramp over `EDGE_RAMP` crop pixels across its edge (its signed
distance, which `reconstruction.overlay.photo_alpha` keeps sharp along the same smooth contour at
the photo's resolution).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.images import LUMA as _LUMA

__all__ = [
    "EDGE_RAMP",
    "curve_y",
    "box_around",
    "mask_box",
    "hull_mask",
    "similarity_2d",
    "apply_affine",
    "paint_lash_line",
    "lash_colour",
]

#: Crop pixels over which painted content's coverage ramps across its edge.
EDGE_RAMP = 2.0
#: Half the thickness of a shut lid's lash line, crop pixels (it covers the lid's edge, where the
#: flow jumps from the lid to the lower lid).
LASH_HALF = 0.65
#: How far below the middle of the lid's edge the lash line lies, crop pixels (over the lower lid's
#: wet rim, which a shut lid's lashes hide).
LASH_LOW = 0.3


def curve_y(curve: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a polyline (K, 2) at columns xs (any shape; clamped at the ends)."""
    order = np.argsort(curve[:, 0], kind="stable")
    return np.interp(xs, curve[order, 0], curve[order, 1])


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) rotation + uniform scale + translation taking two points `src` (2, 2) onto `dst`."""
    a, b = src[1] - src[0], dst[1] - dst[0]
    za, zb = complex(a[0], a[1]), complex(b[0], b[1])
    z = zb / za if abs(za) > 1e-9 else 1.0 + 0.0j
    rot = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.concatenate([rot, (dst[0] - rot @ src[0])[:, None]], axis=1)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) affine applied to (..., 2) points."""
    return points @ affine[:, :2].T + affine[:, 2]


def box_around(points: np.ndarray, size: tuple[int, int], pad: int) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) around (N, 2) points, padded and clipped to (H, W); None if empty."""
    h, w = size
    x0 = max(0, int(math.floor(points[:, 0].min())) - pad)
    x1 = min(w, int(math.ceil(points[:, 0].max())) + pad + 1)
    y0 = max(0, int(math.floor(points[:, 1].min())) - pad)
    y1 = min(h, int(math.ceil(points[:, 1].max())) + pad + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def mask_box(mask: np.ndarray, pad: int, strict: bool = True) -> tuple[int, int, int, int] | None:
    """`box_around` the pixels marked in the (H, W) bool `mask`, from its first and last marked rows
    and columns (the same box, no index pair per pixel). An empty mask: `box_around`'s error for no
    points when `strict`, else None."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0 and not strict:
        return None
    ends = np.array([[cols[0], rows[0]], [cols[-1], rows[-1]]], np.float64) if len(rows) else np.zeros((0, 2))
    return box_around(ends, mask.shape, pad)


def hull_mask(points: np.ndarray, shape: tuple[int, int], grow: int = 0) -> np.ndarray:
    """(H, W) uint8 mask, 1 inside the convex hull of (N, 2) points (pixels, sub-pixel exact),
    widened by `grow` pixels with a disc."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(np.round(np.asarray(points) * 16).astype(np.int32))], 1, shift=4)
    if grow > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return mask


def paint_lash_line(
    out: np.ndarray,
    coverage: np.ndarray,
    paint: np.ndarray,
    source: np.ndarray,
    flow: np.ndarray,
    hidden: np.ndarray,
    colour: np.ndarray | None = None,
) -> None:
    """Paint a shut lid's lash line (in place) where the flow jumps over what must not show.

    out, paint: (H, W, 3) uint8 crop and overlay colour; coverage: (H, W) float32; source: the
    (H, W, 3) uint8 photo crop; flow: (H, W, 2) backward flow; hidden: (H, W) float32 in [0, 1],
    the source's hidden part (the eyeball behind the lid). The line runs through the output
    pixels that read the hidden part (the lid's edge), `LASH_HALF` thick on either side, thinning
    towards the eye's corners, in a dark colour of the source along the hidden part's upper edge
    (the lashes); colour: (3,) the lashes' colour to use instead (`lash_colour` of the opening
    alone), where `hidden` also covers the photo's lashes above the opening.
    """
    h, w = hidden.shape
    reach = int(np.ceil(np.abs(flow).max())) + 2  # output pixels that can read the hidden part
    near = mask_box(hidden > 0.0, pad=reach, strict=False)
    if near is None:
        return
    nx0, ny0, nx1, ny1 = near
    grid_x, grid_y = np.meshgrid(np.arange(nx0, nx1, dtype=np.float32), np.arange(ny0, ny1, dtype=np.float32))
    window = flow[ny0:ny1, nx0:nx1]
    reads = np.zeros((h, w), np.float32)
    reads[ny0:ny1, nx0:nx1] = cv2.remap(
        hidden, grid_x + window[..., 0], grid_y + window[..., 1], cv2.INTER_LINEAR
    )
    box = mask_box(reads > 0.02, pad=3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    weight = reads[y0:y1, x0:x1].astype(np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    mass = weight.sum(axis=0)  # (X,) how much of each column reads the hidden part
    seen = mass > 0.05
    if seen.sum() < 2:
        return
    xs = np.arange(x0, x1, dtype=np.float64)
    # The line: a parabola through the middle of what reads the hidden part, column by column
    # (smooth at any resolution), thinning to nothing over the outer quarter on either side.
    fit = np.polyfit(xs[seen], (weight * ys).sum(axis=0)[seen] / mass[seen], 2, w=np.sqrt(mass[seen]))
    centre, slope = np.polyval(fit, xs) + LASH_LOW, np.polyval(np.polyder(fit), xs)
    left, right = xs[seen][[0, -1]]
    ends = (np.minimum(xs - left, right - xs) / (0.25 * max(right - left, 1.0))).clip(0.0, 1.0)
    half = LASH_HALF * np.sqrt(ends)
    distance = half[None, :] - np.abs(ys - centre[None, :]) / np.sqrt(1.0 + slope**2)[None, :]
    alpha = (distance + 0.5).clip(0.0, 1.0)
    cover = (distance / EDGE_RAMP + 0.5).clip(0.0, 1.0).astype(np.float32)
    colour = lash_colour(source, hidden) if colour is None else np.asarray(colour, np.float32)
    region = out[y0:y1, x0:x1].astype(np.float32)
    region += (colour - region) * alpha[:, :, None]
    out[y0:y1, x0:x1] = (region + 0.5).clip(0, 255).astype(np.uint8)
    paint[y0:y1, x0:x1][cover > 0.0] = (colour + 0.5).clip(0, 255).astype(np.uint8)
    np.maximum(coverage[y0:y1, x0:x1], cover, out=coverage[y0:y1, x0:x1])


def lash_colour(source: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """(3,) float32: the darkest sixth of the source in the four rows above the hidden part (the
    lashes at the lid's edge; not the eyeball, whose colour must not come back)."""
    box = mask_box(hidden > 0.5, pad=5)
    if box is None:
        return np.array([40.0, 30.0, 28.0], np.float32)
    x0, y0, x1, y1 = box
    inside = hidden[y0:y1, x0:x1] > 0.5
    band = np.zeros_like(inside)
    for shift in range(1, 5):
        band[:-shift] |= inside[shift:]
    band &= ~inside
    pixels = source[y0:y1, x0:x1][band].astype(np.float32)
    if len(pixels) < 4:
        return np.array([40.0, 30.0, 28.0], np.float32)
    luma = pixels @ _LUMA
    return pixels[luma <= np.percentile(luma, 16)].mean(axis=0)
