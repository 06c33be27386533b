"""Edit a whole video: the edit controls applied on top of every frame's own motion.

The photo editor's sliders (expression, gaze, head pose; `reconstruction.controls.CONTROL_SPECS`)
change one photo; here they change a clip. The reconstruction backend tracks the face through
the clip once (`analyze_video`: one stable crop for all frames, per-frame coefficients), then each
frame is treated as a photo of its own: its crop and coefficients are the source, the target is
the same coefficients with the slider offsets added (`ControlSet.apply`, as `target_coefficients`
does for a photo), the engine renders it and `place_frame` puts it into that frame (as for a
photo: the geometric renderer's flow moves the frame's own pixels at output resolution). The face
keeps its own motion (speech, blinks, head turns) and gains the edit (a smile, a turn...). The
sound track is kept; the limits are those of reenactment (seconds, output size).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.coefficients import FaceCoefficients
from core.errors import InputError, MediaReadError
from pipeline.engines import EngineRegistry, check_engine_choice, default_registry
from pipeline.media import Provenance, write_video
from pipeline.photo import Canvas, EditRequest, SourceState, photo_canvas, place_frame
from pipeline.progress import Progress, Reporter
from pipeline.renderer import Renderer
from pipeline.video import DEFAULT_MAX_VIDEO_SIDE, check_positive, default_output
from reconstruction.controls import control_set_for
from reconstruction.crop import CropTransform
from reconstruction.video import VideoReader

__all__ = ["VideoEditOptions", "edit_video"]

log = logging.getLogger(__name__)

VideoInput = str | os.PathLike[str] | Sequence[np.ndarray] | np.ndarray


@dataclass(frozen=True)
class VideoEditOptions:
    """How a video is edited (the slider values themselves are passed to `edit_video`).

    engine: "preview" (the geometric renderer, the default: fast, no weights), "neural" or "auto"
    (as in `EditRequest`; a neural engine prepares every frame anew, so it is much slower).
    backend: reconstruction backend. face_index: which
    face of the first frame is followed (0 = largest). max_seconds: how much of the video is used
    (None: all, up to the backend's limit). max_side: longest side of the output, pixels.
    fps: frame rate of frames given as arrays (a file keeps its own).
    """

    engine: str = "preview"
    backend: str = "default"
    face_index: int = 0
    max_seconds: float | None = 10.0
    max_side: int = DEFAULT_MAX_VIDEO_SIDE
    fps: float = 25.0

    def __post_init__(self) -> None:
        check_engine_choice(self.engine)
        if self.face_index < 0:
            raise InputError(f"face_index must be >= 0, got {self.face_index}")
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise InputError(f"max_seconds must be positive or None, got {self.max_seconds}")
        check_positive("max_side", self.max_side)
        if not (math.isfinite(self.fps) and 0 < self.fps <= 240):
            raise InputError(f"fps must be in (0, 240], got {self.fps}")


@dataclass(frozen=True, eq=False)
class _FramePhoto:
    """One video frame seen as an analysed photo (what `SourceState` and `photo_canvas` read)."""

    image: np.ndarray
    crop: np.ndarray
    coefficients: FaceCoefficients
    crop_transform: CropTransform
    detection: Any = None


def _is_path(video: Any) -> bool:
    return isinstance(video, (str, Path)) or hasattr(video, "__fspath__")


def _frame_source(video: VideoInput, options: VideoEditOptions, backend: Any) -> Any:
    """What the backend analyses and what is read again for the frames: a `VideoReader` (a file is
    decoded twice, never held in memory whole) or the frames themselves."""
    if _is_path(video):
        limit = getattr(backend, "max_video_seconds", None)
        return VideoReader(video, max_seconds=options.max_seconds, max_duration=limit)
    if isinstance(video, np.ndarray) or (isinstance(video, Sequence) and not isinstance(video, (str, bytes))):
        frames = list(video)
        if options.max_seconds is not None:
            frames = frames[: max(1, round(options.max_seconds * options.fps))]
        return frames
    raise InputError(f"the video must be a file path or a list of RGB frames, got {type(video).__name__}")


def _edited_frames(
    frames: Iterable[np.ndarray],
    analysis: Any,
    engine: Renderer,
    request: EditRequest,
    apply: Any,
    options: VideoEditOptions,
    progress: Any,
) -> Iterator[np.ndarray]:
    """Yield each frame at output size with its face edited (its own motion plus the sliders)."""
    motion, total = analysis.motion, analysis.num_frames
    count = 0
    for i, frame in enumerate(frames):
        if i >= total:
            break
        coeffs = motion.frame(i)
        photo = _FramePhoto(frame, analysis.crops[i], coeffs, analysis.crop_transform)
        target = apply(coeffs, request.values)
        rendered = engine.render_frame(engine.prepare(photo.crop, coeffs), target)
        canvas: Canvas = photo_canvas(
            SourceState(photo, options.backend), options.max_side, even=True, quick=True
        )
        yield place_frame(canvas, rendered)
        count += 1
        progress(count, total)
    if count != total:
        raise MediaReadError(
            f"The video gave {total} frames when analysed but {count} when read again; re-encode it with ffmpeg."
        )


def edit_video(
    video: VideoInput,
    values: Mapping[str, float],
    options: VideoEditOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    registry: EngineRegistry | None = None,
) -> Path:
    """Apply the edit controls to every frame of a video; returns the mp4 (with the video's sound).

    Args:
        video: a video file, or (H, W, 3) uint8 RGB frames at `options.fps`.
        values: control name -> value in the units of `CONTROL_SPECS` (e.g. {"smile": 0.6,
            "yaw": 10}); absent controls leave that part of the motion as it is.
        options: `VideoEditOptions` (engine, backend, face, limits).
        output: the mp4 to write (None: a new temporary file).
        progress, cancel: progress reports and cancellation (checked every frame; nothing is
            written when cancelled).

    Every frame keeps its own expression and head pose (from the backend's tracking) and the
    slider offsets are added on top. Raises NoFaceError when the face is missing in most frames,
    MediaReadError for an unreadable or too long clip, InputError for unknown controls.
    """
    options = options or VideoEditOptions()
    registry = registry or default_registry()
    request = EditRequest(values, engine=options.engine)
    reporter = Reporter(progress, cancel)
    reporter.report(0.0, "analysing the video")
    backend = registry.backend(options.backend)
    controls = control_set_for(backend.model)
    controls.expression_offset(request.values)  # unknown or out-of-range controls fail before any work
    source = _frame_source(video, options, backend)
    analysis = backend.analyze_video(
        source,
        fps=None if _is_path(video) else options.fps,
        progress=reporter.phase(0.0, 0.4, "analysing the video"),
        face_index=options.face_index,
    )
    reporter.check()
    engine = registry.select(options.engine, options.backend, analysis.motion.face_model)
    out = Path(output) if output is not None else default_output("edit-video.mp4")
    details = {**request.details(), "frames": str(analysis.num_frames)}
    provenance = Provenance("edit-video", engine.name, analysis.motion.face_model, details)
    log.info("edit-video: %d frames at %g fps with %s", analysis.num_frames, analysis.fps, engine.name)
    frames = _edited_frames(
        source,
        analysis,
        engine,
        request,
        controls.apply,
        options,
        reporter.frames(0.4, 0.98, "editing frame"),
    )
    audio = video if _is_path(video) else None
    write_video(frames, out, analysis.fps, provenance=provenance, audio_path=audio)
    reporter.report(1.0, "done")
    return out
