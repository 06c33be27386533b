"""The hidden side of a turned face, read from its seen side (soft facial symmetry).

A three-quarter photo hides part of the face: the far cheek turned beyond the silhouette, the far
wing of the nose behind the nose. Turning the face towards the camera reveals those points, and
the geometric flow would read the photo where they project, which shows something else (hair,
background, the nose). As in face frontalisation (Hassner et al., "Effective face frontalization
in unconstrained images", CVPR 2015), such a point reads the photo at its left-right mirror
partner instead, where the photo shows that one better:

1. per photo (`hidden_side`): each vertex's visibility in the photo's pose (not behind the mesh in
   a z-buffer, times how squarely its surface faces the camera, feathered over the mesh), and the
   share of the mirrored read: how much better the partner is seen (0 where the photo shows the
   point, or neither side);
2. per target (`mirror_layer`): on the renderer's coarse raster of the target mesh, the mirrored
   reads and their share per pixel: a second layer behind the moved photo (`RenderedFrame`'s
   back_flow / front_alpha), blended softly across the visibility boundary.

Points hidden on both sides keep the ordinary reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.face_mesh import rasterise_triangles

__all__ = [
    "FACING",
    "MARGIN",
    "HiddenSide",
    "hidden_side",
    "lay_mirrored",
    "mirror_layer",
    "vertex_visibility",
]

#: A surface is seen fully where its normal is within acos(0.45) ~ 63 degrees of the view
#: direction, not at all beyond acos(0.15) ~ 81 degrees (grazing: squeezed into a few pixels).
FACING = (0.15, 0.45)
#: The mirror partner must be seen better by this much before its read is used at all ...
MARGIN = 0.25
#: ... and fully from this much more.
RAMP = 0.4
#: Depth tolerance of the z-buffer test, in face sizes.
DEPTH_TOLERANCE = 0.03
#: Rounds of averaging over mesh neighbours that feather the visibility and the share.
FEATHER = 2


@dataclass(frozen=True, eq=False)
class HiddenSide:
    """Per-photo facts of the mirrored reads: share (N,) float32 in [0, 1] of the mirrored read per
    vertex; mirror_corners (F, 3, 2) the photo's pixels of each triangle's corners' partners."""

    share: np.ndarray
    mirror_corners: np.ndarray


def _neighbour_mean(values: np.ndarray, edges: np.ndarray, rounds: int) -> np.ndarray:
    """Average each vertex's value with its mesh neighbours' (edges (E, 2), both directions), `rounds` times."""
    out = values.astype(np.float64)
    degree = np.bincount(edges[:, 0], minlength=len(out)) + 1.0
    for _ in range(rounds):
        total = out.copy()
        np.add.at(total, edges[:, 0], out[edges[:, 1]])
        out = total / degree
    return out


def _edges(triangles: np.ndarray) -> np.ndarray:
    e = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    return np.concatenate([e, e[:, ::-1]])


