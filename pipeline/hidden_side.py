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
    "lay_gain",
    "lay_mirrored",
    "facing",
    "outward",
    "mirror_layer",
    "revealed",
    "skin_likeness",
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
#: The share fades in over this many rings of vertices from the mesh's outline: the mirrored
#: region ends inside the face, never cut at the silhouette.
BAND = 2.0
#: A target reveals a point where its surface faces the camera more squarely than in the photo by
#: this much (fully from this much more): the same photo pose, or a turn away, reveals nothing and costs nothing.
REVEAL = (0.15, 0.3)
#: Rounds of neighbour averaging that carry the colour gain from where both sides are seen.
GAIN_ROUNDS = 40
#: A partner lies on skin where its colour (the photo blurred, CIELAB) is within these distances of
#: the face's median: lightness (shade allowed) and chroma (hair, background, lips excluded),
#: each (fully skin up to, not skin from).
SKIN_LIGHTNESS = (25.0, 45.0)
SKIN_CHROMA = (10.0, 22.0)


@dataclass(frozen=True, eq=False)
class HiddenSide:
    """Per-photo facts of the mirrored reads: share (N,) float32 in [0, 1] of the mirrored read per
    vertex; mirror_corners (F, 3, 2) the photo's pixels of each triangle's corners' partners;
    facing (N,) float32 how squarely the photo sees each vertex's surface (`facing`); outward
    (F,) bool the triangles' orientation (`outward`); gain (N, 3)
    float32 the colour factors that bring each partner's read to the light of the vertex's side
    (the far side is often in shade)."""

    share: np.ndarray
    mirror_corners: np.ndarray
    facing: np.ndarray
    outward: np.ndarray
    gain: np.ndarray


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


