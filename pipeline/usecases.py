"""The product's use cases (paper section 4 applications: portrait editing, motion imitation, audio-driven animation).

The web UI and the CLI call only this module. The expensive step is separated from the cheap one:
`prepare_photo` detects the face, crops it and fits its coefficients once per photo (a
`SourceState`, which belongs to the user's session); `edit(state, EditRequest)` then runs per
slider move. `make_clip`, `reenact` and `animate` turn motion into mp4 files.

Every long call takes `progress(fraction, message)` (fraction in [0, 1]) and `cancel` (a
`threading.Event`, checked between render batches: setting it raises `Cancelled`). Shared
objects (the engine registry, the models) hold no per-request state; everything a request needs
is passed in.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline.engines import ENGINE_CHOICES, Engine, EngineRegistry, default_registry
from core.errors import FaceModelMismatchError, InputError, PIRenderError, WeightsNotFoundError
from pipeline.media import Provenance, even_frame_size, write_video
from core.coefficients import FaceCoefficients, MotionSequence

__all__ = [
    "Progress",
    "Cancelled",
    "AudioModelNotInstalledError",
    "SourceState",
    "EditRequest",
    "EditResult",
    "ReenactOptions",
    "AnimateOptions",
    "prepare_photo",
    "edit",
    "make_clip",
    "reenact",
    "animate",
    "audio_model_dir",
    "request_from_preset",
    "target_coefficients",
]

log = logging.getLogger(__name__)

#: progress(fraction in [0, 1], message)
Progress = Callable[[float, str], None]
PasteMode = Literal["residual", "replace"]

#: Longest side of written videos, pixels (a 12 MP photo would make an unplayable, slow clip).
DEFAULT_MAX_VIDEO_SIDE = 1280


class Cancelled(PIRenderError):
    """The user cancelled a long operation; no output file was written."""


class AudioModelNotInstalledError(WeightsNotFoundError):
    """`animate` needs a trained audio-to-motion model and none is installed."""


# ------------------------------------------------------------------------------------------------
# Requests and results
# ------------------------------------------------------------------------------------------------


@dataclass
class SourceState:
    """One analysed photo (the expensive step, done once): belongs to one user's session.

    analysis: the backend's `PhotoAnalysis` (full image, detection, crop transform, 256x256 crop,
    coefficients). Engine states (per-photo renderer work) are created lazily by `engine_state`.
    """

    analysis: Any
    backend: str
    _engine_states: dict[str, tuple[Engine, Any]] = field(default_factory=dict, repr=False)
    _controls: Any = field(default=None, repr=False)

    @property
    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the photo at full resolution."""
        return self.analysis.image

    @property
    def crop(self) -> np.ndarray:
        """(256, 256, 3) uint8 RGB: the renderer crop."""
        return self.analysis.crop

    @property
    def coefficients(self) -> FaceCoefficients:
        """The photo's own coefficients (what zero controls reproduce)."""
        return self.analysis.coefficients

    @property
    def crop_transform(self) -> Any:
        return self.analysis.crop_transform

    @property
    def face_model(self) -> str:
        return self.analysis.coefficients.face_model

    @property
    def num_faces(self) -> int:
        detection = self.analysis.detection
        return int(getattr(detection, "num_faces", 1))

    def engine_state(self, engine: Engine) -> Any:
        """The state of `engine` for this photo, prepared on first use (and again after a registry reload)."""
        cached = self._engine_states.get(engine.name)
        if cached is not None and cached[0] is engine:
            return cached[1]
        state = engine.prepare(self.crop, self.coefficients)
        self._engine_states[engine.name] = (engine, state)
        return state