def vertex_visibility(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,) float32 in [0, 1]: how well the photo shows each vertex of its own projected mesh.

    points: (N, 3) crop pixels x, y and depth (smaller = nearer); triangles: (F, 3); size: (H, W)
    of the crop. Visible = in the crop, not behind the mesh (z-buffer at half the crop's
    resolution) and facing the camera (`FACING`), feathered over the mesh's neighbours."""
    p = np.asarray(points, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    face_size = float(np.ptp(p[:, :2], axis=0).max())
    normals = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])  # (F, 3), area-weighted
    # The triangles' corners may run either way round: each normal is turned away from a point
    # inside the head (behind the face's centre along the face's own backward direction).
    centre = p.mean(axis=0)
    back = np.linalg.svd(p - centre, full_matrices=False)[2][2]  # the mask's thinnest direction
    back = back if back[2] >= 0.0 else -back  # away from the camera (depth grows away)
    inside = centre + 0.6 * face_size * back
    outward = np.einsum("fd,fd->f", normals, p[tri].mean(axis=1) - inside) >= 0.0
    normals[~outward] *= -1.0
    per_vertex = np.zeros_like(p)
    for k in range(3):
        np.add.at(per_vertex, tri[:, k], normals)
    length = np.maximum(np.linalg.norm(per_vertex, axis=1), 1e-12)
    facing = -per_vertex[:, 2] / length  # towards the camera: depth decreasing
    lo, hi = FACING
    t = np.clip((facing - lo) / (hi - lo), 0.0, 1.0)
    seen = t * t * (3.0 - 2.0 * t)
    # Z-buffer at half resolution: a vertex behind another surface (the far nose wing) is hidden.
    h, w = size
    scale = 0.5
    rh, rw = max(8, round(h * scale)), max(8, round(w * scale))
    coarse = p.copy()
    coarse[:, 0] = (p[:, 0] + 0.5) * rw / w - 0.5
    coarse[:, 1] = (p[:, 1] + 0.5) * rh / h - 0.5
    pix, hit, bary = rasterise_triangles(coarse, tri, (rh, rw))
    depth = np.full(rh * rw, np.inf)
    depth[pix] = np.einsum("pk,pk->p", bary, p[tri[hit], 2])
    gx, gy = np.round(coarse[:, 0]).astype(np.int64), np.round(coarse[:, 1]).astype(np.int64)
    in_crop = (gx >= 0) & (gx < rw) & (gy >= 0) & (gy < rh)
    front_depth = np.where(in_crop, depth[np.clip(gy, 0, rh - 1) * rw + np.clip(gx, 0, rw - 1)], -np.inf)
    unoccluded = in_crop & (p[:, 2] <= front_depth + DEPTH_TOLERANCE * face_size)
    return _neighbour_mean(seen * unoccluded, _edges(tri), FEATHER).astype(np.float32)


def hidden_side(
    points: np.ndarray, triangles: np.ndarray, mirror: np.ndarray, size: tuple[int, int]
) -> HiddenSide | None:
    """The per-photo facts of the mirrored reads (`HiddenSide`), or None where no vertex needs them
    (a photo facing the camera, or a mesh without mirror pairs)."""
    mirror = np.asarray(mirror, dtype=np.int64)
    if len(mirror) != len(points):
        return None
    visible = vertex_visibility(points, triangles, size).astype(np.float64)
    gain = np.clip((visible[mirror] - visible - MARGIN) / RAMP, 0.0, 1.0)
    share = np.clip(_neighbour_mean(gain, _edges(np.asarray(triangles, np.int64)), 1), 0.0, 1.0)
    share[share < 0.02] = 0.0
    if not share.any():
        return None
    corners = np.asarray(points, dtype=np.float64)[mirror][:, :2][triangles]  # (F, 3, 2)
    return HiddenSide(share=share.astype(np.float32), mirror_corners=corners)


