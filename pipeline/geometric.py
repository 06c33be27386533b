"""Geometric preview renderer: the photo warped along the fitted 3D face mesh.

A second rendering engine with the neural renderer's call shape (source crop + target motion ->
image) that needs no learned weights. It follows the paper's idea of motion as a dense backward
flow (PIRenderer section 3.2: the warping network predicts a flow and samples the source with
it), with the flow computed from geometry instead of a network:

1. project the source mesh (photo's coefficients) and the target mesh (same identity, target
   pose and expression) into the crop;
2. rasterise the target mesh's triangles (vectorised, z-buffered, at half resolution): every
   covered pixel gets the barycentric position of the same surface point in the source, the
   backward flow; inside the eye openings (holes in the mesh) the eyeball moves with the
   opening's corners as a whole, inside the mouth opening the photo's interior hangs from the
   lips (upper teeth from the upper lip, lower teeth from the lower: `pipeline.mouth`);
3. outside the face, extend the flow by normalised Gaussian convolution of the face's flow and
   fade it to zero over `PreviewSettings.fade` of the face size, so hair and neck follow a head
   turn partly and the background stays;
4. at full resolution, set the flow inside the mouth opening and around the eyes exactly:
   closing lids are the photo's own lid skin drawn down, the irises move with the gaze
   (`pipeline.eyes`);
5. warp the source with `cv2.remap` (bilinear);
6. where the mouth opens wider than the photo's teeth can fill, paint the gap the photo never
   showed (a cavity shaded with depth, a tongue, teeth where plausible: `pipeline.mouth`).

Uses: the instant preview while a slider is dragged (the neural renderer refines the frame
when it is released), and the renderer of last resort when no neural weights are installed.
Works with the project's own `LinearFaceModel` and with the BFM (`BFMFaceModel`, coefficients
fitted by the deep3d backend on the renderer crop itself).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import cv2
import numpy as np

from core.coefficients import FaceCoefficients, MotionSequence, check_face_model
from core.errors import InputError, NoFaceError
from core.images import check_rgb8
from pipeline.eyes import (
    Iris,
    analyse_eye,
    iris_from_landmarks,
    lash_heights,
    paint_opened_eye,
    refine_eye_flow,
    shuts,
)
from pipeline.face_mesh import (
    BoxMesh,
    Raster,
    box_mesh,
    feature_boxes,
    projector_for,
    rasterise_meshes,
    rasterise_triangles,
    ring_pixels,
)
from pipeline.face_paint import paint_lash_line, similarity_2d
from pipeline.flow_spread import spread_flow
from pipeline.glasses import find_glasses, hold_frame
from pipeline.head import HeadMotion, HeadProxy, fit_head, head_motion, similarity_3d
from pipeline.head_fill import composite, valid_region
from pipeline.jaw_edge import neck_layer, photo_jaw
from pipeline.lid_shape import lid_detail
from pipeline.lid_skin import lid_colours, smooth_shut_lids
from pipeline.lower_lip import photo_share, squeezed_under_lip
from pipeline.mouth import MouthMotion, analyse_mouth, mouth_source, refine_mouth_area
from pipeline.mouth_paint import fine_paint, paint_mouth
from pipeline.near_cut import hold_near_rim
from pipeline.preview_settings import PreviewSettings
from pipeline.preview_state import PreviewState, gaze_shift, is_greyscale, photo_opening, triangle_corners
from pipeline.renderer import RenderedFrame
from pipeline.teeth_tone import with_tooth_cap
from pipeline.wide_eyes import wide_open
from reconstruction.crop import CropTransform
from reconstruction.detection import FaceDetector
from reconstruction.folds import fold_boxes, fold_cells
from reconstruction.rim_skin import MagnifiedBand, magnified_band
from reconstruction.segmentation import PersonSegmenter

__all__ = ["PreviewSettings", "PreviewState", "GeometricRenderer", "rasterise_triangles"]

logger = logging.getLogger(__name__)

#: Depth advance of the lip vertices, in face sizes, when the target mesh is rasterised.
LIPS_IN_FRONT = 0.05

#: A frame's feature boxes (mouth first), the mesh in each and its raster (`GeometricRenderer._motion`).
_Features = tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[BoxMesh, bool]], list[Raster]]


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
        self._detector: Any = None  # FaceDetector for the irises, made on first use (shared, locked)
        self._detector_lock = threading.Lock()
        if not 0.1 <= self.settings.raster_scale <= 1.0:
            raise InputError(f"raster_scale must be in [0.1, 1], got {self.settings.raster_scale}")

    def __repr__(self) -> str:
        return f"GeometricRenderer(face_model={self.face_model!r})"

    # --- per photo -------------------------------------------------------------------------------

    def prepare(
        self,
        source_crop: np.ndarray,
        source_coeffs: FaceCoefficients,
        person_mask: np.ndarray | None = None,
        transform: CropTransform | None = None,
        hand_at_face: bool = False,
    ) -> PreviewState:
        """Per-photo work: (H, W, 3) uint8 RGB crop + its fitted coefficients -> `PreviewState`.

        person_mask: optional (H, W) float32 person probability for the head proxy (segmented
        here when not given); transform: where the crop lies in the photo (the head proxy slides
        background in only from the photo itself, not from the crop's padding beyond it); hand_at_face:
        a hand touches the face (`pipeline.hands`), so the neck is not held behind the jaw (a hand
        under the chin would be torn between the held part and the part moving with the chin)."""
        source_crop = check_rgb8(source_crop, "source crop", min_side=16)
        check_face_model(self.face_model, source_coeffs.face_model, what="geometric preview")
        size = (int(source_crop.shape[0]), int(source_crop.shape[1]))
        points = self.projector.project(source_coeffs, source_coeffs.identity, size)
        if not np.all(np.isfinite(points)):
            raise InputError("the source coefficients project to non-finite points")
        layout = self.projector.layout
        source = np.ascontiguousarray(source_crop).copy()
        extent = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
        face_size = float(max(extent.max(), 8.0))
        inside = points[:, :2].round().astype(np.int64)
        ok = (inside[:, 0] >= 0) & (inside[:, 0] < size[1]) & (inside[:, 1] >= 0) & (inside[:, 1] < size[0])
        face_pixels = source[inside[ok, 1], inside[ok, 0]].astype(np.float32)
        exposure = float(face_pixels.mean() / 128.0) if len(face_pixels) else 1.0
        grid_x, grid_y = np.meshgrid(
            np.arange(size[1], dtype=np.float32), np.arange(size[0], dtype=np.float32)
        )
        points = points.copy()
        corners = points[layout.triangles, :2]  # (F, 3, 2)
        for arr in (source, points, grid_x, grid_y, corners):
            arr.setflags(write=False)
        wide = wide_open(source, points, layout.eyes, self.settings.wide_eyes)
        eyes = [(points[u, :2], points[v, :2]) for u, v in layout.eyes]
        lashes = tuple(lash_heights(source, up, w) for (up, _), w in zip(eyes, wide, strict=True))
        return PreviewState(
            source=source,
            coeffs=source_coeffs,
            points=points,
            face_size=face_size,
            exposure=float(np.clip(exposure, 0.4, 1.6)),
            grid_x=grid_x,
            grid_y=grid_y,
            mouth=with_tooth_cap(
                analyse_mouth(source, *(points[lip, :2] for lip in layout.mouth), self.settings.own_teeth),
                (source, points, layout.mouth, face_size) if self.settings.teeth_tone else None,
            ),
            irises=self._irises(source, points),
            lashes=lashes,
            glasses=find_glasses(source, eyes, lashes) if self.settings.glasses else None,
            lid_colours=lid_colours(source, [points[u, :2] for u, _ in layout.eyes], wide),
            lid_detail=lid_detail(source, eyes, transform) if self.settings.lid_shape else None,
            wide=wide,
            head=self._fit_head(source, points, person_mask, transform) if self.settings.head else None,
            corners=corners,
            greyscale=is_greyscale(source),
            jaw=None if hand_at_face else photo_jaw(points, source, self.settings.raster_scale, face_size),
            small=1.0 if transform is None else photo_share(transform),
        )

    def _irises(self, source: np.ndarray, points: np.ndarray) -> tuple[Iris | None, ...]:
        """Each eye's iris: MediaPipe's iris points re-detected on the crop (the fitted mesh's lids
        can miss the lashes), or estimated from the image where no face is found."""
        eyes = self.projector.layout.eyes
        try:
            with self._detector_lock:
                if self._detector is None:
                    self._detector = FaceDetector(search_small_faces=False, max_faces_limit=1)
                landmarks = self._detector.detect_one(source, min_size=16).face.landmarks
        except NoFaceError:
            return tuple(analyse_eye(source, points[u, :2], points[lo, :2]) for u, lo in eyes)
        return tuple(
            iris_from_landmarks(landmarks, i, points[u, :2], points[lo, :2]) for i, (u, lo) in enumerate(eyes)
        )

    def _fit_head(
        self,
        source: np.ndarray,
        points: np.ndarray,
        person_mask: np.ndarray | None,
        transform: CropTransform | None,
    ) -> HeadProxy:
        if person_mask is None:
            with self._segmenter_lock:
                if self._segmenter is None:
                    self._segmenter = PersonSegmenter()
            person_mask = self._segmenter.person_mask(source)
        eyes = self.projector.layout.eyes
        valid = None
        if transform is not None and transform.crop_size == source.shape[0] == source.shape[1]:
            valid = valid_region(transform)
        corners = (int(eyes[0][0][0]), int(eyes[-1][0][-1]))
        return fit_head(source, points, person_mask, eye_corners=corners, valid=valid)

    # --- per target ------------------------------------------------------------------------------

    def target_points(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        """(N, 3) the photo's face mesh moved to `target`, in crop pixels (and depth)."""
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
        points = self.target_points(state, target)
        return self._motion(state, points, gaze_shift(state, target), self._mouth(state, points)).flow

    def _motion(
        self, state: PreviewState, target_points: np.ndarray, gaze: np.ndarray | None, mouth: MouthMotion
    ) -> HeadMotion:
        """The backward flow of a frame; `mouth`: `_mouth` of the frame (made once per frame)."""
        h, w = state.size
        folds: list[tuple[np.ndarray, np.ndarray]] = []
        scale = self.settings.raster_scale
        rh, rw = max(8, round(h * scale)), max(8, round(w * scale))
        sx, sy = rw / w, rh / h
        layout = self.projector.layout
        # Target mesh on the coarse grid (pixel-centre convention: u = (x + 0.5) * s - 0.5).
        coarse = target_points.copy()
        coarse[:, 0] = (coarse[:, 0] + 0.5) * sx - 0.5
        coarse[:, 1] = (coarse[:, 1] + 0.5) * sy - 0.5
        coarse[layout.lips, 2] -= LIPS_IN_FRONT * state.face_size  # lips win over folded cheek triangles
        # The coarse grid and the full-resolution boxes of the mouth and the eyes in one pass.
        boxes = feature_boxes(layout, target_points)
        features = self._box_meshes(state, target_points, boxes, blur=True)
        (pix, tri, bary), *rasters = rasterise_meshes(
            [(coarse, layout.triangles, (rh, rw)), *((m.vertices, m.triangles, m.size) for m, _ in features)]
        )
        src = np.einsum(
            "pk,pkd->pd", bary, triangle_corners(state, layout.triangles)[tri]
        )  # (P, 2) source pixels
        gy, gx = np.divmod(pix, rw)
        full_x = (gx + 0.5) / sx - 0.5  # coarse pixel centre in crop pixels
        full_y = (gy + 0.5) / sy - 0.5
        flow = np.zeros((rh * rw, 2), np.float32)
        flow[pix, 0] = src[:, 0] - full_x
        flow[pix, 1] = src[:, 1] - full_y
        cover = np.zeros(rh * rw, np.float32)
        cover[pix] = 1.0
        flow, cover = flow.reshape(rh, rw, 2), cover.reshape(rh, rw)
        # Openings: an eye's content (the eyeball) moves with its two corners as a whole (a
        # similarity), the mouth's hangs from the lips; both are set exactly at full resolution
        # below (this coarse fill keeps the lips' flow clean where it is upsampled).
        for k, (upper, lower) in enumerate((layout.mouth, *layout.eyes)):
            hy, hx = ring_pixels(np.concatenate([coarse[upper, :2], coarse[lower[::-1], :2]]), (rh, rw))
            if len(hy) == 0:
                continue
            px_full = np.stack([(hx + 0.5) / sx - 0.5, (hy + 0.5) / sy - 0.5], axis=1)
            if k == 0:
                mx, my, _ = mouth_source(px_full[:, 0], px_full[:, 1], mouth)
                mapped = np.stack([mx, my], axis=1)
            else:
                corners = [int(upper[0]), int(upper[-1])]
                sim = similarity_2d(target_points[corners, :2], state.points[corners, :2])  # target -> source
                mapped = px_full @ sim[:, :2].T + sim[:, 2]
            flow[hy, hx] = (mapped - px_full).astype(np.float32)
            cover[hy, hx] = 1.0
        if state.head is not None:
            # The proxy needs the face's flow carried outwards only under a moved jaw (the neck):
            # on a grid half as fine, it is smooth there.
            half = (max(8, rw // 2), max(8, rh // 2))
            area = cv2.resize(cover, half, interpolation=cv2.INTER_AREA)
            coarse = cv2.resize(flow * cover[:, :, None], half, interpolation=cv2.INTER_AREA)
            coarse /= np.maximum(area, 1e-3)[:, :, None]
            scale = min(half[0] / w, half[1] / h)
            neck = self._extend(coarse, (area > 0.5).astype(np.float32), state.face_size * scale, scale)
            neck = cv2.resize(neck, (w, h), interpolation=cv2.INTER_LINEAR)
            motion = head_motion(state.head, state.points, target_points, layout.rigid, flow, cover, neck)
        else:
            chin = (float(state.points[:, 1].max()) + 0.5) * sy - 0.5 if self.settings.neck else None
            spread = self._extend(flow, cover, state.face_size * min(sx, sy), min(sx, sy), chin)
            if self.settings.near_cut:  # the near cheek's silhouette (docs/NEAR_CUT.md)
                spread = hold_near_rim(
                    spread,
                    cover,
                    (sx, sy),
                    state.face_size,
                    boxes,
                )
            on = self.settings.jaw_edge and state.jaw is not None  # the neck stays (docs/JAW_EDGE.md)
            layer = neck_layer(spread, cover, target_points, state.jaw, (h, w)) if on else (None, None)
            motion = HeadMotion(cv2.resize(spread, (w, h), interpolation=cv2.INTER_LINEAR), *layer)
            # Occlusion edges (a turned nose over the far cheek), found on the coarse grid: drawn
            # exactly at the crop's resolution, so the photo's resolution can draw them smooth.
            nodes = _coarse_nodes((rh, rw), (h, w))  # made once per grid size
            to_crop = np.array([[1.0 / sx, 0.0, 0.5 / sx - 0.5], [0.0, 1.0 / sy, 0.5 / sy - 0.5]])
            folds = fold_boxes(fold_cells(nodes + spread, spacing=1.0 / sx), to_crop)
        self._refine_openings(
            motion.flow, state, target_points, gaze, folds, mouth, (boxes, features, rasters)
        )
        return motion

    def _mouth(self, state: PreviewState, target_points: np.ndarray) -> MouthMotion:
        """The photo's mouth interior with the inner lips of the photo and of the target."""
        layout = self.projector.layout
        upper, lower = layout.mouth
        source = (state.points[upper, :2], state.points[lower, :2])
        s, rot, t = similarity_3d(state.points[layout.rigid], target_points[layout.rigid])
        posed = [(state.points[lip, :3] @ (s * rot.T) + t)[:, :2] for lip in (upper, lower)]
        return MouthMotion(
            state.mouth,
            source,
            (target_points[upper, :2], target_points[lower, :2]),
            posed_lips=(posed[0], posed[1]),  # the photo's lips in the target's pose
            lower_row=self.settings.lower_row,
            open_look=self.settings.open_look,
            lifted_corners=self.settings.smile_corners,
            lower_fence=self.settings.lower_fence,
        )

    def _rasterise_features(
        self,
        flow: np.ndarray,
        state: PreviewState,
        target_points: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        features: _Features,
    ) -> None:
        """The mesh's flow around the mouth and the eyes at full resolution (in place): lips and
        lids are thin, and the coarse raster would draw their edges in steps; then, unblurred, in
        the boxes `folds` (lo, hi) around occlusion edges outside the mouth's box. `features`: the
        feature boxes, their meshes and rasters (made with the coarse grid's, `_motion`)."""
        boxes, meshes, rasters = features
        (mx0, my0), (mx1, my1) = boxes[0]
        outside = [
            (lo, hi)
            for lo, hi in folds
            if not (lo[0] >= mx0 and lo[1] >= my0 and hi[0] <= mx1 and hi[1] <= my1)
        ]
        more = self._box_meshes(state, target_points, outside, blur=False)
        if more:
            meshes = [*meshes, *more]
            rasters = [*rasters, *rasterise_meshes([(m.vertices, m.triangles, m.size) for m, _ in more])]
        for (mesh, blur), (pix, tri, bary) in zip(meshes, rasters, strict=True):
            if len(pix) == 0:
                continue
            (x0, y0), (h, w) = mesh.origin, mesh.size
            src = np.einsum("pk,pkd->pd", bary, mesh.corners[tri])
            gy, gx = np.divmod(pix, w)
            region = flow[y0 : y0 + h, x0 : x0 + w]
            region[gy, gx, 0] = src[:, 0] - (gx + x0)
            region[gy, gx, 1] = src[:, 1] - (gy + y0)
            # Where an opening lip rolls out, its triangles overlap and the nearest one changes from
            # pixel to pixel: a light blur of the flow (not the image) keeps the rims smooth.
            if blur:
                region[...] = cv2.GaussianBlur(region, (0, 0), 1.2, borderType=cv2.BORDER_REPLICATE)

    def _box_meshes(
        self,
        state: PreviewState,
        target_points: np.ndarray,
        boxes: list[tuple[np.ndarray, np.ndarray]],
        blur: bool,
    ) -> list[tuple[BoxMesh, bool]]:
        """The target mesh's part in each box (lo, hi) (`box_mesh`; boxes without one left out),
        each with whether its flow is blurred."""
        layout, corners = self.projector.layout, triangle_corners(state, self.projector.layout.triangles)
        lips = LIPS_IN_FRONT * state.face_size  # the lips' advance, as on the coarse grid
        meshes = (
            box_mesh(layout, target_points, state.points, corners, box, state.size, lips) for box in boxes
        )
        return [(mesh, blur) for mesh in meshes if mesh is not None]

    def _refine_openings(
        self,
        flow: np.ndarray,
        state: PreviewState,
        target_points: np.ndarray,
        gaze: np.ndarray | None,
        folds: list[tuple[np.ndarray, np.ndarray]],
        mouth: MouthMotion,
        features: _Features,
    ) -> None:
        """The full-resolution flow inside the mouth and around the eyes (in place)."""
        face_flow = flow.copy()
        self._rasterise_features(flow, state, target_points, folds, features)
        refine_mouth_area(flow, face_flow, mouth)
        for k, ((upper, lower), iris) in enumerate(
            zip(self.projector.layout.eyes, state.irises, strict=True)
        ):
            lashes = state.lashes[k] if self.settings.lash_fringe and state.lashes else None
            refine_eye_flow(
                flow,
                iris,
                (state.points[upper, :2], state.points[lower, :2]),
                (target_points[upper, :2], target_points[lower, :2]),
                gaze,
                lashes,
                squint=self.settings.squint_shut,
                wide=state.wide[k],
                frame=state.glasses[0][k][:, 0] if state.glasses else None,
                follow=self.settings.lid_follow,
            )
        if state.glasses:  # the frame keeps the head's flow (docs/GLASSES.md)
            rigid = self.projector.layout.rigid
            hold_frame(flow, state.glasses[1], state.points[rigid, :2], target_points[rigid, :2])

    def _extend(
        self,
        flow: np.ndarray,
        cover: np.ndarray,
        face_size: float,
        scale: float = 1.0,
        chin: float | None = None,
    ) -> np.ndarray:
        """The face's flow carried outwards and faded over `fade` * face size (`spread_flow`)."""
        return spread_flow(flow, cover, face_size, self.settings.fade, scale, chin)

    def face_mask(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        """(H, W) uint8, 255 on the target's face (the convex hull of its projected mesh, eyes and
        mouth included, soft edge): where the geometric warp alone sets pose and expression."""
        points = self.target_points(state, target)[:, :2]
        hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
        mask = np.zeros(state.size, np.uint8)
        cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
        return mask

    def render(self, state: PreviewState, target: FaceCoefficients) -> np.ndarray:
        """(H, W, 3) uint8 RGB crop: the photo with the target pose and expression."""
        return self.render_frame(state, target).crop

    def render_frame(self, state: PreviewState, target: FaceCoefficients) -> RenderedFrame:
        """The crop together with how it was made: the backward flow that moved the photo's pixels and
        the painted mouth/lids (overlay + coverage), so the photo can be moved at its own resolution."""
        target_points = self.target_points(state, target)
        gaze = gaze_shift(state, target)
        motion = float(np.abs(target_points[:, :2] - state.points[:, :2]).max())
        if motion < self.settings.min_motion and gaze is None:
            return RenderedFrame(crop=state.source.copy(), flow=np.zeros((*state.size, 2), np.float32))
        mouth = self._mouth(state, target_points)
        motion = self._motion(state, target_points, gaze, mouth)
        flow = motion.flow
        if motion.alpha is not None and motion.back is not None:
            out = composite(state.source, (state.grid_x, state.grid_y), flow, motion.back, motion.alpha)
        else:
            out = cv2.remap(
                state.source,
                state.grid_x + flow[:, :, 0],
                state.grid_y + flow[:, :, 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        cover = np.zeros(state.size, np.float32)
        paint = out.copy()  # the overlay: the painted colours themselves, not blended with the lips
        teeth = paint_mouth(
            out,
            cover,
            mouth,
            face_size=state.face_size,
            exposure=state.exposure,
            teeth=self.settings.teeth,
            paint=paint,
        )
        painted = cover.copy()
        for (upper, lower), iris in zip(self.projector.layout.eyes, state.irises, strict=True):
            lids = (
                (state.points[upper, :2], state.points[lower, :2]),
                (target_points[upper, :2], target_points[lower, :2]),
            )
            paint_opened_eye(out, cover, iris, lids, gaze)
        opened = cover > painted
        paint[opened] = out[opened]
        shut = self._shut_openings(state, target_points)
        for opening, lashes in shut:
            paint_lash_line(out, cover, paint, state.source, flow, opening, lashes)
        hidden = np.maximum.reduce([opening for opening, _ in shut]) if shut else None
        skin = None
        if hidden is not None and self.settings.smooth_lids and state.lid_colours is not None:
            shaped = state.lid_detail if self.settings.lid_shape else None
            skin = smooth_shut_lids(out, cover, paint, flow, hidden, state.lid_colours, shaped)
            skin = None if state.glasses else skin  # its texture band holds the frame (docs/GLASSES.md)
        if cover.max() > 0.0 and state.greyscale:
            out, paint = (
                cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
                for image in (out, paint)
            )  # no red mouth in a grey photo (the grey in all three channels)
        finer = None
        if teeth and self.settings.fine_teeth > 1:  # crisp teeth once laid over a large photo
            grey, factor = state.greyscale, self.settings.fine_teeth
            fine = partial(fine_paint, paint, cover, mouth, state.face_size, state.exposure, factor, grey)
            if mouth.under_upper_teeth:  # only where laid finer than the crop (`RenderedFrame.finer`)
                finer = (factor, fine)
            else:
                paint = fine()
        return RenderedFrame(
            crop=out,
            flow=flow,
            overlay=paint if cover.max() > 0.0 else None,
            overlay_alpha=cover,
            hidden=hidden,
            back_flow=motion.back if motion.alpha is not None else None,
            front_alpha=motion.alpha,
            skin=skin,
            finer=finer,
            magnified=partial(self._magnified, flow, target_points) if self.settings.rim_skin else None,
            squeezed=squeezed_under_lip(
                flow,
                mouth,
                cover,
                motion.alpha,
                target_points[self.projector.layout.outer_lower, :2],
                state.small,
            )
            if self.settings.lower_lip
            else None,
        )

    def _magnified(self, flow: np.ndarray, target_points: np.ndarray) -> MagnifiedBand | None:
        """Where the flow magnifies the photo enough to streak, outside the eyes' outer corners
        (`reconstruction.rim_skin.magnified_band`)."""
        lids = [target_points[np.concatenate(eye), 0] for eye in self.projector.layout.eyes]
        return magnified_band(flow, (float(lids[0].min()), float(lids[-1].max())))

    def _shut_openings(
        self, state: PreviewState, target_points: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per eye the target shuts: the (H, W) float32 mask, 1 on the photo's opening (and, with
        `lash_fringe`, on the photo's lash run above it: the shut lid reads only skin above it),
        and the colour (3,) of the lashes for the lash line (`lash_colour` of the opening)."""
        shut = []
        for k, (u, lo) in enumerate(self.projector.layout.eyes):
            lids = (state.points[u, :2], state.points[lo, :2]), (target_points[u, :2], target_points[lo, :2])
            if not shuts(*lids, state.wide[k]):
                continue
            lashes = state.lashes[k] if self.settings.lash_fringe and state.lashes else None
            key = (k, lashes is not None)  # the opening is the photo's: made once per photo
            if key not in state.openings_made:
                state.openings_made[key] = photo_opening(state, k, lids, lashes)
            if state.openings_made[key] is not None:
                shut.append(state.openings_made[key])
        return shut

    def render_sequence(self, state: PreviewState, motion: MotionSequence) -> Iterator[np.ndarray]:
        """Yield one (H, W, 3) uint8 frame per frame of `motion` (morph clips, last-resort video)."""
        check_face_model(self.face_model, motion.face_model, what="geometric preview")
        for i in range(len(motion)):
            yield self.render(state, motion.frame(i))


@functools.lru_cache(maxsize=4)
def _coarse_nodes(grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(rh, rw, 2) float64 (read-only): the crop pixel (x, y) at each node of a (rh, rw) grid over an
    (h, w) crop (pixel-centre convention)."""
    (rh, rw), (h, w) = grid, size
    sx, sy = rw / w, rh / h
    nodes = np.stack(np.meshgrid((np.arange(rw) + 0.5) / sx - 0.5, (np.arange(rh) + 0.5) / sy - 0.5), axis=-1)
    nodes.setflags(write=False)
    return nodes
