"""Prepared training clips for the audio-to-motion flows (paper section 3.3, training data).

Folder format (any nesting below the folder):

    <folder>/<clip_id>.npz    a `MotionSequence` written with `MotionSequence.save_npz`
                              (one face, per-frame coefficients of the clip's video)
    <folder>/<clip_id>.json   optional: {"media": "path/of/audio_or_video", "group": "speaker-17"}
                              (a relative path is taken relative to the json's folder)

Without a json, the media file is the sibling with the same stem and a known audio/video
extension (`clip_0001.npz` + `clip_0001.mp4`). `save_clip` writes the npz + json pair.
The held-out split is made per clip, or per "group" when clips name one (e.g. a speaker, so
that no speaker is in both splits).

Loading decodes the audio once per clip, computes features at the model's frame rate, resamples
the motion to that rate when the clip's differs, and cuts both to the shorter length.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.coefficients import MotionSequence
from core.errors import FaceModelMismatchError, InputError, MediaReadError

from .audio import AudioFeatureConfig, audio_features, load_audio, loudness_envelope
from .config import condition_silence
from .model import AudioToMotionConfig, MotionBatch, pose_of, resample_motion
from .phonetics import PhoneticConfig, viseme_features

__all__ = [
    "MEDIA_EXTENSIONS",
    "ClipEntry",
    "ClipArrays",
    "save_clip",
    "discover_clips",
    "split_clips",
    "load_clip",
    "load_clips",
    "clip_window",
    "whole_clip_batch",
    "WindowSampler",
    "silent_window",
    "rest_reference",
]

logger = logging.getLogger(__name__)

MEDIA_EXTENSIONS = (
    ".wav",
    ".mp3",
    ".m4a",
    ".aac",
    ".flac",
    ".ogg",
    ".opus",
    ".mp4",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
)
#: Fraction of a clip's quietest frames whose mean is its resting face (`rest_reference`).
REST_FRACTION = 0.2
#: Audio and motion lengths may differ by this much before a clip is reported (seconds).
_LENGTH_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class ClipEntry:
    """Where one prepared clip lives (nothing loaded yet)."""

    clip_id: str
    motion_path: Path
    media_path: Path
    group: str


@dataclass(frozen=True)
class ClipArrays:
    """One clip ready for training, at the model's frame rate.

    Attributes:
        clip_id: the clip's name.
        face_model: face model of the coefficients.
        expression: (T, E) float32 coefficients.
        pose: (T, 6) float32: angles in radians, then translation.
        features: (T, C) float32 raw features: n_mels log-mel (`audio_features`), then the V viseme
            posteriors (`viseme_features`) when the clips were loaded with phonetics.
        loudness: (T,) float32 RMS level per frame in dBFS (for evaluation).
        fps: frame rate of all arrays.
    """

    clip_id: str
    face_model: str
    expression: np.ndarray
    pose: np.ndarray
    features: np.ndarray
    loudness: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        t = self.expression.shape[0]
        if not (self.pose.shape == (t, 6) and self.features.shape[0] == t and self.loudness.shape == (t,)):
            raise InputError(
                f"clip '{self.clip_id}': arrays disagree in length: expression {self.expression.shape}, "
                f"pose {self.pose.shape}, features {self.features.shape}, loudness {self.loudness.shape}"
            )

    def __len__(self) -> int:
        return int(self.expression.shape[0])


def save_clip(
    folder: str | Path, clip_id: str, motion: MotionSequence, media_path: str | Path, group: str | None = None
) -> ClipEntry:
    """Write `<clip_id>.npz` (the motion) and `<clip_id>.json` (media path, group) below `folder`.

    `clip_id` may contain "/" (sub-folders); a relative `media_path` is stored as given and is
    resolved against the json's folder when the clips are read.
    """
    motion_path = Path(folder) / f"{clip_id}.npz"
    motion_path.parent.mkdir(parents=True, exist_ok=True)
    motion.save_npz(str(motion_path))
    media = Path(media_path)
    record = {"media": str(media), "group": group or clip_id}
    motion_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    resolved = media if media.is_absolute() else motion_path.parent / media
    return ClipEntry(clip_id, motion_path, resolved, group or clip_id)


def _entry_for(npz: Path, root: Path) -> ClipEntry:
    clip_id = npz.relative_to(root).with_suffix("").as_posix()
    sidecar = npz.with_suffix(".json")
    group = clip_id
    media: Path | None = None
    if sidecar.is_file():
        try:
            record = json.loads(sidecar.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"'{sidecar}' is not valid JSON ({exc}); expected {{\"media\": PATH}}") from None
        if not isinstance(record, dict) or not isinstance(record.get("media"), str):
            raise InputError(f"'{sidecar}' must hold an object with a \"media\" path string")
        media = Path(record["media"])
        media = media if media.is_absolute() else npz.parent / media
        group = str(record.get("group") or clip_id)
    else:
        for ext in MEDIA_EXTENSIONS:
            for candidate in (npz.with_suffix(ext), npz.with_suffix(ext.upper())):
                if candidate.is_file():
                    media = candidate
                    break
            if media is not None:
                break
    if media is None:
        raise InputError(
            f"clip '{npz}' has no media: write '{sidecar.name}' with {{\"media\": PATH}} or put an audio/video "
            f"file with the same name beside it ({', '.join(MEDIA_EXTENSIONS)})"
        )
    return ClipEntry(clip_id, npz, media, group)


def discover_clips(folder: str | Path) -> list[ClipEntry]:
    """All prepared clips below `folder`, sorted by clip id."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"clip folder '{root}' does not exist; prepare clips with `save_clip` first")
    entries = [_entry_for(npz, root) for npz in sorted(root.rglob("*.npz"))]
    if not entries:
        raise InputError(f"no prepared clips (*.npz motion files) found in '{root}'")
    return entries


