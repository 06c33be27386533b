"""Configuration of the audio-to-motion model (paper appendix D.2): architecture, audio and
phonetic feature settings, and the normalisation statistics, saved together as config.json.

`AudioToMotionConfig` is a frozen dataclass; `to_dict` / `from_dict` round-trip it through JSON
(other model types, newer format versions and unknown keys are refused). Files written before
the phonetic features existed (no "phonetics" key) load as log-mel-only models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from core.coefficients import BFM_DEEP3D
from core.errors import InputError

from .audio import AudioFeatureConfig, silence_features
from .flows import FlowConfig
from .phonetics import PhoneticConfig, viseme_silence

__all__ = [
    "POSE_DIM",
    "MODEL_TYPE",
    "FORMAT_VERSION",
    "NormalizationStats",
    "AudioToMotionConfig",
    "condition_silence",
    "pose_of",
]

#: 3 angles (radians) + 3 translation.
POSE_DIM = 6
MODEL_TYPE = "pirender-audio2motion"
FORMAT_VERSION = 1


def pose_of(angles: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(..., 3) angles in radians and (..., 3) translation -> (..., 6) pose vector."""
    return np.concatenate([angles, translation], axis=-1).astype(np.float32)


def _floats(values: Sequence[float] | np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))


@dataclass(frozen=True)
class NormalizationStats:
    """Per-dimension mean and std of the training data (expression (E,), pose (6,), audio (n_mels,))."""

    expression_mean: tuple[float, ...]
    expression_std: tuple[float, ...]
    pose_mean: tuple[float, ...]
    pose_std: tuple[float, ...]
    audio_mean: tuple[float, ...]
    audio_std: tuple[float, ...]
    ref_pose_mean: tuple[float, ...] = ()
    ref_pose_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("expression", "pose", "audio", "ref_pose"):
            mean, std = getattr(self, f"{name}_mean"), getattr(self, f"{name}_std")
            if len(mean) != len(std):
                raise InputError(f"{name} mean and std differ in length: {len(mean)} vs {len(std)}")
            if not all(math.isfinite(m) for m in mean) or not all(math.isfinite(s) and s > 0 for s in std):
                raise InputError(f"{name} statistics must be finite with positive std")
        if len(self.pose_mean) != POSE_DIM or len(self.ref_pose_mean) not in (0, POSE_DIM):
            raise InputError(f"pose statistics need {POSE_DIM} numbers, got {len(self.pose_mean)}")

    def reference_pose_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Mean and std of the absolute reference pose (the pose statistics when not given separately)."""
        if self.ref_pose_mean:
            return self.ref_pose_mean, self.ref_pose_std
        return self.pose_mean, self.pose_std

    @classmethod
    def identity(cls, num_expression: int, n_mels: int) -> NormalizationStats:
        """Mean 0, std 1 everywhere (a model before `fit`)."""
        return cls(
            (0.0,) * num_expression,
            (1.0,) * num_expression,
            (0.0,) * POSE_DIM,
            (1.0,) * POSE_DIM,
            (0.0,) * n_mels,
            (1.0,) * n_mels,
        )

    @classmethod
    def fit(
        cls,
        expressions: Sequence[np.ndarray],
        poses: Sequence[np.ndarray],
        features: Sequence[np.ndarray],
        min_std: float = 1e-3,
        ref_poses: Sequence[np.ndarray] | None = None,
    ) -> NormalizationStats:
        """Statistics over all frames of (T_i, E) expressions, (T_i, 6) poses, (T_i, n_mels) features.

        `ref_poses` ((N, 6) absolute reference poses) is given when the pose targets are relative.
        """
        if not expressions:
            raise InputError("cannot compute normalisation statistics from zero clips")

        def mean_std(arrays: Sequence[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
            stacked = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays], axis=0)
            return _floats(stacked.mean(0)), _floats(np.maximum(stacked.std(0), min_std))

        e_mean, e_std = mean_std(expressions)
        p_mean, p_std = mean_std(poses)
        a_mean, a_std = mean_std(features)
        r_mean, r_std = mean_std(ref_poses) if ref_poses is not None else ((), ())
        return cls(e_mean, e_std, p_mean, p_std, a_mean, a_std, r_mean, r_std)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-friendly dict."""
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormalizationStats:
        """Inverse of `to_dict`."""
        names = {f.name for f in fields(cls)}
        optional = {"ref_pose_mean", "ref_pose_std"}
        if not names - optional <= set(data) <= names:
            raise InputError(
                f"normalisation statistics need the keys {sorted(names - optional)} (and optionally "
                f"{sorted(optional)}), got {sorted(data)}"
            )
        return cls(**{k: _floats(v) for k, v in data.items()})


