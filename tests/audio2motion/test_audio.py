"""Audio front end: decoding through ffmpeg, frame alignment of features, silence, limits, errors."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from audio2motion.audio import (
    AudioFeatureConfig,
    audio_features,
    load_audio,
    loudness_envelope,
    mel_filterbank,
    num_video_frames,
    silence_features,
)
from core.errors import InputError, MediaReadError
from tests.conftest import check_missing_and_empty_files

from .helpers import bursts, encode_audio, make_video, tone, write_wav


@pytest.fixture(scope="module")
def burst_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of bursts at 44.1 kHz stereo (both channels equal)."""
    sr = 44100
    mono = bursts(2.0, sr, np.random.default_rng(3))
    return write_wav(tmp_path_factory.mktemp("audio") / "bursts.wav", np.stack([mono, mono], 1), sr)


def test_wav_stereo_any_rate_decodes_to_16k_mono(tmp_path: Path) -> None:
    sr = 44100
    left = tone(1.5, sr, 440.0, 0.5)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, np.zeros_like(left)], 1), sr)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.size - 24000) <= 16
    # Channels are averaged: a full tone on the left only gives half its amplitude.
    rms = float(np.sqrt(np.mean(wave[1000:-1000] ** 2)))
    assert rms == pytest.approx(0.5 / math.sqrt(2) / 2, rel=0.03)


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".mp4"])
def test_compressed_formats_match_the_wav(burst_wav: Path, tmp_path: Path, suffix: str) -> None:
    if suffix == ".mp4":
        path = make_video(tmp_path / "clip.mp4", burst_wav, seconds=2.0)
    else:
        path = encode_audio(burst_wav, tmp_path / f"clip{suffix}")
    ref, got = load_audio(burst_wav), load_audio(path)
    assert abs(got.size - ref.size) < 0.06 * 16000  # codecs pad a few ms
    n = min(ref.size, got.size)
    env_ref, env_got = loudness_envelope(ref[:n], 25), loudness_envelope(got[:n], 25)
    assert np.corrcoef(env_ref, env_got)[0, 1] > 0.9


def test_unreadable_audio_raises_clear_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.wav"
    garbage.write_bytes(b"this is not audio at all" * 50)
    with pytest.raises(MediaReadError, match="broken.wav.*not a readable audio"):
        load_audio(garbage)
    check_missing_and_empty_files(load_audio, MediaReadError, tmp_path, ".m4a")
    silent_video = make_video(tmp_path / "no_sound.mp4", None)
    with pytest.raises(MediaReadError, match="no audio stream"):
        load_audio(silent_video)


def test_too_long_audio_is_refused_or_trimmed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_wav(tmp_path / "three_seconds.wav", tone(3.0, 16000), 16000)
    with pytest.raises(MediaReadError, match="longer than the limit of 2 s"):
        load_audio(path, max_seconds=2.0)
    with caplog.at_level(logging.WARNING, logger="audio2motion.audio"):
        trimmed = load_audio(path, max_seconds=2.0, on_too_long="trim")
    assert trimmed.size == 32000
    assert "only the first 2 s" in caplog.text
    assert load_audio(path, max_seconds=None).size == 48000
    with pytest.raises(InputError):
        load_audio(path, on_too_long="cut")


def test_silence_gives_finite_constant_features(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 2), 16000)
    wave = load_audio(path)
    feats = audio_features(wave, 25.0)
    assert feats.shape == (50, 40)
    np.testing.assert_array_equal(feats, np.broadcast_to(silence_features(), feats.shape))
    assert np.all(loudness_envelope(wave, 25.0) == pytest.approx(-100.0))


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_features_are_aligned_to_video_frames(fps: float) -> None:
    sr = 16000
    wave = np.concatenate([np.zeros(sr), tone(1.0, sr, 300.0, 0.3)])  # sound starts at exactly 1.0 s
    feats = audio_features(wave, fps)
    loud = loudness_envelope(wave, fps, sr)
    onset = int(fps)  # first frame whose interval starts at 1.0 s
    assert feats.shape[0] == loud.shape[0] == num_video_frames(wave.size, sr, fps) == int(2 * fps)
    silence = silence_features()
    assert np.all(feats[: onset - 1] == silence)  # nothing leaks more than half a window back
    assert feats[onset].max() > silence.max() + 10.0
    assert loud[onset - 1] == pytest.approx(-100.0) and loud[onset] > -20.0


def test_frame_count_is_ceil_of_duration() -> None:
    assert num_video_frames(16000, 16000, 25.0) == 25
    assert num_video_frames(16001, 16000, 25.0) == 26
    assert num_video_frames(1, 16000, 25.0) == 1
    assert num_video_frames(48000, 16000, 29.97) == 90


def test_gain_normalisation_makes_features_level_independent() -> None:
    wave = bursts(2.0, 16000, np.random.default_rng(1))
    loud, quiet = audio_features(wave, 25.0), audio_features(wave * 0.2, 25.0)
    speech = loud.mean(1) > silence_features().mean() + 3
    np.testing.assert_allclose(loud[speech], quiet[speech], atol=0.01)
    raw = AudioFeatureConfig(normalize_gain=False)
    assert (
        np.abs(audio_features(wave, 25.0, raw)[speech] - audio_features(wave * 0.2, 25.0, raw)[speech]).mean()
        > 1
    )


def test_feature_config_checks_and_round_trip() -> None:
    config = AudioFeatureConfig(n_mels=24, sub_frames=2)
    assert AudioFeatureConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="unknown"):
        AudioFeatureConfig.from_dict({**config.to_dict(), "hop": 3})
    with pytest.raises(InputError):
        AudioFeatureConfig(f_max=9000.0)
    with pytest.raises(InputError, match="fall between FFT bins"):
        mel_filterbank(AudioFeatureConfig(n_mels=200, f_min=0.0))
    with pytest.raises(InputError):
        audio_features(np.zeros((10, 2)), 25.0)
    with pytest.raises(InputError):
        audio_features(np.array([0.0, np.nan]), 25.0)