def split_clips(
    entries: Sequence[ClipEntry], held_out_fraction: float = 0.1, seed: int = 0
) -> tuple[list[ClipEntry], list[ClipEntry]]:
    """Deterministic split by group (default: by clip) into (train, held_out).

    At least one group is held out when the fraction is positive and there are two or more groups.
    """
    if not 0 <= held_out_fraction < 1:
        raise InputError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    groups = sorted({e.group for e in entries})
    n_held = 0
    if held_out_fraction > 0 and len(groups) > 1:
        n_held = min(len(groups) - 1, max(1, int(round(held_out_fraction * len(groups)))))
    order = np.random.default_rng(seed).permutation(len(groups))
    held = {groups[i] for i in order[:n_held]}
    return [e for e in entries if e.group not in held], [e for e in entries if e.group in held]


def load_clip(
    entry: ClipEntry,
    features: AudioFeatureConfig,
    fps: float,
    refuse_misaligned: bool = False,
    phonetics: PhoneticConfig | None = None,
) -> ClipArrays:
    """Decode the clip's audio and align motion and features at `fps` (see module docstring).

    With `refuse_misaligned`, a motion clearly longer than its audio raises MediaReadError:
    the video's frame timing is then unknown (e.g. a variable frame rate), so lips and sound
    would not line up. Otherwise both are cut to the shorter length with a warning.
    """
    motion = MotionSequence.load_npz(str(entry.motion_path))
    if not math.isclose(motion.fps, fps, rel_tol=1e-4):
        motion = resample_motion(motion, fps)
    wave = load_audio(entry.media_path, sample_rate=features.sample_rate, max_seconds=None)
    feats = audio_features(wave, fps, features)
    if phonetics is not None:
        visemes = viseme_features(wave, fps, features.sample_rate, phonetics)
        feats = np.concatenate([feats, visemes[: feats.shape[0]]], axis=1)
    loud = loudness_envelope(wave, fps, features.sample_rate)
    t = min(len(motion), feats.shape[0])
    if refuse_misaligned and len(motion) - feats.shape[0] > max(2, _LENGTH_TOLERANCE_S * fps):
        raise MediaReadError(
            f"clip '{entry.clip_id}': the motion has {len(motion)} frames at {fps:g} fps but the audio lasts only "
            f"{feats.shape[0]} frames; audio and motion are not aligned"
        )
    if abs(len(motion) - feats.shape[0]) > max(2, _LENGTH_TOLERANCE_S * fps):
        logger.warning(
            "clip '%s': motion has %d frames but the audio spans %d at %g fps; using the first %d",
            entry.clip_id,
            len(motion),
            feats.shape[0],
            fps,
            t,
        )
    pose = pose_of(motion.angles, motion.translation)
    return ClipArrays(
        entry.clip_id, motion.face_model, motion.expression[:t], pose[:t], feats[:t], loud[:t], fps
    )


