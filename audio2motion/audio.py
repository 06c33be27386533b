"""Audio front end of the audio-to-motion model (paper section 3.3, appendix D.2: audio features a(i)).

Decoding goes through the ffmpeg binary bundled with imageio-ffmpeg, so every container ffmpeg
reads (wav, mp3, m4a, mp4, mov, ...) works at any sample rate and channel count; the result is
16 kHz mono float PCM. Features are log-mel energies, one vector per *video* frame: for frame i
(covering [i / fps, (i + 1) / fps) seconds) the mel power of `sub_frames` short STFT windows
centred inside that interval is averaged, then the log is taken. The STFT size does not depend
on the frame rate, so the mel bands mean the same thing at every fps.

Every setting that changes the numbers lives in `AudioFeatureConfig`, which is saved inside each
model file: training and inference cannot disagree.

Long audio: `load_audio` refuses audio longer than `max_seconds` (default 60 s) with a
`MediaReadError` by default, because silently animating only part of a file surprises users;
pass ``on_too_long="trim"`` to keep the first `max_seconds` instead (a warning is logged).
Only a little more than `max_seconds` is ever decoded, so huge files cost nothing.

Silence: the mel power has a fixed floor before the log, and gain normalisation is gated, so
digital silence gives the finite constant `silence_features(config)` (the value the model
also uses to pad audio before the first and after the last frame).
"""

from __future__ import annotations

import logging
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InputError, MediaReadError
from reconstruction.video import ffmpeg_exe

from .settings import JsonSettings

__all__ = [
    "AudioFeatureConfig",
    "load_audio",
    "audio_features",
    "silence_features",
    "loudness_envelope",
    "num_video_frames",
    "mel_filterbank",
]

logger = logging.getLogger(__name__)

#: Seconds of decoding allowed per call before ffmpeg is considered stuck.
_DECODE_TIMEOUT_S = 300.0
#: Duration beyond `max_seconds` still accepted (resampler rounding), in seconds.
_LENGTH_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class AudioFeatureConfig(JsonSettings):
    """Log-mel feature settings (saved in the model's config.json).

    Attributes:
        sample_rate: decoding rate in Hz (mono).
        n_fft: FFT size of each short window (samples).
        win_length: Hann window length in samples (400 = 25 ms at 16 kHz).
        sub_frames: short windows averaged per video frame (spread evenly over the frame).
        n_mels: number of mel bands (HTK mel scale, triangular filters with peak 1).
        f_min, f_max: band edges in Hz.
        log_floor: power added before the log (about -80 dB below a full-scale sine);
            silence maps to log(log_floor) in every band.
        normalize_gain: scale the waveform so that its loud parts sit at `target_dbfs`.
        target_dbfs: level of the 95th percentile of 20 ms RMS blocks after scaling (dBFS).
        max_gain_db: the largest boost applied (quiet recordings are not blown up into noise).
        gate_dbfs: recordings whose 95th-percentile level is below this are left untouched
            (treated as silence).
        normalize_channel: per-recording spectral equalisation: each mel band's power is divided
            by a gain that brings the band's mean log power over the *active* frames to the
            recording's mean over all bands, so microphone and room colouring (which dominate
            the differences between a few dozen training clips) are removed while the overall
            level, and digital silence (exactly `silence_features`), are kept.
        channel_range_db: frames within this many dB of the loud (95th percentile) frame energy
            count as active for `normalize_channel`.
    """

    what = "audio feature settings"

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    sub_frames: int = 4
    n_mels: int = 40
    f_min: float = 55.0
    f_max: float = 7600.0
    log_floor: float = 1e-8
    normalize_gain: bool = True
    target_dbfs: float = -20.0
    max_gain_db: float = 20.0
    gate_dbfs: float = -50.0
    normalize_channel: bool = False
    channel_range_db: float = 30.0

    def __post_init__(self) -> None:
        if self.sample_rate < 4000:
            raise InputError(f"sample_rate must be at least 4000 Hz, got {self.sample_rate}")
        if not 16 <= self.win_length <= self.n_fft:
            raise InputError(f"win_length must be in [16, n_fft={self.n_fft}], got {self.win_length}")
        if self.sub_frames < 1 or self.n_mels < 1:
            raise InputError(f"sub_frames and n_mels must be >= 1, got {self.sub_frames}, {self.n_mels}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise InputError(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got f_min={self.f_min}, f_max={self.f_max}"
            )
        if not self.log_floor > 0:
            raise InputError(f"log_floor must be positive, got {self.log_floor}")
        if not self.channel_range_db > 0:
            raise InputError(f"channel_range_db must be positive, got {self.channel_range_db}")


