"""Prepared-clip folders: discovery, media lookup, split by clip/group, alignment, training windows."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from audio2motion.audio import AudioFeatureConfig, silence_features
from audio2motion.dataset import (
    ClipArrays,
    ClipEntry,
    WindowSampler,
    discover_clips,
    load_clip,
    load_clips,
    save_clip,
    split_clips,
    whole_clip_batch,
)
from core.coefficients import MotionSequence
from core.errors import FaceModelMismatchError, InputError

from .helpers import bursts, tiny_config, write_wav

FEATURES = AudioFeatureConfig(n_mels=8)


def _motion(frames: int, fps: float = 25.0, e: int = 4, face_model: str = "synthetic-face") -> MotionSequence:
    t = np.arange(frames, dtype=np.float32)[:, None]
    return MotionSequence(
        face_model,
        np.repeat(t, e, 1) * 0.01,
        np.repeat(t, 3, 1) * 0.001,
        np.zeros((frames, 3)) + 1.0,
        np.zeros((frames, 3)),
        fps=fps,
    )


def _wav(path: Path, seconds: float) -> Path:
    return write_wav(path, bursts(seconds, 16000, np.random.default_rng(0)), 16000)


def test_save_and_discover_with_sidecar_and_sibling(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    media = _wav(tmp_path / "media" / "a.wav", 1.0)
    entry = save_clip(
        tmp_path / "clips", "speaker1/take1", _motion(25), Path("../../media/a.wav"), group="speaker1"
    )
    assert json.loads((tmp_path / "clips" / "speaker1" / "take1.json").read_text())["group"] == "speaker1"
    _motion(25).save_npz(str(tmp_path / "clips" / "b.npz"))
    _wav(tmp_path / "clips" / "b.wav", 1.0)
    entries = discover_clips(tmp_path / "clips")
    assert [e.clip_id for e in entries] == ["b", "speaker1/take1"]
    assert entries[0].media_path.name == "b.wav" and entries[0].group == "b"
    assert entries[1].media_path.resolve() == media.resolve() and entries[1].group == "speaker1"
    assert entries[1] == entry


def test_discovery_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        discover_clips(tmp_path / "missing")
    with pytest.raises(InputError, match="no prepared clips"):
        discover_clips(tmp_path)
    _motion(10).save_npz(str(tmp_path / "lonely.npz"))
    with pytest.raises(InputError, match="lonely.npz' has no media"):
        discover_clips(tmp_path)
    (tmp_path / "lonely.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        discover_clips(tmp_path)


def test_split_is_deterministic_disjoint_and_keeps_groups(tmp_path: Path) -> None:
    entries = [
        ClipEntry(f"c{i}", tmp_path / f"c{i}.npz", tmp_path / f"c{i}.wav", f"g{i // 2}") for i in range(20)
    ]
    train, held = split_clips(entries, 0.2, seed=1)
    assert (train, held) == split_clips(entries, 0.2, seed=1)
    assert len(held) == 4 and len(train) == 16
    assert {e.group for e in train}.isdisjoint({e.group for e in held})
    assert split_clips(entries, 0.2, seed=2)[1] != held
    assert split_clips(entries, 0.0)[1] == []
    assert len(split_clips(entries[:1], 0.5)[1]) == 0  # a single group always trains
    with pytest.raises(InputError):
        split_clips(entries, 1.0)


def test_load_clip_resamples_and_aligns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    save_clip(tmp_path, "fast", _motion(100, fps=50.0), _wav(tmp_path / "fast.wav", 2.0))
    clip = load_clip(discover_clips(tmp_path)[0], FEATURES, 25.0)
    assert (
        len(clip) == 50
        and clip.fps == 25.0
        and clip.features.shape == (50, 8)
        and clip.loudness.shape == (50,)
    )
    np.testing.assert_allclose(
        clip.expression[10], np.full(4, 0.2), atol=1e-6
    )  # frame 10 at 25 fps = 20 at 50
    save_clip(tmp_path, "short_audio", _motion(100), _wav(tmp_path / "short.wav", 2.0))
    with caplog.at_level(logging.WARNING, logger="audio2motion.dataset"):
        short = load_clip(discover_clips(tmp_path)[1], FEATURES, 25.0)
    assert len(short) == 50 and "using the first 50" in caplog.text


def test_load_clips_skips_unreadable_and_refuses_mixed_face_models(tmp_path: Path) -> None:
    save_clip(tmp_path, "a", _motion(25), _wav(tmp_path / "a.wav", 1.0))
    (tmp_path / "bad.wav").write_bytes(b"nope" * 100)
    save_clip(tmp_path, "b", _motion(25), tmp_path / "bad.wav")
    clips = load_clips(discover_clips(tmp_path), FEATURES, 25.0)
    assert [c.clip_id for c in clips] == ["a"]
    save_clip(tmp_path, "c", _motion(25, face_model="bfm09-deep3d"), tmp_path / "a.wav")
    with pytest.raises(FaceModelMismatchError, match="mix face models"):
        load_clips(discover_clips(tmp_path), FEATURES, 25.0)


def _clip(frames: int = 30) -> ClipArrays:
    t = np.arange(frames, dtype=np.float32)
    return ClipArrays(
        "c",
        "synthetic-face",
        np.repeat(t[:, None], 4, 1),
        np.repeat(t[:, None], 6, 1) + 100,
        np.repeat(t[:, None], 8, 1),
        np.zeros(frames, np.float32),
        25.0,
    )


def test_windows_history_and_audio_context() -> None:
    config = tiny_config()
    clip = _clip()
    batch = whole_clip_batch(clip, config)
    k, past, future = config.prev_motions, config.audio_past, config.audio_future
    assert batch.expression.shape == (1, k + 29, 4) and batch.audio.shape == (1, past + 29 + future, 8)
    # History before frame 1 is frame 0 repeated; audio outside the clip is silence.
    np.testing.assert_array_equal(batch.expression[0, :k, 0].numpy(), np.zeros(k))
    np.testing.assert_array_equal(batch.expression[0, k:, 0].numpy(), np.arange(1, 30))
    silence = silence_features(config.features)
    np.testing.assert_array_equal(batch.audio[0, : past - 1].numpy(), np.repeat(silence[None], past - 1, 0))
    np.testing.assert_array_equal(batch.audio[0, past - 1 : past + 29, 0].numpy(), np.arange(0, 30))
    np.testing.assert_array_equal(batch.audio[0, past + 29 :].numpy(), np.repeat(silence[None], future, 0))
    np.testing.assert_array_equal(batch.ref_pose[0].numpy(), np.full(6, 100.0))

    sampler = WindowSampler([clip, _clip(5)], window=10, config=config)  # the 5-frame clip is too short
    assert len(sampler.clips) == 1
    a = sampler.sample(3, np.random.default_rng(0))
    b = sampler.sample(3, np.random.default_rng(0))
    assert a.expression.shape == (3, k + 10, 4) and a.audio.shape == (3, past + 10 + future, 8)
    np.testing.assert_array_equal(a.expression.numpy(), b.expression.numpy())
    starts = a.expression[:, k, 0].numpy()
    assert np.all((starts >= 1) & (starts <= 20))
    with pytest.raises(InputError, match="lower the window"):
        WindowSampler([_clip(5)], window=10, config=config)