def load_clips(
    entries: Sequence[ClipEntry],
    features: AudioFeatureConfig,
    fps: float,
    skip_unreadable: bool = True,
    min_audio_dbfs: float | None = None,
    refuse_misaligned: bool = False,
    phonetics: PhoneticConfig | None = None,
) -> list[ClipArrays]:
    """Load several clips; unreadable media are skipped with a warning (or raise).

    With `min_audio_dbfs`, clips whose sound never gets loud (95th percentile of the per-frame
    level below it, e.g. a silent track under a talking face) are skipped with a warning: their
    motion cannot be explained by their audio and would teach the model that silence moves lips.
    `refuse_misaligned` (see `load_clip`) skips clips whose motion outlasts their audio.
    """
    clips = []
    for entry in entries:
        try:
            clip = load_clip(entry, features, fps, refuse_misaligned, phonetics)
        except MediaReadError as exc:
            if not skip_unreadable:
                raise
            logger.warning("skipping clip '%s': %s", entry.clip_id, exc)
            continue
        if min_audio_dbfs is not None:
            level = float(np.percentile(clip.loudness, 95))
            if level < min_audio_dbfs:
                logger.warning(
                    "skipping clip '%s': its sound is silent (95th-percentile level %.1f dBFS < %.1f)",
                    entry.clip_id,
                    level,
                    min_audio_dbfs,
                )
                continue
        clips.append(clip)
    if clips:
        first = clips[0]
        for clip in clips[1:]:
            if clip.face_model != first.face_model or clip.expression.shape[1] != first.expression.shape[1]:
                raise FaceModelMismatchError(
                    f"clips mix face models: '{first.clip_id}' is {first.face_model} with "
                    f"{first.expression.shape[1]} expression coefficients, '{clip.clip_id}' is "
                    f"{clip.face_model} with {clip.expression.shape[1]}. Prepare all clips with one backend."
                )
    return clips


