"""Audio-driven animation of a real portrait (the project's audio-to-motion model ships in
weights/files/audio2motion): the typed error without a model, the shipped model, variants, and the
audio read once per request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pipeline.audio
import pipeline.media
from audio2motion import AudioFeatureConfig, AudioToMotion, AudioToMotionConfig, FlowConfig
from core.coefficients import DEFAULT_FACE_MODEL, MotionSequence
from core.errors import FaceModelMismatchError, InputError, WeightsNotFoundError
from pipeline import (
    AnimateOptions,
    AnimationControls,
    AudioModelNotInstalledError,
    EngineRegistry,
    SourceState,
    animate,
    audio_model_dir,
    head_motion_from_video,
    read_video_metadata,
)
from tests.pipeline.conftest import decode_all, write_pcm, write_tone
from weights.registry import bundled_dir

#: the `generated` fixture: (controls given, motion returned) per call of the model
Generated = list[tuple[AnimationControls | None, MotionSequence]]


def test_bad_options() -> None:
    with pytest.raises(InputError):
        AnimateOptions(variants=0)
    with pytest.raises(InputError):
        AnimateOptions(fps=0)


def test_animate_without_model_is_a_typed_error(tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    # checked before anything else: the photo and audio are not even read
    with pytest.raises(AudioModelNotInstalledError, match="not installed") as info:
        animate(tmp_path / "missing.jpg", tmp_path / "missing.wav", AnimateOptions(model_dir=str(empty)))
    assert isinstance(info.value, WeightsNotFoundError) and str(empty) in str(info.value)


def test_the_shipped_audio_model_is_found_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIRENDER_AUDIO_MODEL", raising=False)
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path))  # nothing installed by the user
    assert audio_model_dir() == bundled_dir() / "audio2motion"
    # a user's own model still comes first
    mine = tmp_path / "audio2motion"
    mine.mkdir()
    for name in ("config.json", "model.safetensors"):
        (mine / name).write_bytes((bundled_dir() / "audio2motion" / name).read_bytes())
    assert audio_model_dir() == mine


def test_animate_with_the_shipped_model_moves_the_mouth_with_speech(
    state: SourceState, registry: EngineRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default model, astronaut photo: voiced sound moves the mouth, digital silence leaves it nearly still.

    Measured when shipped (temperature 0.7, seeds 0-2): mouth-opening std 0.021-0.026 for the voiced
    bursts below, 0.006 for silence, whose largest change from the photo is 0.013-0.017.
    """
    from audio2motion.evaluate import face_model_mouth_readout, mouth_opening

    monkeypatch.delenv("PIRENDER_AUDIO_MODEL", raising=False)
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path))
    model = registry.audio_model(audio_model_dir())
    readout = face_model_mouth_readout(state.face_model)
    assert model.config.face_model == state.face_model and readout is not None
    rate = 16000
    t = np.arange(2 * rate) / rate
    voice = 0.2 * (2 * ((120 * t) % 1) - 1) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    syllables = voice * (np.sin(2 * np.pi * 3 * t) > 0)  # a 120 Hz buzz with breath, 3 bursts per second
    speech = write_pcm(tmp_path / "speech.wav", syllables, rate)
    silence = write_pcm(tmp_path / "silence.wav", np.zeros(2 * rate), rate)
    rest = mouth_opening(state.coefficients.expression[None], readout)[0]
    talk = mouth_opening(model.generate(state.coefficients, speech, seed=0).expression, readout)
    quiet = mouth_opening(model.generate(state.coefficients, silence, seed=0).expression, readout)
    assert np.abs(quiet - rest).max() < 0.03 and talk.std() > 2.5 * quiet.std()
    paths = animate(state, speech, AnimateOptions(engine="preview"), tmp_path / "talk.mp4", registry=registry)
    info = read_video_metadata(paths[0])
    assert info.has_audio and info.duration == pytest.approx(2.0, abs=0.1)