def outward(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(F,) bool: whether each triangle's corner order gives a normal pointing out of the head
    (the corners may run either way round; a rotation keeps this, so it is found once per photo).
    Out = away from a point inside the head, behind the face's centre along its own backward
    direction (the mask's thinnest direction)."""
    p = np.asarray(points, dtype=np.float64)
    face_size = float(np.ptp(p[:, :2], axis=0).max())
    centre = p.mean(axis=0)
    back = np.linalg.svd(p - centre, full_matrices=False)[2][2]
    back = back if back[2] >= 0.0 else -back  # away from the camera (depth grows away)
    inside = centre + 0.6 * face_size * back
    return np.einsum("fd,fd->f", _normals(p, triangles), p[triangles].mean(axis=1) - inside) >= 0.0


def _normals(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(F, 3) area-weighted normals of the triangles in their corner order."""
    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    u, v = b - a, c - a
    return np.stack(
        [
            u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1],
            u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2],
            u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0],
        ],
        axis=1,
    )


def facing(points: np.ndarray, triangles: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(N,) in [0, 1]: how squarely each vertex's surface faces the camera (`FACING`), ignoring
    what hides it; points (N, 3) pixels x, y and depth (smaller = nearer); out: the triangles'
    orientation (`outward`), found here when not given."""
    p = np.asarray(points, dtype=np.float64)
    normals = _normals(p, triangles)
    normals[~(outward(p, triangles) if out is None else out)] *= -1.0
    corners = triangles.ravel()
    per_vertex = np.stack(
        [np.bincount(corners, np.repeat(normals[:, d], 3), minlength=len(p)) for d in range(3)], axis=1
    )
    length = np.maximum(np.sqrt(np.einsum("nd,nd->n", per_vertex, per_vertex)), 1e-12)
    lo, hi = FACING
    t = np.clip(
        (-per_vertex[:, 2] / length - lo) / (hi - lo), 0.0, 1.0
    )  # towards the camera: depth decreasing
    return t * t * (3.0 - 2.0 * t)


def vertex_visibility(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,) float32 in [0, 1]: how well the photo shows each vertex of its own projected mesh.

    points: (N, 3) crop pixels x, y and depth (smaller = nearer); triangles: (F, 3); size: (H, W)
    of the crop. Visible = in the crop, not behind the mesh (z-buffer at half the crop's
    resolution) and facing the camera (`FACING`), feathered over the mesh's neighbours."""
    p = np.asarray(points, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    face_size = float(np.ptp(p[:, :2], axis=0).max())
    seen = facing(p, tri)
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


def _rings_from_outline(triangles: np.ndarray, edges: np.ndarray, count: int, n: int) -> np.ndarray:
    """(N,) float: rings of vertices between each vertex and the mesh's outline (0 on it), up to `count`."""
    tri_edges = np.sort(
        np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1
    )
    unique, uses = np.unique(tri_edges, axis=0, return_counts=True)
    rings = np.full(n, float(count))
    reached = np.zeros(n, bool)
    reached[unique[uses == 1].ravel()] = True  # an edge of one triangle only lies on the outline
    for ring in range(count):
        rings[reached & (rings > ring)] = ring
        grown = reached.copy()
        grown[edges[reached[edges[:, 0]], 1]] = True
        reached = grown
    return rings


def skin_likeness(
    image: np.ndarray, points: np.ndarray, visible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) in [0, 1]: how much the photo's colour at each vertex (blurred over ~2 % of the face)
    looks like the face's skin (the median of the well-seen vertices), in CIELAB (`SKIN_*`); and
    (N, 3) float32 those colours (RGB in [0, 1])."""
    p = np.asarray(points, dtype=np.float64)
    face_size = float(np.ptp(p[:, :2], axis=0).max())
    h, w = image.shape[:2]
    xy = np.clip(np.round(p[:, :2]).astype(np.int64), 0, [w - 1, h - 1])
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0) + 1
    sigma = max(0.02 * face_size, 0.8)
    blurred = cv2.GaussianBlur(image[y0:y1, x0:x1], (0, 0), sigma)
    rgb = blurred[xy[:, 1] - y0, xy[:, 0] - x0].astype(np.float32)[None] / 255.0
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0]
    seen = visible > 0.8
    if seen.sum() < 10:
        return np.ones(len(p)), rgb[0]
    reference = np.median(lab[seen], axis=0)
    lightness = np.abs(lab[:, 0] - reference[0])
    chroma = np.linalg.norm(lab[:, 1:] - reference[1:], axis=1)
    (l0, l1), (c0, c1) = SKIN_LIGHTNESS, SKIN_CHROMA
    skin = np.clip((l1 - lightness) / (l1 - l0), 0.0, 1.0) * np.clip((c1 - chroma) / (c1 - c0), 0.0, 1.0)
    return skin, rgb[0]


def side_gain(colour: np.ndarray, trusted: np.ndarray, mirror: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N, 3) colour factors partner -> vertex: the ratio of the two blurred colours where both are
    seen on skin (`trusted`), carried over the mesh to the rest (repeated neighbour averaging with
    the trusted values held)."""
    n = len(colour)
    if trusted.sum() < 10:
        return np.ones((n, 3), np.float32)
    ratio = np.clip(colour / np.maximum(colour[mirror], 1e-3), 0.5, 2.0)
    out = np.repeat(np.median(ratio[trusted], axis=0)[None], n, axis=0)
    out[trusted] = ratio[trusted]
    degree = np.bincount(edges[:, 0], minlength=n) + 1.0
    for _ in range(GAIN_ROUNDS):
        total = out + np.stack(
            [np.bincount(edges[:, 0], out[edges[:, 1], d], minlength=n) for d in range(3)], 1
        )
        out = np.where(trusted[:, None], ratio, total / degree[:, None])
    return out.astype(np.float32)


def hidden_side(
    points: np.ndarray,
    triangles: np.ndarray,
    mirror: np.ndarray,
    size: tuple[int, int],
    image: np.ndarray | None = None,
) -> HiddenSide | None:
    """The per-photo facts of the mirrored reads (`HiddenSide`), or None where no vertex needs them
    (a photo facing the camera, or a mesh without mirror pairs).

    image: the (H, W, 3) uint8 crop; where given, a partner must lie on skin (`skin_likeness`):
    the mirrored reads bring no hair or background into the face."""
    mirror = np.asarray(mirror, dtype=np.int64)
    if len(mirror) != len(points):
        return None
    tri = np.asarray(triangles, np.int64)
    edges = _edges(tri)
    visible = vertex_visibility(points, tri, size).astype(np.float64)
    better = np.clip((visible[mirror] - visible - MARGIN) / RAMP, 0.0, 1.0)
    colour_gain = np.ones((len(mirror), 3), np.float32)
    fade = np.clip(_rings_from_outline(tri, edges, int(BAND), len(mirror)) / BAND, 0.0, 1.0)
    if image is not None:
        skin, colour = skin_likeness(image, points, visible)
        # A partner on skin with all its neighbours: its reads stay off the edge of the seen side.
        inner_skin = skin.copy()
        np.minimum.at(inner_skin, edges[:, 0], skin[edges[:, 1]])
        better *= inner_skin[mirror]
        trusted = (visible > 0.6) & (visible[mirror] > 0.6) & (skin > 0.5) & (skin[mirror] > 0.5)
        colour_gain = side_gain(colour, trusted, mirror, edges)
    share = _neighbour_mean(better, edges, FEATHER)
    share = np.clip(share * fade, 0.0, 1.0)
    share[share < 0.02] = 0.0
    if not share.any():
        return None
    corners = np.asarray(points, dtype=np.float64)[mirror][:, :2][tri]  # (F, 3, 2)
    orientation = outward(points, tri)
    return HiddenSide(
        share=share.astype(np.float32),
        mirror_corners=corners,
        facing=facing(points, tri, orientation).astype(np.float32),
        outward=orientation,
        gain=colour_gain,
    )


def revealed(hidden: HiddenSide, triangles: np.ndarray, target_points: np.ndarray) -> np.ndarray | None:
    """(N,) share of the mirrored read per vertex for one target: the photo's share where the target
    faces the camera more squarely than the photo's (`REVEAL`: a turn towards the camera), or None
    where it reveals nothing (the photo's pose, a turn away, an expression)."""
    candidates = hidden.share > 0.0
    if not candidates.any():
        return None
    seen = facing(target_points, triangles, hidden.outward)
    lo, hi = REVEAL
    share = hidden.share * np.clip((seen - hidden.facing - lo) / (hi - lo), 0.0, 1.0)
    share[share < 0.02] = 0.0
    return share if share.any() else None


def mirror_layer(
    hidden: HiddenSide,
    triangles: np.ndarray,
    target_points: np.ndarray,
    pix: np.ndarray,
    tri: np.ndarray,
    bary: np.ndarray,
    coarse_size: tuple[int, int],
    crop_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The layer of mirrored reads for one target, at the crop's resolution, or None where the target
    shows no point that needs it.

    target_points: (N, 3) the target mesh (crop pixels, depth); pix, tri, bary: its coarse raster
    (`rasterise_triangles`) on a grid of `coarse_size` (h, w). Returns the backward flow (H, W, 2) float32 of the mirrored reads and the front's share
    (H, W) float32 in [0, 1] (1 - the mirrored share). The share fades out before the mesh's
    outline (`BAND`), so the layer's edge is soft and inside the face."""
    vertex_share = revealed(hidden, triangles, target_points)
    if vertex_share is None:
        return None
    touched = (vertex_share[triangles] > 0.0).any(axis=1)  # (F,) triangles with a mirrored corner
    keep = touched[tri]
    if not keep.any():
        return None
    pix, tri, bary = pix[keep], tri[keep], bary[keep]
    share_pix = np.einsum("pk,pk->p", bary, vertex_share[triangles[tri]])
    factor = 1.0 + (hidden.gain - 1.0) * vertex_share[:, None]  # (N, 3)
    rh, rw = coarse_size
    h, w = crop_size
    sx, sy = rw / w, rh / h
    src = np.einsum("pk,pkd->pd", bary, hidden.mirror_corners[tri])  # (P, 2) the partners' pixels
    tone = np.einsum("pk,pkd->pd", bary, factor[triangles[tri]])  # (P, 3)
    gy, gx = np.divmod(pix, rw)
    # Only a box around the mirrored reads (grown by the blur's reach) is worked on.
    by0, by1 = max(int(gy.min()) - 3, 0), min(int(gy.max()) + 4, rh)
    bx0, bx1 = max(int(gx.min()) - 3, 0), min(int(gx.max()) + 4, rw)
    bh, bw = by1 - by0, bx1 - bx0
    at = (gy - by0) * bw + (gx - bx0)
    back = np.zeros((bh * bw, 2), np.float32)
    back[at, 0] = src[:, 0] - ((gx + 0.5) / sx - 0.5)
    back[at, 1] = src[:, 1] - ((gy + 0.5) / sy - 0.5)
    share = np.zeros(bh * bw, np.float32)
    share[at] = share_pix
    mask = np.zeros(bh * bw, np.float32)
    mask[at] = 1.0
    gain = np.ones((bh * bw, 3), np.float32)
    gain[at] = tone
    back, share, mask = back.reshape(bh, bw, 2), share.reshape(bh, bw), mask.reshape(bh, bw)
    gain = gain.reshape(bh, bw, 3)
    # Around the mirrored reads their flow continues (normalised blur), so the upsampled layer reads
    # no mixture of mirrored and zero flow where its share is small.
    weight = cv2.GaussianBlur(mask, (0, 0), 1.0)
    carried = cv2.GaussianBlur(back * mask[:, :, None], (0, 0), 1.0) / np.maximum(weight, 1e-6)[:, :, None]
    back = np.where(mask[:, :, None] > 0.0, back, carried)
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
    fine_gain = cv2.warpAffine(
        gain, to_box, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=(1, 1, 1)
    )
    out_back = np.zeros((h, w, 2), np.float32)
    out_front = np.ones((h, w), np.float32)
    out_gain = np.ones((h, w, 3), np.float32)
    out_back[y0:y1, x0:x1] = fine_back
    out_front[y0:y1, x0:x1] = np.clip(1.0 - fine_share, 0.0, 1.0)
    out_gain[y0:y1, x0:x1] = fine_gain
    return out_back, out_front, out_gain


def lay_mirrored(
    out: np.ndarray,
    source: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    back: np.ndarray,
    front: np.ndarray,
    gain: np.ndarray,
) -> None:
    """Blend the mirrored reads into the (H, W, 3) uint8 rendered crop `out` (in place): the source
    moved along `back` (H, W, 2) where `front` (H, W) < 1, only over the box where it is."""
    behind = front < 1.0
    rows, cols = np.flatnonzero(behind.any(axis=1)), np.flatnonzero(behind.any(axis=0))
    if len(rows) == 0:
        return
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
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
    out[box] = cv2.convertScaleAbs(cv2.multiply(out[box].astype(np.float32), gain[box]))


def lay_gain(image: np.ndarray, gain: np.ndarray, to_crop: np.ndarray) -> None:
    """Multiply the (H, W, 3) uint8 photo `image` (in place) by the crop's (c, c, 3) colour factors
    `gain` (`mirror_layer`), upsampled (they vary slowly); to_crop: (2, 3) photo pixel -> crop pixel.
    Only the photo's box over the factors that differ from 1 is touched."""
    box = _box(gain)
    if box is None:
        return
    (ya, yb), (xa, xb) = box
    to_photo = cv2.invertAffineTransform(to_crop)
    corners = np.array([[xa - 1, ya - 1], [xb, ya - 1], [xa - 1, yb], [xb, yb]], np.float64)
    photo = corners @ to_photo[:, :2].T + to_photo[:, 2]
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(photo.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(photo.max(axis=0)).astype(int) + 1, 0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    shifted = to_crop.copy()
    shifted[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    factors = cv2.warpAffine(
        gain, shifted, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=(1, 1, 1)
    )
    image[y0:y1, x0:x1] = cv2.convertScaleAbs(cv2.multiply(image[y0:y1, x0:x1].astype(np.float32), factors))


def _box(gain: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """((y0, y1), (x0, x1)) of the (c, c, 3) factors that differ from 1, or None."""
    changed = (gain[..., 0] != 1.0) | (gain[..., 1] != 1.0) | (gain[..., 2] != 1.0)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if len(rows) == 0:
        return None
    return (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)
