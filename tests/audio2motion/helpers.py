"""Helpers of the audio2motion tests: tiny models, synthetic audio and motion (no real data).

Audio: bursts of filtered noise and tones with random loudness, separated by digital silence,
written with the stdlib `wave` module. Motion: a known linear function of the audio features,
relative to the features of silence (so silence maps to zero motion), plus Gaussian noise.
"""

from __future__ import annotations

import math
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch

from audio2motion.audio import AudioFeatureConfig, audio_features, load_audio, silence_features
from audio2motion.flows import FlowConfig
from audio2motion.model import AudioToMotionConfig, NormalizationStats
from core.coefficients import MotionSequence

FACE_MODEL = "synthetic-face"


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write (N,) or (N, channels) float samples in [-1, 1] as 16-bit PCM."""
    data = np.asarray(samples, dtype=np.float64)
    channels = 1 if data.ndim == 1 else data.shape[1]
    pcm = np.clip(np.round(data * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())
    return path


def bursts(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """(N,) float32 bursts of noise / tones with random level (-30..-6 dBFS peak), separated by exact zeros."""
    n = int(round(seconds * sample_rate))
    out = np.zeros(n)
    t = rng.uniform(0.05, 0.3)
    while t < seconds:
        dur = rng.uniform(0.12, 0.6)
        i0, i1 = int(t * sample_rate), min(n, int((t + dur) * sample_rate))
        m = i1 - i0
        if m > 64:
            tt = np.arange(m) / sample_rate
            if rng.random() < 0.5:
                sig = rng.standard_normal(m)
                sig = np.convolve(sig, np.ones(rng.integers(1, 6)) / 3, mode="same")
            else:
                sig = sum(
                    np.sin(2 * np.pi * f * tt + rng.uniform(0, 6.28)) for f in rng.uniform(120, 2500, 3)
                )
            ramp = np.minimum(1.0, np.minimum(np.arange(m), np.arange(m)[::-1]) / (0.01 * sample_rate))
            level = 10 ** (rng.uniform(-30, -6) / 20)
            out[i0:i1] = level * sig / (np.abs(sig).max() + 1e-9) * ramp
        t += dur + rng.uniform(0.08, 0.5)
    return out.astype(np.float32)


def tone(seconds: float, sample_rate: int, freq: float = 440.0, level: float = 0.5) -> np.ndarray:
    """(N,) float32 sine of peak `level`."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg binary (quiet, overwrite) and fail loudly."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *args]
    subprocess.run(cmd, check=True, capture_output=True)


def encode_audio(src: Path, dst: Path) -> Path:
    """Re-encode a wav to the codec implied by dst's extension (.mp3 -> MP3, .m4a -> AAC)."""
    ffmpeg("-i", str(src), str(dst))
    return dst


def make_video(dst: Path, audio: Path | None, seconds: float = 1.0) -> Path:
    """A small grey H.264 mp4, with `audio` as AAC sound track (or without sound when None)."""
    args = ["-f", "lavfi", "-i", f"color=c=gray:s=64x64:r=25:d={seconds}"]
    if audio is not None:
        args += ["-i", str(audio), "-c:a", "aac", "-shortest"]
    ffmpeg(*args, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(dst))
    return dst


@dataclass(frozen=True)
class SyntheticTask:
    """The known generative model: motion = readout @ (features - silence) / 10 + noise."""

    expression_readout: np.ndarray  # (E, n_mels)
    pose_readout: np.ndarray  # (6, n_mels)
    pose_offset: np.ndarray  # (6,)
    expression_noise: float
    pose_noise: float
    features: AudioFeatureConfig

    @property
    def num_expression(self) -> int:
        return self.expression_readout.shape[0]

    def clean_motion(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free (T, E) expression and (T, 6) pose for (T, n_mels) raw features."""
        x = (feats - silence_features(self.features)[None]) / 10.0
        return x @ self.expression_readout.T, x @ self.pose_readout.T + self.pose_offset

    def true_nll_per_frame(self) -> float:
        """NLL per frame (nats) of the true Gaussian noise model: the best any model can do on average."""
        e, p = self.num_expression, 6
        return 0.5 * e * (math.log(2 * math.pi * self.expression_noise**2) + 1) + 0.5 * p * (
            math.log(2 * math.pi * self.pose_noise**2) + 1
        )


def make_task(n_mels: int = 16, num_expression: int = 4, seed: int = 0) -> SyntheticTask:
    """Expression 0 is a mouth opening (mean level above silence); the rest are random readouts."""
    rng = np.random.default_rng(seed)
    expr = rng.standard_normal((num_expression, n_mels)) / math.sqrt(n_mels)
    expr[0] = 1.0 / n_mels  # "mouth opening": mean level above silence
    pose = 0.3 * rng.standard_normal((6, n_mels)) / math.sqrt(n_mels)
    offset = np.array([0.05, -0.1, 0.02, 0.0, 0.1, 10.0])
    return SyntheticTask(expr, pose, offset, 0.05, 0.02, AudioFeatureConfig(n_mels=n_mels))


def make_clip_folder(
    folder: Path, task: SyntheticTask, num_clips: int, seconds: float, seed: int, fps: float = 25.0
) -> list[Path]:
    """Write clip_XX.wav + clip_XX.npz pairs (sibling media, no json). Returns the wav paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sr = task.features.sample_rate
    paths = []
    for i in range(num_clips):
        wav = write_wav(folder / f"clip_{i:02d}.wav", bursts(seconds, sr, rng), sr)
        feats = audio_features(load_audio(wav, sr), fps, task.features)
        expr, pose = task.clean_motion(feats)
        expr = expr + task.expression_noise * rng.standard_normal(expr.shape)
        pose = pose + task.pose_noise * rng.standard_normal(pose.shape)
        MotionSequence(
            FACE_MODEL, expr, pose[:, :3], pose[:, 3:], np.zeros((len(expr), 3)), fps=fps
        ).save_npz(str(folder / f"clip_{i:02d}.npz"))
        paths.append(wav)
    return paths


def tiny_config(
    num_expression: int = 4, n_mels: int = 8, stats: bool = True, **changes
) -> AudioToMotionConfig:
    """A small model (K = 2 steps) with non-trivial normalisation statistics."""
    st = None
    if stats:
        st = NormalizationStats(
            tuple(0.1 * i for i in range(num_expression)),
            tuple(0.5 + 0.1 * i for i in range(num_expression)),
            (0.1, -0.2, 0.0, 0.0, 0.1, 10.0),
            (0.2, 0.3, 0.1, 0.05, 0.05, 0.5),
            tuple(-10.0 + 0.1 * i for i in range(n_mels)),
            tuple(3.0 for _ in range(n_mels)),
        )
    kwargs = dict(
        face_model="synthetic-face",
        num_expression=num_expression,
        expression_flow=FlowConfig(2, 16, 16),
        pose_flow=FlowConfig(2, 16, 16),
        features=AudioFeatureConfig(n_mels=n_mels),
        stats=st,
    )
    kwargs.update(changes)
    return AudioToMotionConfig(**kwargs)


def randomize(
    model: torch.nn.Module, scale: float = 0.1, seed: int = 0, lu_scale: float | None = None
) -> torch.nn.Module:
    """Perturb every parameter (zero-initialised coupling heads would make the flow trivial).

    `lu_scale` (default `scale`) applies to the LU factors of the invertible linear maps: large
    random triangular factors of a 64 x 64 matrix are badly conditioned, which training never produces.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            s = scale if lu_scale is None or not name.endswith((".lower", ".upper")) else lu_scale
            p.add_(s * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model
