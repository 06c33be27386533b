"""Animation controls : strengths of lips / expression / head, still mode, blinks, reference head."""

from __future__ import annotations

import numpy as np
import pytest

from audio2motion import AudioToMotion
from audio2motion.controls import AnimationControls, blink_track, reference_head_motion, smooth_in_time
from core.coefficients import FaceCoefficients, MotionSequence
from core.errors import InputError

from .helpers import FACE_MODEL


def _source(model: AudioToMotion) -> FaceCoefficients:
    e = model.config.num_expression
    return FaceCoefficients(
        FACE_MODEL, np.full(e, 0.1), np.array([0.05, -0.1, 0.0]), np.zeros(3), np.zeros(3)
    )


def _features(model: AudioToMotion, frames: int = 40) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(-5.0, 2.0, (frames, model.config.condition_channels)).astype(np.float32)


@pytest.mark.parametrize("rate", [10.0, 15.0, 20.0])
def test_blinks_have_the_asked_rate_and_human_durations(rate: float) -> None:
    fps, seconds = 25.0, 240.0
    closure = blink_track(int(seconds * fps), fps, rate, seed=3)
    closed = closure > 0.05
    starts = np.flatnonzero(closed[1:] & ~closed[:-1]) + 1
    per_minute = len(starts) / (seconds / 60)
    assert 0.7 * rate < per_minute < 1.3 * rate
    ends = np.flatnonzero(closed[:-1] & ~closed[1:]) + 1
    durations = (ends[: len(starts)] - starts[: len(ends)]) / fps
    assert durations.min() >= 0.04 and durations.max() <= 0.3  # 100-300 ms, sampled at 25 fps
    assert closure.max() > 0.8 and closure.min() == 0.0
    np.testing.assert_array_equal(closure, blink_track(int(seconds * fps), fps, rate, seed=3))


def test_no_blinks_at_rate_zero_and_bad_controls_raise() -> None:
    assert not blink_track(500, 25.0, 0.0).any()
    for bad in (
        {"lips": -1.0},
        {"head": float("nan")},
        {"blinks_per_minute": 500.0},
        {"head_reference": "x"},
    ):
        with pytest.raises(InputError):
            AnimationControls(**bad)


def test_still_mode_and_zero_strengths_keep_the_photo(tiny_model: AudioToMotion) -> None:
    source, feats = _source(tiny_model), _features(tiny_model)
    still = tiny_model.generate_from_features(source, feats, controls=AnimationControls(still=True))
    np.testing.assert_array_equal(
        still.angles, np.repeat(source.angles[None], len(feats), 0).astype(np.float32)
    )
    np.testing.assert_array_equal(still.translation, np.repeat(source.translation[None], len(feats), 0))
    assert np.abs(still.expression - source.expression).max() > 1e-4  # the face still talks
    frozen = tiny_model.generate_from_features(
        source, feats, controls=AnimationControls(lips=0, expression=0, head=0, blinks_per_minute=0)
    )
    np.testing.assert_allclose(
        frozen.expression, np.repeat(source.expression[None], len(feats), 0), atol=1e-6
    )
    np.testing.assert_allclose(frozen.angles, np.repeat(source.angles[None], len(feats), 0), atol=1e-6)


def test_strengths_scale_their_own_part(tiny_model: AudioToMotion) -> None:
    source, feats = _source(tiny_model), _features(tiny_model)

    def run(**kw: float) -> MotionSequence:
        return tiny_model.generate_from_features(source, feats, seed=1, controls=AnimationControls(**kw))

    base, double_head, half_expr = run(), run(head=2.0), run(expression=0.5)
    np.testing.assert_allclose(
        double_head.expression, base.expression, atol=1e-6
    )  # head does not touch the face
    np.testing.assert_allclose(
        double_head.angles - source.angles, 2 * (base.angles - source.angles), atol=1e-5
    )
    np.testing.assert_allclose(half_expr.angles, base.angles, atol=1e-6)
    np.testing.assert_allclose(
        half_expr.expression - source.expression, 0.5 * (base.expression - source.expression), atol=1e-5
    )


