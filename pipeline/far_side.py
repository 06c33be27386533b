"""The far side of a turned head (`PreviewSettings.far_side`, docs/FAR_SIDE.md).

A head turn sets some of the fitted mesh's triangles nearly edge-on to the camera, or past it:
the far wing of a turned nose, the cheek at the far rim. Drawn, each reads a wide strip of the
photo squeezed into a pixel or two, a dark line along the nose's outline or at the face's rim.
These triangles are left out: the surface behind shows (the cheek behind the nose) or, at the
rim, the flow carried beyond the face.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from pipeline.face_mesh import MeshLayout, rasterise_triangles
from pipeline.head import similarity_3d

__all__ = [
    "AWAY",
    "BEHIND",
    "DRAWN",
    "EDGE_ON",
    "FEATHER",
    "PhotoDepth",
    "TURNED",
    "drawn_triangles",
    "photo_depth",
    "rasterise_drawn",
    "turned_edge_on",
]

#: A triangle a turn leaves with less than this share of its area in the photo (or turns past
#: edge-on) is not drawn: the surface faces away from the camera.
EDGE_ON = 0.4
#: A flow rasterised at the crop's resolution in a box is faded in over this many pixels from
#: the box's border when triangles were left out (`Holes.lay`).
FEATHER = 4
#: A hole only revealed (`BEHIND`) triangles cover is filled from its sides only when it is a
#: speck of at most this many crop pixels: a wide revealed strip beside the nose, filled from a
#: side, reads the nose again (selfie's second bridge), or the hair beside the far temple (DECA
#: teaser_1 at yaw 30); it is left to the face's outside fill, as in round 2.
SPECK = 16
#: A surface point deeper than the photo's own surface where it lies by more than this share of the
#: face's width is hidden in the photo (`PhotoDepth`).
HIDDEN = 0.01
#: A gap between two drawn surfaces is at most this many pixels wide (`_other_side`).
REACH = 12
#: Only a head turned by more than this many degrees from the photo's pose leaves triangles out.
TURNED = 2.0


def _areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(F,) twice the signed area of each triangle of (N, >= 2) points."""
    points = np.asarray(points, dtype=np.float64)
    a, b, c = (points[triangles[:, k], :2] for k in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def turned_edge_on(
    source: np.ndarray, target: np.ndarray, posed: np.ndarray, triangles: np.ndarray
) -> np.ndarray:
    """(F,) bool: the triangles a turn sets nearly edge-on to the camera, or past it.

    source, target: (N, >= 2) the mesh's vertices in the photo and in the target (pixels); posed:
    (N, >= 2) the photo's vertices moved by the target's head pose alone (the photo's expression).
    A triangle counts when its target area is under `EDGE_ON` of its area in the photo (negative:
    turned past edge-on, or seen from behind in the photo), and the pose alone does the same to
    it: an expression without a turn (a pressed lip, a shut lid) marks none.
    """
    before = _areas(source, triangles)
    seen = np.abs(before) > 1e-6
    limit = EDGE_ON * np.abs(before)
    sign = np.sign(before)
    turned = seen & (_areas(target, triangles) * sign < limit)
    return turned & (_areas(posed, triangles) * sign < limit)


#: `drawn_triangles` states: drawn; left out as turned away (a gap it leaves between two drawn
#: surfaces is filled from the farther one); left out as seen from behind in the photo (what it
#: leaves uncovered is filled like the face's outside).
DRAWN, AWAY, BEHIND = 1, 0, -1


def drawn_triangles(on: bool, source: np.ndarray, target: np.ndarray, layout: MeshLayout) -> np.ndarray:
    """(F,) int8: the state of each of the layout's triangles for a target pose, `DRAWN`, `AWAY` or
    `BEHIND`.

    on: `PreviewSettings.far_side` (off: all are drawn); source, target: (N, 3) the mesh's vertices
    in the photo and in the target (pixels, depth); layout: its triangles and its rigid vertices
    (those that move with the skull only). All are drawn unless the head turns by more than
    `TURNED` degrees; then those `turned_edge_on` marks are left out: `BEHIND` when the photo sees
    the triangle from behind (its orientation there is not the mesh's majority's: a strip the turn
    reveals, which has no surface behind it), except at the mesh's outer rim on the near side
    (`_at_rim`); else `AWAY`, on the turn's far side only (where the nose's tip moves to; on the
    near side, under the jaw beside the ear, a triangle left out only reshapes the ear's outline).
    """
    rigid, triangles = layout.rigid, layout.triangles
    state = np.full(len(triangles), DRAWN, np.int8)
    if not on:
        return state
    s, rot, t = similarity_3d(source[rigid, :3], target[rigid, :3])
    if np.trace(rot) > 1.0 + 2.0 * np.cos(np.radians(TURNED)):  # an expression moves the skull a little
        return state
    posed = source[:, :3] @ (s * rot.T) + t
    left_out = turned_edge_on(source, target, posed, triangles)
    before = _areas(source, triangles)
    behind = before * np.sign(before.sum()) < 0.0
    # The far side of the turn: where the face's nearest point (the nose's tip) moves to.
    tip = int(np.argmin(source[:, 2]))
    towards = np.sign(posed[tip, 0] - source[tip, 0])
    centre = float(source[rigid, 0].mean())
    far = (source[triangles, 0].mean(axis=1) - centre) * towards > 0.0
    state[left_out & behind & (far | ~_at_rim(layout))] = BEHIND
    state[left_out & ~behind & far] = AWAY
    return state


#: `_at_rim` per layout (by id; the layout's arrays make it unhashable), with a weak reference
#: that tells a layout from a later one at the same address.
_RIMS: dict[int, tuple[weakref.ref[MeshLayout], np.ndarray]] = {}


def _at_rim(layout: MeshLayout) -> np.ndarray:
    """(F,) bool: the triangles with a corner on the mesh's outer rim (edges of one triangle only,
    not around the eyes' and the mouth's openings). Revealed there (under the jaw beside the ear),
    a triangle left out only reshapes the outline beyond the face. Found once per layout (a
    sort of all its edges, too slow for every frame)."""
    ref, rim = _RIMS.get(id(layout), (None, None))
    if ref is None or ref() is not layout or rim is None:
        rim = _rim_of(layout)
        _RIMS[id(layout)] = (weakref.ref(layout), rim)
    return rim


def _rim_of(layout: MeshLayout) -> np.ndarray:
    """`_at_rim`, computed."""
    triangles = layout.triangles
    edges = np.sort(
        np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1
    )
    unique, count = np.unique(edges, axis=0, return_counts=True)
    rim = np.zeros(int(triangles.max()) + 1, bool)
    rim[unique[count == 1].ravel()] = True
    rings = [np.concatenate(layout.mouth)] + [np.concatenate(eye) for eye in layout.eyes]
    rim[np.concatenate(rings)] = False
    return rim[triangles].any(axis=1)


@dataclass(frozen=True)
class Holes:
    """Where the triangles left out of a raster leave a gap between two drawn surfaces (flat pixel
    indices of an (h, w) grid): `away`, the gap's pixels, and `nearest`, the drawn pixel each reads
    (mirrored across the gap's edge on the farther of the two surfaces, `rasterise_drawn`);
    `left_out`: triangles were left out."""

    shape: tuple[int, int]
    away: np.ndarray
    nearest: np.ndarray
    left_out: bool = False
    step: float = 1.0  # the flow's units (pixels) per grid pixel

    def lay(
        self,
        region: np.ndarray,
        gy: np.ndarray,
        gx: np.ndarray,
        src: np.ndarray,
        at: tuple[int, int],
        fade: bool = True,
    ) -> None:
        """Set the (h, w, 2) `region` of a flow (its corner at `at` = (x0, y0) in the flow) where
        the raster drew pixels (gy, gx) reading the points `src` (P, 2) (in place); then its `away`
        holes (`fill`). With triangles left out and `fade` (the eyes' and the mouth's boxes, not
        the occlusion edges' exact ones), the region's new flow is faded in from its border over
        `FEATHER` pixels: the flow outside, from the coarser raster, no longer matches it
        where a turn magnifies the photo steeply (the strip beside the far eye at yaw 30), and a
        step there draws a hard edge."""
        before = region.copy() if self.left_out and fade else None
        region[gy, gx, 0] = src[:, 0] - (gx + at[0])
        region[gy, gx, 1] = src[:, 1] - (gy + at[1])
        self.fill(region)
        if before is not None:
            h, w = region.shape[:2]
            ramp_y = np.minimum(np.arange(h) + 1, np.arange(h)[::-1] + 1) / (FEATHER + 1.0)
            ramp_x = np.minimum(np.arange(w) + 1, np.arange(w)[::-1] + 1) / (FEATHER + 1.0)
            ramp = np.minimum(np.minimum.outer(ramp_y, ramp_x), 1.0).astype(np.float32)[:, :, None]
            region[...] = before + (region - before) * ramp

    def fill(self, flow: np.ndarray, cover: np.ndarray | None = None) -> None:
        """An `away` hole of the (h, w, 2) flow reads what its drawn pixel `nearest` reads (in
        place; marked covered in `cover`, if given): the farther side's surroundings mirrored
        across the gap's edge, so each side of the hidden strip is carried to the gap, reading
        back into itself, and a turned nose meets the cheek in one step, a fold drawn as an edge.
        Not a ramp between the two (the strip squeezed into a line), nor a side's motion carried
        on (the strip read at full width, a dark band)."""
        if len(self.away):
            w = self.shape[1]
            (py, px), (qy, qx) = np.divmod(self.away, w), np.divmod(self.nearest, w)
            back = np.stack([qx - px, qy - py], axis=1).astype(np.float32) * self.step
            flow[py, px] = flow[qy, qx] + back
            if cover is not None:
                cover[py, px] = 1.0


class PhotoDepth:
    """The photo's own depth: which points of the mesh the photo sees (its z-buffer at the crop's
    resolution, made once per photo on first use)."""

    def __init__(self, points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> None:
        """points: (N, 3) the mesh's vertices in the photo (crop pixels, depth); size: the crop's (h, w)."""
        self.points = points
        self._triangles, self._size = triangles, size
        self._depth: np.ndarray | None = None
        #: A point this much deeper than the photo's surface there is hidden (crop pixels of depth).
        self.margin = HIDDEN * float(np.ptp(points[:, 0]))

    def depth(self) -> np.ndarray:
        """(h, w) the photo's nearest depth per crop pixel (inf where the mesh is not)."""
        if self._depth is None:
            h, w = self._size
            pix, tri, bary = rasterise_triangles(self.points, self._triangles, (h, w))
            depth = np.full(h * w, np.inf)
            depth[pix] = (bary * self.points[self._triangles[tri], 2]).sum(axis=1)
            self._depth = depth.reshape(h, w)
        return self._depth

    def hidden(self, corners: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """(P,) bool: the surface points (vertex ids (P, 3) of their triangles and barycentric weights
        (P, 3)) the photo does not see: deeper than the photo's surface where they lie in it. Points of
        triangles not in the mesh (the eyes' surfaces) count as seen."""
        hidden = np.zeros(len(corners), bool)
        mesh = (corners < len(self.points)).all(axis=1)
        if not mesh.any():
            return hidden
        at = self.points[corners[mesh]]  # (Q, 3, 3)
        where = (bary[mesh, :, None] * at).sum(axis=1)
        depth = self.depth()
        h, w = depth.shape
        x = np.clip(np.rint(where[:, 0]), 0, w - 1).astype(np.int64)
        y = np.clip(np.rint(where[:, 1]), 0, h - 1).astype(np.int64)
        hidden[mesh] = where[:, 2] > depth[y, x] + self.margin
        return hidden


_PHOTO: list[PhotoDepth] = []


def photo_depth(
    on: bool, points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]
) -> PhotoDepth | None:
    """The `PhotoDepth` of the photo whose mesh is `points` (the last one made is kept: a drag renders
    many frames of one photo), or None when `on` (`PreviewSettings.far_side`) is off."""
    if not on:
        return None
    if not _PHOTO or _PHOTO[0].points is not points:
        _PHOTO[:] = [PhotoDepth(points, triangles, size)]
    return _PHOTO[0]


def _other_side(
    holes: np.ndarray,
    nearest: np.ndarray,
    covered: np.ndarray,
    hole: np.ndarray,
    shape: tuple[int, int],
    reach: int = REACH,
) -> np.ndarray:
    """(Q,) flat index of the drawn pixel on the other side of each hole pixel (flat indices), or -1:
    going on from its nearest drawn pixel through it, the first pixel that is not a hole, if it is
    drawn and within `reach` pixels (the gap beside a turned nose between nose and cheek). At the
    face's far rim or an eye's opening there is none: those holes are left to what fills the
    face's outside and the openings."""
    h, w = shape
    py, px = np.divmod(holes, w)
    qy, qx = np.divmod(nearest, w)
    d = np.stack([px - qx, py - qy], axis=1).astype(np.float32)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    # All steps at once, (Q, reach): each pixel stops at its first step off the holes.
    t = np.arange(1, reach + 1, dtype=np.float32)
    x = np.clip(np.rint(px[:, None] + t * d[:, :1]), 0, w - 1).astype(np.int64)
    y = np.clip(np.rint(py[:, None] + t * d[:, 1:]), 0, h - 1).astype(np.int64)
    at = y * w + x
    off = ~hole[at]
    first = np.argmax(off, axis=1)
    end = at[np.arange(len(holes)), first]
    return np.where(off.any(axis=1) & covered[end], end, -1)


def _wide_strips(
    vertices: np.ndarray,
    away: np.ndarray,
    hole: np.ndarray,
    index: np.ndarray,
    shape: tuple[int, int],
    speck: int,
) -> np.ndarray:
    """(h * w,) bool: the hole pixels in pieces of more than `speck` pixels that no turned-away
    triangle (`away`, (F', 3)) covers: a strip the turn reveals, not a speck. Found in the span of
    the holes (flat `index`) only (the whole coarse grid cost a millisecond a frame)."""
    rows, cols = _span(index, shape)
    part = hole.reshape(shape)[rows, cols]
    _, labels, stats, _ = cv2.connectedComponentsWithStats(part.astype(np.uint8), connectivity=4)
    wide = stats[:, cv2.CC_STAT_AREA] > speck
    wide[0] = False
    strips = wide[labels]
    if len(away) and strips.any():
        shifted = vertices[:, :2] - [cols.start, rows.start]
        strips &= ~_coverage(shifted, away, part.shape).reshape(part.shape)
    out = np.zeros(shape, bool)
    out[rows, cols] = strips
    return out.reshape(-1)


def _span(index: np.ndarray, shape: tuple[int, int], grow: int = 2) -> tuple[slice, slice]:
    """The rows and columns of the (h, w) grid's pixels at flat `index`, grown by `grow` (empty:
    none)."""
    if len(index) == 0:
        return slice(0, 0), slice(0, 0)
    ys, xs = np.divmod(index, shape[1])
    return (
        slice(max(0, ys.min() - grow), ys.max() + grow + 1),
        slice(max(0, xs.min() - grow), xs.max() + grow + 1),
    )


def _coverage(vertices: np.ndarray, triangles: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h * w,) bool: the pixels the (F, 3) triangles cover, without depth or barycentric weights
    (a filled polygon each: a second full raster of the left-out triangles cost a millisecond a
    frame)."""
    mask = np.zeros(shape, np.uint8)
    corners = np.round(vertices[triangles, :2] * 16.0).astype(np.int32)  # (F, 3, 2), 4 fractional bits
    for corner in corners:
        cv2.fillConvexPoly(mask, corner, 1, lineType=cv2.LINE_4, shift=4)
    return mask.reshape(-1).astype(bool)


def rasterise_drawn(
    vertices: np.ndarray,
    triangles: np.ndarray,
    drawn: np.ndarray,
    shape: tuple[int, int],
    step: float = 1.0,
    photo: PhotoDepth | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Holes]:
    """`rasterise_triangles` of the drawn triangles only, and the holes the others leave.

    vertices: (N, 3) pixels and depth; triangles: (F, 3); drawn: (F' <= F,) `drawn_triangles`
    states of the first F' triangles (the others, the eyes' surfaces, are drawn); shape: (h, w);
    step: the flow's units per pixel of this raster; photo: the photo's own depth (pixels a left-out
    triangle uncovers on a surface the photo does not see are holes too). Holes of both kinds are
    filled from their farther side, but a hole only `BEHIND` triangles cover only when it is a
    speck (`SPECK`). Returns pix (P,) flat pixel indices, tri (P,) indices into `triangles` (all of
    them), bary (P, 3) and the `Holes` (`away`: only those between two drawn surfaces).
    """
    none = np.zeros(0, np.int64)
    drawn = np.concatenate([drawn, np.full(len(triangles) - len(drawn), DRAWN, np.int8)])
    if (drawn == DRAWN).all():
        pix, tri, bary = rasterise_triangles(vertices, triangles, shape)
        return pix, tri, bary, Holes(shape, none, none)
    kept = np.flatnonzero(drawn == DRAWN)
    holes_of = partial(Holes, shape, left_out=True, step=step)
    pix, tri, bary = rasterise_triangles(vertices, triangles[kept], shape)
    left = _coverage(vertices, triangles[drawn != DRAWN], shape)
    if photo is not None:
        # Where a triangle left out uncovers a surface the photo does not see (the cheek behind a
        # turned nose's wing), that surface would read what hides it in the photo (the nose again,
        # a pale speck): the pixel is a hole, filled from beside it.
        shown = left[pix]
        hidden = np.zeros(len(pix), bool)
        hidden[shown] = photo.hidden(triangles[kept[tri[shown]]], bary[shown])
        pix, tri, bary = pix[~hidden], tri[~hidden], bary[~hidden]
    covered = np.zeros(shape[0] * shape[1], bool)
    covered[pix] = True
    # Both kinds of triangle left out leave holes: the turned-away wall behind a nose, and the strip
    # a turn reveals (filled from the far side too: the photo beside the nose, not the nose, and not
    # from far away like the face's outside, which drew pale specks in a beard or a nostril).
    hole = left & ~covered
    away = np.flatnonzero(hole)
    if (drawn == BEHIND).any() and len(away):
        speck = max(1, round(SPECK / step**2))
        hole &= ~_wide_strips(vertices, triangles[drawn == AWAY], hole, away, shape, speck)
        away = away[hole[away]]
    if len(away) == 0 or len(pix) == 0:
        return pix, kept[tri], bary, holes_of(none, none)
    # Found in a window around the holes only (the whole grid cost a millisecond a frame): each
    # hole's nearest drawn pixel (labels count the drawn, zero, pixels in row-major order) and the
    # drawn pixel on its other side.
    rows, cols = _span(away, shape, grow=REACH + 1)
    inside = covered.reshape(shape)[rows, cols]
    if not inside.any():
        return pix, kept[tri], bary, holes_of(none, none)
    size = inside.shape
    ay, ax = np.divmod(away, shape[1])
    local = (ay - rows.start) * size[1] + (ax - cols.start)
    free = (~inside).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(free, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    nearest = np.flatnonzero(inside)[labels.reshape(-1)[local] - 1]
    other = _other_side(local, nearest, inside.reshape(-1), hole.reshape(shape)[rows, cols].reshape(-1), size)
    between = other >= 0
    away, ends = away[between], np.stack([nearest[between], other[between]])  # (2, Q) in the window
    ey, ex = np.divmod(ends, size[1])
    ends = (ey + rows.start) * shape[1] + ex + cols.start
    # Each gap is filled from its farther side (the cheek behind a turned nose), not the nearer:
    # the depth of the drawn pixels at both ends (`pix` is in pixel order).
    at = np.searchsorted(pix, ends)
    depth = (bary[at] * vertices[triangles[kept[tri[at]]], 2]).sum(axis=-1)
    back = np.where(depth[1] > depth[0], ends[1], ends[0])
    # Read what the pixel mirrored across that side reads, if it is drawn (then only what is shown
    # within twice the gap is shown again); else what the side's pixel reads: the mirrored read
    # carried on beyond a thin surface (DECA teaser_1's far temple at yaw 30) read the hair.
    (by, bx), (ay, ax) = np.divmod(back, shape[1]), np.divmod(away, shape[1])
    my, mx = 2 * by - ay, 2 * bx - ax
    inside = (my >= 0) & (my < shape[0]) & (mx >= 0) & (mx < shape[1])
    mirror = np.where(inside, my * shape[1] + mx, 0)
    reads = np.where(inside & covered[mirror], mirror, back)
    return pix, kept[tri], bary, holes_of(away, reads)