@dataclass(frozen=True)
class AudioToMotionConfig:
    """Everything needed to rebuild a model (saved as config.json beside the weights).

    Attributes:
        face_model: face model whose expression coefficients the model produces.
        num_expression: E, expression coefficients per frame.
        fps: frame rate the model was trained at (its dynamics are tied to it).
        prev_motions: k, previous motions in the condition.
        audio_past, audio_future: the audio window a(i - past .. i + future).
        expression_flow, pose_flow: flow architectures (K = 10 and K = 8 in the paper).
        features: audio front-end settings.
        stats: normalisation statistics (identity when None, i.e. before training).
        seed: seed of the weight initialisation.
        relative_motion: model motion minus the reference frame (see the module docstring).
        expression_components: m > 0 models m linear components of the expression change
            (needs `relative_motion`); 0 models all E coefficients.
        phonetics: phonetic feature settings (`audio2motion.phonetics`); when set, the condition
            of both flows is the log-mel features *and* the V viseme posteriors of each frame,
            and a linear viseme -> expression map (the lip component, `lip_context` frames of
            context on each side) gives the lips; the expression flow models the rest. None:
            log-mel only (the models trained before phonetic features).
        lip_context: frames of viseme context on each side of the lip component's window.
        lip_gain: scale of the fitted lip component at strength 1 (ridge regression shrinks its
            amplitude; training sets it so that lips + flow at temperature 0.7 have the training
            data's expression variance, see `audio2motion.training.fit_lip_map`).
        pose_smoothing_s, expression_smoothing_s: std (seconds) of the Gaussian that smooths the
            flows' sampled head and expression motion over time (0 = none, the older models):
            independent noise per frame otherwise makes the head shake from frame to frame.
        flow_mouth: fraction of the expression flow's movement along the lip directions kept while
            speaking (1 = all, the older models). The flow's lip movement is random with respect to
            the words, so it blurs the lip sync; in silence it is always faded out.
        lip_speech_gate: scale the lip component by the frame's speech presence (1 - the silence
            posterior), so the context window of the lip map does not open the lips in pauses.
        rest_mouth_gap: the widest inner-lip gap (face-model units, `reconstruction.motion.mouth_opening`
            of the expression) a photo keeps as its starting mouth; a photo opened wider (caught
            mid-word) is first closed to it along the lip map's "aa" direction, so that the lips can
            close in pauses and on p/b/m. None (the older models): the photo's mouth as it is.
            Default face model only.
    """

    face_model: str = BFM_DEEP3D
    num_expression: int = 64
    fps: float = 25.0
    prev_motions: int = 5
    audio_past: int = 5
    audio_future: int = 6
    expression_flow: FlowConfig = field(default_factory=lambda: FlowConfig(num_steps=10))
    pose_flow: FlowConfig = field(default_factory=lambda: FlowConfig(num_steps=8))
    features: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)
    stats: NormalizationStats | None = None
    seed: int = 0
    relative_motion: bool = False
    expression_components: int = 0
    phonetics: PhoneticConfig | None = None
    lip_context: int = 0
    lip_gain: float = 1.0
    pose_smoothing_s: float = 0.0
    expression_smoothing_s: float = 0.0
    flow_mouth: float = 1.0
    lip_speech_gate: bool = False
    rest_mouth_gap: float | None = None

    def __post_init__(self) -> None:
        if self.num_expression < 1:
            raise InputError(f"num_expression must be >= 1, got {self.num_expression}")
        if not 0 <= self.expression_components <= self.num_expression:
            raise InputError(
                f"expression_components must be in [0, {self.num_expression}], got {self.expression_components}"
            )
        if self.expression_components and not self.relative_motion:
            raise InputError("expression_components needs relative_motion=True")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise InputError(f"fps must be positive, got {self.fps}")
        if self.prev_motions < 1 or self.audio_past < 0 or self.audio_future < 0:
            raise InputError("need prev_motions >= 1, audio_past >= 0 and audio_future >= 0")
        if self.stats is not None and (
            len(self.stats.expression_mean) != self.expression_dim
            or len(self.stats.audio_mean) != self.condition_channels
        ):
            raise InputError(
                f"statistics are for E={len(self.stats.expression_mean)}, {len(self.stats.audio_mean)} audio channels "
                f"but the model has E={self.expression_dim}, {self.condition_channels} audio channels"
            )
        if self.phonetics is not None and not self.relative_motion:
            raise InputError("phonetics needs relative_motion=True (the lips are a change from the photo)")
        for name in ("pose_smoothing_s", "expression_smoothing_s"):
            if not (math.isfinite(getattr(self, name)) and 0 <= getattr(self, name) <= 1):
                raise InputError(f"{name} must be in [0, 1] seconds, got {getattr(self, name)}")
        if not (math.isfinite(self.flow_mouth) and 0 <= self.flow_mouth <= 1):
            raise InputError(f"flow_mouth must be in [0, 1], got {self.flow_mouth}")
        if not (math.isfinite(self.lip_gain) and self.lip_gain >= 0):
            raise InputError(f"lip_gain must be a finite number >= 0, got {self.lip_gain}")
        if self.rest_mouth_gap is not None and not math.isfinite(self.rest_mouth_gap):
            raise InputError(f"rest_mouth_gap must be a finite number or None, got {self.rest_mouth_gap}")
        if self.lip_context < 0 or (self.lip_context and self.phonetics is None):
            raise InputError(f"lip_context must be >= 0 and needs phonetics, got {self.lip_context}")

    @property
    def expression_dim(self) -> int:
        """Channels of the expression flow: m components, or all E coefficients."""
        return self.expression_components or self.num_expression

    @property
    def num_visemes(self) -> int:
        """V viseme channels of the condition (0 without phonetics)."""
        return 0 if self.phonetics is None else self.phonetics.num_visemes

    @property
    def condition_channels(self) -> int:
        """Audio channels per frame of the condition: n_mels log-mel (+ V visemes with phonetics)."""
        return self.features.n_mels + self.num_visemes

    @property
    def lip_inputs(self) -> int:
        """Inputs of the lip component: (2 * lip_context + 1) frames of the V - 1 non-silence visemes."""
        return 0 if self.phonetics is None else (2 * self.lip_context + 1) * (self.num_visemes - 1)

    @property
    def audio_window(self) -> int:
        """Audio frames per condition: past + 1 + future (12 in the paper)."""
        return self.audio_past + 1 + self.audio_future

    def resolved_stats(self) -> NormalizationStats:
        """The statistics, or identity ones when the model has none yet."""
        return self.stats or NormalizationStats.identity(self.expression_dim, self.condition_channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly nested dict (with the file's type and format version)."""
        out: dict[str, Any] = {"model_type": MODEL_TYPE, "format_version": FORMAT_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioToMotionConfig:
        """Inverse of `to_dict`; refuses other model types, newer formats and unknown keys."""
        data = dict(data)
        if data.pop("model_type", None) != MODEL_TYPE:
            raise InputError(f"not an audio-to-motion config (model_type must be '{MODEL_TYPE}')")
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise InputError(f"config format_version {version} is not supported (expected {FORMAT_VERSION})")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"unknown config keys {unknown}")
        parsers = {
            "expression_flow": FlowConfig.from_dict,
            "pose_flow": FlowConfig.from_dict,
            "features": AudioFeatureConfig.from_dict,
            "stats": lambda d: None if d is None else NormalizationStats.from_dict(d),
            "phonetics": lambda d: None if d is None else PhoneticConfig.from_dict(d),
        }
        kwargs = {k: parsers[k](v) if k in parsers else v for k, v in data.items()}
        return cls(**kwargs)


def condition_silence(config: AudioToMotionConfig) -> np.ndarray:
    """(condition_channels,) float32 features of digital silence (padding before / after the audio)."""
    parts = [silence_features(config.features)]
    if config.phonetics is not None:
        parts.append(viseme_silence())
    return np.concatenate(parts).astype(np.float32)
