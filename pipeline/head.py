"""Whole-head proxy for the geometric renderer: a head that turns as a solid.

The face mesh covers the face only; outside it the preview used to carry the face's 2-D motion
outwards and fade it (ears and hair stretched, background dragged). Here the person in the crop
becomes one 2.5-D sheet (in the spirit of PIRenderer section 3.2, motion as a dense backward flow,
with the flow computed from geometry):

1. fit, once per photo (`fit_head`): the person mask (MediaPipe selfie segmenter) plus the face
   mesh give a head ellipse (skull, hair, ears; roll-aligned with the eyes); every person pixel
   gets a depth: an ellipsoid (depth semi-axis fitted to the face mesh's 3-D points, limb slope
   capped) corrected by the face mesh's own depth residual; a grid mesh over the person carries
   that depth and a skinning weight (1 on the head, falling to 0 down the neck, 0 on the body;
   the unmoving body is rasterised once); each person pixel's way out to the background beyond
   its nearest edge is kept for the background layer (`pipeline.head_fill.edge_flow`);
2. per target (`head_motion`): the skull's 3-D similarity from the source and target meshes'
   rigid vertices (Umeyama) moves the sheet (linear blend skinning with the identity: the neck
   bends smoothly into still shoulders); the moved sheet is rasterised with a z-buffer (the near
   surface wins, the far ear hides behind the cheek) giving the backward flow of every pixel of
   the moved person; the face mesh's own flow (exact expression) takes over inside the face,
   joined to the head's over a distance proportional to their difference, and the joined flow is
   smoothed where it would magnify the photo (the strip a turn unfolds: no streaks); the moved
   person is laid with a soft coverage (the person mask carried along the flow: a smooth
   silhouette at the photo's resolution) over the background beside it slid with the head into
   what it uncovers (`pipeline.head_fill.slide_background`: stretched, never copied twice), the
   neck stretched along under the jaw. Both layers are flows, so they stay as sharp as the photo.

Shapes: crops (H, W, 3) uint8 RGB; masks (H, W) float32 in [0, 1]; points (N, 3) crop pixels
x, y (y down) and depth (smaller = nearer, same unit as x); flows (H, W, 2) float32 pixels,
backward (output pixel p shows the source at p + flow[p]).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import InputError
from core.geometry import smoothstep
from pipeline.face_mesh import rasterise_triangles
from pipeline.head_fill import (
    STRETCH_BOUND,
    border_distance,
    border_ramp,
    crop_fade,
    edge_flow,
    extend_flow,
    front_alpha,
    hold_outward,
    inward,
    land_outside,
    person_region,
    push_pull_fill,
    slide_background,
)

__all__ = [
    "HeadProxy",
    "HeadMotion",
    "fit_head",
    "head_motion",
    "similarity_3d",
    "push_pull_fill",
    "MAX_TURN_DEGREES",
]

logger = logging.getLogger(__name__)

#: Largest rotation (degrees, any axis) the proxy renders; larger skull rotations are clamped to
#: it (the face mesh keeps its own pose): beyond it the hidden side of the head would show.
MAX_TURN_DEGREES = 40.0

_LIMB = 0.9  # the ellipsoid is sampled up to this sine of the surface angle: limb slope ~ 64 deg
_NECK = 0.45  # skinning weight falls from 1 to 0 over this many head radii outside the ellipse
_BLEND = 6.0  # raster pixels over which the face mesh's flow blends into the head's
_SLIDE = 0.3  # the background beside the head slides over at least this fraction of the face size
_NECK_WIDTH = 0.6  # the neck reaches this fraction of the head ellipse's half width from its axis
_STRETCH = 0.6  # below this area ratio (the photo magnified > 1.7x) the flow is smoothed
_RIM_SMOOTH = 0.08  # ... with a blur of this fraction of the face size
_BORDER_RAMP = 4.0  # crop pixels before the photo's edge or the crop's fade over which the slide stops
_JAW = 0.4  # below this fraction of the head ellipse's half height under its centre, the neck begins


@dataclass(frozen=True, eq=False)
class HeadProxy:
    """What `fit_head` computes once per photo (read-only arrays).

    size: (H, W) crop; grid: (rh, rw) raster grid of the flow; vertices: (V, 3) source sheet
    (crop pixels, depth); triangles: (F, 3); moving: (F', 3) those with a vertex that moves; still:
    (rh, rw) float32 depth of the others on the raster grid (inf where they do not cover); weights: (V,) skinning weight in [0, 1] (1: moves
    with the skull); person: (H, W) float32 person probability of the crop (the face included);
    cover: (H, W) float32 the unmoved sheet's soft silhouette; edge: (H, W, 2) float32 backward
    flow from each person pixel to the background beyond its nearest edge (`head_fill.edge_flow`);
    neck: (H, W) float32 in [0, 1], 1 on the person below the jaw (behind a moved jaw: the neck);
    grid_x, grid_y: (H, W) float32 pixel coordinates (the identity sampling map); ellipse: head
    ellipse (cx, cy, ax, ay, angle rad) in crop pixels; face_size: pixels.
    """

    size: tuple[int, int]
    grid: tuple[int, int]
    vertices: np.ndarray
    triangles: np.ndarray
    moving: np.ndarray
    still: np.ndarray
    weights: np.ndarray
    person: np.ndarray
    cover: np.ndarray
    edge: np.ndarray
    neck: np.ndarray
    grid_x: np.ndarray
    grid_y: np.ndarray
    ellipse: tuple[float, float, float, float, float]
    face_size: float
    border: np.ndarray | None = None
    border_fade: np.ndarray | None = None
    border_normal: np.ndarray | None = None
    vertex_border: np.ndarray | None = None
    vertex_normal: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class HeadMotion:
    """Two layers (`pipeline.head_fill`): flow: (H, W, 2) float32 backward flow of the moved person
    (crop pixels), continued a little beyond its silhouette; alpha: (H, W) float32 in [0, 1] where
    it shows, with a soft edge, or None (one layer: the flow everywhere); back: (H, W, 2) float32
    backward flow of the background behind it (the person filled in), or None."""

    flow: np.ndarray
    alpha: np.ndarray | None = None
    back: np.ndarray | None = None


# ------------------------------------------------------------------------------------------------
# Pure helpers
# ------------------------------------------------------------------------------------------------


def similarity_3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares 3-D similarity dst ~ s R src + t (Umeyama 1991) of (R, 3) point sets.

    Returns scale s, rotation R (3, 3) with det +1, translation t (3,)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3 or len(src) < 3:
        raise InputError(f"similarity_3d needs two (R >= 3, 3) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    var = float((a**2).sum() / len(a))
    if not var > 1e-12:
        raise InputError("similarity_3d: the source points coincide")
    u, sig, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / var)
    return s, rot, mu_d - s * rot @ mu_s


def _clamp_rotation(rot: np.ndarray, max_degrees: float) -> np.ndarray:
    """The rotation with its angle clamped to `max_degrees` about the same axis (Rodrigues)."""
    rvec, _ = cv2.Rodrigues(rot)
    angle = float(np.linalg.norm(rvec))
    limit = math.radians(max_degrees)
    if angle <= limit:
        return rot
    logger.info("head proxy: skull rotation %.0f deg clamped to %.0f", math.degrees(angle), max_degrees)
    return cv2.Rodrigues(rvec * (limit / angle))[0]


def _run_length(samples: np.ndarray) -> int:
    """Number of leading samples >= 0.5 (how far the person reaches along a ray)."""
    below = np.nonzero(samples < 0.5)[0]
    return int(below[0]) if len(below) else len(samples)


# ------------------------------------------------------------------------------------------------
# Fit (once per photo)
# ------------------------------------------------------------------------------------------------


def _head_ellipse(
    person: np.ndarray, points: np.ndarray, eye_corners: tuple[int, int]
) -> tuple[float, float, float, float, float]:
    """(cx, cy, ax, ay, angle): the skull + hair ellipse, roll-aligned with the eye line.

    Width from the person's extent at eye level (1.0-1.45 x the face mesh's half width), top from
    the person above the forehead (0.12-0.75 face heights above the mesh), bottom at the chin."""
    h, w = person.shape
    a, b = points[eye_corners[0], :2], points[eye_corners[1], :2]
    angle = math.atan2(float(b[1] - a[1]), float(b[0] - a[0]))
    if abs(angle) > math.pi / 2:  # corners given right-to-left
        angle -= math.copysign(math.pi, angle)
    c, s = math.cos(angle), math.sin(angle)
    centre = points[:, :2].mean(0)
    uv = (points[:, :2] - centre) @ np.array([[c, -s], [s, c]])  # roll frame: u along the eyes, v down
    u0, u1 = float(uv[:, 0].min()), float(uv[:, 0].max())
    v0, v1 = float(uv[:, 1].min()), float(uv[:, 1].max())
    half_w, face_h = max((u1 - u0) / 2, 2.0), max(v1 - v0, 4.0)
    cu = (u0 + u1) / 2
    eye_v = float(((np.stack([a, b]) - centre) @ np.array([[c, -s], [s, c]]))[:, 1].mean())

    def sample(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        x = centre[0] + c * u - s * v
        y = centre[1] + s * u + c * v
        xi, yi = np.clip(np.round(x), 0, w - 1).astype(int), np.clip(np.round(y), 0, h - 1).astype(int)
        inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        return np.where(inside, person[yi, xi], 1.0)  # the frame edge counts as person (cut-off head)

    reach = np.arange(0.0, 1.6 * half_w, 1.0)
    widths = [_run_length(sample(cu + sign * reach, np.full_like(reach, eye_v))) for sign in (-1.0, 1.0)]
    ax = float(np.clip(np.mean(widths), 1.0 * half_w, 1.45 * half_w))
    up = np.arange(0.0, 0.8 * face_h, 1.0)
    top_run = _run_length(sample(np.full_like(up, cu), v0 - up))
    top = v0 - float(np.clip(top_run, 0.12 * face_h, 0.75 * face_h))
    bottom = v1 + 0.04 * face_h
    cv = (top + bottom) / 2
    cx = centre[0] + c * cu - s * cv
    cy = centre[1] + s * cu + c * cv
    return float(cx), float(cy), ax, float((bottom - top) / 2), angle


def _rho(x: np.ndarray, y: np.ndarray, ellipse: tuple[float, float, float, float, float]) -> np.ndarray:
    """Normalised elliptical radius (1 on the head ellipse)."""
    cx, cy, ax, ay, angle = ellipse
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = x - cx, y - cy
    return np.hypot((c * dx + s * dy) / ax, (-s * dx + c * dy) / ay)


def _ellipsoid_depth(rho: np.ndarray, zc: float, d: float) -> np.ndarray:
    return zc - d * np.sqrt(1.0 - (_LIMB * np.minimum(rho, 1.0)) ** 2)


def fit_head(
    crop: np.ndarray,
    points: np.ndarray,
    person: np.ndarray,
    *,
    eye_corners: tuple[int, int],
    raster_scale: float = 0.5,
    step: int = 4,
    valid: np.ndarray | None = None,
) -> HeadProxy:
    """Fit the head proxy to one photo's crop.

    Args:
        crop: (H, W, 3) uint8 RGB renderer crop.
        points: (N, 3) the fitted face mesh in the crop (x, y pixels, depth).
        person: (H, W) float32 person probability in [0, 1] (`PersonSegmenter`).
        eye_corners: indices of the image-left eye's outer corner and the image-right eye's outer
            corner (the eye line sets the head's roll).
        raster_scale: fraction of the crop at which the sheet is rasterised (the flow is taken
            to the crop's size with a soft silhouette; 0.25 draws a sawtooth where the hair's
            edge folds away at the limb).
        step: grid spacing of the sheet in raster pixels.
        valid: optional (H, W) float32 in [0, 1], where the crop shows the photo
            (`head_fill.valid_region` of the crop's transform): the background slid into what a
            moved head uncovers is never read beyond it, and where the person reaches its edge
            it does not move away from it (stretched instead, as the default stretches hair).
    Raises:
        InputError: bad shapes, non-finite points, or a face too small to fit.
    """
    if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        raise InputError(f"fit_head needs an (H, W, 3) uint8 crop, got {getattr(crop, 'shape', type(crop))}")
    h, w = crop.shape[:2]
    person = np.asarray(person, np.float32)
    if person.shape != (h, w):
        raise InputError(f"person mask must be {(h, w)}, got {person.shape}")
    if valid is not None:
        valid = np.asarray(valid, np.float32)
        if valid.shape != (h, w) or not np.all(np.isfinite(valid)):
            raise InputError(f"the valid region must be a finite {(h, w)} array, got {valid.shape}")
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or not np.all(np.isfinite(points)):
        raise InputError(f"fit_head needs finite (N, 3) mesh points, got {points.shape}")
    extent = np.ptp(points[:, :2], axis=0)
    face_size = float(extent.max())
    if face_size < 8.0:
        raise InputError(f"the face is too small for the head proxy ({face_size:.1f} px)")
    # The face itself always belongs to the person (segmenters miss faces behind hands, masks).
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points[:, :2]).astype(np.int32)), 1)
    person = np.maximum(np.clip(person, 0.0, 1.0), hull.astype(np.float32))
    ellipse = _head_ellipse(person, points, eye_corners)
    cx, cy, ax, ay, _ = ellipse

    # Depth: ellipsoid zc - d sqrt(1 - (k rho)^2) fitted to the mesh (least squares in zc, d).
    rho_pts = _rho(points[:, 0], points[:, 1], ellipse)
    basis = -np.sqrt(1.0 - (_LIMB * np.minimum(rho_pts, 1.0)) ** 2)
    design = np.stack([np.ones_like(basis), basis], axis=1)
    (zc, d), *_ = np.linalg.lstsq(design, points[:, 2], rcond=None)
    d = float(np.clip(d, 0.6 * ax, 1.3 * ax))
    zc = float(np.median(points[:, 2] - d * basis))

    rh, rw = max(8, round(h * raster_scale)), max(8, round(w * raster_scale))
    sx, sy = rw / w, rh / h
    # Residual depth of the face mesh over the ellipsoid, spread smoothly (the sheet meets the
    # face's own depth inside the face) and faded to 0 a third of a face outside it.
    residual = np.zeros((rh, rw, 1), np.float32)
    weight = np.zeros((rh, rw), np.float32)
    gx = np.clip(np.round((points[:, 0] + 0.5) * sx - 0.5), 0, rw - 1).astype(int)
    gy = np.clip(np.round((points[:, 1] + 0.5) * sy - 0.5), 0, rh - 1).astype(int)
    np.add.at(
        residual[:, :, 0], (gy, gx), (points[:, 2] - _ellipsoid_depth(rho_pts, zc, d)).astype(np.float32)
    )
    np.add.at(weight, (gy, gx), 1.0)
    residual[:, :, 0] /= np.maximum(weight, 1.0)
    residual = push_pull_fill(residual, np.minimum(weight, 1.0), keep=1.0)[:, :, 0]
    hull_small = cv2.resize(hull, (rw, rh), interpolation=cv2.INTER_NEAREST)
    outside = cv2.distanceTransform((1 - hull_small).astype(np.uint8), cv2.DIST_L2, 3)
    residual = residual * (1.0 - smoothstep(outside / max(0.33 * face_size * sx, 1.0)))

    # Sheet vertices on a grid of raster pixels covering the (dilated) person.
    person_small = cv2.resize(person, (rw, rh), interpolation=cv2.INTER_AREA)
    grow = cv2.dilate((person_small > 0.25).astype(np.uint8), np.ones((2 * step + 1, 2 * step + 1), np.uint8))
    gyv, gxv = np.mgrid[0 : rh + step : step, 0 : rw + step : step]
    gyv, gxv = np.minimum(gyv, rh - 1), np.minimum(gxv, rw - 1)
    ny, nx = gyv.shape
    outer = np.pad(grow, 1)  # fill holes in the person (what the border's background cannot reach)
    cv2.floodFill(outer, None, (0, 0), 2)
    grow = (outer[1:-1, 1:-1] != 2).astype(np.uint8)
    inside = grow[gyv, gxv] > 0
    vx = (gxv + 0.5) / sx - 0.5  # crop pixels
    vy = (gyv + 0.5) / sy - 0.5
    rho_v = _rho(vx, vy, ellipse)
    vz = _ellipsoid_depth(rho_v, zc, d)
    neck = smoothstep((rho_v - 1.0) / _NECK)
    weights = 1.0 - neck
    weights = np.maximum(weights, hull_small[gyv, gxv].astype(np.float64))
    vz = vz + residual[gyv, gxv] * weights
    index = np.arange(ny * nx).reshape(ny, nx)
    quad = inside[:-1, :-1] & inside[1:, :-1] & inside[:-1, 1:] & inside[1:, 1:]
    a, b, c, e = index[:-1, :-1][quad], index[:-1, 1:][quad], index[1:, :-1][quad], index[1:, 1:][quad]
    triangles = np.concatenate([np.stack([a, b, e], 1), np.stack([a, e, c], 1)])
    used = np.unique(triangles)
    remap = np.full(ny * nx, -1, np.int64)
    remap[used] = np.arange(len(used))
    vertices = np.stack([vx.ravel(), vy.ravel(), vz.ravel()], 1)[used]
    triangles = remap[triangles]
    weights = weights.ravel()[used]

    flow0, cover0 = _rasterise_sheet(vertices, vertices, triangles, (rh, rw), (h, w))
    # The body below the neck never moves: rasterised once, only the rest per target.
    moves = weights[triangles].max(axis=1) > 0.0
    still = _still_depth(vertices, triangles[~moves], (rh, rw), (h, w))
    moving = np.ascontiguousarray(triangles[moves])
    cover = extend_flow(flow0, cover0, (h, w))[1]
    # Behind the person: above the jaw the background beside the head is stretched into what a moved
    # head uncovers (`head_motion`); below the jaw what a moved head uncovers is its own neck (stretched along).
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    below = (-math.sin(ellipse[4]) * (gx - cx) + math.cos(ellipse[4]) * (gy - cy)) / ay  # 1: the chin
    region = cv2.GaussianBlur(person_region(person), (0, 0), 2.0)  # soft: no stair steps at photo resolution
    across = np.abs(math.cos(ellipse[4]) * (gx - cx) + math.sin(ellipse[4]) * (gy - cy)) / ax  # 1: the ear
    # The neck is under the jaw only: hair hanging beside it (a ponytail) is not stretched along.
    under = smoothstep((below - _JAW) / 0.3) * (1.0 - smoothstep((across - _NECK_WIDTH) / 0.25))
    neck = (under * region).astype(np.float32)
    edge = edge_flow(person, valid)
    # Where the photo ends: the person stays (stretched) where it reaches the photo's edge, the
    # slide also keeps out of the crop's border fade.
    photo = np.ones((h, w), np.float32) if valid is None else valid
    border = border_distance(photo * crop_fade((h, w)))
    border_fade = smoothstep(border / _BORDER_RAMP).astype(np.float32)
    border_normal = inward(border)
    vertex_border = vertex_normal = None
    if valid is not None and valid.min() < 0.5:  # the crop leaves the photo
        photo_border = border_distance(photo)
        at = (vertices[:, 0:1].astype(np.float32), vertices[:, 1:2].astype(np.float32))
        vertex_border = cv2.remap(photo_border, *at, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[:, 0]
        vertex_normal = cv2.remap(
            inward(photo_border), *at, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )[:, 0]
        vertex_border.setflags(write=False)
        vertex_normal.setflags(write=False)
    for arr in (border, border_fade, border_normal):
        arr.setflags(write=False)
    for arr in (
        vertices,
        triangles,
        weights,
        person,
        cover,
        edge,
        neck,
        gx,
        gy,
    ):
        arr.setflags(write=False)
    logger.debug("head proxy: ellipse %s, depth zc %.1f d %.1f, %d triangles", ellipse, zc, d, len(triangles))
    return HeadProxy(
        size=(h, w),
        grid=(rh, rw),
        vertices=vertices,
        triangles=triangles,
        moving=moving,
        still=still,
        weights=weights,
        person=person,
        cover=cover,
        edge=edge,
        neck=neck,
        grid_x=gx,
        grid_y=gy,
        ellipse=(cx, cy, ax, ay, ellipse[4]),
        face_size=face_size,
        border=border,
        border_fade=border_fade,
        border_normal=border_normal,
        vertex_border=vertex_border,
        vertex_normal=vertex_normal,
    )


def _to_raster(vertices: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Crop pixels -> raster pixels (pixel-centre convention u = (x + 0.5) s - 0.5), depth kept."""
    out = vertices.copy()
    out[:, 0] = (out[:, 0] + 0.5) * sx - 0.5
    out[:, 1] = (out[:, 1] + 0.5) * sy - 0.5
    return out


# ------------------------------------------------------------------------------------------------
# Per target
# ------------------------------------------------------------------------------------------------


def head_motion(
    proxy: HeadProxy,
    source_points: np.ndarray,
    target_points: np.ndarray,
    rigid: np.ndarray,
    face_flow: np.ndarray | None = None,
    face_cover: np.ndarray | None = None,
    neck_flow: np.ndarray | None = None,
) -> HeadMotion:
    """Backward flow of the whole picture for one target pose.

    Args:
        proxy: from `fit_head`.
        source_points, target_points: (N, 3) the face mesh in the photo and in the target.
        rigid: indices of the mesh vertices that move with the skull only.
        face_flow: optional (fh, fw, 2) float32 flow of the face mesh on its own raster grid
            (crop pixels), used where `face_cover` (fh, fw) is 1 (the exact expression); the
            sheet's flow is taken to that grid.
        neck_flow: optional (H, W, 2) float32 flow of the face carried smoothly outwards: what
            shows below a moved jaw where the head no longer covers (the neck stretched along,
            not the background nor a second jaw).
    Returns:
        `HeadMotion` at the crop's size.
    """
    rh, rw = proxy.grid
    h, w = proxy.size
    s, rot, t = similarity_3d(source_points[rigid], target_points[rigid])
    if not (np.isfinite(s) and 0.2 < s < 5.0 and np.all(np.isfinite(t))):
        raise InputError(f"the target pose cannot be rendered (skull scale {s:.3g})")
    # Rotate about the skull's centre so that clamping keeps the centre's motion.
    rot_c = _clamp_rotation(rot, MAX_TURN_DEGREES)
    if rot_c is not rot:
        centre = source_points[rigid].mean(0)
        t = s * rot @ centre + t - s * rot_c @ centre
        rot = rot_c
    src = proxy.vertices
    delta = proxy.weights[:, None] * ((s * src @ rot.T + t) - src)
    if proxy.vertex_border is not None and proxy.vertex_normal is not None:
        # Where the person reaches the photo's edge it does not move away from it (stretched, as
        # the default does): nothing beyond the edge to show in the gap. Along the edge it moves.
        away = np.maximum(
            delta[:, 0] * proxy.vertex_normal[:, 0] + delta[:, 1] * proxy.vertex_normal[:, 1], 0.0
        )
        keep = border_ramp(away, proxy.vertex_border)
        delta[:, :2] = -hold_outward(-delta[:, :2], proxy.vertex_normal, keep)
    moved = src + delta
    flow, cover = _rasterise_sheet(moved, src, proxy.moving, (rh, rw), (h, w), proxy.still)
    # Where the turning sheet folds at its limb the nearest surface changes from pixel to pixel:
    # a light normalised blur inside the sheet keeps the silhouette it carries smooth, and the
    # notches its triangles leave where it folds away are filled (a rounded silhouette).
    norm = cv2.GaussianBlur(cover, (0, 0), 1.0)
    flow = cv2.GaussianBlur(flow * cover[:, :, None], (0, 0), 1.0) / np.maximum(norm, 1e-3)[:, :, None]
    cover = ((cv2.GaussianBlur(cover, (0, 0), 1.5) > 0.5) & (norm > 0.01)).astype(np.float32)
    flow *= cover[:, :, None]
    # The background beside the head slid with its silhouette into what it uncovers (on a grid half
    # the sheet's: it is smooth).
    half = (max(8, rw // 2), max(8, rh // 2))
    area = cv2.resize(cover, half, interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(flow, half, interpolation=cv2.INTER_AREA) / np.maximum(area, 1e-3)[:, :, None]
    scale = min(half[0] / w, half[1] / h)
    border = (
        None if proxy.border is None else cv2.resize(proxy.border, half, interpolation=cv2.INTER_AREA) * scale
    )
    back = slide_background(
        coarse, area, proxy.edge, _SLIDE * proxy.face_size * scale, scale=scale, border=border
    )
    if face_flow is not None and face_cover is not None:
        if face_cover.shape != (rh, rw):  # the face's finer grid (the sheet is smooth: coarser)
            rh, rw = face_cover.shape
            flow = cv2.resize(flow, (rw, rh), interpolation=cv2.INTER_LINEAR)
            # Kept soft: its half level is a smooth contour (a thresholded coarse cover, stair steps).
            cover = cv2.resize(
                cv2.GaussianBlur(cover, (0, 0), 0.75), (rw, rh), interpolation=cv2.INTER_LINEAR
            )
        face = (face_cover > 0.5).astype(np.uint8)
        if neck_flow is not None:
            flow = _join_face(flow, cover, face, face_flow, rw / w)
        else:
            depth_in = cv2.distanceTransform(face, cv2.DIST_L2, 3)
            alpha = np.where(cover > 0.5, np.clip(depth_in / _BLEND, 0.0, 1.0), face.astype(np.float32))
            flow = flow + alpha[:, :, None] * (face_flow - flow)
        cover = np.maximum(cover, face.astype(np.float32))
        fine = rw / w
        flow = _limit_stretch(flow, cover, _RIM_SMOOTH * proxy.face_size * fine, fine)
    flow, cover = extend_flow(flow, cover, (h, w))
    grid = (proxy.grid_x, proxy.grid_y)
    alpha = front_alpha(proxy.person, flow, cover, grid)
    back = land_outside(cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR), proxy.edge, grid)
    if neck_flow is not None:
        back += proxy.neck[:, :, None] * (neck_flow - back)
    if proxy.border_fade is not None and proxy.border_normal is not None:
        # The coarse slide's last crop pixels before the border read no further towards it.
        back = hold_outward(back, proxy.border_normal, proxy.border_fade)
    return HeadMotion(flow=flow, alpha=alpha, back=back)


def _join_face(
    flow: np.ndarray, cover: np.ndarray, face: np.ndarray, carried: np.ndarray, scale: float
) -> np.ndarray:
    """The head's (rh, rw, 2) raster flow with the face's own flow inside the face (`carried`: the
    face's flow carried outwards, its stretched rim smoothed) joined to it outside over a distance
    of at least `STRETCH_BOUND` times their difference at the face's rim (raster pixels; flows in
    crop pixels, `scale` raster pixels per crop pixel).

    Where a turn unfolds the cheek or folds it away, the face mesh and the head's ellipsoid move the
    face's rim differently; joined in a few pixels, the difference is a fold (the ear or an earring
    shown twice) or a streak. Spread over a distance proportional to it, the change of area stays
    within 1 / (1 - 1.5 / STRETCH_BOUND) (as the default bounds the face's fade)."""
    inner = face > 0
    ring = inner & ~(cv2.erode(face, np.ones((3, 3), np.uint8)) > 0)
    if not ring.any():
        return flow
    diff = carried - flow
    # The difference at the face's rim, carried smoothly outwards over the head.
    spread = push_pull_fill(diff * ring[:, :, None], ring.astype(np.float32))
    gap = float(np.percentile(np.hypot(diff[..., 0], diff[..., 1])[ring], 95))
    reach = max(_BLEND, STRETCH_BOUND * gap * scale)
    outside = cv2.distanceTransform(1 - face, cv2.DIST_L2, 3)
    weight = np.where(cover > 0.5, 1.0 - smoothstep(outside / reach), 0.0)
    joined = flow + weight[:, :, None] * spread
    return np.where(inner[:, :, None], carried, joined).astype(np.float32)


def _limit_stretch(flow: np.ndarray, cover: np.ndarray, sigma: float, scale: float) -> np.ndarray:
    """The (rh, rw, 2) flow (crop pixels; `scale` raster pixels per crop pixel) smoothed where it
    magnifies the photo more than 1 / `_STRETCH` (a blur of `sigma` raster pixels, normalised inside
    `cover`, blended in around such places).

    Where a turn unfolds the cheek, the face mesh maps the thin strip the photo shows edge-on
    (often with the ear or an earring on it) onto a wide band: streaks. Smoothed, that stretch is
    spread over the cheek and what lies beyond it (as the default does at the face's rim)."""
    du_dy, du_dx = np.gradient(flow[..., 0] * scale)
    dv_dy, dv_dx = np.gradient(flow[..., 1] * scale)
    area = (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx
    stretch = np.clip((_STRETCH - area) / 0.3, 0.0, 1.0).astype(np.float32) * cover
    if not stretch.any():
        return flow
    band = np.clip(cv2.GaussianBlur(stretch, (0, 0), sigma) * 3.0, 0.0, 1.0)[:, :, None]
    norm = np.maximum(cv2.GaussianBlur(cover, (0, 0), sigma), 1e-3)[:, :, None]
    blurred = cv2.GaussianBlur(flow * cover[:, :, None], (0, 0), sigma) / norm
    return (flow + band * cover[:, :, None] * (blurred - flow)).astype(np.float32)


def _rasterise_sheet(
    moved: np.ndarray,
    source: np.ndarray,
    triangles: np.ndarray,
    grid: tuple[int, int],
    size: tuple[int, int],
    still: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Backward flow (rh, rw, 2) float32 crop pixels and cover (rh, rw) float32 of the sheet moved
    to `moved` (V, 3), textured from `source` (V, 3), z-buffered on the raster grid.

    still: optional (rh, rw) float32 depth of a part of the sheet that does not move (inf where it
    does not cover; its flow is 0), rasterised once: it wins wherever it is nearer."""
    (rh, rw), (h, w) = grid, size
    sx, sy = rw / w, rh / h
    raster = _to_raster(moved, sx, sy)
    raster[:, :2] = np.round(raster[:, :2], 6)  # float noise must not move a silhouette pixel
    pix, tri, bary = rasterise_triangles(raster, triangles, (rh, rw))
    cover = np.zeros(rh * rw, np.float32)
    corners = triangles[tri]  # (P, 3) vertex indices
    if still is not None:
        z = raster[:, 2]
        depth = bary[:, 0] * z[corners[:, 0]] + bary[:, 1] * z[corners[:, 1]] + bary[:, 2] * z[corners[:, 2]]
        shown = depth < still.ravel()[pix]
        pix, corners, bary = pix[shown], corners[shown], bary[shown]
        cover[np.isfinite(still.ravel())] = 1.0
    # (P, 2) source crop pixels (weighted sums: an einsum over gathered corners is 3x slower)
    at = sum(bary[:, k : k + 1] * source[corners[:, k], :2] for k in range(3))
    gy, gx = np.divmod(pix, rw)
    flow = np.zeros((rh * rw, 2), np.float32)
    flow[pix, 0] = at[:, 0] - ((gx + 0.5) / sx - 0.5)
    flow[pix, 1] = at[:, 1] - ((gy + 0.5) / sy - 0.5)
    cover[pix] = 1.0
    return flow.reshape(rh, rw, 2), cover.reshape(rh, rw)


def _still_depth(
    vertices: np.ndarray, triangles: np.ndarray, grid: tuple[int, int], size: tuple[int, int]
) -> np.ndarray:
    """(rh, rw) float32 depth of the unmoving triangles on the raster grid, inf where they do not cover."""
    (rh, rw), (h, w) = grid, size
    raster = _to_raster(vertices, rw / w, rh / h)
    raster[:, :2] = np.round(raster[:, :2], 6)
    pix, tri, bary = rasterise_triangles(raster, triangles, (rh, rw))
    depth = np.full(rh * rw, np.inf, np.float32)
    depth[pix] = np.einsum("pk,pk->p", bary, raster[triangles[tri], 2])
    return depth.reshape(rh, rw)
