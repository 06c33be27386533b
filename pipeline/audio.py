"""Audio-driven animation (paper section 3.3 / 4.3): a photo speaks a recording.

The audio is decoded and turned into features once per request; each variant (seed, seed + 1,
...) then samples its own motion from those features with the installed audio-to-motion model
and is rendered into its own mp4 with the recording as sound track.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio2motion import AnimationControls, AudioToMotion, load_audio, resample_motion
from audio2motion.audio import num_video_frames
from core.coefficients import MotionSequence
from core.errors import FaceModelMismatchError, InputError, WeightsNotFoundError
from pipeline.engines import EngineRegistry, check_engine_choice, default_registry
from pipeline.media import Provenance
from pipeline.photo import SourceState, prepared_for
from pipeline.progress import Progress, Reporter
from pipeline.side_view import hold_motion
from pipeline.video import DEFAULT_MAX_VIDEO_SIDE, check_positive, default_output, render_to_video
from weights.registry import bundled_dir, weights_dir

__all__ = [
    "AnimateOptions",
    "AudioModelNotInstalledError",
    "audio_model_dir",
    "animate",
    "head_motion_from_video",
]

log = logging.getLogger(__name__)


class AudioModelNotInstalledError(WeightsNotFoundError):
    """`animate` needs a trained audio-to-motion model and none is installed."""


@dataclass(frozen=True)
class AnimateOptions:
    """How speech animates the photo.

    seed: noise seed of the first variant (variant i uses seed + i); temperature: noise scale (0:
    the most likely motion); expression_strength / pose_strength: scale of the generated change
    (0 = still), used when `controls` is None; controls: `AnimationControls` (separate strengths
    of lips, expression and head motion, still mode, blink rate, reference head motion from
    `head_motion_from_video`), None: from the two strengths; variants: how many clips to make; fps: frame rate; engine, backend: as elsewhere;
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
    controls: AnimationControls | None = None

    def __post_init__(self) -> None:
        for name in ("temperature", "expression_strength", "pose_strength"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {value}")
        if not 1 <= int(self.variants) <= 16:
            raise InputError(f"variants must be between 1 and 16, got {self.variants}")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 60):
            raise InputError(f"fps must be in (0, 60], got {self.fps}")
        check_engine_choice(self.engine)
        check_positive("batch_size", self.batch_size)
        check_positive("max_side", self.max_side)
        if self.controls is not None and not isinstance(self.controls, AnimationControls):
            raise InputError(
                f"controls must be AnimationControls or None, got {type(self.controls).__name__}"
            )


def _model_dirs(explicit: str | os.PathLike[str] | None) -> list[Path]:
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
        f"{where}). Train one on talking-face clips with `pirender audio-train --data-dir CLIPS "
        "--out-dir RUN` and copy RUN/best to the first of those folders (or set PIRENDER_AUDIO_MODEL). "
        "Without it, photos can be edited and reenacted from a video, but not animated from audio."
    )


@dataclass(frozen=True)
class _Speech:
    """One recording as the model reads it: (T, condition_channels) features at the model's frame
    rate (`AudioToMotion.condition_features`), and the number of output frames at the requested rate."""

    features: np.ndarray
    num_frames: int


def _read_speech(model: AudioToMotion, audio: str | os.PathLike[str], options: AnimateOptions) -> _Speech:
    """Decode and featurise the recording once (every variant samples from the same features)."""
    sample_rate = model.config.features.sample_rate
    wave = load_audio(audio, sample_rate=sample_rate, max_seconds=options.max_seconds)
    features = model.condition_features(wave)
    return _Speech(features, num_video_frames(wave.size, sample_rate, options.fps))