def mirror_layer(
    hidden: HiddenSide,
    triangles: np.ndarray,
    pix: np.ndarray,
    tri: np.ndarray,
    bary: np.ndarray,
    coarse_size: tuple[int, int],
    crop_size: tuple[int, int],
    cover: np.ndarray,
    flow: np.ndarray,
    outline: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The layer of mirrored reads for one target, at the crop's resolution, or None where the target
    shows no point that needs it.

    pix, tri, bary: the target mesh's coarse raster (`rasterise_triangles`) on a grid of
    `coarse_size` (h, w); cover: (h, w) float32 face coverage there; flow: (h, w, 2) the coarse
    flow (crop pixels) the mirrored reads continue beyond the face; outline: (N, 2) the target
    mesh's crop pixels (its convex hull bounds the layer). Returns the backward flow
    (H, W, 2) float32 of the mirrored reads and the front's share (H, W) float32 in [0, 1]
    (1 - the mirrored share)."""
    share_pix = np.einsum("pk,pk->p", bary, hidden.share[triangles[tri]])
    if not np.any(share_pix > 0.0):
        return None
    rh, rw = coarse_size
    h, w = crop_size
    sx, sy = rw / w, rh / h
    src = np.einsum("pk,pkd->pd", bary, hidden.mirror_corners[tri])  # (P, 2) the partners' pixels
    gy, gx = np.divmod(pix, rw)
    back = np.zeros((rh * rw, 2), np.float32)
    back[pix, 0] = src[:, 0] - ((gx + 0.5) / sx - 0.5)
    back[pix, 1] = src[:, 1] - ((gy + 0.5) / sy - 0.5)
    share = np.zeros(rh * rw, np.float32)
    share[pix] = share_pix
    back, share = back.reshape(rh, rw, 2), share.reshape(rh, rw)
    # Only a box around the mirrored reads (grown by the blur's reach) is worked on.
    ys, xs = np.nonzero(share > 0.0)
    by0, by1 = max(int(ys.min()) - 6, 0), min(int(ys.max()) + 7, rh)
    bx0, bx1 = max(int(xs.min()) - 6, 0), min(int(xs.max()) + 7, rw)
    box = (slice(by0, by1), slice(bx0, bx1))
    back, share, cover, flow = back[box], share[box], cover[box], flow[box]
    # Just beyond the face the mirrored reads and their share continue (normalised blur), so the
    # upsampled layer reads no mixture of the two sides at the silhouette and its edge is not the
    # coarse raster's staircase: the target's outline, drawn smooth at the crop's resolution, cuts it.
    weight = cv2.GaussianBlur(cover, (0, 0), 1.5)
    norm = np.maximum(weight, 1e-6)
    carried = cv2.GaussianBlur(back * cover[:, :, None], (0, 0), 1.5) / norm[:, :, None]
    carried_share = cv2.GaussianBlur(share * cover, (0, 0), 1.5) / norm
    outside = cover < 0.5
    near = outside & (weight > 0.02)
    back = np.where(outside[:, :, None], np.where(near[:, :, None], carried, flow), back)
    share = np.where(outside, np.where(near, carried_share, 0.0), share).astype(np.float32)
    # The box at the crop's resolution (pixel-centre convention, as the coarse grid).
    x0, y0 = int(np.floor((bx0 + 0.5) / sx - 0.5)), int(np.floor((by0 + 0.5) / sy - 0.5))
    x1, y1 = (
        min(int(np.ceil((bx1 - 0.5) / sx - 0.5)) + 1, w),
        min(int(np.ceil((by1 - 0.5) / sy - 0.5)) + 1, h),
    )
    x0, y0 = max(x0, 0), max(y0, 0)
    to_box = np.array([[sx, 0.0, (x0 + 0.5) * sx - 0.5 - bx0], [0.0, sy, (y0 + 0.5) * sy - 0.5 - by0]])
    size = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    fine_back = cv2.warpAffine(back, to_box, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    fine_share = cv2.warpAffine(share, to_box, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    face = np.zeros((y1 - y0, x1 - x0), np.uint8)
    hull = cv2.convexHull(np.round((outline - [x0, y0]) * 16).astype(np.int32))
    cv2.fillConvexPoly(face, hull, 255, cv2.LINE_AA, 4)
    out_back = np.zeros((h, w, 2), np.float32)
    out_front = np.ones((h, w), np.float32)
    out_back[y0:y1, x0:x1] = fine_back
    out_front[y0:y1, x0:x1] = np.clip(1.0 - fine_share * (face * np.float32(1.0 / 255.0)), 0.0, 1.0)
    return out_back, out_front


def lay_mirrored(
    out: np.ndarray,
    source: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    back: np.ndarray,
    front: np.ndarray,
) -> None:
    """Blend the mirrored reads into the (H, W, 3) uint8 rendered crop `out` (in place): the source
    moved along `back` (H, W, 2) where `front` (H, W) < 1, only over the box where it is."""
    ys, xs = np.nonzero(front < 1.0)
    if len(ys) == 0:
        return
    box = (slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1))
    gx, gy = grid
    layer = cv2.remap(
        source,
        gx[box] + back[box][..., 0],
        gy[box] + back[box][..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    alpha = front[box]
    out[box] = cv2.blendLinear(out[box], layer, alpha, 1.0 - alpha)
