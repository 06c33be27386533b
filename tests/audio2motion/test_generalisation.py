"""Options that make a model trained on a few dozen clips generalise: channel equalisation of the
audio, silent/misaligned clip filtering, motion relative to the resting face, expression components,
condition noise, silent training windows and per-flow early stopping."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from audio2motion import AudioFeatureConfig, AudioToMotion, audio_features, silence_features
from audio2motion.audio import _equalize_channel
from audio2motion.dataset import (
    WindowSampler,
    discover_clips,
    load_clip,
    load_clips,
    rest_reference,
    save_clip,
    silent_window,
    whole_clip_batch,
)
from audio2motion.training import TrainConfig, train
from core.coefficients import FaceCoefficients, MotionSequence
from core.errors import InputError

from .helpers import FACE_MODEL, bursts, make_clip_folder, make_task, randomize, tiny_config, write_wav

SR = 16000


def test_channel_equalisation_removes_colouring_and_keeps_silence() -> None:
    eq = AudioFeatureConfig(normalize_channel=True)
    rng = np.random.default_rng(0)
    mel = np.exp(rng.normal(-6.0, 1.5, (120, eq.n_mels)))  # (T, n_mels) mel power of "speech"
    colouring = np.exp(rng.normal(0.0, 1.0, eq.n_mels))  # a microphone's per-band gain
    a, b = _equalize_channel(mel, eq), _equalize_channel(mel * colouring[None], eq)
    np.testing.assert_allclose(np.log(b), np.log(a) + np.log(colouring).mean(), rtol=0, atol=1e-4)
    # the overall level (mean log power) is kept: only the spectral shape is flattened
    assert np.log(a).mean() == pytest.approx(np.log(mel).mean(), abs=0.05)
    # digital silence, alone or between speech, stays exactly the silence features
    silent = audio_features(np.zeros(SR, np.float32), 25.0, eq)
    np.testing.assert_array_equal(silent, np.repeat(silence_features(eq)[None], 25, 0))
    wave = bursts(3.0, SR, np.random.default_rng(0))
    gaps = (audio_features(wave, 25.0, AudioFeatureConfig()) == silence_features()).all(1)
    assert gaps.any()
    np.testing.assert_array_equal(
        audio_features(wave, 25.0, eq)[gaps], np.repeat(silence_features(eq)[None], gaps.sum(), 0)
    )
    with pytest.raises(InputError):
        AudioFeatureConfig(channel_range_db=0)
    assert AudioFeatureConfig.from_dict(eq.to_dict()) == eq


def _motion(frames: int, rng: np.random.Generator) -> MotionSequence:
    expr = rng.standard_normal((frames, 4)).astype(np.float32)
    pose = rng.standard_normal((frames, 6)).astype(np.float32)
    return MotionSequence(FACE_MODEL, expr, pose[:, :3], pose[:, 3:], np.zeros((frames, 3)), fps=25.0)


def test_silent_and_misaligned_clips_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    features = AudioFeatureConfig(n_mels=8)
    save_clip(tmp_path, "speech", _motion(50, rng), write_wav(tmp_path / "a.wav", bursts(2.0, SR, rng), SR))
    save_clip(tmp_path, "silent", _motion(50, rng), write_wav(tmp_path / "s.wav", np.zeros(2 * SR), SR))
    save_clip(tmp_path, "stretched", _motion(100, rng), tmp_path / "a.wav")  # 4 s of motion, 2 s of sound
    entries = discover_clips(tmp_path)
    assert len(load_clips(entries, features, 25.0)) == 3
    with caplog.at_level(logging.WARNING, logger="audio2motion.dataset"):
        kept = load_clips(entries, features, 25.0, min_audio_dbfs=-50.0, refuse_misaligned=True)
    assert [c.clip_id for c in kept] == ["speech"]
    assert "sound is silent" in caplog.text and "not aligned" in caplog.text


def test_rest_reference_and_silent_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    wav = write_wav(tmp_path / "a.wav", bursts(2.0, SR, rng), SR)
    save_clip(tmp_path, "c", _motion(50, rng), wav)
    clip = load_clip(discover_clips(tmp_path)[0], AudioFeatureConfig(n_mels=8), 25.0)
    rest_e, rest_p = rest_reference(clip)
    quiet = np.argsort(clip.loudness, kind="stable")[:10]  # 20 % of 50 frames
    np.testing.assert_allclose(rest_e, clip.expression[quiet].mean(0), atol=1e-6)
    np.testing.assert_allclose(rest_p, clip.pose[quiet].mean(0), atol=1e-6)
    config = tiny_config(relative_motion=True)
    expr, pose, audio, ref_p, ref_e = silent_window(clip, 12, config, 0.0, rng)
    assert (
        expr.shape == (17, 4) and pose.shape == (17, 6) and audio.shape == (12 + config.audio_window - 1, 8)
    )
    np.testing.assert_allclose(expr, np.repeat(rest_e[None], 17, 0), atol=1e-6)
    np.testing.assert_array_equal(audio, np.repeat(silence_features(config.features)[None], len(audio), 0))
    batch = WindowSampler([clip], 12, config).sample(8, np.random.default_rng(0), silence_fraction=0.5)
    assert batch.ref_expression is not None and batch.ref_expression.shape == (8, 4)
    whole = whole_clip_batch(clip, config)
    np.testing.assert_allclose(whole.ref_expression[0].numpy(), rest_e, atol=1e-6)


def test_relative_model_with_components_round_trip_and_generation(tmp_path: Path) -> None:
    config = tiny_config(stats=False, relative_motion=True, expression_components=2)
    assert config.expression_dim == 2
    model = AudioToMotion(config)
    encoder = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 2)))[0].astype(np.float32)
    model.set_expression_components(encoder, encoder.T.copy())
    randomize(model).eval()
    model.save_pretrained(tmp_path / "m")
    loaded = AudioToMotion.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(loaded.expression_encoder.numpy(), encoder)
    source = FaceCoefficients(
        FACE_MODEL, np.array([0.3, -0.2, 0.1, 0.5]), np.zeros(3), np.array([0, 0, 10.0]), np.zeros(3)
    )
    feats = audio_features(bursts(1.0, SR, np.random.default_rng(2)), 25.0, config.features)
    motion = loaded.generate_from_features(source, feats, seed=3)
    # only the modelled components move: the change lies in the decoder's row space
    change = motion.expression - source.expression[None]
    np.testing.assert_allclose(change - change @ encoder @ encoder.T, 0.0, atol=1e-5)
    assert np.abs(change).max() > 1e-3
    still = loaded.generate_from_features(source, feats, seed=3, expression_strength=0.0, pose_strength=0.0)
    np.testing.assert_allclose(still.expression, np.repeat(source.expression[None], len(feats), 0), atol=1e-6)
    with pytest.raises(InputError, match="needs relative_motion"):
        tiny_config(stats=False, expression_components=2)
    with pytest.raises(InputError):
        model.set_expression_components(encoder[:3], encoder.T)


def test_condition_noise_changes_only_the_condition() -> None:
    model = randomize(AudioToMotion(tiny_config(relative_motion=True)))
    gen = torch.Generator().manual_seed(0)
    k = model.config.prev_motions
    from audio2motion.model import MotionBatch

    batch = MotionBatch(
        torch.randn(2, k + 6, 4, generator=gen),
        torch.randn(2, k + 6, 6, generator=gen),
        torch.randn(2, 6 + model.config.audio_window - 1, 8, generator=gen) - 10,
        torch.randn(2, 6, generator=gen),
        torch.randn(2, 4, generator=gen),
    )
    clean = model.conditions(batch)
    noisy = model.conditions(
        batch, history_noise=0.5, audio_noise=0.5, generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(noisy[0], clean[0])
    torch.testing.assert_close(noisy[1], clean[1])
    assert not torch.allclose(noisy[2], clean[2]) and not torch.allclose(noisy[3], clean[3])
    with pytest.raises(InputError, match="ref_expression"):
        model.conditions(MotionBatch(batch.expression, batch.pose, batch.audio, batch.ref_pose))


def test_training_with_the_generalisation_options(tmp_path: Path) -> None:
    task = make_task(n_mels=8)
    make_clip_folder(tmp_path / "clips", task, num_clips=5, seconds=2.0, seed=0)
    config = TrainConfig(
        str(tmp_path / "clips"), str(tmp_path / "run"), steps=6, batch_size=4, window=12, warmup_steps=2,
        held_out_fraction=0.3, eval_every=2, checkpoint_every=3, log_every=2, progress=False,
        expression_steps=2, pose_steps=2, hidden_size=8, cond_hidden=8, n_mels=8, normalize_channel=True,
        relative_motion=True, expression_components=2, history_noise=0.3, audio_noise=0.1, silence_fraction=0.2,
    )  # fmt: skip
    result = train(config)
    model = AudioToMotion.from_pretrained(result.best_dir)
    c = model.config
    assert c.relative_motion and c.expression_components == 2 and c.features.normalize_channel
    # the encoder is orthonormal principal directions of the training clips, saved with the weights
    enc = model.expression_encoder.numpy()
    np.testing.assert_allclose(enc.T @ enc, np.eye(2), atol=1e-5)
    state = json.loads(
        sorted((tmp_path / "run" / "checkpoints").iterdir())[-1].joinpath("trainer_state.json").read_text()
    )
    assert state["best_held_out_nll"] == pytest.approx(
        state["best_held_out_expression"] + state["best_held_out_pose"]
    )
    assert set(state["best_steps"]) == {"expression", "pose"}