def _variant_motion(
    model: AudioToMotion,
    state: SourceState,
    speech: _Speech,
    options: AnimateOptions,
    seed: int,
    progress: Any,
) -> MotionSequence:
    """The motion of one variant at `options.fps` (the model samples at its own rate; time is interpolated)."""
    motion = model.generate_from_features(
        state.coefficients,
        speech.features,
        seed=seed,
        temperature=options.temperature,
        expression_strength=options.expression_strength,
        pose_strength=options.pose_strength,
        progress=progress,
        controls=options.controls,
    )
    if options.fps != model.config.fps:
        motion = resample_motion(motion, options.fps, speech.num_frames)
    return hold_motion(motion, state.coefficients)


def _control_details(options: AnimateOptions) -> dict[str, str]:
    """The motion controls of a request as provenance facts."""
    c = options.controls
    if c is None:
        return {
            "expression_strength": f"{options.expression_strength:g}",
            "pose_strength": f"{options.pose_strength:g}",
        }
    details = {
        "lips": f"{c.lips:g}",
        "expression": f"{c.expression:g}",
        "head": "still" if c.still else f"{c.head:g}",
        "blinks_per_minute": f"{c.blinks_per_minute:g}",
    }
    if c.head_reference is not None and not c.still:
        details["head_reference"] = f"{len(c.head_reference)} frames"
    return details


def head_motion_from_video(
    video: str | os.PathLike[str],
    backend: str = "default",
    max_seconds: float | None = 60.0,
    *,
    progress: Progress | None = None,
    registry: EngineRegistry | None = None,
) -> MotionSequence:
    """The tracked motion of the face in `video` (for `AnimationControls(head_reference=...)`: the
    animation then takes its head motion from this video). Use the backend the photo is analysed
    with (its coefficients are in the same units). Raises NoFaceError / MediaReadError as
    `analyze_video` does."""
    registry = registry or default_registry()
    analysis = registry.backend(backend).analyze_video(video, max_seconds=max_seconds, progress=progress)
    return analysis.motion


def _variant_paths(output: str | os.PathLike[str] | None, variants: int) -> list[Path]:
    if output is None:
        return [default_output(f"animate_v{i + 1}.mp4") for i in range(variants)]
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
    reporter = Reporter(progress, cancel)
    reporter.report(0.0, "loading the audio model")
    model = registry.audio_model(directory)
    reporter.report(0.03, "analysing the photo")
    state = prepared_for(photo, options.backend, registry)
    model_face = model.config.face_model
    if model_face != state.face_model:
        raise FaceModelMismatchError(
            f"The audio model at {directory} generates '{model_face}' coefficients, but the photo was analysed "
            f"with backend '{state.backend}' ('{state.face_model}'). Use the backend the model was trained with."
        )
    reference = options.controls.head_reference if options.controls is not None else None
    if reference is not None and reference.face_model != state.face_model:
        raise FaceModelMismatchError(
            f"The reference head motion is in '{reference.face_model}' coefficients but the photo in "
            f"'{state.face_model}'. Track the reference video with the photo's backend ('{state.backend}')."
        )
    engine = registry.select(options.engine, state.backend, state.face_model)
    reporter.report(0.04, "reading the audio")
    speech = _read_speech(model, audio, options)
    paths = _variant_paths(output, int(options.variants))
    n = len(paths)
    size = (options.batch_size, options.max_side)
    sound = {"audio_path": audio, "audio_has_sound": True}  # decoded above: it has sound, no need to probe it
    for i, path in enumerate(paths):
        lo, hi = 0.05 + 0.95 * i / n, 0.05 + 0.95 * (i + 1) / n
        mid = lo + 0.3 * (hi - lo)
        seed = options.seed + i
        phase = reporter.phase(lo, mid, f"generating motion (variant {i + 1}/{n})")
        motion = _variant_motion(model, state, speech, options, seed, phase)
        details = {"seed": str(seed), "temperature": f"{options.temperature:g}", **_control_details(options)}
        provenance = Provenance("animate", engine.name, state.face_model, details)
        render_to_video(state, engine, motion, path, provenance, reporter, (mid, hi), size, **sound)
    return paths
