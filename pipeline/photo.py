"""Portrait editing of one photo (paper section 4.1, intuitive image editing): the expensive step once, the cheap step per slider move.

`prepare_photo` detects the face, crops it and fits its coefficients once per photo (a
`SourceState`, which belongs to the user's session and caches each engine's per-photo state);
`edit(state, EditRequest)` then runs per slider move. An edit is pasted back into the photo at
full resolution, or into a smaller `Canvas` of the same photo (the page's display copy, a video
frame), which keeps the per-edit cost independent of the photo's resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from core.coefficients import FaceCoefficients
from core.errors import InputError
from pipeline.advice import photo_advice
from pipeline.engines import EngineRegistry, check_engine_choice, default_registry
from pipeline.hands import covering_hands
from pipeline.media import even_frame_size
from pipeline.other_faces import still_weight
from pipeline.renderer import RenderedFrame, Renderer
from pipeline.side_view import turn_limits
from reconstruction.controls import PRESETS, ControlSet, check_control_values, control_set_for
from reconstruction.crop import CropTransform, changed_region_mask, crop_face, paste_back, warp_photo
from reconstruction.images import load_image
from reconstruction.rim_skin import lay_rim_texture
from reconstruction.skin import lay_skin_texture
from reconstruction.softness import photo_blur
from reconstruction.squeeze import lay_squeezed

__all__ = [
    "SourceState",
    "Canvas",
    "EditRequest",
    "EditResult",
    "prepare_photo",
    "prepared_for",
    "photo_canvas",
    "target_coefficients",
    "request_from_preset",
    "edit",
    "place_frame",
]

log = logging.getLogger(__name__)


@dataclass
class SourceState:
    """One analysed photo (the expensive step, done once): belongs to one user's session.

    analysis: the backend's `PhotoAnalysis` (full image, detection, crop transform, 256x256 crop,
    coefficients). Engine states (per-photo renderer work) are created on first use by
    `engine_state` and kept here, so every later edit, clip or download reuses them. paint_blur:
    the photo's own blur around the eyes and mouth (Gaussian sigma, photo pixels; 0: sharp), which
    painted layers are softened to (`reconstruction.softness.photo_blur`, measured by
    `prepare_photo`; 0, the paint as drawn, for a state made otherwise). hands: the hands touching
    the face, each (21, 2) landmarks in photo pixels (`pipeline.hands.covering_hands`, found by
    `prepare_photo`), which the user is told about (`advice`).
    """

    analysis: Any
    backend: str
    paint_blur: float = 0.0
    hands: tuple[np.ndarray, ...] = ()
    _engine_states: dict[str, tuple[Renderer, Any]] = field(default_factory=dict, repr=False)
    _controls: ControlSet | None = field(default=None, repr=False)
    _still: tuple[np.ndarray | None] | None = field(default=None, repr=False)  # (weight,) once computed

    @property
    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the photo at full resolution."""
        return self.analysis.image

    def advice(self) -> list[str]:
        """Notes for a face the renderer can only edit badly (`pipeline.advice`): a side view, a
        covered mouth, a hand at the face; empty for a usual portrait."""
        return photo_advice(self.coefficients, self.crop, self.analysis.crop_landmarks, hands=len(self.hands))

    @property
    def crop(self) -> np.ndarray:
        """(256, 256, 3) uint8 RGB: the renderer crop."""
        return self.analysis.crop

    @property
    def coefficients(self) -> FaceCoefficients:
        """The photo's own coefficients (what zero controls reproduce)."""
        return self.analysis.coefficients

    @property
    def crop_transform(self) -> CropTransform:
        return self.analysis.crop_transform

    @property
    def face_model(self) -> str:
        return self.analysis.coefficients.face_model

    @property
    def num_faces(self) -> int:
        detection = self.analysis.detection
        return int(getattr(detection, "num_faces", 1))

    def at_canvas(self, canvas: Canvas) -> SourceState:
        """This photo with `canvas` standing in for the full-resolution image: everything an edit
        into that canvas needs (crop, coefficients), small enough to send to another process.
        Engine states and controls are not carried over (the receiver makes its own)."""
        analysis = replace(self.analysis, image=canvas.image, crop_transform=canvas.transform)
        blur = self.paint_blur * canvas.scale
        return SourceState(analysis, self.backend, blur, self.hands, _still=(self.still_weight(),))

    def still_weight(self) -> np.ndarray | None:
        """(c, c) weight on the crop holding other people's faces still (`pipeline.other_faces`);
        None when the photo shows no other face near this one."""
        if self._still is None:
            self._still = (still_weight(self.analysis),)
        return self._still[0]

    def engine_state(self, engine: Renderer) -> Any:
        """The state of `engine` for this photo, prepared on first use (and again after a registry reload)."""
        cached = self._engine_states.get(engine.name)
        if cached is not None and cached[0] is engine:
            return cached[1]
        state = engine.prepare_in_photo(
            self.crop, self.coefficients, self.crop_transform, hand_at_face=bool(self.hands)
        )
        self._engine_states[engine.name] = (engine, state)
        return state


