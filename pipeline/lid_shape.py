"""A painted shut lid cut to a lid's shape, shaded as skin over a rounded eyeball and given the
photo's own skin texture (docs/LID_SHAPE.md, `PreviewSettings.lid_shape`).

`lid_skin.smooth_shut_lids` paints a shut lid where its skin is stretched well beyond twice. Its
strength is one number per eye laid over the opening's columns, so the painted region's sides run
straight up from the lash line; its colour is the photo's lid skin averaged over a few crop pixels,
with no shading; and the photo's texture is laid only on photos much larger than the crop
(`reconstruction.skin.lay_skin_texture`). On photos about as large as the crop the lid is then a flat
disc or box pasted over the eye. `shape_lids` changes the paint's coverage and colour before they
are laid: coverage within an arch over the opening as high in the middle as main painted (up to
its paint's first gap), feathered, never beyond main's; main's darkest colour (stretched lashes in
the corners) drawn to the lid's darker skin; under the lid (an arc up to its crease) main's colour
lit as skin over a ball, lighter toward its bulge and back to main's at its outline (no rim); all times a tile of the photo's own fine skin detail
(`lid_detail`, once per photo: small patches of the skin around the eyes without lines, picked at
random, its contrast the skin's), laid only where `lay_skin_texture` does not run. Off by default
(docs/LID_SHAPE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.images import LUMA as _LUMA
from reconstruction.crop import CropTransform
from reconstruction.skin import MIN_SCALE

__all__ = ["LidDetail", "lid_detail", "shape_lids"]

#: The lid's outline rises at most this many eye widths above its edge (a lid's crease, not the brow).
_HEIGHT = 0.3
#: The arch's shape, 1 - |t| ** this across the eye (t: -1 to 1 corner to corner): flat over the
#: middle (the flow's stretched skin shows only by the corners), falling to the corners.
_ARCH = 3.0
#: The lid's crease is feathered over this many crop pixels (a soft fold, not a cut).
_CREASE = 2.5
#: Lash line coverage from which a column holds the shut lid's edge.
_LASH = 0.3
#: The arch's corners: the ends of the lash line, at most this share of the eye's width beyond the
#: opening's ends (a lash line drawn out beyond them would keep the arch high over the opening's sides).
_BEYOND = 0.04
#: The ball's bulge (the lid's lightest) lies this share of the lid's height above its edge.
_CENTRE = 0.35
#: The arch's outline is feathered over this many crop pixels, up to `1 + _SIDE_SOFT` times more at
#: the corners.
_FEATHER = 2.5
_SIDE_SOFT = 2.0
#: The lid's tone (the mean of its painted skin between these percentiles of luma) and its darker
#: skin (this percentile, within these shares of the tone): main's colour is not darker than that.
_TONE = (25.0, 75.0)
_DARK = 15.0
_DARK_RANGE = (0.85, 0.95)
#: The dome's middle (the ball's bulge) is lighter than main's colour by this share.
_LIGHT = 0.08
#: Main's colour darker than the lid's darker skin is drawn to it, fully from this share darker.
_DEEP = 0.2
#: The dome's extent over the outline's (up and across).
_REACH = 1.4
#: The texture: the photo's detail finer than this many crop pixels (what `lid_colours` averages
#: away) as a ratio to its local mean, kept within these bounds (a hair passes on faintly).
_FINE = 1.0
_RATIO = (0.75, 1.3)
#: Where the texture is read: the skin this many eye widths from the eye's fitted opening.
_RING = (0.12, 0.45)
_RING_LIGHTNESS = (20.0, 95.0)
#: Patches of this many crop pixels square; those whose detail runs most along a line (the share
#: of their variance in their row or column means) above this percentile are left out (a crease, a
#: wrinkle, a lash would repeat as ribs).
_PATCH = 4
_LINES = 50.0
#: A patch is read where this share of it is in the ring (lightness leaves out single pixels).
_INSIDE = 0.8
#: The tile's contrast over the ring's: the crop's detail, laid back over the photo through a
#: bilinear resampling, keeps about 2/3 of its contrast.
_GAIN = 1.5
#: The tile's side, crop pixels (tiled over a lid: larger than any pattern one would notice).
_TILE = 48


@dataclass(frozen=True)
class LidDetail:
    """Per photo: `tile`, a (T, T, 3) float32 tile of the photo's own fine skin detail (a ratio to
    its local mean, about 1), or None where the crop-level texture is not laid (the photo is large
    enough for `reconstruction.skin.lay_skin_texture`, it has too little skin to read, or the crop's
    place in a photo is unknown)."""

    tile: np.ndarray | None


def lid_detail(
    source: np.ndarray, eyes: Sequence[tuple[np.ndarray, np.ndarray]], transform: CropTransform | None
) -> LidDetail:
    """The `LidDetail` of the (H, W, 3) uint8 crop `source` whose eyes are `eyes` (upper, lower lid
    curves, (K, 2) crop pixels each), placed in the photo at `transform`: small patches of the skin
    around the eyes (`_RING`, no brow, hair or lashes by lightness), those without lines, laid at random
    into a tile; its contrast that of all the ring's patches (morgan's wrinkled skin, a smooth
    cheek). Once per photo (`prepare`): a frame only indexes the tile. None without `transform` (a
    video's frames, prepared one by one: a tile picked anew from each frame's skin would flicker)."""
    if transform is None or 1.0 / transform.scale >= MIN_SCALE:
        return LidDetail(None)
    field = source.astype(np.float32)
    h, w = source.shape[:2]
    patches = []
    for upper, lower in eyes:
        width = float(np.ptp(upper[:, 0]))
        if width < 8.0:
            continue
        pad = int(_RING[1] * width) + _PATCH
        x0, x1 = max(int(upper[:, 0].min()) - pad, 0), min(int(upper[:, 0].max()) + pad + 1, w)
        y0, y1 = max(int(upper[:, 1].min()) - pad, 0), min(int(lower[:, 1].max()) + pad + 1, h)
        box = field[y0:y1, x0:x1]
        ratio = np.clip(box / np.maximum(cv2.GaussianBlur(box, (0, 0), _FINE), 1.0), *_RATIO)
        opening = np.zeros(box.shape[:2], np.uint8)
        outline = np.concatenate([upper, lower[::-1]]) - [x0, y0]
        cv2.fillPoly(opening, [np.round(outline * 4).astype(np.int32)], 1, cv2.LINE_8, shift=2)
        distance = cv2.distanceTransform(1 - opening, cv2.DIST_L2, 5) / width
        luma = box @ _LUMA
        ring = (distance >= _RING[0]) & (distance <= _RING[1])
        if ring.sum() < 4 * _PATCH * _PATCH:
            continue
        low, high = np.percentile(luma[ring], _RING_LIGHTNESS)
        ring &= (luma >= low) & (luma <= high)
        step = _PATCH // 2  # overlapping patches: enough of them on a small eye
        for y in range(0, box.shape[0] - _PATCH + 1, step):
            for x in range(0, box.shape[1] - _PATCH + 1, step):
                if ring[y : y + _PATCH, x : x + _PATCH].mean() >= _INSIDE:
                    patches.append(ratio[y : y + _PATCH, x : x + _PATCH])
    if len(patches) < 8:
        return LidDetail(None)
    stack = np.stack(patches)  # (N, P, P, 3)
    grey = stack @ _LUMA
    grey = grey - grey.mean(axis=(1, 2), keepdims=True)
    total = np.maximum((grey * grey).mean(axis=(1, 2)), 1e-8)
    lines = np.maximum(grey.mean(axis=1).var(axis=1), grey.mean(axis=2).var(axis=1)) / total
    spread = float(np.median(np.sqrt(total)))  # the ring's detail, lines and all
    kept = stack[lines <= np.percentile(lines, _LINES)]
    rng = np.random.default_rng(17)  # the same tile every time for a photo
    n = _TILE // _PATCH
    picks = kept[rng.integers(0, len(kept), n * n)].reshape(n, n, _PATCH, _PATCH, 3)
    tile = picks.transpose(0, 2, 1, 3, 4).reshape(n * _PATCH, n * _PATCH, 3)
    tile = tile / tile.mean(axis=(0, 1), keepdims=True)
    grey_tile = tile @ _LUMA
    own = float(np.sqrt(np.mean((grey_tile - grey_tile.mean()) ** 2)))
    tile = 1.0 + (tile - 1.0) * (_GAIN * spread / max(own, 1e-6))
    return LidDetail(np.ascontiguousarray(tile, dtype=np.float32))


def shape_lids(
    alpha: np.ndarray,
    colour: np.ndarray,
    lashes: np.ndarray,
    runs: Sequence[tuple[int, int]],
    origin: tuple[int, int],
    detail: LidDetail,
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, colour) of painted shut lids, shaped, shaded and textured as lids (in place).

    alpha: (h, w) float32 paint coverage of a box of the crop at `origin` (x0, y0); colour: (h, w, 3)
    float32 the paint's colour there; lashes: (h, w) float32 the lash lines painted at the shut lids'
    edges (`face_paint.paint_lash_line`), whose ends are the eye's corners; runs: [start, stop) crop
    columns of each shut eye; detail: the photo's `lid_detail`. Eyes with no paint are left as they
    are; alpha never rises. Each eye's work is on its own columns and rows (a frame's cost here is
    mostly per operation: few, on small arrays)."""
    x0, _ = origin
    for a, b in runs:
        line = _lid_line(alpha, lashes, a - x0, b - x0)
        if line is not None:
            _shape_lid(alpha, colour, *line, detail)
    alpha[alpha < 0.05] = 0.0
    return alpha, colour


