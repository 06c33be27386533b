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

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.coefficients import FaceCoefficients, MotionSequence, check_face_model
from core.errors import CheckpointError, InputError, WeightsNotFoundError
from reconstruction.controls import control_set_for
from weights.loading import load_safetensors, read_json, save_safetensors, write_json

from .audio import audio_features, load_audio, num_video_frames
from .config import (
    MODEL_TYPE,
    POSE_DIM,
    AudioToMotionConfig,
    NormalizationStats,
    condition_silence,
    pose_of,
)
from .controls import AnimationControls, blink_track, reference_head_motion, smooth_in_time
from .flows import ConditionalFlow
from .lips import lip_windows, rest_mouth_change
from .phonetics import viseme_features

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

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Generated motion is kept within this many training standard deviations (a safety net for long runs).
_MAX_NORMALIZED = 8.0

ProgressCallback = Callable[[int, int], None]


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
        audio_dim = c.audio_window * c.condition_channels
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
        self.register_buffer("silence", torch.from_numpy(condition_silence(c)), persistent=False)
        if c.phonetics is not None:
            # (lip_inputs, E) viseme windows -> expression change; saved with the weights
            self.register_buffer("lip_weights", torch.zeros(c.lip_inputs, c.num_expression))
        if c.expression_components:
            eye = torch.eye(c.num_expression)[:, : c.expression_components]
            self.register_buffer("expression_encoder", eye.clone())  # (E, m), saved with the weights
            self.register_buffer("expression_decoder", eye.T.clone())  # (m, E)

    # ------------------------------------------------------------------ phonetic features and lips
    def condition_features(self, wave: np.ndarray) -> np.ndarray:
        """(T, condition_channels) raw features of (N,) 16 kHz mono PCM at `config.fps`:
        log-mel (`audio_features`), then, for phonetic models, the viseme posteriors."""
        c = self.config
        mel = audio_features(wave, c.fps, c.features)
        if c.phonetics is None:
            return mel
        visemes = viseme_features(wave, c.fps, c.features.sample_rate, c.phonetics)
        return np.concatenate([mel, visemes[: mel.shape[0]]], axis=1).astype(np.float32)

    def set_lip_weights(self, weights: np.ndarray) -> None:
        """Install the (lip_inputs, E) viseme -> expression map (fitted by `training.fit_lip_map`)."""
        c = self.config
        if c.phonetics is None:
            raise InputError("this model has no phonetic features, hence no lip component")
        if weights.shape != (c.lip_inputs, c.num_expression):
            raise InputError(f"lip weights must be ({c.lip_inputs}, {c.num_expression}), got {weights.shape}")
        self.lip_weights.copy_(torch.as_tensor(weights, dtype=torch.float32))

    def lip_motion(self, visemes: np.ndarray) -> np.ndarray:
        """(T, V) viseme posteriors -> (T, E) expression change of the lips (before `lip_gain`)."""
        windows = lip_windows(visemes, self.config.lip_context)
        return windows @ self.lip_weights.detach().cpu().numpy()

    def mouth_basis(self) -> np.ndarray:
        """(E, r) orthonormal basis of the expression directions the lip component uses (r <= 3)."""
        u, sv, _ = np.linalg.svd(
            self.lip_weights.detach().cpu().numpy().astype(np.float64).T, full_matrices=False
        )
        keep = sv > 1e-6 * max(float(sv.max(initial=0.0)), 1e-12)
        return u[:, keep][:, :3]

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
            "audio": (b, length + c.audio_window - 1, c.condition_channels),
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
        controls: AnimationControls | None = None,
    ) -> MotionSequence:
        """Sample motion for precomputed features at the model's own frame rate.

        Args:
            source: the photo's own coefficients (first history frame and pose reference).
            features: (T, condition_channels) raw features from `condition_features` at `config.fps`
                (log-mel, then the viseme posteriors for phonetic models).
            seed: noise seed (the noise is drawn on the CPU: the same seed gives the same noise anywhere);
                also seeds the blinks.
            temperature: noise scale (n ~ N(0, temperature^2 I)); 0 gives one deterministic path.
            expression_strength, pose_strength: shorthand for `AnimationControls.from_strengths`
                (ignored when `controls` is given).
            progress: called as progress(frames_done, total_frames).
            controls: strengths of lips / expression / head, still mode, blinks, reference head
                motion (`AnimationControls`); None: from the two strengths.

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
        if controls is None:
            controls = AnimationControls.from_strengths(expression_strength, pose_strength)
        elif not isinstance(controls, AnimationControls):
            raise InputError(f"controls must be an AnimationControls, got {type(controls).__name__}")
        feats = np.asarray(features, dtype=np.float32)
        channels = c.condition_channels
        if feats.ndim != 2 or feats.shape[1] != channels or feats.shape[0] < 1:
            raise InputError(f"features must have shape (T, {channels}), got {feats.shape}")
        if not np.all(np.isfinite(feats)):
            raise InputError("features contain NaN or infinite values")
        src_expr = torch.from_numpy(np.asarray(source.expression, np.float32))
        src_pose = torch.from_numpy(pose_of(source.angles, source.translation))
        flow_e, flow_p = self._sample_flows(src_expr, src_pose, feats, seed, temperature, progress)
        return self._compose(source, feats, flow_e.numpy(), flow_p.numpy(), controls, seed)

    def _sample_flows(
        self,
        src_expr: torch.Tensor,
        src_pose: torch.Tensor,
        feats: np.ndarray,
        seed: int,
        temperature: float,
        progress: ProgressCallback | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, E) expression change and (T, 6) pose change from the source, as the flows sample them
        (CPU tensors; for relative models, changes from the source; otherwise absolute minus source)."""
        c = self.config
        device = self.expression_std.device
        t_total = feats.shape[0]
        src_expr, src_pose = src_expr.to(device), src_pose.to(device)

        # Audio windows for every frame, silence outside the audio: (T, W * n).
        audio = torch.from_numpy(feats).to(device)
        audio = torch.cat(
            [self.silence.expand(c.audio_past, -1), audio, self.silence.expand(c.audio_future, -1)]
        )
        audio_w = self._audio_windows(self._norm_audio(audio)[None], t_total)[0]

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
        else:
            expr, pose = expr - src_expr, pose - src_pose
        return expr.cpu(), pose.cpu()

    def _compose(
        self,
        source: FaceCoefficients,
        feats: np.ndarray,
        flow_e: np.ndarray,
        flow_p: np.ndarray,
        controls: AnimationControls,
        seed: int,
    ) -> MotionSequence:
        """Photo + lips + flow expression + blinks; photo pose + head motion (see `audio2motion.controls`)."""
        c = self.config
        t_total = feats.shape[0]
        src_expr = np.asarray(source.expression, np.float32)
        src_pose = pose_of(source.angles, source.translation)
        flow_e = smooth_in_time(flow_e, c.expression_smoothing_s * c.fps)
        flow_p = smooth_in_time(flow_p, c.pose_smoothing_s * c.fps)
        expr = src_expr[None] + controls.expression * flow_e
        if c.phonetics is not None:
            visemes = feats[:, c.features.n_mels :]
            # the flow's mouth movement fades out where there is no speech: silence keeps the mouth still
            basis = self.mouth_basis()
            silent = visemes[:, :1]  # (T, 1) posterior of silence
            removed = silent + (1.0 - silent) * (1.0 - c.flow_mouth)
            expr -= controls.expression * removed * ((flow_e @ basis) @ basis.T)
            lips = self.lip_motion(visemes)
            if c.lip_speech_gate:
                lips = lips * (1.0 - silent)
            expr += controls.lips * c.lip_gain * lips
            weights = self.lip_weights.detach().cpu().numpy()
            expr += min(controls.lips, 1.0) * rest_mouth_change(
                src_expr, weights, c.face_model, c.rest_mouth_gap
            )
        if controls.blinks_per_minute > 0 and controls.blink_strength > 0:
            direction = _blink_direction(c.face_model, c.num_expression)
            if direction is not None:
                closure = blink_track(t_total, c.fps, controls.blinks_per_minute, seed)
                expr += controls.blink_strength * closure[:, None] * direction[None]
        if controls.still:
            pose = np.repeat(src_pose[None], t_total, 0)
        elif controls.head_reference is not None:
            pose = src_pose[None] + controls.head * reference_head_motion(
                controls.head_reference, t_total, c.fps
            )
        else:
            pose = src_pose[None] + controls.head * flow_p
        return MotionSequence(
            c.face_model,
            expr.astype(np.float32),
            pose[:, :3].astype(np.float32),
            pose[:, 3:].astype(np.float32),
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
        controls: AnimationControls | None = None,
    ) -> MotionSequence:
        """Motion for a whole audio file, one frame per 1 / fps seconds (ceil(duration * fps) frames).

        The model samples at its training frame rate (`config.fps`); other rates are obtained by
        linear interpolation in time. `controls` (`AnimationControls`) sets the strengths of lips,
        expression and head motion, still mode, blinks and a reference head motion; without it,
        `expression_strength` scales lips and expression and `pose_strength` the head. See
        `generate_from_features` for the other arguments and `load_audio` for `max_seconds` /
        `on_too_long`.
        """
        if not (math.isfinite(fps) and 0 < fps <= 240):
            raise InputError(f"fps must be in (0, 240], got {fps}")
        self._check_source(source)
        sr = self.config.features.sample_rate
        wave = load_audio(audio_path, sample_rate=sr, max_seconds=max_seconds, on_too_long=on_too_long)
        features = self.condition_features(wave)
        motion = self.generate_from_features(
            source, features, seed, temperature, expression_strength, pose_strength, progress, controls
        )
        if fps != self.config.fps:
            motion = resample_motion(motion, fps, num_video_frames(wave.size, sr, fps))
        return motion

    # ------------------------------------------------------------------ files
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json and model.safetensors into `directory` (created if needed)."""
        directory = Path(directory)
        write_json(directory / CONFIG_NAME, self.config.to_dict())
        save_safetensors(self.state_dict(), directory / WEIGHTS_NAME, metadata={"model_type": MODEL_TYPE})
        return directory

    @staticmethod
    def read_config(directory: str | Path) -> AudioToMotionConfig:
        """The config.json of a saved model, checked."""
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise WeightsNotFoundError(
                f"No audio-to-motion model at '{directory}' ({CONFIG_NAME} missing). Train one with "
                "`pirender audio-train --data-dir CLIPS --out-dir OUT` and pass OUT/best."
            )
        try:
            return AudioToMotionConfig.from_dict(read_json(path, what="the audio-to-motion model"))
        except (InputError, TypeError) as exc:
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
        state = load_safetensors(weights, what="the audio-to-motion model")
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


def _blink_direction(face_model: str, num_expression: int) -> np.ndarray | None:
    """(E,) "close eyes" expression direction of the face model; None when the model has no controls."""
    try:
        direction = np.asarray(control_set_for(face_model).directions["close_eyes"], dtype=np.float32)
    except InputError:
        logger.debug("no blink direction for face model %r: blinks are skipped", face_model)
        return None
    return direction if direction.shape == (num_expression,) else None