@dataclass(frozen=True, eq=False)
class Canvas:
    """The photo at an output size, where edits are pasted.

    image: (H, W, 3) uint8 RGB; transform: where the renderer crop lies in these pixels;
    scale: output pixels per photo pixel (1.0: the photo itself); paint_blur: the photo's own blur
    in these pixels (Gaussian sigma, `SourceState.paint_blur`), which painted layers are softened to;
    still: optional (c, c) weight on the crop for a moving flow (`SourceState.still_weight`: other
    people's faces stay where they are). quick: a canvas of frames that must be quick (drag previews,
    video frames), where finishing that costs more than they may (a turn's magnified rim,
    `reconstruction.rim_skin`) is left out.
    """

    image: np.ndarray
    transform: CropTransform
    scale: float = 1.0
    paint_blur: float = 0.0
    still: np.ndarray | None = None
    quick: bool = False


@dataclass(frozen=True)
class EditRequest:
    """One edit of a prepared photo (what the sliders say).

    values: control name -> value, in the units of `reconstruction.controls.CONTROL_SPECS`
        (absent controls stay at their defaults).
    raw_expression_offset: (E,) added to the expression coefficients (advanced editing), or None.
    engine: "preview" (geometric, instant), "neural" (the paper's renderer) or "auto" (neural when
        one is installed for this photo's face model).
    """

    values: Mapping[str, float] = field(default_factory=dict)
    raw_expression_offset: np.ndarray | None = None
    engine: str = "auto"

    def __post_init__(self) -> None:
        check_engine_choice(self.engine)
        object.__setattr__(self, "values", check_control_values(dict(self.values)))
        if self.raw_expression_offset is not None:
            offset = np.asarray(self.raw_expression_offset, dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(offset)):
                raise InputError("raw_expression_offset contains NaN or infinite values")
            object.__setattr__(self, "raw_expression_offset", offset)

    def details(self) -> dict[str, str]:
        """The request as short provenance facts (control values, whether raw offsets were used)."""
        details = {k: f"{v:g}" for k, v in sorted(self.values.items())}
        if self.raw_expression_offset is not None:
            details["raw_expression_offset"] = "yes"
        return details


@dataclass(frozen=True)
class EditResult:
    """crop: (256, 256, 3) uint8 edited crop; full_image: (H, W, 3) uint8 photo (or canvas) with the
    crop pasted back; coeffs: the target coefficients; engine_used: name of the engine that rendered it."""

    crop: np.ndarray
    full_image: np.ndarray
    coeffs: FaceCoefficients
    engine_used: str


