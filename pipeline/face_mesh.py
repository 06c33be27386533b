"""The face mesh in the renderer crop, for the geometric preview: a face model's vertices projected
into the crop (`projector_for`: the project's own `LinearFaceModel` or the BFM of Deep3DFaceRecon),
the mesh facts the preview needs (mouth, eye and rigid vertices), and z-buffered rasterisation of
its triangles (`rasterise_triangles`, a pure function), with surfaces for the eyes' openings
(`eye_surfaces`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np
import torch

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL, FaceCoefficients
from core.errors import InputError
from pipeline.face_paint import similarity_2d
from reconstruction.align import TARGET_SIZE
from reconstruction.face_model import LinearFaceModel, load_default_face_model
from reconstruction.fitting import project_coefficients

__all__ = [
    "MeshLayout",
    "Projector",
    "projector_for",
    "rasterise_triangles",
    "rasterise_meshes",
    "Raster",
    "eye_surfaces",
    "feature_boxes",
    "ring_pixels",
    "box_mesh",
    "BoxMesh",
    "FOCAL_PX_PER_UNIT",
]


# ------------------------------------------------------------------------------------------------
# Rasterisation (pure function)
# ------------------------------------------------------------------------------------------------


Raster = tuple[np.ndarray, np.ndarray, np.ndarray]


def rasterise_triangles(vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> Raster:
    """Z-buffered rasterisation of a triangle mesh at pixel centres, vectorised with numpy.

    Args:
        vertices: (N, 3) float pixel x, y (x right, y down, pixel centres at integers) and depth
            (smaller = nearer, the detector's convention).
        triangles: (F, 3) vertex indices (either orientation).
        size: (H, W) of the grid.
    Returns:
        pixels (P,) flat indices y * W + x of the covered pixels, triangle (P,) the nearest
        triangle there, barycentric (P, 3) float64 weights of its three vertices.
    """
    return rasterise_meshes([(vertices, triangles, size)])[0]


def rasterise_meshes(meshes: Sequence[tuple[np.ndarray, np.ndarray, tuple[int, int]]]) -> list[Raster]:
    """`rasterise_triangles` of several (vertices, triangles, size) meshes in one pass (a frame's
    boxes: a few numpy calls on longer arrays instead of a hundred per box). Each mesh's result is
    exactly its own call's: every candidate pixel is computed on its own, each mesh has its own grid
    (pixel indices offset by the grids before it), depth range and order among equal depths."""
    if not meshes:
        return []
    sizes = np.array([size for _, _, size in meshes], dtype=np.int64).reshape(-1, 2)  # (M, 2) h, w
    counts = [len(triangles) for _, triangles, _ in meshes]
    if len(meshes) == 1:
        v, tri = np.asarray(meshes[0][0], dtype=np.float64), np.asarray(meshes[0][1], dtype=np.int64)
    else:
        shifts = np.cumsum([0] + [len(vertices) for vertices, _, _ in meshes[:-1]])
        v = np.concatenate([np.asarray(vertices, dtype=np.float64) for vertices, _, _ in meshes])
        tri = np.concatenate(
            [
                np.asarray(t, dtype=np.int64).reshape(-1, 3) + s
                for (_, t, _), s in zip(meshes, shifts, strict=True)
            ]
        )
    mesh = np.repeat(np.arange(len(meshes)), counts)  # (F,) each triangle's mesh
    tri_start = np.cumsum([0] + counts)
    grid_start = np.concatenate([[0], np.cumsum(sizes[:, 0] * sizes[:, 1])])  # each grid's first pixel
    width = sizes[mesh, 1]  # (F,) its grid's width
    a, b, c = v[tri.T]  # (F, 3) each, in one gather
    # Edge vectors per triangle: every per-pixel term below is the same float64 operation on the
    # same numbers as the textbook formula, only gathered once per triangle instead of per pixel.
    (bx, by), (cx, cy) = (b - a)[:, :2].T, (c - a)[:, :2].T
    area = bx * cy - by * cx
    # Bounding boxes: the corners' least and largest x and y, pairwise (no stacked copy to reduce).
    low, high = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
    wh = sizes[mesh][:, ::-1]  # (F, 2) its grid's w, h
    (x0, y0), (x1, y1) = (
        np.ceil(low[:, :2]).clip(0, wh).astype(np.int64).T,
        np.floor(high[:, :2]).clip(-1, wh - 1).astype(np.int64).T,
    )
    bw, bh = np.maximum(x1 - x0 + 1, 0), np.maximum(y1 - y0 + 1, 0)
    count = np.where(np.abs(area) > 1e-9, bw * bh, 0)
    total = int(count.sum())
    # One candidate per pixel of each triangle's bounding box.
    t = np.repeat(np.arange(len(tri)), count)
    start = np.cumsum(count) - count
    k = np.arange(total) - np.repeat(start, count)
    row, col = np.divmod(k, bw[t])
    px = x0[t] + col
    py = y0[t] + row
    dx = px - a[:, 0][t]
    dy = py - a[:, 1][t]
    inv = (1.0 / area)[t]
    l1 = (dx * cy[t] - dy * cx[t]) * inv
    l2 = (bx[t] * dy - by[t] * dx) * inv
    l0 = 1.0 - l1 - l2
    eps = -1e-7
    inside = np.flatnonzero((l0 >= eps) & (l1 >= eps) & (l2 >= eps))
    t, px, py, l0, l1, l2 = t[inside], px[inside], py[inside], l0[inside], l1[inside], l2[inside]
    depth = l0 * a[:, 2][t] + l1 * b[:, 2][t] + l2 * c[:, 2][t]
    pix = py * width[t] + px  # in its own grid
    on = mesh[t]  # (P,) each candidate's mesh, ascending (the triangles come mesh by mesh)
    at = pix + grid_start[on]  # in the grids laid end to end
    # Nearest candidate per pixel (the first of the nearest where depths tie): only pixels with
    # more than one candidate need the sort by pixel, then depth.
    winner = np.full(int(grid_start[-1]), -1, dtype=np.int64)
    shared = np.bincount(at, minlength=len(winner))[at] > 1
    alone = np.flatnonzero(~shared)
    winner[at[alone]] = alone
    contested = np.flatnonzero(shared)
    if len(contested):
        # Each mesh's depth range over all its candidates (they lie in one run per mesh).
        first = np.searchsorted(on, np.arange(len(meshes)))
        found = first < np.searchsorted(on, np.arange(len(meshes)), side="right")
        least, most = np.zeros(len(meshes)), np.zeros(len(meshes))
        least[found] = np.minimum.reduceat(depth, first[found])
        most[found] = np.maximum.reduceat(depth, first[found])
        span = (most - least) + 1.0
        m = on[contested]
        key = pix[contested] + (depth[contested] - least[m]) / span[m] * 0.999
        order = contested[np.lexsort((key, m))]  # stable: mesh, then key, then candidate order
        at_sorted = at[order]
        first_of = np.ones(len(order), dtype=bool)
        first_of[1:] = at_sorted[1:] != at_sorted[:-1]
        winner[at_sorted[first_of]] = order[first_of]
    keep = winner[winner >= 0]  # in pixel order, grid by grid
    bary = np.stack([l0[keep], l1[keep], l2[keep]], axis=1)
    pix, t = pix[keep], t[keep]
    ends = np.searchsorted(on[keep], np.arange(len(meshes)), side="right")
    return [
        (pix[i:j], t[i:j] - tri_start[n], bary[i:j])
        for n, (i, j) in enumerate(zip(np.concatenate([[0], ends[:-1]]), ends, strict=True))
    ]


def ring_pixels(ring: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (row-major order) of the pixels of an (H, W) grid inside the closed polygon
    `ring` (V, 2) x, y: `cv2.fillPoly` at 1/16 pixel (shift 4), on the ring's box only (the polygon
    moved by whole pixels fills the same pixels, moved)."""
    h, w = size
    points = np.round(ring * 16).astype(np.int32)
    x0, y0 = max(int(points[:, 0].min()) >> 4, 0), max(int(points[:, 1].min()) >> 4, 0)
    x1, y1 = min((int(points[:, 0].max()) >> 4) + 2, w), min((int(points[:, 1].max()) >> 4) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    hole = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(hole, [points - np.array([16 * x0, 16 * y0], np.int32)], 1, shift=4)
    rows, cols = np.nonzero(hole)
    return rows + y0, cols + x0


@functools.lru_cache(maxsize=8)
def _fan(n: int) -> np.ndarray:
    """(n, 3) int64 (read-only): the triangles of a fan over a ring of n vertices and its centre (n)."""
    fan = np.stack([np.arange(n), (np.arange(n) + 1) % n, np.full(n, n)], axis=1)
    fan.setflags(write=False)
    return fan


def eye_surfaces(
    layout: MeshLayout, target_points: np.ndarray, source_points: np.ndarray, near: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surfaces for the eyes' openings (holes in the mesh), so a z-buffer keeps what lies behind
    an eye behind it: for each eye with a lid vertex marked in `near` (N,) bool, a fan over the lids'
    ring and its centre, at the lids' depth.

    Returns (V, 3) target vertices, (F, 3) triangles indexing them and (F, 3, 2) the photo's pixels
    at their corners: the eye's corners' similarity, so the eyeball moves as a whole.
    """
    vertices, triangles, corners = [np.zeros((0, 3))], [np.zeros((0, 3), np.int64)], [np.zeros((0, 3, 2))]
    count = 0
    for upper, lower in layout.eyes:
        ring = np.concatenate([upper, lower[-2:0:-1]])
        if not near[ring].any():
            continue
        points = np.concatenate([target_points[ring], target_points[ring].mean(axis=0, keepdims=True)])
        ends = [int(upper[0]), int(upper[-1])]
        sim = similarity_2d(target_points[ends, :2], source_points[ends, :2])  # target -> photo
        n = len(ring)
        fan = _fan(n)
        vertices.append(points)
        triangles.append(fan + count)
        corners.append((points[:, :2] @ sim[:, :2].T + sim[:, 2])[fan])
        count += len(points)
    return np.concatenate(vertices), np.concatenate(triangles), np.concatenate(corners)


class BoxMesh(NamedTuple):
    """A box's part of a target mesh (`box_mesh`): vertices (V, 3) and triangles (F, 3) in the
    box's pixels, the photo's pixels at the triangles' corners (F, 3, 2), the box's (x0, y0) in
    the crop and its (h, w)."""

    vertices: np.ndarray
    triangles: np.ndarray
    corners: np.ndarray
    origin: tuple[int, int]
    size: tuple[int, int]


def box_mesh(
    layout: MeshLayout,
    target_points: np.ndarray,
    source_points: np.ndarray,
    corners: np.ndarray,
    box: tuple[np.ndarray, np.ndarray],
    size: tuple[int, int],
    lips_advance: float,
) -> BoxMesh | None:
    """The triangles of `target_points` (N, 3) with a corner in `box` (lo, hi) (grown by 2 px), in
    the box's pixels (of a (H, W) `size` crop; the lips `lips_advance` nearer), with the eyes'
    surfaces (`eye_surfaces`); `corners` (F, 3, 2): the photo's pixels at every triangle's corners.
    None when the box is under 4 pixels wide or tall or holds no triangle."""
    (lo, hi), (h, w) = box, size
    x0, y0 = (int(max(0, np.floor(v))) for v in lo)
    x1, y1 = int(min(w, np.ceil(hi[0]))), int(min(h, np.ceil(hi[1])))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    (gx0, gy0), (gx1, gy1) = lo - 2.0, hi + 2.0
    x, y = target_points[:, 0], target_points[:, 1]
    in_box = (x >= gx0) & (x <= gx1) & (y >= gy0) & (y <= gy1)  # (N,)
    near = in_box[layout.triangles].any(axis=1)
    if not near.any():
        return None
    local = target_points.copy()
    local[:, 0] -= x0
    local[:, 1] -= y0
    local[layout.lips, 2] -= lips_advance
    # The eyes' openings are holes in the mesh: they get a surface of their own (a fan over the
    # lids' ring at the lids' depth, showing the eyeball moved as a whole), so the z-buffer keeps
    # the side of the head behind them (at yaw 30 the far temple's triangles turn in behind the
    # far eye and would otherwise paint skin over the iris).
    vertices, triangles, eye_corners = eye_surfaces(layout, target_points, source_points, in_box)
    vertices[:, :2] -= [x0, y0]
    return BoxMesh(
        np.concatenate([local, vertices]),
        np.concatenate([layout.triangles[near], triangles + len(local)]),
        np.concatenate([corners[near], eye_corners]),
        (x0, y0),
        (y1 - y0, x1 - x0),
    )


def feature_boxes(layout: MeshLayout, target_points: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lo, hi) (x, y) pixel boxes around the mouth (first) and each eye of `target_points` (N, 3):
    where the geometric renderer sets the flow again at full resolution (lips and lids are thin)."""
    lips = target_points[np.concatenate(layout.mouth), :2]
    width = float(np.ptp(lips[:, 0]))
    # The chin moves with an opening jaw: the mouth's box reaches further down.
    boxes = [(lips.min(axis=0) - [0.3 * width, 0.4 * width], lips.max(axis=0) + [0.3 * width, 0.9 * width])]
    for upper, lower in layout.eyes:
        lids = target_points[np.concatenate([upper, lower]), :2]
        width = float(np.ptp(lids[:, 0]))
        boxes.append(
            (lids.min(axis=0) - [0.2 * width, 0.6 * width], lids.max(axis=0) + [0.2 * width, 0.3 * width])
        )
    return boxes


# ------------------------------------------------------------------------------------------------
# Face models: projection into the crop and the mesh layout
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeshLayout:
    """Mesh facts the preview needs (vertex indices; curves ordered from the image's left).

    mouth: (upper inner lip, lower inner lip); eyes: ((upper lid, lower lid), ...) image-left
    eye first; rigid: vertices that move with the skull only; lips: the lip vertices, drawn in
    front of the cheeks where a strong expression folds the cheek triangles over the mouth corners
    (a real face's lips stand in front of the cheeks there); outer_lower: the lower lip's outer
    contour, corner to corner.
    """

    triangles: np.ndarray
    mouth: tuple[np.ndarray, np.ndarray]
    eyes: tuple[tuple[np.ndarray, np.ndarray], ...]
    rigid: np.ndarray
    lips: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    outer_lower: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


#: Lip vertices of the 478-point mesh: outer contour, inner contour and the two rings between them.
_MESH_LIPS = np.array(
    sorted(
        {61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321, 375}
        | {78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 95, 88, 178, 87, 14, 317, 402, 318, 324}
        | {76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306, 77, 90, 180, 85, 16, 315, 404, 320, 307}
        | {62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292, 96, 89, 179, 86, 15, 316, 403, 319, 325}
    ),
    dtype=np.int64,
)


class Projector(Protocol):
    name: str
    layout: MeshLayout

    def project(
        self, coeffs: FaceCoefficients, identity: np.ndarray | None, size: tuple[int, int]
    ) -> np.ndarray:
        """(N, 3) crop pixels x, y (y down) and depth (smaller = nearer)."""


def _ix(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


class _LinearProjector:
    """The project's own mesh model (weak perspective, `reconstruction.fitting`)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model.name
        self.layout = MeshLayout(
            triangles=np.asarray(model.triangles, dtype=np.int64),
            mouth=(
                _ix(78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),
                _ix(78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
            ),
            eyes=(
                (
                    _ix(33, 246, 161, 160, 159, 158, 157, 173, 133),
                    _ix(33, 7, 163, 144, 145, 153, 154, 155, 133),
                ),
                (
                    _ix(362, 398, 384, 385, 386, 387, 388, 466, 263),
                    _ix(362, 382, 381, 380, 374, 373, 390, 249, 263),
                ),
            ),
            rigid=np.asarray(model.rigid_indices, dtype=np.int64),
            lips=_MESH_LIPS,
            outer_lower=_ix(61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
        )

    def project(
        self, coeffs: FaceCoefficients, identity: np.ndarray | None, size: tuple[int, int]
    ) -> np.ndarray:
        h, w = size
        return project_coefficients(self.model, coeffs.replace(identity=identity), (w, h))


class _BFMProjector:
    """The BFM of Deep3DFaceRecon: perspective camera in the 224-px alignment of the crop.

    The coefficients must have been fitted on the renderer crop itself (as the pipeline does),
    so that the crop rows (s, tx, ty) place the 224-px alignment inside the crop.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = BFM_DEEP3D
        kp = model.landmark_indices.cpu().numpy().astype(np.int64)
        self.layout = MeshLayout(
            triangles=model.triangles.cpu().numpy().astype(np.int64),
            mouth=(kp[[60, 61, 62, 63, 64]], kp[[60, 67, 66, 65, 64]]),
            eyes=((kp[[36, 37, 38, 39]], kp[[36, 41, 40, 39]]), (kp[[42, 43, 44, 45]], kp[[42, 47, 46, 45]])),
            rigid=kp[[27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45]],
            outer_lower=kp[[48, 59, 58, 57, 56, 55, 54]],
        )

    def project(
        self, coeffs: FaceCoefficients, identity: np.ndarray | None, size: tuple[int, int]
    ) -> np.ndarray:
        if identity is None:
            raise InputError("the BFM preview needs the identity coefficients the deep3d backend returned")

        def batch(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values, dtype=np.float32))[None]

        with torch.inference_mode():
            g = self.model.geometry(
                batch(identity), batch(coeffs.expression), batch(coeffs.angles), batch(coeffs.translation)
            )
        p = g.projected[0].double().numpy()
        z = g.vertices_world[0, :, 2].double().numpy()
        h0, w0 = size
        s, tx, ty = (float(v) for v in coeffs.crop)
        rw, rh = int(w0 * s), int(h0 * s)  # as reconstruction.align.align_face
        half = TARGET_SIZE / 2.0
        left = int(rw / 2.0 - half + (tx - w0 / 2.0) * s)
        top = int(rh / 2.0 - half + (h0 / 2.0 - ty) * s)
        zoom_x, zoom_y = rw / w0, rh / h0
        out = np.empty((p.shape[0], 3))
        out[:, 0] = (p[:, 0] + left + 0.5) / zoom_x - 0.5
        out[:, 1] = (TARGET_SIZE - p[:, 1] + top + 0.5) / zoom_y - 0.5
        out[:, 2] = -z * FOCAL_PX_PER_UNIT / zoom_x  # nearer = larger world z = smaller depth
        return out


#: Rough pixels per BFM unit of the 224-px crop (only the depth order matters).
FOCAL_PX_PER_UNIT = 101.5


def projector_for(face_model: Any) -> Projector:
    if isinstance(face_model, str) and face_model == DEFAULT_FACE_MODEL:
        face_model = load_default_face_model()
    if isinstance(face_model, LinearFaceModel):
        return _LinearProjector(face_model)
    if type(face_model).__name__ == "BFMFaceModel":
        return _BFMProjector(face_model)
    raise InputError(
        f"the geometric preview needs a LinearFaceModel or a BFMFaceModel (or the default model's name), "
        f"got {face_model!r}"
    )
