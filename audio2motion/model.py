"""Audio-to-motion model: two conditional flows (paper section 3.3, appendix D.2).

* Expression flow: K = 10 steps over the E expression coefficients (E = 64 for the BFM).
* Pose flow: K = 8 steps over 6 numbers (pitch, yaw, roll in radians, then tx, ty, tz),
  additionally conditioned on the first frame's pose.

Condition of frame i: the k = 5 previous motions (of the same flow) and the audio features
a(i - 5 .. i + 6) (tau = 6); outside the audio, features of digital silence are used. All
motion and audio numbers are normalised with statistics of the training set, stored in the
config, and every reported likelihood is converted back to the original coefficient units.

Options that help a model trained on a few dozen clips generalise (all saved in the config):

* `relative_motion`: every flow models motion minus a reference frame (in training the clip's
  resting face, the mean of its quietest frames; at generation the source photo), so a
  speaker's own face is never learned and silence means "stay at the photo"; the pose flow
  sees the absolute reference pose as its extra condition.
* `expression_components` = m > 0 (with `relative_motion`): the expression flow models only m
  linear components of the expression change (an (E, m) encoder and an (m, E) decoder, fitted on
  the training clips, stored with the weights); the rest of the expression stays the source's.

Generation runs frame by frame from the source photo's own motion: the history starts as
k copies of the source, each new frame is drawn by inverting both flows on n ~ N(0, T^2 I)
and is appended to the history. Strength controls scale the *output* deviation from the
source (the history keeps the unscaled motion, so the dynamics stay those the model learned).

Files: `config.json` (architecture, feature settings, face model, normalisation statistics)
and `model.safetensors`; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from core.errors import CheckpointError, InputError, WeightsNotFoundError
from core.coefficients import BFM_DEEP3D, FaceCoefficients, MotionSequence, check_face_model

from .audio import AudioFeatureConfig, audio_features, load_audio, num_video_frames, silence_features
from .flows import ConditionalFlow, FlowConfig

__all__ = [
    "POSE_DIM",
    "NormalizationStats",
    "AudioToMotionConfig",
    "MotionBatch",
    "AudioToMotion",
    "resample_motion",
    "pose_of",
]

logger = logging.getLogger(__name__)

#: 3 angles (radians) + 3 translation.
POSE_DIM = 6
MODEL_TYPE = "pirender-audio2motion"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Generated motion is kept within this many training standard deviations (a safety net for long runs).
_MAX_NORMALIZED = 8.0

ProgressCallback = Callable[[int, int], None]


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
            or len(self.stats.audio_mean) != self.features.n_mels
        ):
            raise InputError(
                f"statistics are for E={len(self.stats.expression_mean)}, n_mels={len(self.stats.audio_mean)} "
                f"but the model has E={self.expression_dim}, n_mels={self.features.n_mels}"
            )

    @property
    def expression_dim(self) -> int:
        """Channels of the expression flow: m components, or all E coefficients."""
        return self.expression_components or self.num_expression

    @property
    def audio_window(self) -> int:
        """Audio frames per condition: past + 1 + future (12 in the paper)."""
        return self.audio_past + 1 + self.audio_future

    def resolved_stats(self) -> NormalizationStats:
        """The statistics, or identity ones when the model has none yet."""
        return self.stats or NormalizationStats.identity(self.expression_dim, self.features.n_mels)

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
        }
        kwargs = {k: parsers[k](v) if k in parsers else v for k, v in data.items()}
        return cls(**kwargs)


@dataclass(frozen=True)
class MotionBatch:
    """A batch of training windows of L target frames.

    Attributes:
        expression: (B, k + L, E) raw coefficients; the first k frames are history.
        pose: (B, k + L, 6) raw pose (radians, translation), same frames.
        audio: (B, past + L + future, n_mels) raw log-mel features around the targets.
        ref_pose: (B, 6) raw pose of the clip's first frame.
        ref_expression: (B, E) raw expression of the clip's first frame (needed by models with
            `relative_motion`).
    """

    expression: torch.Tensor
    pose: torch.Tensor
    audio: torch.Tensor
    ref_pose: torch.Tensor
    ref_expression: torch.Tensor | None = None

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> MotionBatch:
        """A copy on another device (and dtype)."""
        return MotionBatch(
            *(
                None if t is None else t.to(device=device, dtype=dtype)
                for t in (self.expression, self.pose, self.audio, self.ref_pose, self.ref_expression)
            )
        )


def resample_motion(motion: MotionSequence, fps: float, num_frames: int | None = None) -> MotionSequence:
    """Linear interpolation of every coefficient to another frame rate (ends are held)."""
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive, got {fps}")
    n = num_frames if num_frames is not None else max(1, int(round(len(motion) * fps / motion.fps)))
    old_t = np.arange(len(motion)) / motion.fps
    new_t = np.arange(n) / fps

    def interp(a: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(new_t, old_t, a[:, j]) for j in range(a.shape[1])], axis=1).astype(
            np.float32
        )

    return MotionSequence(
        motion.face_model,
        interp(motion.expression),
        interp(motion.angles),
        interp(motion.translation),
        interp(motion.crop),
        fps=fps,
        identity=motion.identity,
    )


class AudioToMotion(nn.Module):
    """Expression flow + pose flow with normalisation, conditioning, likelihood and sampling."""

    def __init__(self, config: AudioToMotionConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        audio_dim = c.audio_window * c.features.n_mels
        # A private generator for the LU initialisation and a forked global RNG for the layers:
        # the same seed gives the same weights, and the caller's RNG state is left untouched.
        generator = torch.Generator().manual_seed(c.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.expression_flow = ConditionalFlow(
                c.expression_dim, c.prev_motions * c.expression_dim + audio_dim, c.expression_flow, generator
            )
            self.pose_flow = ConditionalFlow(
                POSE_DIM, c.prev_motions * POSE_DIM + audio_dim + POSE_DIM, c.pose_flow, generator
            )
        stats = c.resolved_stats()
        for name in ("expression_mean", "expression_std", "pose_mean", "pose_std", "audio_mean", "audio_std"):
            self.register_buffer(
                name, torch.tensor(getattr(stats, name), dtype=torch.float32), persistent=False
            )
        ref_mean, ref_std = stats.reference_pose_stats()
        self.register_buffer("ref_pose_mean", torch.tensor(ref_mean, dtype=torch.float32), persistent=False)
        self.register_buffer("ref_pose_std", torch.tensor(ref_std, dtype=torch.float32), persistent=False)
        self.register_buffer("silence", torch.from_numpy(silence_features(c.features)), persistent=False)
        if c.expression_components:
            eye = torch.eye(c.num_expression)[:, : c.expression_components]
            self.register_buffer("expression_encoder", eye.clone())  # (E, m), saved with the weights
            self.register_buffer("expression_decoder", eye.T.clone())  # (m, E)

    def set_expression_components(self, encoder: np.ndarray, decoder: np.ndarray) -> None:
        """Install the (E, m) encoder and (m, E) decoder of the modelled expression components."""
        c = self.config
        m = c.expression_components
        if not m:
            raise InputError("this model models all expression coefficients (expression_components = 0)")
        if encoder.shape != (c.num_expression, m) or decoder.shape != (m, c.num_expression):
            raise InputError(
                f"need an ({c.num_expression}, {m}) encoder and ({m}, {c.num_expression}) decoder, got "
                f"{encoder.shape} and {decoder.shape}"
            )
        self.expression_encoder.copy_(torch.as_tensor(encoder, dtype=torch.float32))
        self.expression_decoder.copy_(torch.as_tensor(decoder, dtype=torch.float32))

    def flow_targets(
        self,
        expression: torch.Tensor,
        pose: torch.Tensor,
        ref_expression: torch.Tensor | None,
        ref_pose: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (B, T, E) / (B, T, 6) motion -> the (unnormalised) quantities the flows model.

        Relative models subtract the (B, E) / (B, 6) reference frame; models with expression
        components then project the expression change onto them.
        """
        if not self.config.relative_motion:
            return expression, pose
        if ref_expression is None:
            raise InputError("a model with relative_motion needs MotionBatch.ref_expression")
        expression = expression - ref_expression[:, None]
        if self.config.expression_components:
            expression = expression @ self.expression_encoder
        return expression, pose - ref_pose[:, None]

    # ------------------------------------------------------------------ conditioning
    def _norm_expression(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.expression_mean) / self.expression_std

    def _norm_pose(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.pose_mean) / self.pose_std

    def _norm_audio(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.audio_mean) / self.audio_std

    def _norm_ref_pose(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.ref_pose_mean) / self.ref_pose_std

    def _audio_windows(self, audio_n: torch.Tensor, length: int) -> torch.Tensor:
        """(B, past + L + future, n) normalised -> (B, L, W * n) windows, oldest frame first."""
        windows = audio_n.unfold(1, self.config.audio_window, 1)  # (B, L, n, W)
        if windows.shape[1] != length:
            raise InputError(
                f"audio context must have past + L + future = {length + self.config.audio_window - 1} frames, "
                f"got {audio_n.shape[1]}"
            )
        return windows.transpose(2, 3).reshape(windows.shape[0], length, -1)

    def _history_windows(self, motion_n: torch.Tensor) -> torch.Tensor:
        """(B, k + L, C) -> (B, L, k * C): frame t sees frames t - k .. t - 1, oldest first."""
        k = self.config.prev_motions
        windows = motion_n.unfold(1, k, 1)[:, :-1]  # (B, L, C, k)
        return windows.transpose(2, 3).reshape(windows.shape[0], windows.shape[1], -1)

    def conditions(
        self,
        batch: MotionBatch,
        history_noise: float = 0.0,
        audio_noise: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced flow inputs: targets (B, L, E'), (B, L, 6) and conditions, all normalised.

        `history_noise` / `audio_noise` (training augmentation, normalised units) add Gaussian
        noise to the previous motions and audio features seen in the condition (never to the
        targets), so the model cannot lean on a perfect history and generalises to new voices.
        """
        c = self.config
        self._check_batch(batch)
        expr, pose = self.flow_targets(batch.expression, batch.pose, batch.ref_expression, batch.ref_pose)
        expr_n, pose_n = self._norm_expression(expr), self._norm_pose(pose)
        length = expr_n.shape[1] - c.prev_motions
        audio_n = self._norm_audio(batch.audio)
        hist_e, hist_p = expr_n, pose_n
        if history_noise > 0:
            hist_e = hist_e + history_noise * self._noise_like(hist_e, generator)
            hist_p = hist_p + history_noise * self._noise_like(hist_p, generator)
        if audio_noise > 0:
            audio_n = audio_n + audio_noise * self._noise_like(audio_n, generator)
        audio_w = self._audio_windows(audio_n, length)
        ref = self._norm_ref_pose(batch.ref_pose)[:, None].expand(-1, length, -1)
        cond_e = torch.cat([self._history_windows(hist_e), audio_w], dim=-1)
        cond_p = torch.cat([self._history_windows(hist_p), audio_w, ref], dim=-1)
        return expr_n[:, c.prev_motions :], pose_n[:, c.prev_motions :], cond_e, cond_p

    @staticmethod
    def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)

    def _check_batch(self, batch: MotionBatch) -> None:
        c = self.config
        b, tk = batch.expression.shape[:2]
        length = tk - c.prev_motions
        expected = {
            "expression": (b, tk, c.num_expression),
            "pose": (b, tk, POSE_DIM),
            "audio": (b, length + c.audio_window - 1, c.features.n_mels),
            "ref_pose": (b, POSE_DIM),
        }
        if length < 1:
            raise InputError(f"a batch needs more than k={c.prev_motions} frames, got {tk}")
        if batch.ref_expression is not None:
            expected["ref_expression"] = (b, c.num_expression)
        for name, shape in expected.items():
            if tuple(getattr(batch, name).shape) != shape:
                raise InputError(
                    f"MotionBatch.{name} must have shape {shape}, got {tuple(getattr(batch, name).shape)}"
                )

    # ------------------------------------------------------------------ likelihood
    def log_likelihood(self, batch: MotionBatch, **augment: Any) -> dict[str, torch.Tensor]:
        """Per-frame log-likelihoods (B, L) in nats, in the original coefficient units.

        Keys: "expression", "pose". The normalisation's Jacobian (-sum log std) is included,
        so values are comparable with any density written in raw coefficients (for models with
        `expression_components`, the density is that of the m modelled components).
        `augment`: the noise arguments of `conditions` (training only).
        """
        expr_n, pose_n, cond_e, cond_p = self.conditions(batch, **augment)
        return {
            "expression": self.expression_flow.log_prob(expr_n, cond_e)
            - torch.log(self.expression_std).sum(),
            "pose": self.pose_flow.log_prob(pose_n, cond_p) - torch.log(self.pose_std).sum(),
        }

    def nll_terms(self, batch: MotionBatch, **augment: Any) -> dict[str, torch.Tensor]:
        """Mean negative log-likelihood per frame (nats): "expression", "pose" and their sum "total"."""
        ll = self.log_likelihood(batch, **augment)
        terms = {name: -value.mean() for name, value in ll.items()}
        terms["total"] = terms["expression"] + terms["pose"]
        return terms

    # ------------------------------------------------------------------ sampling
    def _check_source(self, source: FaceCoefficients) -> None:
        check_face_model(self.config.face_model, source.face_model, what="audio-to-motion model")
        if source.expression.shape[0] != self.config.num_expression:
            raise InputError(
                f"the model expects {self.config.num_expression} expression coefficients, the source has "
                f"{source.expression.shape[0]}"
            )

    @torch.no_grad()
    def generate_from_features(
        self,
        source: FaceCoefficients,
        features: np.ndarray,
        seed: int = 0,
        temperature: float = 0.7,
        expression_strength: float = 1.0,
        pose_strength: float = 1.0,
        progress: ProgressCallback | None = None,
    ) -> MotionSequence:
        """Sample motion for precomputed features at the model's own frame rate.

        Args:
            source: the photo's own coefficients (first history frame and pose reference).
            features: (T, n_mels) raw log-mel features from `audio_features` at `config.fps`.
            seed: noise seed (the noise is drawn on the CPU: the same seed gives the same noise anywhere).
            temperature: noise scale (n ~ N(0, temperature^2 I)); 0 gives one deterministic path.
            expression_strength, pose_strength: scale of the deviation from the source (0 = still).
            progress: called as progress(frames_done, total_frames).

        Returns:
            MotionSequence of T frames at `config.fps`, tagged with the model's face model; crop and
            identity are the source's.
        """
        c = self.config
        self._check_source(source)
        for name, value in (
            ("temperature", temperature),
            ("expression_strength", expression_strength),
            ("pose_strength", pose_strength),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {value}")
        feats = np.asarray(features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != c.features.n_mels or feats.shape[0] < 1:
            raise InputError(f"features must have shape (T, {c.features.n_mels}), got {feats.shape}")
        if not np.all(np.isfinite(feats)):
            raise InputError("features contain NaN or infinite values")
        device = self.expression_std.device
        t_total = feats.shape[0]

        # Audio windows for every frame, silence outside the audio: (T, W * n).
        audio = torch.from_numpy(feats).to(device)
        audio = torch.cat(
            [self.silence.expand(c.audio_past, -1), audio, self.silence.expand(c.audio_future, -1)]
        )
        audio_w = self._audio_windows(self._norm_audio(audio)[None], t_total)[0]

        src_expr = torch.from_numpy(np.asarray(source.expression, np.float32)).to(device)
        src_pose = torch.from_numpy(pose_of(source.angles, source.translation)).to(device)
        start_e, start_p = self.flow_targets(
            src_expr[None, None], src_pose[None, None], src_expr[None], src_pose[None]
        )
        hist_e = self._norm_expression(start_e[0]).expand(c.prev_motions, -1).clone()  # (k, E')
        hist_p = self._norm_pose(start_p[0]).expand(c.prev_motions, -1).clone()  # (k, 6)
        ref = self._norm_ref_pose(src_pose)[None]  # (1, 6)

        generator = torch.Generator().manual_seed(int(seed))
        noise_e = (torch.randn(t_total, c.expression_dim, generator=generator) * temperature).to(device)
        noise_p = (torch.randn(t_total, POSE_DIM, generator=generator) * temperature).to(device)

        flows = (self.expression_flow, self.pose_flow)
        plans = [flow.sampling_plan() for flow in flows]
        states: list[list] = [[None] * len(flow.steps) for flow in flows]
        out_e = torch.empty(t_total, c.expression_dim, device=device)
        out_p = torch.empty(t_total, POSE_DIM, device=device)
        report_every = max(1, t_total // 100)
        for t in range(t_total):
            a_t = audio_w[t : t + 1]
            cond_e = torch.cat([hist_e.reshape(1, -1), a_t], dim=-1)
            cond_p = torch.cat([hist_p.reshape(1, -1), a_t, ref], dim=-1)
            x_e, states[0] = self.expression_flow.inverse_step(
                noise_e[t : t + 1], cond_e, states[0], plans[0]
            )
            x_p, states[1] = self.pose_flow.inverse_step(noise_p[t : t + 1], cond_p, states[1], plans[1])
            x_e, x_p = (
                x_e.clamp(-_MAX_NORMALIZED, _MAX_NORMALIZED),
                x_p.clamp(-_MAX_NORMALIZED, _MAX_NORMALIZED),
            )
            hist_e = torch.cat([hist_e[1:], x_e])
            hist_p = torch.cat([hist_p[1:], x_p])
            out_e[t], out_p[t] = x_e[0], x_p[0]
            if progress is not None and ((t + 1) % report_every == 0 or t + 1 == t_total):
                progress(t + 1, t_total)

        expr = out_e * self.expression_std + self.expression_mean
        pose = out_p * self.pose_std + self.pose_mean
        if c.relative_motion:
            if c.expression_components:
                expr = expr @ self.expression_decoder
            expr, pose = expr + src_expr, pose + src_pose
        expr = src_expr + expression_strength * (expr - src_expr)
        pose = src_pose + pose_strength * (pose - src_pose)
        expr_np, pose_np = expr.cpu().numpy(), pose.cpu().numpy()
        return MotionSequence(
            c.face_model,
            expr_np,
            pose_np[:, :3],
            pose_np[:, 3:],
            np.repeat(source.crop[None], t_total, 0),
            fps=c.fps,
            identity=source.identity,
        )

    def generate(
        self,
        source: FaceCoefficients,
        audio_path: str | Path,
        fps: float = 25.0,
        seed: int = 0,
        temperature: float = 0.7,
        expression_strength: float = 1.0,
        pose_strength: float = 1.0,
        progress: ProgressCallback | None = None,
        max_seconds: float | None = 60.0,
        on_too_long: str = "error",
    ) -> MotionSequence:
        """Motion for a whole audio file, one frame per 1 / fps seconds (ceil(duration * fps) frames).

        The model samples at its training frame rate (`config.fps`); other rates are obtained by
        linear interpolation in time. See `generate_from_features` for the other arguments and
        `load_audio` for `max_seconds` / `on_too_long`.
        """
        if not (math.isfinite(fps) and 0 < fps <= 240):
            raise InputError(f"fps must be in (0, 240], got {fps}")
        self._check_source(source)
        sr = self.config.features.sample_rate
        wave = load_audio(audio_path, sample_rate=sr, max_seconds=max_seconds, on_too_long=on_too_long)
        features = audio_features(wave, self.config.fps, self.config.features)
        motion = self.generate_from_features(
            source, features, seed, temperature, expression_strength, pose_strength, progress
        )
        if fps != self.config.fps:
            motion = resample_motion(motion, fps, num_video_frames(wave.size, sr, fps))
        return motion

    # ------------------------------------------------------------------ files
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json and model.safetensors into `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"model_type": MODEL_TYPE})
        return directory

    @staticmethod
    def read_config(directory: str | Path) -> AudioToMotionConfig:
        """The config.json of a saved model, checked."""
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise WeightsNotFoundError(
                f"No audio-to-motion model at '{directory}' ({CONFIG_NAME} missing). Train one with "
                "`python -m audio2motion.training --data-dir CLIPS --out-dir OUT` and pass OUT/best."
            )
        try:
            return AudioToMotionConfig.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, InputError, TypeError) as exc:
            raise CheckpointError(f"'{path}' is not a valid audio-to-motion config: {exc}") from None

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, device: torch.device | str | None = None
    ) -> AudioToMotion:
        """Load a model written by `save_pretrained` (strict: every tensor name and shape must match)."""
        config = cls.read_config(directory)
        weights = Path(directory) / WEIGHTS_NAME
        if not weights.is_file():
            raise WeightsNotFoundError(
                f"'{weights}' is missing: the model directory is incomplete; save it again."
            )
        try:
            state = load_file(str(weights), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"'{weights}' is not a readable safetensors file: {exc}") from None
        model = cls(config)
        expected = model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"'{weights}' does not match its config: missing tensors {missing[:8]}, unexpected {unexpected[:8]}"
                f"{' (and more)' if len(missing) > 8 or len(unexpected) > 8 else ''}."
            )
        bad = [
            f"{k}: {tuple(state[k].shape)} != {tuple(v.shape)}"
            for k, v in expected.items()
            if state[k].shape != v.shape
        ]
        if bad:
            raise CheckpointError(f"'{weights}' has tensors of the wrong shape for its config: {bad[:8]}")
        model.load_state_dict(state, strict=True)
        model.eval()
        if device is not None:
            model.to(device)
        return model