@dataclass(frozen=True)
class EditRequest:
    """One edit of a prepared photo (what the sliders say).

    values: control name -> value, in the units of `reconstruction.controls.CONTROL_SPECS`
        (absent controls stay at their defaults).
    raw_expression_offset: (E,) added to the expression coefficients (advanced editing), or None.
    engine: "preview" (geometric, instant), "neural" (the paper's renderer) or "auto" (neural when
        one is installed for this photo's face model).
    paste: how the edited crop goes back into the photo: "residual" adds only the change, so
        untouched pixels keep the photo's full resolution; "replace" puts the rendered crop in.
    """

    values: Mapping[str, float] = field(default_factory=dict)
    raw_expression_offset: np.ndarray | None = None
    engine: str = "auto"
    paste: PasteMode = "residual"

    def __post_init__(self) -> None:
        if self.engine not in ENGINE_CHOICES:
            raise InputError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, got {self.engine!r}")
        if self.paste not in ("residual", "replace"):
            raise InputError(f"paste must be 'residual' or 'replace', got {self.paste!r}")
        values: dict[str, float] = {}
        for name, value in dict(self.values).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"control '{name}' must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise InputError(f"control '{name}' must be finite, got {value!r}")
            values[str(name)] = number
        object.__setattr__(self, "values", values)
        if self.raw_expression_offset is not None:
            offset = np.asarray(self.raw_expression_offset, dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(offset)):
                raise InputError("raw_expression_offset contains NaN or infinite values")
            object.__setattr__(self, "raw_expression_offset", offset)


@dataclass(frozen=True)
class EditResult:
    """crop: (256, 256, 3) uint8 edited crop; full_image: (H, W, 3) uint8 photo with the crop pasted back;
    coeffs: the target coefficients; engine_used: name of the engine that rendered it."""

    crop: np.ndarray
    full_image: np.ndarray
    coeffs: FaceCoefficients
    engine_used: str


