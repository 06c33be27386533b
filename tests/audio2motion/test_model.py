"""AudioToMotion: files (safetensors + JSON, strict, no pickle), generation controls and consistency."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from audio2motion import AudioToMotion, AudioToMotionConfig, audio_features, resample_motion
from audio2motion.model import MotionBatch, pose_of
from core.coefficients import FaceCoefficients, MotionSequence
from core.errors import CheckpointError, FaceModelMismatchError, InputError, WeightsNotFoundError

from .helpers import bursts, tiny_config, write_wav


def _source(model: AudioToMotion, face_model: str | None = None) -> FaceCoefficients:
    e = model.config.num_expression
    return FaceCoefficients(
        face_model or model.config.face_model,
        np.linspace(-0.2, 0.3, e),
        np.array([0.1, -0.2, 0.05]),
        np.array([0.0, 0.1, 10.0]),
        np.array([1.1, 112.0, 110.0]),
        identity=np.ones(3),
    )


def _features(model: AudioToMotion, frames: int = 40, seed: int = 0) -> np.ndarray:
    wave = bursts(frames / model.config.fps, model.config.features.sample_rate, np.random.default_rng(seed))
    return audio_features(wave, model.config.fps, model.config.features)


def _batch(model: AudioToMotion, length: int = 6, batch: int = 2) -> MotionBatch:
    c = model.config
    gen = torch.Generator().manual_seed(0)
    k = c.prev_motions
    return MotionBatch(
        torch.randn(batch, k + length, c.num_expression, generator=gen),
        torch.randn(batch, k + length, 6, generator=gen),
        torch.randn(batch, length + c.audio_window - 1, c.features.n_mels, generator=gen) - 10,
        torch.randn(batch, 6, generator=gen),
    )


def test_save_load_round_trip(tiny_model: AudioToMotion, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["face_model"] == "synthetic-face"
    assert config["features"]["n_mels"] == 8 and config["features"]["sample_rate"] == 16000
    assert len(config["stats"]["expression_std"]) == 4
    assert config["expression_flow"]["num_steps"] == 2
    loaded = AudioToMotion.from_pretrained(tmp_path / "m")
    assert loaded.config == tiny_model.config
    batch = _batch(tiny_model)
    with torch.no_grad():
        for key, value in tiny_model.log_likelihood(batch).items():
            torch.testing.assert_close(loaded.log_likelihood(batch)[key], value, rtol=0, atol=0)
    a = tiny_model.generate_from_features(_source(tiny_model), _features(tiny_model))
    b = loaded.generate_from_features(_source(tiny_model), _features(tiny_model))
    np.testing.assert_array_equal(a.expression, b.expression)


def test_loading_never_unpickles(
    tiny_model: AudioToMotion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_model.save_pretrained(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    AudioToMotion.from_pretrained(tmp_path)


def test_strict_loading_errors(tiny_model: AudioToMotion, tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="audio-train"):
        AudioToMotion.from_pretrained(tmp_path / "nothing")
    tiny_model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))
    save_file({**state, "extra.weight": torch.zeros(2)}, str(weights))
    with pytest.raises(CheckpointError, match="unexpected.*extra.weight"):
        AudioToMotion.from_pretrained(tmp_path)
    key = "expression_flow.cond_net.0.bias"
    save_file({**state, key: torch.zeros(3)}, str(weights))
    with pytest.raises(CheckpointError, match="wrong shape"):
        AudioToMotion.from_pretrained(tmp_path)
    weights.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="could not be read as safetensors"):
        AudioToMotion.from_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "surprise": 1}))
    with pytest.raises(CheckpointError, match="unknown config keys"):
        AudioToMotion.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "pirender-renderer"}))
    with pytest.raises(CheckpointError, match="not an audio-to-motion"):
        AudioToMotion.from_pretrained(tmp_path)


def test_config_round_trip_and_paper_defaults() -> None:
    config = AudioToMotionConfig()
    assert (
        config.num_expression == 64
        and config.expression_flow.num_steps == 10
        and config.pose_flow.num_steps == 8
    )
    assert config.prev_motions == 5 and config.audio_window == 12
    assert AudioToMotionConfig.from_dict(config.to_dict()) == config
    small = tiny_config(num_expression=7)
    assert AudioToMotionConfig.from_dict(json.loads(json.dumps(small.to_dict()))) == small
    with pytest.raises(InputError, match="statistics are for E=7"):
        AudioToMotionConfig(**{**small.__dict__, "num_expression": 5})


def test_same_seed_same_motion_different_seed_differs(tiny_model: AudioToMotion) -> None:
    src, feats = _source(tiny_model), _features(tiny_model)
    a = tiny_model.generate_from_features(src, feats, seed=3)
    b = tiny_model.generate_from_features(src, feats, seed=3)
    c = tiny_model.generate_from_features(src, feats, seed=4)
    np.testing.assert_array_equal(a.expression, b.expression)
    np.testing.assert_array_equal(a.angles, b.angles)
    assert np.abs(a.expression - c.expression).mean() > 1e-3
    assert np.abs(a.angles - c.angles).mean() > 1e-4
    # Temperature 0 removes the noise: the seed no longer matters.
    d = tiny_model.generate_from_features(src, feats, seed=3, temperature=0.0)
    e = tiny_model.generate_from_features(src, feats, seed=4, temperature=0.0)
    np.testing.assert_array_equal(d.expression, e.expression)


def test_generation_output_and_strengths(tiny_model: AudioToMotion) -> None:
    src, feats = _source(tiny_model), _features(tiny_model, frames=30)
    calls: list[tuple[int, int]] = []
    motion = tiny_model.generate_from_features(
        src, feats, progress=lambda done, total: calls.append((done, total))
    )
    assert isinstance(motion, MotionSequence) and len(motion) == 30 and motion.fps == 25.0
    assert motion.face_model == "synthetic-face"
    np.testing.assert_array_equal(motion.crop, np.repeat(src.crop[None], 30, 0))
    np.testing.assert_array_equal(motion.identity, src.identity)
    assert calls[-1] == (30, 30) and all(d <= t for d, t in calls)
    still = tiny_model.generate_from_features(src, feats, expression_strength=0.0, pose_strength=0.0)
    np.testing.assert_allclose(still.expression, np.repeat(src.expression[None], 30, 0), atol=1e-6)
    np.testing.assert_allclose(still.angles, np.repeat(src.angles[None], 30, 0), atol=1e-6)
    half = tiny_model.generate_from_features(src, feats, expression_strength=0.5, pose_strength=1.0)
    np.testing.assert_allclose(
        half.expression - src.expression, 0.5 * (motion.expression - src.expression), atol=1e-5
    )
    np.testing.assert_allclose(
        half.angles, motion.angles, atol=1e-6
    )  # pose unaffected by expression strength
    head_still = tiny_model.generate_from_features(src, feats, pose_strength=0.0)
    np.testing.assert_allclose(head_still.translation, np.repeat(src.translation[None], 30, 0), atol=1e-5)
    np.testing.assert_allclose(head_still.expression, motion.expression, atol=1e-6)


def test_sampling_inverts_the_training_density(tiny_model: AudioToMotion) -> None:
    """Teacher-forcing the generated motion through the flows gives back the sampled noise."""
    src, feats = _source(tiny_model), _features(tiny_model, frames=20)
    c = tiny_model.config
    motion = tiny_model.generate_from_features(src, feats, seed=7, temperature=1.0)
    k = c.prev_motions
    expr = np.concatenate([np.repeat(src.expression[None], k, 0), motion.expression])
    pose = np.concatenate(
        [
            np.repeat(pose_of(src.angles, src.translation)[None], k, 0),
            pose_of(motion.angles, motion.translation),
        ]
    )
    silence = tiny_model.silence.numpy()[None]  # (1, n_mels)
    audio = np.concatenate(
        [np.repeat(silence, c.audio_past, 0), feats, np.repeat(silence, c.audio_future, 0)]
    )
    batch = MotionBatch(
        *(torch.from_numpy(np.asarray(a, np.float32))[None] for a in (expr, pose, audio)),
        torch.from_numpy(pose_of(src.angles, src.translation))[None],
    )
    with torch.no_grad():
        expr_n, pose_n, cond_e, cond_p = tiny_model.conditions(batch)
        z_e, _ = tiny_model.expression_flow(expr_n, cond_e)
        z_p, _ = tiny_model.pose_flow(pose_n, cond_p)
    gen = torch.Generator().manual_seed(7)
    torch.testing.assert_close(z_e[0], torch.randn(20, c.num_expression, generator=gen), atol=1e-4, rtol=0)
    torch.testing.assert_close(z_p[0], torch.randn(20, 6, generator=gen), atol=1e-4, rtol=0)


def test_generate_from_file_at_other_fps(tiny_model: AudioToMotion, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "speech.wav", bursts(1.3, 22050, np.random.default_rng(0)), 22050)
    src = _source(tiny_model)
    m25 = tiny_model.generate(src, wav, fps=25)
    m30 = tiny_model.generate(src, wav, fps=30)
    assert (len(m25), m25.fps, len(m30), m30.fps) == (33, 25.0, 39, 30.0)
    np.testing.assert_allclose(m30.expression[0], m25.expression[0], atol=1e-6)  # same motion, resampled
    with pytest.raises(InputError, match="fps"):
        tiny_model.generate(src, wav, fps=0)


def test_generation_rejects_bad_inputs(tiny_model: AudioToMotion) -> None:
    feats = _features(tiny_model)
    with pytest.raises(FaceModelMismatchError, match="synthetic-face"):
        tiny_model.generate_from_features(_source(tiny_model, face_model="bfm09-deep3d"), feats)
    wrong_e = FaceCoefficients("synthetic-face", np.zeros(5), np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(InputError, match="4 expression"):
        tiny_model.generate_from_features(wrong_e, feats)
    with pytest.raises(InputError, match="temperature"):
        tiny_model.generate_from_features(_source(tiny_model), feats, temperature=-1.0)
    with pytest.raises(InputError, match="pose_strength"):
        tiny_model.generate_from_features(_source(tiny_model), feats, pose_strength=float("nan"))
    with pytest.raises(InputError, match="features"):
        tiny_model.generate_from_features(_source(tiny_model), feats[:, :3])


def test_resample_motion() -> None:
    t = np.arange(10, dtype=np.float32)[:, None]
    motion = MotionSequence(
        "m", np.hstack([t, 2 * t]), np.zeros((10, 3)), np.zeros((10, 3)), np.zeros((10, 3)), fps=10
    )
    fast = resample_motion(motion, 20.0)
    assert len(fast) == 20 and fast.fps == 20.0
    np.testing.assert_allclose(fast.expression[:19, 0], np.arange(19) / 2, atol=1e-6)
    assert fast.expression[19, 0] == 9.0  # end held


def test_fresh_model_initialisation_is_seeded() -> None:
    state = torch.random.get_rng_state()
    a, b = AudioToMotion(tiny_config(seed=1)), AudioToMotion(tiny_config(seed=1))
    c = AudioToMotion(tiny_config(seed=2))
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))