def _lid_line(
    alpha: np.ndarray, lashes: np.ndarray, a: int, b: int
) -> tuple[int, int, np.ndarray, np.ndarray, float] | None:
    """(left, right, cols, edge, reach) of the shut eye over box columns [a, b): its corners (the
    ends of its lash line, at most `_BEYOND` beyond the opening), the columns worked on, the lid's
    edge row per column and how far up main painted the lid's middle from it (up to the paint's
    first gap: paint above a gap is the skin further up, apart from the lid). None where main did
    not paint the eye or it has no lash line."""
    h, w = alpha.shape
    n = b - a
    middle = slice(a + n // 3, b - n // 3)
    if n < 4 or not (alpha[:, middle] > 0.5).any():
        return None
    near = slice(max(a - n // 3, 0), min(b + n // 3, w))
    drawn_rows = lashes[:, near] > _LASH
    edge = np.where(drawn_rows.any(axis=0), drawn_rows.argmax(axis=0), h)
    drawn = np.flatnonzero(edge < h)
    if len(drawn) < 4 or not np.any(edge[a - near.start : b - near.start] < h):
        return None
    beyond = round(_BEYOND * n)
    left, right = (
        max(int(drawn[0]) + near.start, a - beyond),
        min(int(drawn[-1]) + near.start + 1, b + beyond),
    )
    cols = np.arange(max(left - 2, 0), min(right + 2, w))
    lid_edge = np.interp(cols, drawn + near.start, edge[drawn]).astype(np.float32)
    # the middle third's edge, read off the same line (the lash line may not reach across it)
    inner = np.interp(np.arange(middle.start, middle.stop), drawn + near.start, edge[drawn])
    inner = inner.astype(np.float32)
    rows = np.arange(h, dtype=np.float32)[:, None]
    painted = alpha[:, middle] > 0.5
    gap = ~painted & (rows < np.floor(inner)[None, :])
    top = np.where(gap.any(axis=0), h - np.argmax(gap[::-1], axis=0), 0)
    ok = painted[np.minimum(top, h - 1), np.arange(len(inner))]
    raised = (inner - top)[ok]
    if len(raised) == 0:
        return None
    reach = float(np.partition(raised, len(raised) // 2)[len(raised) // 2])
    return (left, right, cols, lid_edge, reach) if reach > 1.0 else None


def _shape_lid(
    alpha: np.ndarray,
    colour: np.ndarray,
    left: int,
    right: int,
    cols: np.ndarray,
    lid_edge: np.ndarray,
    reach: float,
    detail: LidDetail,
) -> None:
    """One eye's paint (in place): coverage cut to an arch from `left` to `right` as high as main
    painted; main's darkest colour drawn to the lid's darker skin; under the lid's arc main's colour
    lit as skin over a ball, back to main's at its outline; all times the photo's skin detail."""
    h = alpha.shape[0]
    height = min(reach, _HEIGHT * (right - left))  # the lid's: up to its crease
    r0 = max(int(float(lid_edge.min()) - reach - _FEATHER) - 1, 0)
    r1 = min(int(np.ceil(float(lid_edge.max()))) + 2, h)
    ys = np.arange(r0, r1, dtype=np.float32)[:, None]
    half = 0.5 * (right - left) + 0.5
    t = ((cols - 0.5 * (left + right - 1)) / half).astype(np.float32)
    ends = (1.0 - np.abs(t)) * half
    # The painted outline: an arch over the opening, as high as main painted in the middle (never
    # beyond main's paint); under it the lid, an arc up to its crease, and between them the skin
    # above the lid as main painted it
    outline = lid_edge - reach * _unit(1.0 - np.abs(t) ** _ARCH)
    # (full at the outline, so a painted lid's top keeps main's paint; softer toward the corners,
    # where the flow's own stretched skin shows beside it)
    soft = _FEATHER * (1.0 + _SIDE_SOFT * t * t)
    mask = _unit(0.5 + (ys - outline + 0.5 * _FEATHER) / soft) * _unit(0.5 + ends / _FEATHER)
    box = (slice(r0, r1), slice(int(cols[0]), int(cols[-1]) + 1))
    alpha[box] *= mask
    arc = lid_edge - height * np.sqrt(_unit(1.0 - t * t))
    lid = _unit(0.5 + (ys - arc) / _CREASE) * _unit(0.5 + ends / _CREASE)
    region = colour[box]
    tone, dark = _tones(region[(lid > 0.5) & (alpha[box] > 0.5)])
    if tone is None:
        return
    centre = lid_edge - _CENTRE * (lid_edge - arc)  # the ball's bulge, low on the lid
    up = (centre - ys) / np.maximum(_REACH * (centre - arc), 1.0)
    down = (ys - centre) / np.maximum(_REACH * (lid_edge - centre), 1.0)
    across = t / _REACH
    dome = np.sqrt(_unit(1.0 - across * across - _unit(np.maximum(up, down)) ** 2))
    # main's colour no darker than the lid's darker skin (its corners hold stretched lashes), lit as
    # skin over a ball: lighter toward the bulge, back to main's own colour at the lid's outline
    # (no ring darker or lighter than main's where they meet)
    floor = dark * float(tone @ _LUMA)
    deficit = _unit((floor - region @ _LUMA) / (_DEEP * floor))[..., None]
    region += (dark * tone - region) * deficit
    region *= (1.0 + _LIGHT * dome * lid)[..., None]
    if detail.tile is not None:  # the photo's skin detail, fixed to the lid's edge and corner
        size = detail.tile.shape[0]
        rows = np.round(ys - lid_edge).astype(np.int64) % size
        region *= detail.tile[rows, (cols - left) % size]
    np.minimum(region, 255.0, out=region)


def _unit(x: np.ndarray) -> np.ndarray:
    """x clipped to [0, 1] in place (np.clip's own overhead is most of its cost on small arrays)."""
    return np.minimum(np.maximum(x, 0.0, out=x), 1.0, out=x)


def _tones(pixels: np.ndarray) -> tuple[np.ndarray | None, float]:
    """(tone, dark) of a lid's painted (N, 3) colours: its skin's colour (the mean of the pixels
    between the `_TONE` percentiles of luma: no streaks of lashes, no highlights) and how much darker
    its darker skin is (the `_DARK` percentile's luma over the tone's, within `_DARK_RANGE`): the
    shade toward the lid's outline. (None, 1.0) for too few pixels."""
    if len(pixels) < 8:
        return None, 1.0
    luma = pixels @ _LUMA
    order = np.argsort(luma)
    n = len(order) - 1
    low, high = (round(n * q / 100.0) for q in _TONE)
    tone = pixels[order[low : high + 1]].mean(axis=0).astype(np.float32)
    dark = float(luma[order[round(n * _DARK / 100.0)]]) / max(float(tone @ _LUMA), 1.0)
    return tone, min(max(dark, _DARK_RANGE[0]), _DARK_RANGE[1])
