"""Videos of a photo (paper section 4.2, motion imitation; and the edit tab's morph clip).

`make_clip` moves the photo smoothly from its own look to an edit; `reenact` makes it imitate
the face of a driving video (with that video's sound). Both render a motion with the engine the
request chooses, paste every frame back into the photo at video size and write an mp4 labelled
as synthesized. The audio-driven case (`pipeline.audio.animate`) ends in the same writer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.coefficients import MotionSequence
from core.errors import InputError
from pipeline.engines import EngineRegistry, check_engine_choice, default_registry
from pipeline.eyes import STRAIGHT_AHEAD, gaze_from_landmarks
from pipeline.media import Provenance, write_video
from pipeline.photo import (
    EditRequest,
    SourceState,
    photo_canvas,
    place_frame,
    prepared_for,
    target_coefficients,
)
from pipeline.progress import Progress, Reporter
from pipeline.renderer import Renderer
from pipeline.side_view import hold_motion
from reconstruction.controls import interpolate
from reconstruction.motion import (
    TRANSFER_PARTS,
    SmoothingSettings,
    fill_missing_frames,
    relative_motion,
    smooth_motion,
)

__all__ = [
    "DEFAULT_MAX_VIDEO_SIDE",
    "PartsChoice",
    "REENACT_PARTS",
    "reenact_parts",
    "with_driving_gaze",
    "ReenactOptions",
    "make_clip",
    "reenact",
    "render_to_video",
    "default_output",
    "check_positive",
]

log = logging.getLogger(__name__)

#: Longest side of written videos, pixels (a 12 MP photo would make an unplayable, slow clip).
DEFAULT_MAX_VIDEO_SIDE = 1280


def check_positive(name: str, value: int) -> None:
    """InputError unless `value` is an integer >= 1."""
    if int(value) < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")


@dataclass(frozen=True)
class PartsChoice:
    """One answer to "what does the driving video move?", as the CLI and the web UI offer it.

    name: the command-line value (`pirender reenact --parts NAME`) and the web UI's radio value;
    label: what the web UI shows; parts: the `reconstruction.motion.TRANSFER_PARTS` it means;
    description: one line for help texts.
    """

    name: str
    label: str
    parts: tuple[str, ...]
    description: str


#: The one table of reenactment choices (exclusive: one is picked), in the order they are shown.
#: "everything" is all the driving video can move: its expression, head pose (angles and
#: position) and gaze. The gaze is not part of "expression" (the face model has no eyeballs):
#: it travels with "everything" and "eyes" only.
REENACT_PARTS: tuple[PartsChoice, ...] = (
    PartsChoice("everything", "Everything", ("all",), "all the driving face's motion (expression, head pose and gaze)"),
    PartsChoice("expression+pose", "Expression + pose", ("expression", "pose"), "expression and head pose; the eyes keep the photo's gaze"),
    PartsChoice("expression", "Expression only", ("expression",), "the expression; the head keeps the photo's pose, the eyes its gaze"),
    PartsChoice("pose", "Pose only", ("pose",), "head turn and position; the face keeps the photo's expression"),
    PartsChoice("mouth", "Mouth only", ("mouth",), "only the lips and jaw (lip sync); the rest stays as in the photo"),
    PartsChoice("eyes", "Eyes only", ("eyes",), "only the eyes and lids (blinks, gaze); the rest stays as in the photo"),
)  # fmt: skip
_PARTS_BY_NAME = {choice.name: choice for choice in REENACT_PARTS}


def reenact_parts(name: str) -> tuple[str, ...]:
    """The `TRANSFER_PARTS` of reenactment choice `name` (see `REENACT_PARTS`); InputError for others."""
    choice = _PARTS_BY_NAME.get(name)
    if choice is None:
        raise InputError(f"parts must be one of {', '.join(_PARTS_BY_NAME)}; got {name!r}")
    return choice.parts


@dataclass(frozen=True)
class ReenactOptions:
    """How a driving video moves the photo.

    mode: "relative" (the driving face's changes from its first frame are added to the photo's own
        pose/expression: the photo keeps its head pose and look) or "absolute" (the driving expression
        and angles are copied). parts: what the video drives: the name of a `REENACT_PARTS` choice
        ("everything", "expression+pose", "expression", "pose", "mouth", "eyes"), or a tuple of
        `reconstruction.motion.TRANSFER_PARTS` ("expression", "pose", "mouth", "eyes", "all"). smoothing: strength of the temporal smoothing
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
        if isinstance(self.parts, str):
            parts = reenact_parts(self.parts) if self.parts in _PARTS_BY_NAME else (self.parts,)
        else:
            parts = tuple(self.parts)
        bad = [p for p in parts if p not in TRANSFER_PARTS]
        if bad or not parts:
            raise InputError(
                f"parts must be a non-empty choice of {', '.join(TRANSFER_PARTS)}; got {list(parts)}"
            )
        object.__setattr__(self, "parts", parts)
        check_engine_choice(self.engine)
        if not (math.isfinite(self.smoothing) and self.smoothing >= 0):
            raise InputError(f"smoothing must be a strength >= 0, got {self.smoothing}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise InputError(f"max_seconds must be positive or None, got {self.max_seconds}")
        check_positive("batch_size", self.batch_size)
        check_positive("max_side", self.max_side)


def default_output(name: str) -> Path:
    """A fresh path in a new temporary folder (for the web UI's downloads); the file is not created."""
    return Path(tempfile.mkdtemp(prefix="pirender-")) / name


def render_to_video(
    state: SourceState,
    engine: Renderer,
    motion: MotionSequence,
    path: Path,
    provenance: Provenance,
    reporter: Reporter,
    span: tuple[float, float],
    size: tuple[int, int],
    *,
    audio_path: str | os.PathLike[str] | None = None,
    audio_has_sound: bool | None = None,
) -> Path:
    """Render `motion`, paste every frame back into the photo at video size and encode it.

    span: the part [start, end] of the call's progress the rendering takes; size: (batch size,
    longest side of the video in pixels). Cancellation is checked per render batch. Pasting into a
    photo already at the output size keeps the per-frame cost independent of the photo's
    resolution. `audio_has_sound`: see `write_video`.
    """
    batch_size, max_side = size
    rendered = engine.render_frames(
        state.engine_state(engine),
        motion,
        batch_size=batch_size,
        progress=reporter.frames(span[0], span[1], "rendering frame"),
    )
    canvas = photo_canvas(state, max_side, even=True, quick=True)  # frames at video rate

    def frames() -> Iterator[np.ndarray]:
        for frame in rendered:
            yield place_frame(canvas, frame)

    write_video(
        frames(),
        path,
        motion.fps,
        provenance=provenance,
        audio_path=audio_path,
        audio_has_sound=audio_has_sound,
    )
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
    registry = registry or default_registry()
    if not (math.isfinite(seconds) and 0 < seconds <= 30):
        raise InputError(f"seconds must be in (0, 30], got {seconds}")
    if not (math.isfinite(fps) and 0 < fps <= 60):
        raise InputError(f"fps must be in (0, 60], got {fps}")
    reporter = Reporter(progress, cancel)
    reporter.report(0.0, "preparing")
    coeffs = target_coefficients(state, request, registry=registry)
    motion = interpolate(state.coefficients, coeffs, max(2, round(seconds * fps)), fps)
    engine = registry.select(request.engine, state.backend, state.face_model)
    out = Path(path) if path is not None else default_output("edit.mp4")
    provenance = Provenance("edit-clip", engine.name, state.face_model, request.details())
    span, size = (0.02, 0.97), (4, max_side)
    return render_to_video(state, engine, motion, out, provenance, reporter, span, size)


def _smooth(motion: MotionSequence, strength: float) -> MotionSequence:
    """Savitzky-Golay smoothing of the driving motion; `strength` scales the default windows (0: off)."""
    if strength <= 0 or len(motion) < 3:
        return motion
    base = SmoothingSettings()
    settings = SmoothingSettings(
        pose_window=base.pose_window * strength,
        pose_order=base.pose_order,
        expression_window=base.expression_window * strength,
        expression_order=base.expression_order,
    )
    return smooth_motion(motion, settings)


def with_driving_gaze(motion: MotionSequence, crop_landmarks: np.ndarray) -> MotionSequence:
    """`motion` with the gaze read from its (T, 478, 3) landmarks (the ones the backend tracked,
    NaN where the face was missing): frames without a face or with both eyes closed (a blink)
    take the gaze interpolated from their neighbours. Unchanged when no frame shows an open eye."""
    gaze = gaze_from_landmarks(crop_landmarks)  # (T, 2), NaN where unknown
    found = np.isfinite(gaze).all(axis=1)
    if gaze.shape[0] != len(motion) or not found.any():
        return motion
    return dataclasses.replace(motion, gaze=fill_missing_frames(gaze, found))


def _photo_gaze(state: SourceState) -> np.ndarray:
    """(2,) the photo's own gaze, measured like the driving video's; straight ahead when its eyes
    are shut (the eye painted for them looks ahead)."""
    landmarks = getattr(state.analysis, "crop_landmarks", None)
    gaze = np.full(2, np.nan) if landmarks is None else gaze_from_landmarks(landmarks)
    return gaze if np.all(np.isfinite(gaze)) else np.array(STRAIGHT_AHEAD)


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
    (see `reconstruction.video.relative_motion`). The sound track of the driving video, cut to the
    frames used, is muxed in.
    """
    options = options or ReenactOptions()
    registry = registry or default_registry()
    reporter = Reporter(progress, cancel)
    reporter.report(0.0, "analysing the photo")
    state = prepared_for(photo, options.backend, registry)
    reporter.report(0.05, "analysing the driving video")
    backend = registry.backend(options.backend)
    driving = backend.analyze_video(
        driving_video,
        max_seconds=options.max_seconds,
        progress=reporter.phase(0.05, 0.45, "analysing the driving video"),
    )
    reporter.check()
    driving_motion = with_driving_gaze(driving.raw_motion or driving.motion, driving.crop_landmarks)
    motion = relative_motion(
        state.coefficients,
        _smooth(driving_motion, options.smoothing),
        parts=options.parts,
        mode=options.mode,
        face_model=backend.model,
        source_gaze=_photo_gaze(state),
    )
    motion = hold_motion(motion, state.coefficients)
    engine = registry.select(options.engine, state.backend, state.face_model)
    out = Path(output) if output is not None else default_output("reenact.mp4")
    audio = driving_video if isinstance(driving_video, (str, os.PathLike)) else None
    details = {"mode": options.mode, "parts": "+".join(options.parts), "frames": str(len(motion))}
    provenance = Provenance("reenact", engine.name, state.face_model, details)
    log.info("reenact: %d frames at %g fps with %s", len(motion), motion.fps, engine.name)
    span, size = (0.45, 0.98), (options.batch_size, options.max_side)
    return render_to_video(state, engine, motion, out, provenance, reporter, span, size, audio_path=audio)
