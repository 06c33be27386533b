"""A magnified band of the photo given an unmagnified outline and fine detail at the photo's
resolution (docs/RIM_SKIN.md).

At a strong turn the side of the face that turns towards the camera shows a strip the photo saw
foreshortened: the mesh warp magnifies it 2-4x along the rows. At the photo's resolution each
photo row's few pixels are then smeared over many output columns: horizontal streaks, and an
outline crossing the band (skin against a scarf, hair, the background) becomes a streaked
gradient. A magnified band cannot show detail the photo never had, but it need not show streaks:
`lay_rim_texture` draws an outline across the band back at the photo's own steepness (the flat
stretches beside it take up the width it gives back, so it stays where it was), keeps the band's
colour blurred down its columns (colour and shading are right; the streaks, which vary down the
band, are gone) and gives it the fine detail of the photo around each pixel's own read, read 1:1:
two copies, each advancing one photo pixel per output pixel and sliding back to the read every
`_PERIOD` pixels, fading into each other, so the texture is the same material as the read (skin,
hair, fabric) and never magnified; over hair the copies change along its strands. Busy detail
(curly hair, a patterned cloth) is left as the warp made it: magnified, it still reads as itself.
`magnified_band` says where, on the crop. The pass costs more than a drag preview may: the product
lays it on final images only (`pipeline.photo.Canvas.quick`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.images import LUMA as _LUMA
from reconstruction.crop import CropTransform

__all__ = ["MagnifiedBand", "lay_rim_texture", "magnified_band"]

#: Output pixels per photo pixel along a row from which the band is laid in full; it fades in
#: from `_RAMP` less.
_MAGNIFIED = 2.0
_RAMP = 0.5
#: The flow is smoothed by this many crop pixels before its slope is taken (a mesh's triangles
#: give it steps; a turn's rim is magnified over many pixels, a feature's edge over a few); the
#: band's weight is softened by `_SOFT` crop pixels (a soft mask stays soft at the photo's
#: resolution: no outline of a patch).
_SMOOTH = 3.0
_SOFT = 1.5
#: Weight below this is no band (the softening's far tail).
_EDGE = 0.03
#: The fine detail is what is finer than this Gaussian (photo pixels; at least `_FINE_CROP` crop
#: pixels on a large photo), as a ratio to its local mean within `_RATIO`; where that mean changes
#: by more than `_EDGE_STEP` of itself per `_FINE` (an outline, a feature's edge), it passes none
#: (an edge's detail is the edge: copied beside it, it would double it).
_FINE = 1.5
_FINE_CROP = 0.25
_RATIO = (0.8, 1.25)
_EDGE_STEP = 0.12
#: Where the photo's fine detail is strands over `_GRAIN` times its scale (its structure tensor's
#: coherence beyond `_COHERENT` and its contrast, RMS of the ratio's departure from 1, beyond
#: `_STRANDS`, each faded in between its two values: hair), the copies' seams run along them; slopes
#: (columns per row) are kept within `_SLOPE`.
_GRAIN = 3.0
_COHERENT = (0.35, 0.6)
_STRANDS = (0.04, 0.08)
_SLOPE = 3.0
_BUSY = (0.3, 0.5)
_BUSY_LEVEL = 8.0
_BUSY_AROUND = 3.0
#: The band's own colour is blurred down by `_FINE` and along its rows only by this (photo pixels).
_ALONG = 0.5
#: A copy of the fine detail gives way to the next every this many photo pixels (at least
#: `_PERIOD_CROP` crop pixels), fading into it over the last `_FADE` of them: it strays at most half
#: a period times (1 - 1 / magnification) from the read.
_PERIOD = 24.0
_PERIOD_CROP = 3.0
_FADE = 0.3
#: Where the copies slide back wanders down the rows: sines of these (amplitude, wavelength) in
#: periods (a copy's texture shears by at most about 0.5 photo pixels per row).
_WANDER = ((0.25, 4.0), (0.15, 2.3))
#: An outline across the band (where the photo's luma changes by more than `_OUTLINE_STEP` of
#: itself per photo pixel, fully from twice that) is drawn at the photo's own steepness; the flat
#: stretches beside it (within `_BESIDE` crop pixels along its row) take up the columns it gives
#: back, magnified at most `_FLAT_MORE` times more; it is found over `_DOWN` crop pixels of rows.
_OUTLINE_STEP = 0.04
_FLAT_MORE = 2.0
_BESIDE = 2.5
_DOWN = 1.0
#: Then steepened along the rows: the blurred colour plus `_STEEPEN` times its detail finer than
#: `_OUTLINE` (photo pixels, at least `_OUTLINE_CROP` crop pixels), kept within the colours of its
#: row `2 _OUTLINE` around (no halo), where those colours span a contrast ((high - low) / (high +
#: low)) beyond `_CONTRAST` (fully from twice that): an outline, not skin's own shading.
_STEEPEN = 1.5
_CONTRAST = 0.15
_OUTLINE = 2.5
_OUTLINE_CROP = 0.4


@dataclass(frozen=True)
class MagnifiedBand:
    """Where a frame magnifies the photo along its rows enough to streak.

    weight: (c, c) float32 in [0, 1] on the output crop; advance: (c, c) float32, source columns
    read per output column there (smoothed; 1 / magnification).
    """

    weight: np.ndarray
    advance: np.ndarray


def magnified_band(flow: np.ndarray, sides: tuple[float, float]) -> MagnifiedBand | None:
    """Where the (c, c, 2) backward `flow` magnifies the photo along its rows at least
    `_MAGNIFIED` times (faded in from `_RAMP` less), softened, only left of `sides[0]` and right of
    `sides[1]` (crop x: the eyes' outer corners, so a feature's own magnified edge, such as a
    turned nose's, is never the band); None where nothing is magnified that much."""
    fx = cv2.GaussianBlur(flow[..., 0], (0, 0), _SMOOTH)
    advance = np.empty_like(fx)  # source columns read per output column
    advance[:, 1:-1] = 1.0 + 0.5 * (fx[:, 2:] - fx[:, :-2])
    advance[:, 0], advance[:, -1] = advance[:, 1], advance[:, -2]
    # (a fold reads backwards, advance <= 0: that is folds.py's, not a magnification)
    magnification = np.where(advance > 0.05, 1.0 / np.maximum(advance, 0.05), 0.0)
    weight = np.clip((magnification - (_MAGNIFIED - _RAMP)) / _RAMP, 0.0, 1.0).astype(np.float32)
    cols = np.arange(flow.shape[1], dtype=np.float32)
    weight *= np.clip(np.maximum(sides[0] - cols, cols - sides[1]) / _SOFT, 0.0, 1.0)[None, :]
    if weight.max() <= 0.0:
        return None
    weight = np.clip(1.5 * cv2.GaussianBlur(weight, (0, 0), _SOFT), 0.0, 1.0)
    weight[weight < _EDGE] = 0.0
    if weight.max() <= 0.0:
        return None
    return MagnifiedBand(weight, np.clip(advance, 0.0, 1.0).astype(np.float32))


def lay_rim_texture(
    image: np.ndarray, photo: np.ndarray, transform: CropTransform, flow: np.ndarray, band: MagnifiedBand
) -> np.ndarray:
    """`image` ((H, W, 3) uint8: the (H, W, 3) uint8 `photo` moved along the (c, c, 2) crop
    `flow`; changed in place) where `band` marks it, each connected part of the band in its own
    box (a turn's near rim; the far side's rare magnified spots stay small): an outline across it
    drawn back at the photo's steepness (`_outline_reads`), its own colour blurred down its columns
    (Gaussian `_FINE` photo pixels), times the photo's fine detail around each pixel's read, read
    1:1 (`_copies`)."""
    count, labels = cv2.connectedComponents((band.weight > 0.0).astype(np.uint8), connectivity=8)
    for part in range(1, count):
        _lay_part(image, photo, transform, flow, band, np.where(labels == part, band.weight, 0.0))
    return image


def _lay_part(
    image: np.ndarray,
    photo: np.ndarray,
    transform: CropTransform,
    flow: np.ndarray,
    band: MagnifiedBand,
    weight: np.ndarray,
) -> None:
    """`lay_rim_texture` for one part of the band (its (c, c) float32 `weight`)."""
    on = weight > 0.0
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    scale = 1.0 / transform.scale  # photo pixels per crop pixel
    inverse = transform.inverse()
    h, w = image.shape[:2]
    corners = np.array([[cols[0] - 1, rows[0] - 1], [cols[-1] + 1, rows[-1] + 1]], np.float64)
    x0, y0, x1, y1 = _box(corners, inverse, (h, w))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    to_crop = transform.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)  # region pixel -> crop pixel
    flags, size = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, (x1 - x0, y1 - y0)
    cover = cv2.warpAffine(
        weight.astype(np.float32), to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT
    )
    advance = cv2.warpAffine(band.advance, to_crop, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    # each region pixel's read in the photo: p + L^-1 f(A p), as the photo was moved
    shift = cv2.warpAffine(flow, to_crop, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    shift = cv2.transform(shift, inverse * [1.0, 1.0, 0.0])
    reads_x = shift[..., 0] + np.arange(x0, x1, dtype=np.float32)[None, :]
    reads_y = shift[..., 1] + np.arange(y0, y1, dtype=np.float32)[:, None]
    region = image[y0:y1, x0:x1].astype(np.float32)
    sigma = max(_FINE, _FINE_CROP * scale)
    period = max(_PERIOD, _PERIOD_CROP * scale)
    pad = 3.0 * sigma + period
    sx0, sy0 = max(int(reads_x.min() - pad), 0), max(int(reads_y.min() - pad), 0)
    sx1, sy1 = min(int(reads_x.max() + pad) + 1, w), min(int(reads_y.max() + pad) + 1, h)
    if sx1 - sx0 < 4 or sy1 - sy0 < 4:
        return
    detail, ratio, departure = _fine_detail(photo[sy0:sy1, sx0:sx1], sigma)
    slopes, hair, busy = _strands(ratio, departure, sigma)  # (what the photo shows, edges and all)

    def at_reads(values: np.ndarray) -> np.ndarray:
        return cv2.remap(
            values, reads_x - sx0, reads_y - sy0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    # not where the photo's detail is strong without a direction (curly hair, a patterned cloth):
    # magnified, it still reads as itself, and its copies, clipped and cut off at its edges, blot
    cover *= 1.0 - at_reads(busy)
    if float(cover.max()) <= _EDGE:
        return
    # an outline across the band back at the photo's steepness: the region read again along its
    # rows, the reads and their advance with it (within the reads' range: `detail` still holds them)
    columns = _outline_reads(region, cover, advance, scale)
    if columns is not None:
        lines = np.broadcast_to(np.arange(y1 - y0, dtype=np.float32)[:, None], columns.shape)
        region, reads_x, reads_y, advance = (
            cv2.remap(v, columns, lines, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for v in (region, reads_x, reads_y, advance)
        )
        stretch = np.gradient(columns, axis=1)  # old columns per new column
        advance = np.clip(advance * stretch, 0.02, 1.0)
    slope, strands = at_reads(slopes), at_reads(hair)
    seams = _seams(slope * strands, reads_x, advance, period)
    texture = _copies(detail, reads_x - sx0, reads_y - sy0, advance, (x0, y0), period, seams)
    # (streaks vary down the band, not along it: blurred down only, an outline across the band
    # keeps what edge it has)
    smooth = cv2.GaussianBlur(region, (0, 0), sigmaX=_ALONG, sigmaY=sigma)
    smooth = _steepened(smooth, max(_OUTLINE, _OUTLINE_CROP * scale))
    region += (smooth * texture[..., None] - region) * cover[..., None]
    image[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)


def _outline_reads(
    region: np.ndarray, cover: np.ndarray, advance: np.ndarray, scale: float
) -> np.ndarray | None:
    """(h, w) float32: the column of the (h, w, 3) float32 `region` each of its pixels should show
    so that an outline across the band (where the photo's own luma changes by more than
    `_OUTLINE_STEP` of itself per photo pixel) is magnified no more than the photo showed it, and
    the flat stretches of the same row take up what it gives back (at most `_FLAT_MORE` times more
    magnified); None where the band holds no outline. cover: (h, w) the band's weight; advance:
    photo columns per output column there."""
    luma = cv2.GaussianBlur(region @ _LUMA, (0, 0), sigmaX=0.7, sigmaY=max(1.0, 0.3 * scale))
    slope = np.abs(np.gradient(luma, axis=1)) / np.maximum(advance, 0.05)  # per photo pixel
    mean = cv2.GaussianBlur(luma, (0, 0), 3.0) + 8.0
    edge = np.clip((slope / mean - _OUTLINE_STEP) / _OUTLINE_STEP, 0.0, 1.0)
    # (an outline runs down many rows: its edge is found over `_DOWN` crop pixels of them, so the
    # rows are read again alike and the outline is not made jagged)
    edge = cv2.GaussianBlur(
        cv2.dilate(edge, np.ones((1, 3), np.uint8)), (0, 0), sigmaX=0.5, sigmaY=_DOWN * scale
    )
    give = cover * edge * (1.0 - advance)  # columns an edge's pixel gives back (it shrinks to advance)
    take = cover * (1.0 - edge)
    if float(give.sum(axis=1).max()) < 1.0:
        return None
    # the flats beside an edge (within `_BESIDE` crop pixels along its row, both sides) take what it
    # gives back, so the edge stays where it is; at most `_FLAT_MORE` - 1 of their width each
    reach = _BESIDE * scale
    given, room = (cv2.GaussianBlur(v, (0, 0), sigmaX=reach, sigmaY=1e-3) for v in (give, take))
    k = np.minimum(1.0, (_FLAT_MORE - 1.0) * room / np.maximum(given, 1e-6))
    density = np.maximum(1.0 - k * give + take * k * given / np.maximum(room, 1e-6), 0.05)
    # (the local balance is near, not exact: what a row is left over goes to its flats, so the
    # row ends where it began and the box's sides stay put)
    rest = density.shape[1] - density.sum(axis=1, keepdims=True)
    density = np.maximum(density + rest * take / np.maximum(take.sum(axis=1, keepdims=True), 1e-6), 0.05)
    placed = np.cumsum(density, axis=1) - 0.5 * density - 0.5  # each old column's new place
    h, w = placed.shape
    wanted = np.arange(w, dtype=np.float32)
    stride = np.float32(4 * w)
    offsets = stride * np.arange(h, dtype=np.float32)[:, None]
    old = np.broadcast_to(wanted[None, :], (h, w))
    columns = np.interp((wanted[None, :] + offsets).ravel(), (placed + offsets).ravel(), old.ravel())
    moved = columns.reshape(h, w).astype(np.float32) - wanted[None, :]
    moved = cv2.GaussianBlur(moved, (0, 0), sigmaX=0.5, sigmaY=_DOWN * scale)
    return moved + wanted[None, :]


def _copies(
    detail: np.ndarray,
    reads_x: np.ndarray,
    reads_y: np.ndarray,
    advance: np.ndarray,
    origin: tuple[int, int],
    period: float,
    seams: np.ndarray,
) -> np.ndarray:
    """(h, w) float32: the (H, W) ratio `detail` read near each region pixel's read
    (`reads_x`, `reads_y`, in `detail`'s pixels) at one photo pixel per output pixel along the rows:
    a copy slides along with the output column (1 - `advance` photo pixels per pixel more than the
    read, so it advances one) from half a slip behind the read to half a slip ahead of it, then the
    next copy starts behind again, every `period` pixels; over the last `_FADE` of a period a copy
    fades into the next (their detail re-scaled to the contrast of one). A source pixel shows again
    only a period further on, never smeared over its neighbours. Where copies change wanders slowly
    from row to row (`_WANDER`), so the changes make no columns, and over hair runs along its
    strands (`seams`: (h, w) output columns, `_seams`), so the changes cut none. origin: the region's first photo
    pixel (x, y), which places the copies in the photo's grid."""
    h, w = reads_x.shape
    ys = np.arange(origin[1], origin[1] + h, dtype=np.float32)[:, None] / period
    wander = sum(a * np.sin(2.0 * np.pi * ys / p + k) for k, (a, p) in enumerate(_WANDER))
    xs = np.arange(origin[0], origin[0] + w, dtype=np.float32)[None, :] / period
    phase = np.mod(xs + wander - seams / period, 1.0)
    slip = (1.0 - advance) * period
    # (read at whole pixels: between them a read would average neighbours along the row, and the
    # copy would lose its fine detail across, not down: streaks again)
    flags, border = cv2.INTER_NEAREST, cv2.BORDER_REFLECT
    this = cv2.remap(detail, reads_x + slip * (phase - 0.5), reads_y, flags, borderMode=border)
    following = cv2.remap(detail, reads_x + slip * (phase - 1.5), reads_y, flags, borderMode=border)
    t = np.clip((phase - (1.0 - _FADE)) / _FADE, 0.0, 1.0)  # the next copy's share
    norm = 1.0 / np.sqrt((1.0 - t) ** 2 + t**2)
    return 1.0 + ((this - 1.0) * (1.0 - t) + (following - 1.0) * t) * norm


def _steepened(smooth: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w, 3) float32: the blurred (h, w, 3) float32 `smooth` with its gradients along the rows
    steepened (`_STEEPEN` times its detail finer than `sigma`) where its row spans a contrast of
    `_CONTRAST` within 2 `sigma` (an outline, not hair's or skin's own shading), kept within the
    lowest and highest colour there: a magnified outline comes closer to an edge, no halo."""
    coarse = cv2.GaussianBlur(smooth, (0, 0), sigmaX=sigma, sigmaY=1e-3)
    reach = np.ones((1, 2 * int(np.ceil(2.0 * sigma)) + 1), np.uint8)
    low, high = cv2.erode(smooth, reach), cv2.dilate(smooth, reach)
    luma_low, luma_high = (cv2.cvtColor(v, cv2.COLOR_RGB2GRAY) for v in (low, high))
    contrast = (luma_high - luma_low) / (luma_high + luma_low + 1.0)
    steep = np.clip((contrast - _CONTRAST) / _CONTRAST, 0.0, 1.0)[..., None] * _STEEPEN
    return np.clip(smooth + steep * (smooth - coarse), low, high)


def _strands(
    detail: np.ndarray, departure: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slope, strands, busy), each (h, w) float32, of the (h, w) ratio `detail` (and `departure`,
    the same as a difference of luma levels): the slope (columns per row, within `_SLOPE`) of the
    lines it runs along over `_GRAIN` `sigma`s (its structure tensor); 1 where those are strands
    (coherence beyond `_COHERENT` and contrast beyond `_STRANDS`: hair), 0 where its grain has no
    direction or there is next to no detail (skin); and 1 where it is busy (a share beyond `_BUSY`
    of the pixels `_BUSY_AROUND` times further around depart by `_BUSY_LEVEL` luma levels: curly or
    bright-stranded hair, a patterned cloth; not an outline, a thin line of them)."""
    luma = detail - 1.0
    gx, gy = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    window = _GRAIN * sigma
    jxx, jyy, jxy = (cv2.GaussianBlur(g, (0, 0), window) for g in (gx * gx, gy * gy, gx * gy))
    coherence = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy**2) / (jxx + jyy + 1e-6)
    contrast = np.sqrt(cv2.GaussianBlur(luma * luma, (0, 0), window))
    lines = np.clip((coherence - _COHERENT[0]) / (_COHERENT[1] - _COHERENT[0]), 0.0, 1.0)
    strong = np.clip((contrast - _STRANDS[0]) / (_STRANDS[1] - _STRANDS[0]), 0.0, 1.0)
    # the gradient's direction is (cos a, sin a); the lines run across it: dx / dy = -tan a
    angle = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy)
    slope = np.clip(-np.tan(angle), -_SLOPE, _SLOPE)
    # (the share of pixels departing by more than `_BUSY_LEVEL` around: an outline's own line is a
    # small share of its neighbourhood, a texture of strands or curls most of it)
    strong_pixels = (np.abs(departure) > _BUSY_LEVEL).astype(np.float32)
    share = cv2.GaussianBlur(strong_pixels, (0, 0), _BUSY_AROUND * window)
    busy = np.clip((share - _BUSY[0]) / (_BUSY[1] - _BUSY[0]), 0.0, 1.0)
    return slope.astype(np.float32), (lines * strong).astype(np.float32), busy.astype(np.float32)


def _seams(slope: np.ndarray, reads_x: np.ndarray, advance: np.ndarray, period: float) -> np.ndarray:
    """(h, w) float32: how far (output columns) the copies' seams are shifted in each row, so that
    they run along the strands (`slope`: photo columns per row, 0 where none) as the magnified
    band shows them: a strand read at columns s y + c shows along (s - d reads_x / dy) / advance."""
    along = (slope - np.gradient(reads_x, axis=0)) / np.maximum(advance, 0.1)
    along = np.where(slope != 0.0, np.clip(along, -_SLOPE, _SLOPE), 0.0).astype(np.float32)
    # (the strands' direction is smoothed over a period: a seam that turned row by row would move
    # the copies along the row by as much, and the strands would wave)
    along = _blurred(along, period)
    return -np.cumsum(along, axis=0).astype(np.float32)


def _blurred(values: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w) float32: the (h, w) float32 `values` under a Gaussian of `sigma` pixels, taken on a
    grid `sigma` / 4 coarser (as smooth, at a fraction of a wide blur's cost)."""
    step = max(int(sigma / 4.0), 1)
    h, w = values.shape
    small = cv2.resize(values, (max(w // step, 1), max(h // step, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / step)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _fine_detail(photo: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detail, ratio, departure), each (h, w) float32: the luma of the (h, w, 3) uint8 `photo`
    over (`ratio`) and minus (`departure`) its Gaussian blur (`sigma`), as they are; and the ratio
    within `_RATIO` (skin's fine detail is in its brightness), fading to 1 (no detail) within 3
    `sigma` of where the blur itself changes steeply (`_EDGE_STEP`): `detail`."""
    luma = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = np.maximum(cv2.GaussianBlur(luma, (0, 0), sigma), 1.0)
    gx, gy = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3)
    step = np.sqrt(gx * gx + gy * gy) * (sigma / 8.0) / mean  # relative change per sigma
    keep = np.clip(2.0 - step / _EDGE_STEP, 0.0, 1.0)
    # (an edge's ratio departs from 1 as far as the blur reaches: none of it passes)
    reach = 2 * int(np.ceil(3.0 * sigma)) + 1
    keep = cv2.erode(keep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    ratio = luma / mean
    return 1.0 + (np.clip(ratio, *_RATIO) - 1.0) * keep, ratio, luma - mean


def _box(corners: np.ndarray, inverse: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) photo pixels, clipped to `size` (H, W), around the crop box of the two
    corners (2, 2) taken to the photo by the (2, 3) `inverse`."""
    (ax, ay), (bx, by) = corners
    pts = np.array([[ax, ay], [bx, ay], [ax, by], [bx, by]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
    h, w = size
    x0, y0 = max(int(np.floor(pts[:, 0].min())), 0), max(int(np.floor(pts[:, 1].min())), 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + 1, w), min(int(np.ceil(pts[:, 1].max())) + 1, h)
    return x0, y0, x1, y1