@dataclass(frozen=True)
class ReenactOptions:
    """How a driving video moves the photo.

    mode: "relative" (the driving face's changes from its first frame are added to the photo's own
        pose/expression: the photo keeps its head pose and look) or "absolute" (the driving expression
        and angles are copied). parts: what the video drives, from `reconstruction.motion.TRANSFER_PARTS`
        ("expression", "pose", "mouth", "eyes", "all"). smoothing: strength of the temporal smoothing
        of the driving motion (1 = the default windows of `SmoothingSettings`, 0 = none). engine: as in
        `EditRequest`. max_seconds: how much of the driving video is used. backend: reconstruction
        backend for photo and video.
    """

    mode: Literal["relative", "absolute"] = "relative"
    parts: tuple[str, ...] = ("expression", "pose")
    smoothing: float = 1.0
    engine: str = "auto"
    max_seconds: float | None = 10.0
    backend: str = "default"
    batch_size: int = 4
    max_side: int = DEFAULT_MAX_VIDEO_SIDE

    def __post_init__(self) -> None:
        if self.mode not in ("relative", "absolute"):
            raise InputError(f"mode must be 'relative' or 'absolute', got {self.mode!r}")
        parts = (self.parts,) if isinstance(self.parts, str) else tuple(self.parts)
        known = ("expression", "pose", "mouth", "eyes", "all")
        bad = [p for p in parts if p not in known]
        if bad or not parts:
            raise InputError(f"parts must be a non-empty choice of {', '.join(known)}; got {list(parts)}")
        object.__setattr__(self, "parts", parts)
        if self.engine not in ENGINE_CHOICES:
            raise InputError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, got {self.engine!r}")
        if not (math.isfinite(self.smoothing) and self.smoothing >= 0):
            raise InputError(f"smoothing must be a strength >= 0, got {self.smoothing}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise InputError(f"max_seconds must be positive or None, got {self.max_seconds}")
        _check_positive("batch_size", self.batch_size)
        _check_positive("max_side", self.max_side)


@dataclass(frozen=True)
class AnimateOptions:
    """How speech animates the photo (paper section 3.3).

    seed: noise seed of the first variant (variant i uses seed + i); temperature: noise scale (0:
    the most likely motion); expression_strength / pose_strength: scale of the generated change
    (0 = still); variants: how many clips to make; fps: frame rate; engine, backend: as elsewhere;
    model_dir: the audio-to-motion model (None: the installed one, see `audio_model_dir`);
    max_seconds: longest audio accepted.
    """

    seed: int = 0
    temperature: float = 0.7
    expression_strength: float = 1.0
    pose_strength: float = 1.0
    variants: int = 1
    fps: float = 25.0
    engine: str = "auto"
    backend: str = "default"
    model_dir: str | None = None
    max_seconds: float = 60.0
    batch_size: int = 4
    max_side: int = DEFAULT_MAX_VIDEO_SIDE

    def __post_init__(self) -> None:
        for name in ("temperature", "expression_strength", "pose_strength"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {value}")
        if not 1 <= int(self.variants) <= 16:
            raise InputError(f"variants must be between 1 and 16, got {self.variants}")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 60):
            raise InputError(f"fps must be in (0, 60], got {self.fps}")
        if self.engine not in ENGINE_CHOICES:
            raise InputError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, got {self.engine!r}")
        _check_positive("batch_size", self.batch_size)
        _check_positive("max_side", self.max_side)


def _check_positive(name: str, value: int) -> None:
    if int(value) < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")


# ------------------------------------------------------------------------------------------------
# Progress and cancellation
# ------------------------------------------------------------------------------------------------


class _Reporter:
    """Maps the progress of one phase onto [start, end] of the whole call and checks `cancel`."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None) -> None:
        self.progress = progress
        self.cancel = cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Cancelled by the user; no file was written.")

    def report(self, fraction: float, message: str) -> None:
        self.check()
        if self.progress is not None:
            self.progress(float(min(max(fraction, 0.0), 1.0)), message)

    def frames(self, start: float, end: float, message: str) -> Callable[[int, int], None]:
        """A `(done, total)` callback for a render phase spanning [start, end]."""

        def callback(done: int, total: int) -> None:
            self.report(start + (end - start) * done / max(total, 1), f"{message} {done}/{total}")

        return callback

    def phase(self, start: float, end: float, message: str) -> Callable[..., None]:
        """A callback for another package's progress: accepts (done, total), (fraction,) or (fraction, text)."""

        def callback(*args: Any) -> None:
            fraction = 0.0
            if len(args) >= 2 and all(isinstance(a, (int, float)) for a in args[:2]):
                fraction = float(args[0]) / max(float(args[1]), 1e-9)
            elif args and isinstance(args[0], (int, float)):
                fraction = float(args[0])
            self.report(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

        return callback


# ------------------------------------------------------------------------------------------------
# Photo editing
# ------------------------------------------------------------------------------------------------


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
    from reconstruction.images import load_image

    registry = registry or default_registry()
    if isinstance(image_or_path, SourceState):
        return image_or_path
    if face_index < 0:
        raise InputError(f"face_index must be >= 0, got {face_index}")
    image = load_image(image_or_path)
    analysis = registry.backend(backend).analyze_photo(image, face_index=face_index)
    log.info(
        "photo prepared: %dx%d, face %d, backend %s (%s)",
        image.shape[1],
        image.shape[0],
        face_index,
        backend,
        analysis.coefficients.face_model,
    )
    return SourceState(analysis, getattr(analysis, "backend", "") or str(backend).lower())


def _state_for(photo: Any, backend: str, registry: EngineRegistry) -> SourceState:
    """A prepared photo for `backend`: `photo` itself when it is a SourceState of that backend."""
    if isinstance(photo, SourceState) and photo.backend != backend:
        raise InputError(
            f"the photo was prepared with backend '{photo.backend}' but '{backend}' was asked for"
        )
    return prepare_photo(photo, backend, registry=registry)


def _controls(state: SourceState, registry: EngineRegistry) -> Any:
    if state._controls is None:
        from reconstruction.controls import control_set_for

        state._controls = control_set_for(registry.backend(state.backend).model)
    return state._controls


def target_coefficients(
    state: SourceState, request: EditRequest, *, registry: EngineRegistry | None = None
) -> FaceCoefficients:
    """The coefficients an edit request asks for (the photo's own, changed by the controls)."""
    registry = registry or default_registry()
    return _controls(state, registry).apply(
        state.coefficients, request.values, raw_expression_offset=request.raw_expression_offset
    )


def request_from_preset(
    preset: str, overrides: Mapping[str, float] | None = None, **kwargs: Any
) -> EditRequest:
    """An EditRequest with the values of preset `preset` (reconstruction.controls.PRESETS), then `overrides`."""
    from reconstruction.controls import PRESETS

    if preset not in PRESETS:
        raise InputError(f"unknown preset '{preset}'; choose one of {', '.join(sorted(PRESETS))}")
    entry = PRESETS[preset]
    values = dict(entry if isinstance(entry, Mapping) else getattr(entry, "values", {}))
    values.update(overrides or {})
    return EditRequest(values=values, **kwargs)


def _paste(state: SourceState, crop: np.ndarray, mode: PasteMode) -> np.ndarray:
    from reconstruction.crop import paste_back

    return paste_back(state.image, crop, state.crop_transform, mode=mode)


def _video_canvas(state: SourceState, max_side: int) -> tuple[np.ndarray, Any]:
    """The photo at video size ((H, W) even, longer side <= max_side) and its crop transform.

    Pasting each frame into a photo already at the output size keeps the per-frame cost
    independent of the photo's resolution (a 12 MP photo would otherwise be copied per frame).
    """
    import cv2

    from reconstruction.crop import CropTransform

    image = state.image
    h, w = image.shape[:2]
    out_h, out_w = even_frame_size(h, w, max_side)
    if (out_h, out_w) == (h, w):
        return image, state.crop_transform
    small = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
    sx, sy = out_w / w, out_h / h
    # resized pixel u <-> original pixel (u + 0.5) / s - 0.5 (pixel centres, as cv2.resize maps them)
    to_original = np.array([[1 / sx, 0.0, 0.5 / sx - 0.5], [0.0, 1 / sy, 0.5 / sy - 0.5], [0.0, 0.0, 1.0]])
    affine = state.crop_transform.matrix @ to_original
    transform = CropTransform(
        affine=tuple(map(tuple, affine.tolist())),
        crop_size=state.crop_transform.crop_size,
        original_size=(out_h, out_w),
    )
    return small, transform


def edit(state: SourceState, request: EditRequest, *, registry: EngineRegistry | None = None) -> EditResult:
    """Apply one edit to a prepared photo (the cheap step, per slider move)."""
    registry = registry or default_registry()
    coeffs = target_coefficients(state, request, registry=registry)
    engine = registry.select(request.engine, state.backend, state.face_model)
    crop = engine.render(state.engine_state(engine), coeffs)
    return EditResult(crop, _paste(state, crop, request.paste), coeffs, engine.name)


def _default_output(name: str) -> Path:
    """A fresh path in a new temporary folder (for the web UI's downloads); the file is not created."""
    return Path(tempfile.mkdtemp(prefix="pirender-")) / name


def _edit_details(request: EditRequest) -> dict[str, str]:
    details = {k: f"{v:g}" for k, v in sorted(request.values.items())}
    if request.raw_expression_offset is not None:
        details["raw_expression_offset"] = "yes"
    return details


def _render_to_video(
    state: SourceState,
    engine: Engine,
    motion: MotionSequence,
    path: Path,
    *,
    provenance: Provenance,
    reporter: _Reporter,
    span: tuple[float, float],
    paste: PasteMode,
    batch_size: int,
    max_side: int,
    audio_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Render `motion`, paste every frame back into the photo and encode it (cancel checked per batch)."""
    from reconstruction.crop import paste_back

    estate = state.engine_state(engine)
    crops = engine.render_sequence(
        estate, motion, batch_size=batch_size, progress=reporter.frames(span[0], span[1], "rendering frame")
    )
    canvas, transform = _video_canvas(state, max_side)

    def frames() -> Iterator[np.ndarray]:
        for crop in crops:
            yield paste_back(canvas, crop, transform, mode=paste)

    write_video(frames(), path, motion.fps, provenance=provenance, audio_path=audio_path)
    reporter.report(1.0, "done")
    return path


def make_clip(
    state: SourceState,
    request: EditRequest,
    seconds: float = 2.0,
    fps: float = 25.0,
    path: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    registry: EngineRegistry | None = None,
    max_side: int = DEFAULT_MAX_VIDEO_SIDE,
) -> Path:
    """An mp4 of the photo moving smoothly from its own look to the edit (at most 30 s)."""
    from reconstruction.controls import interpolate

    registry = registry or default_registry()
    if not (math.isfinite(seconds) and 0 < seconds <= 30):
        raise InputError(f"seconds must be in (0, 30], got {seconds}")
    if not (math.isfinite(fps) and 0 < fps <= 60):
        raise InputError(f"fps must be in (0, 60], got {fps}")
    reporter = _Reporter(progress, cancel)
    reporter.report(0.0, "preparing")
    coeffs = target_coefficients(state, request, registry=registry)
    motion = interpolate(state.coefficients, coeffs, max(2, round(seconds * fps)), fps)
    engine = registry.select(request.engine, state.backend, state.face_model)
    out = Path(path) if path is not None else _default_output("edit.mp4")
    provenance = Provenance("edit-clip", engine.name, state.face_model, _edit_details(request))
    return _render_to_video(
        state,
        engine,
        motion,
        out,
        provenance=provenance,
        reporter=reporter,
        span=(0.02, 0.97),
        paste=request.paste,
        batch_size=4,
        max_side=max_side,
    )


# ------------------------------------------------------------------------------------------------
# Reenactment (motion imitation)
# ------------------------------------------------------------------------------------------------


def _smooth(motion: MotionSequence, strength: float) -> MotionSequence:
    """Savitzky-Golay smoothing of the driving motion; `strength` scales the default windows (0: off)."""
    if strength <= 0 or len(motion) < 3:
        return motion
    from reconstruction.motion import SmoothingSettings, smooth_motion

    base = SmoothingSettings()
    settings = SmoothingSettings(
        pose_window=base.pose_window * strength,
        pose_order=base.pose_order,
        expression_window=base.expression_window * strength,
        expression_order=base.expression_order,
    )
    return smooth_motion(motion, settings)


def reenact(
    photo: Any,
    driving_video: str | os.PathLike[str] | Sequence[np.ndarray],
    options: ReenactOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    registry: EngineRegistry | None = None,
) -> Path:
    """Make the photo imitate the face in a driving video; returns an mp4 with the video's sound.

    `photo` is anything `prepare_photo` reads, or a `SourceState` already prepared with
    `options.backend`. The photo keeps its own identity, crop framing and translation baseline
    (see `reconstruction.motion.relative_motion`). The sound track of the driving video, cut to the
    frames used, is muxed in.
    """
    from reconstruction.motion import relative_motion

    options = options or ReenactOptions()
    registry = registry or default_registry()
    reporter = _Reporter(progress, cancel)
    reporter.report(0.0, "analysing the photo")
    state = _state_for(photo, options.backend, registry)
    reporter.report(0.05, "analysing the driving video")
    driving = registry.backend(options.backend).analyze_video(
        driving_video,
        max_seconds=options.max_seconds,
        progress=reporter.phase(0.05, 0.45, "analysing the driving video"),
    )
    reporter.check()
    motion = relative_motion(
        state.coefficients,
        _smooth(driving.raw_motion or driving.motion, options.smoothing),
        parts=options.parts,
        mode=options.mode,
        face_model=registry.backend(options.backend).model,
    )
    engine = registry.select(options.engine, state.backend, state.face_model)
    out = Path(output) if output is not None else _default_output("reenact.mp4")
    audio = driving_video if isinstance(driving_video, (str, os.PathLike)) else None
    details = {"mode": options.mode, "parts": "+".join(options.parts), "frames": str(len(motion))}
    provenance = Provenance("reenact", engine.name, state.face_model, details)
    log.info("reenact: %d frames at %g fps with %s", len(motion), motion.fps, engine.name)
    return _render_to_video(
        state,
        engine,
        motion,
        out,
        provenance=provenance,
        reporter=reporter,
        span=(0.45, 0.98),
        paste="replace",
        batch_size=options.batch_size,
        max_side=options.max_side,
        audio_path=audio,
    )


# ------------------------------------------------------------------------------------------------
# Audio-driven animation
# ------------------------------------------------------------------------------------------------


def _model_dirs(explicit: str | os.PathLike[str] | None) -> list[Path]:
    from weights.registry import bundled_dir, weights_dir

    if explicit is not None:
        return [Path(explicit).expanduser()]
    candidates = []
    env = os.environ.get("PIRENDER_AUDIO_MODEL")
    if env:
        candidates.append(Path(env).expanduser())
    candidates += [weights_dir() / "audio2motion", bundled_dir() / "audio2motion"]
    return candidates


def audio_model_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The installed audio-to-motion model folder (config.json + model.safetensors).

    Looked for in: `explicit`; $PIRENDER_AUDIO_MODEL; <weights dir>/audio2motion; weights/files/audio2motion.
    Raises AudioModelNotInstalledError saying how to get one.
    """
    candidates = _model_dirs(explicit)
    for directory in candidates:
        if (directory / "config.json").is_file() and (directory / "model.safetensors").is_file():
            return directory
    where = ", ".join(str(c) for c in candidates)
    raise AudioModelNotInstalledError(
        "The audio-to-motion model is not installed (no config.json + model.safetensors in "
        f"{where}). Train one on talking-face clips with `python -m audio2motion.training --data-dir CLIPS "
        "--out-dir RUN` and copy RUN/best to the first of those folders (or set PIRENDER_AUDIO_MODEL). "
        "Without it, photos can be edited and reenacted from a video, but not animated from audio."
    )


def _variant_paths(output: str | os.PathLike[str] | None, variants: int) -> list[Path]:
    if output is None:
        return [_default_output(f"animate_v{i + 1}.mp4") for i in range(variants)]
    base = Path(output)
    if variants == 1:
        return [base]
    return [base.with_name(f"{base.stem}_v{i + 1}{base.suffix}") for i in range(variants)]


def animate(
    photo: Any,
    audio: str | os.PathLike[str],
    options: AnimateOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    registry: EngineRegistry | None = None,
) -> list[Path]:
    """Animate the photo with speech: one mp4 (with the audio) per variant (seeds seed, seed+1, ...).

    Raises AudioModelNotInstalledError when no audio-to-motion model is installed (checked first,
    before any other work), FaceModelMismatchError when the model was trained on another face model.
    With `variants` > 1 and `output` "out.mp4", files are "out_v1.mp4", "out_v2.mp4", ...
    """
    options = options or AnimateOptions()
    registry = registry or default_registry()
    directory = audio_model_dir(options.model_dir)
    reporter = _Reporter(progress, cancel)
    reporter.report(0.0, "loading the audio model")
    model = registry.audio_model(directory)
    reporter.report(0.03, "analysing the photo")
    state = _state_for(photo, options.backend, registry)
    model_face = model.config.face_model
    if model_face != state.face_model:
        raise FaceModelMismatchError(
            f"The audio model at {directory} generates '{model_face}' coefficients, but the photo was analysed "
            f"with backend '{state.backend}' ('{state.face_model}'). Use the backend the model was trained with."
        )
    engine = registry.select(options.engine, state.backend, state.face_model)
    paths = _variant_paths(output, int(options.variants))
    n = len(paths)
    for i, path in enumerate(paths):
        lo, hi = 0.05 + 0.95 * i / n, 0.05 + 0.95 * (i + 1) / n
        mid = lo + 0.3 * (hi - lo)
        motion = model.generate(
            state.coefficients,
            audio,
            fps=options.fps,
            seed=options.seed + i,
            temperature=options.temperature,
            expression_strength=options.expression_strength,
            pose_strength=options.pose_strength,
            progress=reporter.phase(lo, mid, f"generating motion (variant {i + 1}/{n})"),
            max_seconds=options.max_seconds,
        )
        details = {
            "seed": str(options.seed + i),
            "temperature": f"{options.temperature:g}",
            "expression_strength": f"{options.expression_strength:g}",
            "pose_strength": f"{options.pose_strength:g}",
        }
        provenance = Provenance("animate", engine.name, state.face_model, details)
        _render_to_video(
            state,
            engine,
            motion,
            path,
            provenance=provenance,
            reporter=reporter,
            span=(mid, hi),
            paste="replace",
            batch_size=options.batch_size,
            max_side=options.max_side,
            audio_path=audio,
        )
    return paths