def num_video_frames(num_samples: int, sample_rate: int, fps: float) -> int:
    """Video frames needed to cover `num_samples` of audio: ceil(duration * fps), at least 1."""
    exact = round(num_samples * fps / sample_rate, 6)  # rounding guards 3.0000000001 -> 4
    return max(1, int(math.ceil(exact)))


def _ffmpeg_reason(stderr: str) -> str:
    """A one-line human reason from ffmpeg's error output."""
    text = stderr.strip()
    low = text.lower()
    if "matches no streams" in low or "does not contain any stream" in low:
        return "the file has no audio stream"
    if "invalid data found" in low or "could not find codec" in low or "unknown format" in low:
        return "the file is not a readable audio or video file"
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg failed without a message"


def load_audio(
    path: str | Path,
    sample_rate: int = 16000,
    max_seconds: float | None = 60.0,
    on_too_long: str = "error",
) -> np.ndarray:
    """Decode the first audio stream of a file to mono float PCM.

    Args:
        path: any file ffmpeg reads (wav, mp3, m4a, mp4, mov, ...), any rate, mono or stereo.
        sample_rate: output rate in Hz (channels are averaged to mono).
        max_seconds: longest accepted duration; None for no limit (training on long clips).
        on_too_long: "error" (default) raises MediaReadError; "trim" keeps the first
            `max_seconds` and logs a warning.

    Returns:
        (N,) float32 samples, nominally in [-1, 1].

    Raises:
        MediaReadError: missing or unreadable file, no audio stream, no samples, or too long.
    """
    if on_too_long not in ("error", "trim"):
        raise InputError(f"on_too_long must be 'error' or 'trim', got {on_too_long!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise InputError(f"max_seconds must be positive or None, got {max_seconds}")
    path = Path(path)
    if not path.is_file():
        raise MediaReadError(
            f"Audio file not found: '{path}'. Give the path of an existing audio or video file."
        )
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path)]
    # -rematrix_maxval 1: the mono mix is the channel average (ffmpeg's default adds +3 dB for stereo).
    cmd += [
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-rematrix_maxval",
        "1.0",
        "-ar",
        str(int(sample_rate)),
    ]
    if max_seconds is not None:
        cmd += ["-t", f"{max_seconds + 0.5:.3f}"]  # decode a little more, to tell "too long" apart
    cmd += ["-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_DECODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise MediaReadError(
            f"Could not read audio from '{path}': decoding took longer than {_DECODE_TIMEOUT_S:.0f} s. "
            "Convert the file to a plain wav first."
        ) from None
    if proc.returncode != 0:
        reason = _ffmpeg_reason(proc.stderr.decode("utf-8", "replace"))
        raise MediaReadError(
            f"Could not read audio from '{path}': {reason}. Expected an audio file or a video with a "
            "sound track (wav, mp3, m4a, mp4, ...); check that the file is complete and not corrupted."
        )
    usable = len(proc.stdout) - len(proc.stdout) % 4
    samples = np.frombuffer(proc.stdout[:usable], dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise MediaReadError(
            f"Could not read audio from '{path}': the audio stream contains no samples. "
            "Give a file with at least a fraction of a second of sound."
        )
    samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    if max_seconds is not None:
        limit = int(round(max_seconds * sample_rate))
        if samples.size > limit + int(_LENGTH_TOLERANCE_S * sample_rate):
            if on_too_long == "error":
                raise MediaReadError(
                    f"The audio in '{path}' is longer than the limit of {max_seconds:g} s. "
                    f"Cut it to at most {max_seconds:g} s, raise the limit, or choose trimming "
                    "(on_too_long='trim') to animate only the beginning."
                )
            logger.warning(
                "audio '%s' is longer than %g s: only the first %g s are used", path, max_seconds, max_seconds
            )
        samples = samples[:limit]
    return samples


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(config: AudioFeatureConfig) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float64 triangular filters (HTK mel scale, peak 1)."""
    freqs = np.linspace(0.0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(config.f_min), _hz_to_mel(config.f_max), config.n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    bank = np.clip(np.minimum(rising, falling), 0.0, None)
    empty = np.flatnonzero(bank.sum(axis=1) <= 0)
    if empty.size:
        raise InputError(
            f"mel bands {empty.tolist()} fall between FFT bins: use fewer mel bands, a larger n_fft "
            f"or a higher f_min (n_mels={config.n_mels}, n_fft={config.n_fft}, f_min={config.f_min})"
        )
    return bank


def _normalize_gain(wave: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Scale so the loud parts sit at `target_dbfs`; quiet (gated) recordings stay untouched."""
    block = max(1, int(0.02 * config.sample_rate))
    n = wave.size // block
    if n == 0:
        return wave
    rms = np.sqrt(np.mean(wave[: n * block].reshape(n, block).astype(np.float64) ** 2, axis=1))
    level_db = 20.0 * math.log10(max(float(np.percentile(rms, 95)), 1e-10))
    if level_db < config.gate_dbfs:
        return wave
    gain_db = min(config.target_dbfs - level_db, config.max_gain_db)
    return (wave * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def _check_wave(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise InputError(f"audio must be a non-empty (N,) mono array, got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise InputError("audio contains NaN or infinite samples")
    return wave


def audio_features(wave: np.ndarray, fps: float, config: AudioFeatureConfig | None = None) -> np.ndarray:
    """Log-mel features aligned to video frames.

    Args:
        wave: (N,) float mono PCM at `config.sample_rate`, nominally [-1, 1].
        fps: video frame rate; frame i covers [i / fps, (i + 1) / fps) seconds.
        config: feature settings (defaults when None).

    Returns:
        (T, n_mels) float32 natural-log mel power, T = `num_video_frames(N, sample_rate, fps)`.
    """
    config = config or AudioFeatureConfig()
    wave = _check_wave(wave)
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive, got {fps}")
    if config.normalize_gain:
        wave = _normalize_gain(wave, config)
    sr, win, s = config.sample_rate, config.win_length, config.sub_frames
    t = num_video_frames(wave.size, sr, fps)
    # Window centres: sub-window j of frame i sits at (i + (j + 0.5) / s) / fps seconds.
    centres = (np.arange(t)[:, None] + (np.arange(s)[None, :] + 0.5) / s) / fps * sr  # (T, S)
    starts = np.round(centres.reshape(-1)).astype(np.int64) - win // 2 + win  # + win: left padding
    padded = np.pad(wave, (win, win + int(math.ceil(sr / fps)) + 1))
    frames = padded[starts[:, None] + np.arange(win)[None, :]]  # (T*S, win)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win) / win)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, n=config.n_fft, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2) / window.sum() ** 2  # full-scale sine peak ~ 0.25
    mel = power @ mel_filterbank(config).T  # (T*S, n_mels)
    mel = mel.reshape(t, s, config.n_mels).mean(axis=1)
    if config.normalize_channel:
        mel = _equalize_channel(mel, config)
    return np.log(mel + config.log_floor).astype(np.float32)


def _equalize_channel(mel: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """(T, n_mels) mel power with per-band gains that flatten the recording's mean spectrum.

    Only frames within `channel_range_db` of the loud frames, and well above the floor, are
    averaged; a recording without such frames (silence) is returned unchanged. The gain is
    applied to the power before the floor is added, so silence stays exactly silence.
    """
    energy_db = 10.0 * np.log10(mel.sum(axis=1) + 1e-30)
    floor_db = 10.0 * math.log10(config.log_floor * config.n_mels) + 20.0
    loud_db = float(np.percentile(energy_db, 95))
    active = (energy_db > loud_db - config.channel_range_db) & (energy_db > floor_db)
    if int(active.sum()) < 2:
        return mel
    band_log = np.log(mel[active] + config.log_floor).mean(axis=0)  # (n_mels,)
    gains = np.exp(band_log.mean() - band_log)
    return mel * gains[None, :]


def silence_features(config: AudioFeatureConfig | None = None) -> np.ndarray:
    """(n_mels,) float32 features of digital silence (used to pad before/after the audio)."""
    config = config or AudioFeatureConfig()
    return np.full(config.n_mels, math.log(config.log_floor), dtype=np.float32)


def loudness_envelope(wave: np.ndarray, fps: float, sample_rate: int = 16000) -> np.ndarray:
    """(T,) float32 RMS level per video frame in dBFS (floor -100 dB), T as in `audio_features`."""
    wave = _check_wave(wave)
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive, got {fps}")
    t = num_video_frames(wave.size, sample_rate, fps)
    bounds = np.round(np.arange(t + 1) * sample_rate / fps).astype(np.int64)
    energy = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    lo, hi = np.minimum(bounds[:-1], wave.size), np.minimum(bounds[1:], wave.size)
    count = np.maximum(bounds[1:] - bounds[:-1], 1)  # missing samples past the end count as silence
    rms = np.sqrt(np.maximum(energy[hi] - energy[lo], 0.0) / count)
    return (20.0 * np.log10(np.maximum(rms, 1e-5))).astype(np.float32)