def test_head_follows_a_reference_motion(tiny_model: AudioToMotion) -> None:
    source, feats = _source(tiny_model), _features(tiny_model, 30)
    t = 12  # shorter than the audio: held at its last frame
    angles = np.stack([np.linspace(0.2, 0.5, t), np.zeros(t), np.zeros(t)], 1)
    reference = MotionSequence(
        FACE_MODEL,
        np.zeros((t, tiny_model.config.num_expression)),
        angles,
        np.zeros((t, 3)),
        np.zeros((t, 3)),
        fps=25.0,
    )
    motion = tiny_model.generate_from_features(
        source, feats, controls=AnimationControls(head_reference=reference)
    )
    np.testing.assert_allclose(
        motion.angles[:, 0] - source.angles[0], reference_head_motion(reference, 30, 25.0)[:, 0], atol=1e-6
    )
    assert motion.angles[-1, 0] - source.angles[0] == pytest.approx(0.3, abs=1e-5)


def test_smoothing_removes_frame_to_frame_jitter() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.standard_normal((200, 3))
    smooth = smooth_in_time(noisy, 3.0)
    assert np.abs(np.diff(smooth, 2, axis=0)).mean() < 0.05 * np.abs(np.diff(noisy, 2, axis=0)).mean()
    np.testing.assert_allclose(smooth_in_time(np.ones((5, 2)), 2.0), 1.0, atol=1e-6)


def _phonetic_model(**changes: object) -> AudioToMotion:
    """A tiny phonetic model (no statistics) with a random lip map."""
    from audio2motion.phonetics import PhoneticConfig

    from .helpers import randomize, tiny_config

    config = tiny_config(
        stats=False, relative_motion=True, phonetics=PhoneticConfig(), lip_context=1, lip_gain=2.0, **changes
    )
    model = randomize(AudioToMotion(config)).eval()
    rng = np.random.default_rng(1)
    model.set_lip_weights(rng.normal(0, 0.5, (config.lip_inputs, config.num_expression)).astype(np.float32))
    return model


def _speech_then_silence(model: AudioToMotion, frames: int = 30) -> np.ndarray:
    """Random log-mel; one-hot visemes: speech (cycling visemes) for the first half, then silence."""
    c = model.config
    rng = np.random.default_rng(2)
    mel = rng.normal(-5.0, 2.0, (frames, c.features.n_mels))
    visemes = np.zeros((frames, c.num_visemes))
    visemes[: frames // 2, 1:] = np.eye(c.num_visemes - 1)[np.arange(frames // 2) % (c.num_visemes - 1)]
    visemes[frames // 2 :, 0] = 1.0
    return np.concatenate([mel, visemes], 1).astype(np.float32)


def test_speech_gate_keeps_the_lips_shut_in_pauses() -> None:
    """The lip map's context window reaches into a pause; the gate stops it there, not in speech."""
    lips_only = AnimationControls(lips=1.0, expression=0.0, head=0.0, blinks_per_minute=0)
    runs = {}
    for gate in (False, True):
        model = _phonetic_model(lip_speech_gate=gate)
        feats = _speech_then_silence(model)
        source = _source(model)
        motion = model.generate_from_features(source, feats, controls=lips_only)
        runs[gate] = np.abs(motion.expression - source.expression).max(axis=1)
    pause = slice(15, 30)
    assert runs[False][15] > 1e-3  # the first silent frame still moves without the gate
    np.testing.assert_allclose(runs[True][pause], 0.0, atol=1e-6)
    np.testing.assert_allclose(runs[True][:14], runs[False][:14], rtol=1e-5)


def test_flow_mouth_zero_leaves_the_lip_directions_to_the_lip_map() -> None:
    """With flow_mouth=0 the flow moves no expression along the lip map's directions, also in speech."""
    flow_only = AnimationControls(lips=0.0, expression=1.0, head=0.0, blinks_per_minute=0)
    along = {}
    for keep in (1.0, 0.0):
        model = _phonetic_model(flow_mouth=keep)
        feats = _speech_then_silence(model)
        source = _source(model)
        change = (
            model.generate_from_features(source, feats, controls=flow_only).expression - source.expression
        )
        basis = model.mouth_basis()
        along[keep] = np.abs(change[:15] @ basis).max()
    assert along[1.0] > 1e-3
    assert along[0.0] < 1e-5
    with pytest.raises(InputError):
        _phonetic_model(flow_mouth=1.5)