def clip_window(
    clip: ClipArrays,
    start: int,
    length: int,
    history: int,
    audio_past: int,
    audio_future: int,
    silence: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of one window of `length` target frames from `start` (>= 1).

    Returns expression (k + L, E), pose (k + L, 6) (history indices clamped to frame 0),
    audio (past + L + future, n_mels) (silence outside the clip) and ref_pose (6,) = frame 0.
    """
    if start < 1 or start + length > len(clip):
        raise InputError(
            f"window [{start}, {start + length}) does not fit clip '{clip.clip_id}' of {len(clip)} frames"
        )
    motion_idx = np.clip(np.arange(start - history, start + length), 0, None)
    audio_idx = np.arange(start - audio_past, start + length + audio_future)
    inside = (audio_idx >= 0) & (audio_idx < len(clip))
    audio = np.where(inside[:, None], clip.features[np.clip(audio_idx, 0, len(clip) - 1)], silence[None])
    return clip.expression[motion_idx], clip.pose[motion_idx], audio.astype(np.float32), clip.pose[0]


def _stack(windows: list[tuple[np.ndarray, ...]]) -> MotionBatch:
    return MotionBatch(*(torch.from_numpy(np.stack(parts)) for parts in zip(*windows, strict=True)))


def rest_reference(clip: ClipArrays, fraction: float = REST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """The clip's resting face: mean (E,) expression and (6,) pose over its quietest frames.

    Models with `relative_motion` learn motion relative to this frame, and treat the source
    photo (a face at rest) as it at generation; removing it also removes each speaker's own
    face shape from what the model has to explain.
    """
    n = max(1, int(round(fraction * len(clip))))
    quiet = np.argsort(clip.loudness, kind="stable")[:n]
    return clip.expression[quiet].mean(0).astype(np.float32), clip.pose[quiet].mean(0).astype(np.float32)


def _window(clip: ClipArrays, start: int, length: int, config: AudioToMotionConfig) -> tuple[np.ndarray, ...]:
    """clip_window's arrays plus the reference expression.

    The reference is the clip's first frame, or its `rest_reference` for relative models.
    """
    silence = condition_silence(config)
    expr, pose, audio, ref_pose = clip_window(
        clip, start, length, config.prev_motions, config.audio_past, config.audio_future, silence
    )
    if config.relative_motion:
        ref_expr, ref_pose = rest_reference(clip)
        return expr, pose, audio, ref_pose, ref_expr
    return expr, pose, audio, ref_pose, clip.expression[0]


def silent_window(
    clip: ClipArrays, length: int, config: AudioToMotionConfig, jitter: float, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """A synthetic window (arrays as `_window`): digital silence and the reference face held still.

    `jitter` (in units of each coefficient's spread over the clip) adds a little Gaussian noise,
    so the flow learns "silence -> stay at the reference" without a degenerate zero-width density.
    """
    k = config.prev_motions
    n_audio = length + config.audio_window - 1
    ref_e, ref_p = rest_reference(clip) if config.relative_motion else (clip.expression[0], clip.pose[0])
    e_scale = clip.expression.std(0) + 1e-6
    p_scale = clip.pose.std(0) + 1e-6
    expr = ref_e[None] + jitter * e_scale * rng.standard_normal((k + length, ref_e.size))
    pose = ref_p[None] + jitter * p_scale * rng.standard_normal((k + length, 6))
    audio = np.repeat(condition_silence(config)[None], n_audio, 0)
    return expr.astype(np.float32), pose.astype(np.float32), audio, ref_p, ref_e


def whole_clip_batch(clip: ClipArrays, config: AudioToMotionConfig) -> MotionBatch:
    """A batch of one: every frame after the first is a target (evaluation of a whole clip)."""
    if len(clip) < 2:
        raise InputError(f"clip '{clip.clip_id}' needs at least 2 frames, has {len(clip)}")
    return _stack([_window(clip, 1, len(clip) - 1, config)])


class WindowSampler:
    """Random fixed-length windows, uniform over all window positions of all clips."""

    def __init__(self, clips: Sequence[ClipArrays], window: int, config: AudioToMotionConfig) -> None:
        if window < 1:
            raise InputError(f"window must be >= 1 frame, got {window}")
        self.window, self.config = window, config
        self.clips = [c for c in clips if len(c) >= window + 1]
        dropped = len(clips) - len(self.clips)
        if dropped:
            logger.warning("%d clip(s) shorter than %d frames are not used for training", dropped, window + 1)
        if not self.clips:
            raise InputError(
                f"no clip has the {window + 1} frames a training window needs; lower the window length"
            )
        positions = np.array([len(c) - window for c in self.clips], dtype=np.float64)
        self.weights = positions / positions.sum()

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        silence_fraction: float = 0.0,
        silence_jitter: float = 0.05,
    ) -> MotionBatch:
        """A batch of `batch_size` random windows (CPU float32 tensors).

        Each window is, with probability `silence_fraction`, a `silent_window` of its clip instead.
        """
        picks = rng.choice(len(self.clips), size=batch_size, p=self.weights)
        windows = []
        for i in picks:
            clip = self.clips[int(i)]
            if silence_fraction > 0 and rng.random() < silence_fraction:
                windows.append(silent_window(clip, self.window, self.config, silence_jitter, rng))
                continue
            start = int(rng.integers(1, len(clip) - self.window + 1))
            windows.append(_window(clip, start, self.window, self.config))
        return _stack(windows)