def prepare_photo(
    image_or_path: Any,
    backend: str = "default",
    face_index: int = 0,
    *,
    registry: EngineRegistry | None = None,
) -> SourceState:
    """Load a photo (path, bytes, PIL image or uint8 array), find face `face_index`, crop it and fit
    its coefficients with reconstruction backend `backend` ("default" | "deep3d").

    Raises ImageReadError (unreadable file), NoFaceError / FaceTooSmallError (no usable face),
    WeightsNotFoundError (the backend's files are missing).
    """
    registry = registry or default_registry()
    if isinstance(image_or_path, SourceState):
        return image_or_path
    if face_index < 0:
        raise InputError(f"face_index must be >= 0, got {face_index}")
    image = load_image(image_or_path)
    analysis = registry.backend(backend).analyze_photo(image, face_index=face_index)
    h, w = image.shape[:2]
    face_model = analysis.coefficients.face_model
    landmarks = analysis.crop_transform.inverse_points(analysis.crop_landmarks[:, :2])
    blur = photo_blur(image, landmarks)  # once per photo, kept with its state
    hands = covering_hands(analysis)  # once per photo, for the advice
    log.info(
        "photo prepared: %dx%d, face %d, backend %s (%s), blur %.2f px, %d hand(s) at the face",
        w,
        h,
        face_index,
        backend,
        face_model,
        blur,
        len(hands),
    )
    return SourceState(analysis, getattr(analysis, "backend", "") or str(backend).lower(), blur, hands)


def prepared_for(photo: Any, backend: str, registry: EngineRegistry) -> SourceState:
    """A prepared photo for `backend`: `photo` itself when it is a SourceState of that backend."""
    if isinstance(photo, SourceState) and photo.backend != backend:
        raise InputError(
            f"the photo was prepared with backend '{photo.backend}' but '{backend}' was asked for"
        )
    return prepare_photo(photo, backend, registry=registry)


def photo_canvas(state: SourceState, max_side: int, *, even: bool = False, quick: bool = False) -> Canvas:
    """The photo shrunk (never enlarged) so that its longer side is <= max_side, with the crop's place in it.

    even: both sides even (what H.264 / yuv420p video needs); quick: for drag previews and video frames
    (`Canvas.quick`).
    """
    image = state.image
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if even:
        out_h, out_w = even_frame_size(h, w, max_side)
    else:
        out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (out_h, out_w) == (h, w):
        return Canvas(
            image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight(), quick=quick
        )
    small = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
    sx, sy = w / out_w, h / out_h  # photo pixels per canvas pixel, per axis
    # canvas pixel centre u <-> photo pixel centre (u + 0.5) * s - 0.5 (as cv2.resize maps them)
    to_photo = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    affine = state.crop_transform.matrix @ to_photo  # canvas px -> crop px
    transform = CropTransform(
        affine=tuple(map(tuple, affine.tolist())),
        crop_size=state.crop_transform.crop_size,
        original_size=(out_h, out_w),
    )
    return Canvas(
        small, transform, scale, paint_blur=state.paint_blur * scale, still=state.still_weight(), quick=quick
    )


def _controls(state: SourceState, registry: EngineRegistry) -> ControlSet:
    if state._controls is None:
        state._controls = control_set_for(registry.backend(state.backend).model)
    return state._controls


def target_coefficients(
    state: SourceState, request: EditRequest, *, registry: EngineRegistry | None = None
) -> FaceCoefficients:
    """The coefficients an edit request asks for (the photo's own, changed by the controls).

    A request of raw expression offsets only needs no face model geometry (the public renderer
    with the extractor but without the BFM can still be driven that way). A side view's yaw is held
    within the turns that render without tearing (`pipeline.side_view.turn_limits`; the user is
    told by `SourceState.advice`).
    """
    registry = registry or default_registry()
    if not request.values:
        coeffs = state.coefficients
        if request.raw_expression_offset is None:
            return coeffs
        offset = request.raw_expression_offset
        if offset.shape != coeffs.expression.shape:
            raise InputError(
                f"raw_expression_offset must have {coeffs.expression.shape[0]} numbers, got {offset.shape[0]}"
            )
        return coeffs.replace(expression=coeffs.expression + offset)
    values = dict(request.values)
    limits = turn_limits(state.coefficients) if "yaw" in values else None
    if limits is not None:
        values["yaw"] = limits.clip(values["yaw"])
    return _controls(state, registry).apply(
        state.coefficients, values, raw_expression_offset=request.raw_expression_offset
    )