@pytest.fixture(scope="module")
def tiny_audio_model(state: SourceState, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = AudioToMotionConfig(
        face_model=DEFAULT_FACE_MODEL,
        num_expression=state.coefficients.expression.shape[0],
        expression_flow=FlowConfig(2, 8, 8),
        pose_flow=FlowConfig(2, 8, 8),
        features=AudioFeatureConfig(n_mels=8),
    )
    return AudioToMotion(config).save_pretrained(tmp_path_factory.mktemp("a2m") / "model")


def test_animate_with_a_model(
    state: SourceState, registry: EngineRegistry, tiny_audio_model: Path, tmp_path: Path
) -> None:
    """Plumbing with a tiny untrained model: strengths 0 keep the photo still; files, sound, variants."""
    audio = write_tone(tmp_path / "speech.wav", 0.6)
    options = AnimateOptions(
        variants=2, expression_strength=0.0, pose_strength=0.0, model_dir=str(tiny_audio_model)
    )
    paths = animate(state, audio, options, tmp_path / "talk.mp4", registry=registry)
    assert [p.name for p in paths] == ["talk_v1.mp4", "talk_v2.mp4"]
    for p in paths:
        info = read_video_metadata(p)
        assert info.has_audio and "operation=animate" in info.metadata["description"]
        assert len(decode_all(p)) == 15  # ceil(0.6 s * 25 fps)


@pytest.fixture
def generated(monkeypatch: pytest.MonkeyPatch) -> Generated:
    """Every `AudioToMotion.generate_from_features` call of the test, in order: (the controls it was
    given, the motion it returned)."""
    calls: Generated = []
    generate = AudioToMotion.generate_from_features

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - same signature as the model's
        motion = generate(self, *args, **kwargs)
        calls.append((kwargs.get("controls"), motion))
        return motion

    monkeypatch.setattr(AudioToMotion, "generate_from_features", spy)
    return calls


def test_the_audio_is_read_once_per_request(
    state: SourceState,
    registry: EngineRegistry,
    tiny_audio_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    generated: Generated,
) -> None:
    """Three variants: the recording is decoded and featurised once and never probed again, and each
    variant still gets its own motion (its own seed)."""
    calls = {"decode": 0, "features": 0, "probe": 0}

    def counting(name: str, fn):  # noqa: ANN001, ANN202 - a wrapper of any signature
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(pipeline.audio, "load_audio", counting("decode", pipeline.audio.load_audio))
    monkeypatch.setattr(
        AudioToMotion, "condition_features", counting("features", AudioToMotion.condition_features)
    )
    monkeypatch.setattr(
        pipeline.media, "read_video_metadata", counting("probe", pipeline.media.read_video_metadata)
    )
    audio = write_tone(tmp_path / "speech.wav", 0.4)
    options = AnimateOptions(variants=3, engine="preview", model_dir=str(tiny_audio_model))
    paths = animate(state, audio, options, tmp_path / "talk.mp4", registry=registry)
    assert len(paths) == 3 and calls == {"decode": 1, "features": 1, "probe": 0}
    motions = [motion for _, motion in generated]
    assert len(motions) == 3 and not np.allclose(motions[0].expression, motions[1].expression)
    assert all(read_video_metadata(p).has_audio for p in paths)


def test_animation_controls_reach_the_model(
    state: SourceState,
    registry: EngineRegistry,
    tiny_audio_model: Path,
    tmp_path: Path,
    generated: Generated,
) -> None:
    """`AnimateOptions.controls` is what the model samples with: still keeps the photo's pose exactly;
    the controls are written into the file's provenance."""
    controls = AnimationControls(lips=0.5, expression=0.0, still=True, blinks_per_minute=0.0)
    options = AnimateOptions(engine="preview", model_dir=str(tiny_audio_model), controls=controls)
    audio = write_tone(tmp_path / "speech.wav", 0.4)
    (path,) = animate(state, audio, options, tmp_path / "still.mp4", registry=registry)
    ((given, motion),) = generated
    assert given is controls
    np.testing.assert_allclose(
        motion.angles, np.repeat(state.coefficients.angles[None], len(motion), 0), atol=1e-6
    )
    description = read_video_metadata(path).metadata["description"]
    assert "lips=0.5" in description and "head=still" in description and "blinks_per_minute=0" in description


def test_bad_controls_and_a_reference_of_another_face_model(
    state: SourceState, registry: EngineRegistry, tiny_audio_model: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="controls"):
        AnimateOptions(controls={"lips": 1.0})
    with pytest.raises(InputError, match="lips"):
        AnimationControls(lips=5.0)
    coeffs = state.coefficients
    other = MotionSequence.still(coeffs.replace(face_model="bfm-deep3d"), num_frames=3)
    options = AnimateOptions(
        model_dir=str(tiny_audio_model), controls=AnimationControls(head_reference=other)
    )
    with pytest.raises(FaceModelMismatchError, match="reference head motion"):
        animate(state, write_tone(tmp_path / "s.wav", 0.2), options, tmp_path / "x.mp4", registry=registry)


@pytest.mark.realdata
@pytest.mark.slow
def test_head_motion_from_a_reference_video(
    state: SourceState,
    registry: EngineRegistry,
    tiny_audio_model: Path,
    shared_data: Path,
    tmp_path: Path,
    generated: Generated,
) -> None:
    """The animation's head follows the reference video's head (relative to its first frame)."""
    reference = head_motion_from_video(
        shared_data / "videos/Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4",
        max_seconds=1.0,
        registry=registry,
    )
    assert len(reference) == 25 and reference.face_model == state.face_model
    controls = AnimationControls(head_reference=reference, blinks_per_minute=0.0)
    options = AnimateOptions(engine="preview", model_dir=str(tiny_audio_model), controls=controls)
    animate(state, write_tone(tmp_path / "s.wav", 1.0), options, tmp_path / "head.mp4", registry=registry)
    moved = generated[0][1].angles - state.coefficients.angles
    wanted = reference.angles - reference.angles[0]
    np.testing.assert_allclose(moved[: len(wanted)], wanted[: len(moved)], atol=2e-3)
