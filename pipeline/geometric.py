"""Geometric preview renderer: the photo warped along the fitted 3D face mesh.

A second rendering engine with the neural renderer's call shape (source crop + target motion ->
image) that needs no learned weights. It follows the paper's idea of motion as a dense backward
flow (PIRenderer section 3.2: the warping network predicts a flow and samples the source with
it), with the flow computed from geometry instead of a network:

1. project the source mesh (photo's coefficients) and the target mesh (same identity, target
   pose and expression) into the crop;
2. rasterise the target mesh's triangles (vectorised, z-buffered, at half resolution): every
   covered pixel gets the barycentric position of the same surface point in the source, the
   backward flow; inside the mouth and eye openings (holes in the mesh) the content moves
   with the opening's corners as a whole, as teeth and eyeballs do;
3. outside the face, extend the flow by normalised Gaussian convolution of the face's flow and
   fade it to zero over `PreviewSettings.fade` of the face size, so hair and neck follow a head
   turn partly and the background stays;
4. warp the source with `cv2.remap` (bilinear);
5. where the mouth opens wider than in the photo, composite a shaded dark cavity (with a hint of
   upper teeth) instead of stretched lips; where lids close, paint skin-coloured lids (colour
   sampled above each eye) with a lash line.

Uses: the instant preview while a slider is dragged (the neural renderer refines the frame
when it is released), and the renderer of last resort when no neural weights are installed.
Works with the project's own `LinearFaceModel` and with the BFM (`BFMFaceModel`, coefficients
fitted by the deep3d backend on the renderer crop itself).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from core.coefficients import FaceCoefficients, MotionSequence, check_face_model
from core.errors import InputError
from pipeline.face_mesh import projector_for, rasterise_triangles
from pipeline.head import HeadMotion, HeadProxy, fit_head, head_motion
from reconstruction.segmentation import PersonSegmenter

__all__ = ["PreviewSettings", "PreviewState", "GeometricRenderer", "rasterise_triangles"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreviewSettings:
    """Knobs of the preview.

    raster_scale: the mesh is rasterised at this fraction of the crop (0.5: 128 px for 256);
    fade: distance outside the face, as a fraction of the face size, over which the flow fades
    to zero; spread: width (fraction of the face size) of the Gaussian that carries the face's
    flow outwards; min_motion: below this largest vertex motion (pixels) the source is returned
    unchanged; teeth: draw a hint of upper teeth in newly opened mouths; head: move the whole
    head as a solid 3-D proxy (`pipeline.head`: z-buffered, neck bending into still shoulders,
    uncovered background from a filled plate) instead of fading the face's flow outwards; off by
    default until it beats the face-only flow on the yaw re-fit check (issue 16).
    """

    raster_scale: float = 0.5
    fade: float = 0.3
    spread: float = 0.12
    min_motion: float = 0.01
    teeth: bool = True
    head: bool = False


# ------------------------------------------------------------------------------------------------
# Per-photo state
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PreviewState:
    """What `GeometricRenderer.prepare` computes once per photo (belongs to one user's session).

    source: (H, W, 3) uint8 crop (read-only); coeffs: the photo's coefficients; points: (N, 3)
    projected source mesh (pixels, depth); face_size: longer side of the face, pixels;
    lid_colours: (num_eyes, 3) float32 skin colour above each eye; exposure: mean face
    brightness / 128 (shades the synthetic mouth); grid_x, grid_y: (H, W) float32 pixel
    coordinates (the identity sampling map).
    """

    source: np.ndarray
    coeffs: FaceCoefficients
    points: np.ndarray
    face_size: float
    lid_colours: np.ndarray
    exposure: float
    grid_x: np.ndarray
    grid_y: np.ndarray
    head: HeadProxy | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.source.shape[0]), int(self.source.shape[1])


def _curve_y(curve: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a polyline (K, 2) ordered left to right, at columns xs (clamped at the ends)."""
    order = np.argsort(curve[:, 0], kind="stable")
    return np.interp(xs, curve[order, 0], curve[order, 1])


def _polygon_mask(upper: np.ndarray, lower: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 mask (255 inside) of the region between two curves sharing their end points."""
    ring = np.concatenate([upper, lower[::-1]], axis=0)
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.round(ring * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) rotation + uniform scale + translation taking two points `src` (2, 2) onto `dst`."""
    a, b = src[1] - src[0], dst[1] - dst[0]
    za, zb = complex(a[0], a[1]), complex(b[0], b[1])
    z = zb / za if abs(za) > 1e-9 else 1.0 + 0.0j
    rot = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.concatenate([rot, (dst[0] - rot @ src[0])[:, None]], axis=1)


def _rigid_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares affine taking (R, 2) points `src` onto `dst`."""
    a = np.concatenate([src, np.ones((len(src), 1))], axis=1)
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return sol.T


def _lid_colour(image: np.ndarray, upper_lid: np.ndarray) -> np.ndarray:
    """(3,) float32 skin colour of a closed upper lid: the median of the brighter 70 % of the pixels
    in a band above the lid (leaving out brow hairs, lashes and shadow), a little shaded."""
    h, w = image.shape[:2]
    width = max(float(np.ptp(upper_lid[:, 0])), 4.0)
    cx, top = float(upper_lid[:, 0].mean()), float(upper_lid[:, 1].min())
    x0, x1 = int(max(0, cx - 0.25 * width)), int(min(w, cx + 0.25 * width + 1))
    y0, y1 = int(max(0, top - 0.5 * width)), int(min(h, top - 0.1 * width + 1))
    if x1 <= x0 or y1 <= y0:
        return np.full(3, 160.0, np.float32)
    pixels = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    bright = pixels[luma >= np.percentile(luma, 30)]
    return (0.94 * np.median(bright, axis=0)).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# The renderer
# ------------------------------------------------------------------------------------------------


class GeometricRenderer:
    """Mesh-warp renderer with the neural renderer's call shape; holds no per-photo state.

    Args:
        face_model: `LinearFaceModel` (the default backend's), `BFMFaceModel` (deep3d backend's)
            or the default model's name.
        settings: `PreviewSettings`.
    """

    def __init__(self, face_model: Any, settings: PreviewSettings | None = None) -> None:
        self.projector = projector_for(face_model)
        self.face_model = self.projector.name
        self.settings = settings or PreviewSettings()
        self._segmenter: Any = None  # PersonSegmenter, made on first use (shared, locked)
        self._segmenter_lock = threading.Lock()
        if not 0.1 <= self.settings.raster_scale <= 1.0:
            raise InputError(f"raster_scale must be in [0.1, 1], got {self.settings.raster_scale}")

    def __repr__(self) -> str:
        return f"GeometricRenderer(face_model={self.face_model!r})"

    # --- per photo -------------------------------------------------------------------------------

    def prepare(
        self, source_crop: np.ndarray, source_coeffs: FaceCoefficients, person_mask: np.ndarray | None = None
    ) -> PreviewState:
        """Per-photo work: (H, W, 3) uint8 RGB crop + its fitted coefficients -> `PreviewState`.

        person_mask: optional (H, W) float32 person probability for the head proxy (segmented
        here when not given)."""
        rgb8 = isinstance(source_crop, np.ndarray) and source_crop.dtype == np.uint8 and source_crop.ndim == 3
        if not rgb8 or source_crop.shape[2] != 3 or min(source_crop.shape[:2]) < 16:
            found = (
                f"{source_crop.dtype} {source_crop.shape}"
                if isinstance(source_crop, np.ndarray)
                else type(source_crop).__name__
            )
            raise InputError(
                f"the source crop must be a (H, W, 3) uint8 RGB array of at least 16 px, got {found}"
            )
        check_face_model(self.face_model, source_coeffs.face_model, what="geometric preview")
        size = (int(source_crop.shape[0]), int(source_crop.shape[1]))
        points = self.projector.project(source_coeffs, source_coeffs.identity, size)
        if not np.all(np.isfinite(points)):
            raise InputError("the source coefficients project to non-finite points")
        layout = self.projector.layout
        source = np.ascontiguousarray(source_crop).copy()
        extent = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
        face_size = float(max(extent.max(), 8.0))
        lid_colours = [_lid_colour(source, points[upper, :2]) for upper, _ in layout.eyes]
        inside = points[:, :2].round().astype(np.int64)
        ok = (inside[:, 0] >= 0) & (inside[:, 0] < size[1]) & (inside[:, 1] >= 0) & (inside[:, 1] < size[0])
        face_pixels = source[inside[ok, 1], inside[ok, 0]].astype(np.float32)
        exposure = float(face_pixels.mean() / 128.0) if len(face_pixels) else 1.0
        grid_x, grid_y = np.meshgrid(
            np.arange(size[1], dtype=np.float32), np.arange(size[0], dtype=np.float32)
        )
        points = points.copy()
        for arr in (source, points, grid_x, grid_y):
            arr.setflags(write=False)
        return PreviewState(
            source=source,
            coeffs=source_coeffs,
            points=points,
            face_size=face_size,
            lid_colours=np.array(lid_colours, dtype=np.float32),
            exposure=float(np.clip(exposure, 0.4, 1.6)),
            grid_x=grid_x,
            grid_y=grid_y,
            head=self._fit_head(source, points, person_mask) if self.settings.head else None,
        )

    def _fit_head(self, source: np.ndarray, points: np.ndarray, person_mask: np.ndarray | None) -> HeadProxy:
        if person_mask is None:
            with self._segmenter_lock:
                if self._segmenter is None:
                    self._segmenter = PersonSegmenter()
            person_mask = self._segmenter.person_mask(source)
        eyes = self.projector.layout.eyes
        return fit_head(source, points, person_mask, eye_corners=(int(eyes[0][0][0]), int(eyes[-1][0][-1])))

    # --- per target ------------------------------------------------------------------------------

    def _target_points(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        check_face_model(self.face_model, target.face_model, what="geometric preview")
        if target.expression.shape != state.coeffs.expression.shape:
            raise InputError(
                f"target has {target.expression.shape[0]} expression coefficients, the photo "
                f"{state.coeffs.expression.shape[0]}"
            )
        # The face keeps the photo's shape: the target's identity (if any) is not used.
        points = self.projector.project(target, state.coeffs.identity, state.size)
        if not np.all(np.isfinite(points)):
            raise InputError("the target coefficients project to non-finite points")
        return points

    def render_flow(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        """(H, W, 2) float32 backward flow in pixels: output pixel (x, y) shows the source at
        (x + flow[y, x, 0], y + flow[y, x, 1])."""
        return self._flow(state, self._target_points(state, target))

    def render_layers(
        self, state: PreviewState, target: FaceCoefficients
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(flow (H, W, 2) float32, overlay (H, W, 3) uint8, overlay_alpha (H, W) float32): the
        backward flow and what to lay over the warped photo (`reconstruction.crop.warp_photo`):
        the background plate where the turned head uncovers background."""
        motion = self._motion(state, self._target_points(state, target))
        plate = state.head.plate if state.head is not None else state.source
        return motion.flow, plate, motion.revealed

    def _flow(self, state: PreviewState, target_points: np.ndarray) -> np.ndarray:
        return self._motion(state, target_points).flow

    def _motion(self, state: PreviewState, target_points: np.ndarray) -> HeadMotion:
        h, w = state.size
        scale = self.settings.raster_scale
        rh, rw = max(8, round(h * scale)), max(8, round(w * scale))
        sx, sy = rw / w, rh / h
        layout = self.projector.layout
        # Target mesh on the coarse grid (pixel-centre convention: u = (x + 0.5) * s - 0.5).
        coarse = target_points.copy()
        coarse[:, 0] = (coarse[:, 0] + 0.5) * sx - 0.5
        coarse[:, 1] = (coarse[:, 1] + 0.5) * sy - 0.5
        pix, tri, bary = rasterise_triangles(coarse, layout.triangles, (rh, rw))
        src = np.einsum("pk,pkd->pd", bary, state.points[layout.triangles[tri], :2])  # (P, 2) source pixels
        gy, gx = np.divmod(pix, rw)
        full_x = (gx + 0.5) / sx - 0.5  # coarse pixel centre in crop pixels
        full_y = (gy + 0.5) / sy - 0.5
        flow = np.zeros((rh * rw, 2), np.float32)
        flow[pix, 0] = src[:, 0] - full_x
        flow[pix, 1] = src[:, 1] - full_y
        cover = np.zeros(rh * rw, np.float32)
        cover[pix] = 1.0
        flow, cover = flow.reshape(rh, rw, 2), cover.reshape(rh, rw)
        # Mouth and eye openings: their content (eyeball, teeth) moves with the opening's two
        # corners as a whole (a similarity), not with the lids or lips.
        for upper, lower in (layout.mouth, *layout.eyes):
            hole = np.zeros((rh, rw), np.uint8)
            ring = np.concatenate([coarse[upper, :2], coarse[lower[::-1], :2]])
            cv2.fillPoly(hole, [np.round(ring * 16).astype(np.int32)], 1, shift=4)
            hy, hx = np.nonzero(hole)
            if len(hy) == 0:
                continue
            corners = [int(upper[0]), int(upper[-1])]
            sim = _similarity(target_points[corners, :2], state.points[corners, :2])  # target px -> source px
            px_full = np.stack([(hx + 0.5) / sx - 0.5, (hy + 0.5) / sy - 0.5], axis=1)
            mapped = px_full @ sim[:, :2].T + sim[:, 2]
            flow[hy, hx] = (mapped - px_full).astype(np.float32)
            cover[hy, hx] = 1.0
        if state.head is not None:
            return head_motion(state.head, state.points, target_points, layout.rigid, flow, cover)
        flow = self._extend(flow, cover, state.face_size * min(sx, sy))
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        return HeadMotion(flow=flow, revealed=np.zeros((h, w), np.float32))

    def _extend(self, flow: np.ndarray, cover: np.ndarray, face_size: float) -> np.ndarray:
        """Carry the face's flow outwards and fade it to zero over `fade` * face size.

        Push-pull pyramid diffusion: the flow of the face's rim is averaged down a pyramid
        (weights = rim coverage), then filled back up, each level keeping its own values where it is well covered
        and taking the coarser level's elsewhere. The fill meets the face's flow continuously at
        its border (no seam) and becomes smoother with distance.
        """
        rh, rw = cover.shape
        # Only the face's rim feeds the fill: outside, the flow continues the border's motion
        # (a silhouette moves with its edge), not an average with the face's inside.
        rim = cover - cv2.erode(cover, np.ones((3, 3), np.uint8), iterations=2)
        sums, weights = [flow * rim[:, :, None]], [rim]
        while min(weights[-1].shape) > 4:
            hh, ww = weights[-1].shape
            size = (max(1, (ww + 1) // 2), max(1, (hh + 1) // 2))
            sums.append(cv2.resize(sums[-1], size, interpolation=cv2.INTER_AREA))
            weights.append(cv2.resize(weights[-1], size, interpolation=cv2.INTER_AREA))
        estimate = sums[-1] / np.maximum(weights[-1], 1e-6)[:, :, None]
        estimate[weights[-1] < 1e-6] = 0.0
        for level in range(len(sums) - 2, -1, -1):
            hh, ww = weights[level].shape
            up = cv2.resize(estimate, (ww, hh), interpolation=cv2.INTER_LINEAR)
            own = sums[level] / np.maximum(weights[level], 1e-6)[:, :, None]
            alpha = np.clip(weights[level] * 2.0, 0.0, 1.0)[:, :, None]
            estimate = alpha * own + (1.0 - alpha) * up
        outside = (cover < 0.5).astype(np.uint8)
        dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)  # coarse pixels to the face
        t = np.clip(dist / max(self.settings.fade * face_size, 1.0), 0.0, 1.0)
        keep = 1.0 - t * t * (3.0 - 2.0 * t)  # smoothstep down to 0
        return np.where(cover[:, :, None] > 0.5, flow, estimate * keep[:, :, None]).astype(np.float32)

    def face_mask(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        """(H, W) uint8, 255 on the target's face (the convex hull of its projected mesh, eyes and
        mouth included, soft edge): where the geometric warp alone sets pose and expression."""
        points = self._target_points(state, target)[:, :2]
        hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
        mask = np.zeros(state.size, np.uint8)
        cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
        return mask

    def render(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the photo with the target pose and expression."""
        target_points = self._target_points(state, target)
        motion = float(np.abs(target_points[:, :2] - state.points[:, :2]).max())
        if motion < self.settings.min_motion:
            return state.source.copy()
        motion = self._motion(state, target_points)
        flow = motion.flow
        out = cv2.remap(
            state.source,
            state.grid_x + flow[:, :, 0],
            state.grid_y + flow[:, :, 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if state.head is not None and motion.revealed.max() > 0.0:
            out = cv2.blendLinear(state.head.plate, out, motion.revealed, 1.0 - motion.revealed)
        self._paint_mouth(out, state, target_points)
        self._paint_lids(out, state, target_points)
        return out

    def render_sequence(self, state: PreviewState, motion: MotionSequence) -> Iterator[np.ndarray]:
        """Yield one (H, W, 3) uint8 frame per frame of `motion` (morph clips, last-resort video)."""
        check_face_model(self.face_model, motion.face_model, what="geometric preview")
        for i in range(len(motion)):
            yield self.render(state, motion.frame(i))

    # --- mouth interior and lids -----------------------------------------------------------------

    def _paint_mouth(self, out: np.ndarray, state: PreviewState, target_points: np.ndarray) -> None:
        """Redraw the inside of the target's mouth opening (in place, uint8).

        Teeth hang from the lips: the part of the opening within half the photo's own gap of the
        upper (lower) lip shows the photo's interior next to that lip; whatever opens beyond that
        is a dark, shaded cavity, with a hint of upper teeth when the photo showed none.
        """
        layout = self.projector.layout
        up_t, lo_t = target_points[layout.mouth[0], :2], target_points[layout.mouth[1], :2]
        up_s, lo_s = state.points[layout.mouth[0], :2], state.points[layout.mouth[1], :2]
        box = _box(up_t, lo_t, state.size, pad=2)
        if box is None:
            return
        x0, y0, x1, y1 = box
        xs = np.arange(x0, x1, dtype=np.float64)
        top_t, bot_t = _curve_y(up_t, xs), _curve_y(lo_t, xs)
        gap_t = bot_t - top_t
        if gap_t.max() < 0.75:
            return
        left_t, right_t = np.sort([up_t[0, 0], up_t[-1, 0]])
        left_s, right_s = np.sort([up_s[0, 0], up_s[-1, 0]])
        across = np.clip((xs - left_t) / max(right_t - left_t, 1.0), 0.0, 1.0)
        xs_s = left_s + across * (right_s - left_s)  # the same place across the photo's mouth
        top_s, bot_s = _curve_y(up_s, xs_s), _curve_y(lo_s, xs_s)
        gap_s = np.maximum(bot_s - top_s, 0.0)
        ys = np.arange(y0, y1, dtype=np.float64)[:, None]  # (Y, 1)
        d_top, d_bot = ys - top_t, bot_t - ys  # (Y, X) distances to the lips
        inside = np.clip(np.minimum(d_top, d_bot) + 0.5, 0.0, 1.0) * ((xs > left_t) & (xs < right_t))[None, :]
        if inside.max() <= 0.0:
            return
        opening = gap_t > gap_s  # columns that open wider than in the photo
        squeeze = np.where(opening, 1.0, gap_s / np.maximum(gap_t, 1e-6))
        attached = np.where(d_top <= d_bot, top_s + d_top, bot_s - d_bot)
        src_y = np.where(opening, attached, top_s + d_top * squeeze)
        # The cavity grows in with the extra opening (full from 2 px wider than in the photo): a
        # turned head changes the lips' gap by a pixel through parallax alone, which must not
        # draw a dark line across the photo's own teeth.
        extra = np.clip((gap_t - gap_s) / 2.0, 0.0, 1.0)[None, :]
        cavity = np.where(
            opening, np.clip((np.minimum(d_top, d_bot) - gap_s / 2.0) / 1.5 + 0.5, 0.0, 1.0) * extra, 0.0
        )
        map_x = np.broadcast_to(xs_s[None, :], src_y.shape).astype(np.float32)
        photo = cv2.remap(
            state.source, map_x, src_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        dark = self._cavity_colour(state, ys, top_t, gap_t, gap_s, across)
        colour = photo + (dark - photo) * cavity[:, :, None]
        region = out[y0:y1, x0:x1].astype(np.float32)
        region += (colour - region) * inside[:, :, None]
        out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)

    def _cavity_colour(
        self,
        state: PreviewState,
        ys: np.ndarray,
        top: np.ndarray,
        gap: np.ndarray,
        gap_photo: np.ndarray,
        across: np.ndarray,
    ) -> np.ndarray:
        """(Y, X, 3) float colour of an open mouth's inside: dark red-brown, darker under the upper
        lip and towards the corners, a little lighter and redder low down (tongue)."""
        v = np.clip((ys - top) / np.maximum(gap, 1.0), 0.0, 1.0)  # 0 at the upper lip, 1 at the lower
        centre = (1.0 - (2.0 * across - 1.0) ** 2)[None, :]  # 1 mid-mouth, 0 at the corners
        shade = (0.55 + 0.45 * centre) * (0.75 + 0.25 * v) * state.exposure
        colour = (
            np.stack([38.0 + 30.0 * v**2, 16.0 + 6.0 * v**2, 18.0 + 8.0 * v**2], axis=-1) * shade[:, :, None]
        )
        if not self.settings.teeth:
            return colour
        size = max(state.face_size, 1.0)
        wide = np.clip(gap / size * 12.0 - 0.3, 0.0, 1.0)  # only clearly open mouths
        no_teeth_in_photo = np.clip(1.0 - gap_photo / (0.03 * size), 0.0, 1.0)
        height = 0.02 * size  # visible upper teeth, pixels below the upper lip
        band = np.clip((top + height - ys) / 1.5 + 0.5, 0.0, 1.0) * (wide * no_teeth_in_photo)[None, :]
        band = band * np.sqrt(centre)
        teeth = np.array([200.0, 192.0, 178.0]) * min(state.exposure, 1.2)
        return colour + (teeth - colour) * (0.7 * band)[:, :, None]

    def _paint_lids(self, out: np.ndarray, state: PreviewState, target_points: np.ndarray) -> None:
        """Skin-coloured lids over the part of each eye that the target's lids now cover (in place).

        Closure = 1 - target opening / photo opening; from 0.35 on, the drawn lid edge is pulled
        further down to meet the lower lid at 0.7, so that a strongly closing eye looks shut.
        """
        layout = self.projector.layout
        to_target = _rigid_affine(state.points[layout.rigid, :2], target_points[layout.rigid, :2])
        lash_width = max(0.8, state.face_size / 160.0)
        for (upper_i, lower_i), colour in zip(layout.eyes, state.lid_colours, strict=True):
            up_t, lo_t = target_points[upper_i, :2], target_points[lower_i, :2]
            up_s = (
                state.points[upper_i, :2] @ to_target[:, :2].T + to_target[:, 2]
            )  # photo's lids, target frame
            lo_s = state.points[lower_i, :2] @ to_target[:, :2].T + to_target[:, 2]
            open_s = float(np.mean(lo_s[:, 1] - up_s[:, 1]))
            open_t = float(np.mean(lo_t[:, 1] - up_t[:, 1]))
            if open_s <= 0.5:
                continue
            closure = float(np.clip(1.0 - open_t / open_s, 0.0, 1.0))
            if closure < 0.05:
                continue
            box = _box(np.concatenate([up_s, up_t]), lo_t, state.size, pad=2)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            xs = np.arange(x0, x1, dtype=np.float64)
            ys = np.arange(y0, y1, dtype=np.float64)[:, None]
            lid_top = _curve_y(up_s, xs)  # where the open lid was
            k = float(np.clip((closure - 0.35) / 0.35, 0.0, 1.0))
            k = k * k * (3.0 - 2.0 * k)
            lid_edge = _curve_y(up_t, xs)
            lid_edge = lid_edge + k * (np.maximum(_curve_y(lo_t, xs), lid_edge) - lid_edge)  # where it ends
            left, right = np.sort([up_t[0, 0], up_t[-1, 0]])
            across = ((xs > left) & (xs < right))[None, :].astype(np.float64)
            fade_in = np.maximum(
                0.3 * (lid_edge - lid_top), 1.0
            )  # blend into the skin above the old lid line
            cover = (
                np.clip(np.minimum((ys - lid_top + 1.0) / fade_in, lid_edge - ys + 0.5), 0.0, 1.0) * across
            )
            alpha = cover * min(1.0, closure * 1.6)
            v = np.clip((ys - lid_top) / np.maximum(lid_edge - lid_top, 1.0), 0.0, 1.0)
            lid = colour[None, None, :] * (1.0 - 0.12 * v[:, :, None])  # a little darker towards the lashes
            lash = np.clip(1.0 - np.abs(ys - lid_edge) / lash_width, 0.0, 1.0) * across * closure
            region = out[y0:y1, x0:x1].astype(np.float32)
            region += (lid - region) * alpha[:, :, None]
            region += (colour * 0.3 - region) * (0.85 * lash)[:, :, None]
            out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)


def _box(
    upper: np.ndarray, lower: np.ndarray, size: tuple[int, int], pad: int
) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) around two point sets, padded and clipped to the image; None if empty."""
    h, w = size
    pts = np.concatenate([upper, lower])
    x0 = max(0, int(math.floor(pts[:, 0].min())) - pad)
    x1 = min(w, int(math.ceil(pts[:, 0].max())) + pad + 1)
    y0 = max(0, int(math.floor(pts[:, 1].min())) - pad)
    y1 = min(h, int(math.ceil(pts[:, 1].max())) + pad + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1