def request_from_preset(
    preset: str, overrides: Mapping[str, float] | None = None, **kwargs: Any
) -> EditRequest:
    """An EditRequest with the values of preset `preset` (reconstruction.controls.PRESETS), then `overrides`."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset '{preset}'; choose one of {', '.join(sorted(PRESETS))}")
    values = dict(PRESETS[preset])
    values.update(overrides or {})
    return EditRequest(values=values, **kwargs)


def edit(
    state: SourceState,
    request: EditRequest,
    *,
    registry: EngineRegistry | None = None,
    canvas: Canvas | None = None,
) -> EditResult:
    """Apply one edit to a prepared photo (the cheap step, per slider move).

    The edit is placed into `canvas` (a smaller copy of the photo, see `photo_canvas`) or, by
    default, into the photo at full resolution (`place_frame`).
    """
    registry = registry or default_registry()
    coeffs = target_coefficients(state, request, registry=registry)
    engine = registry.select(request.engine, state.backend, state.face_model)
    frame = engine.render_frame(state.engine_state(engine), coeffs)
    canvas = canvas or Canvas(
        state.image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight()
    )
    return EditResult(frame.crop, place_frame(canvas, frame), coeffs, engine.name)


def place_frame(canvas: Canvas, frame: RenderedFrame) -> np.ndarray:
    """The rendered frame in the photo (or canvas) at its own resolution, without ghosts.

    A frame that moved the photo's pixels (the geometric renderer) moves the canvas's own pixels
    along the same flow, so untouched texture keeps the photo's sharpness and no feature appears
    twice; painted content (an opened mouth, closed lids) is laid over it. A crop painted by a
    network replaces the photo where it differs from the photo's own crop, feathered.
    """
    if frame.flow is not None:
        flow = frame.flow if canvas.still is None else frame.flow * canvas.still[:, :, None]
        back_flow = frame.back_flow  # the layer behind (the neck under a turned jaw) is held alike
        if back_flow is not None and canvas.still is not None:
            back_flow = back_flow * canvas.still[:, :, None]
        overlay = frame.overlay
        if frame.finer is not None and 1.0 / canvas.transform.scale >= frame.finer[0]:
            overlay = frame.finer[1]()  # each crop pixel covers several of the canvas's
        image = warp_photo(
            canvas.image,
            flow,
            canvas.transform,
            overlay=overlay,
            overlay_alpha=frame.overlay_alpha,
            hidden=frame.hidden,
            back_flow=back_flow,
            front_alpha=frame.front_alpha,
            paint_blur=canvas.paint_blur,
        )
        if frame.squeezed is not None:  # a chin squeezed under an opened mouth: smoothed across its lines
            lay_squeezed(image, canvas.transform, frame.squeezed)
        if frame.skin is not None and frame.hidden is not None:  # painted lids: the photo's texture
            lay_skin_texture(image, canvas.image, canvas.transform, frame.skin, frame.hidden)
        band = frame.magnified() if frame.magnified is not None and not canvas.quick else None
        if band is not None:  # a turn's magnified rim: its outline and fine detail unmagnified
            lay_rim_texture(image, canvas.image, canvas.transform, flow, band)
        return image
    source = crop_face(canvas.image, canvas.transform)
    return paste_back(
        canvas.image, frame.crop, canvas.transform, mask=changed_region_mask(frame.crop, source)
    )
