"""The product's use cases on a real portrait: edit, clip, reenact, animate (no renderer weights installed;
the project's own audio-to-motion model ships in weights/files/audio2motion)."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from pipeline.engines import GEOMETRIC, OWN_NEURAL, EngineRegistry
from core.errors import InputError, WeightsNotFoundError
from pipeline.media import SYNTHESIZED_NOTICE, read_video_metadata
from pipeline.usecases import (
    AnimateOptions,
    AudioModelNotInstalledError,
    Cancelled,
    EditRequest,
    ReenactOptions,
    SourceState,
    animate,
    audio_model_dir,
    edit,
    make_clip,
    prepare_photo,
    reenact,
)
from core.coefficients import DEFAULT_FACE_MODEL

# A short frontal talking-head clip with a sound track (VoxCeleb2-style crop, CC-BY-4.0).
DRIVING = "videos/Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> EngineRegistry:
    """A registry that sees no weights at all (an empty weights folder, no own renderer)."""
    empty = tmp_path_factory.mktemp("no-weights")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIRENDER_WEIGHTS_DIR", str(empty))
        yield EngineRegistry(own_dir=empty / "renderer", fast=False)


@pytest.fixture(scope="module")
def state(astronaut: np.ndarray, registry: EngineRegistry) -> SourceState:
    return prepare_photo(astronaut, registry=registry)


def _decode_all(path: Path) -> list[np.ndarray]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_prepare_photo(state: SourceState, astronaut: np.ndarray) -> None:
    assert state.face_model == DEFAULT_FACE_MODEL and state.backend == "default"
    assert state.crop.shape == (256, 256, 3) and state.image.shape == astronaut.shape
    assert state.num_faces == 1


def test_zero_controls_keep_the_photo(
    state: SourceState, astronaut: np.ndarray, registry: EngineRegistry
) -> None:
    result = edit(state, EditRequest(), registry=registry)
    assert result.engine_used == GEOMETRIC  # "auto" without neural weights
    assert result.full_image.shape == astronaut.shape and result.full_image.dtype == np.uint8
    assert _mae(result.full_image, astronaut) < 1.0  # < 1/255 of the range


def test_yaw_changes_the_face_only(
    state: SourceState, astronaut: np.ndarray, registry: EngineRegistry
) -> None:
    result = edit(state, EditRequest({"yaw": 15.0}, engine="preview"), registry=registry)
    assert np.degrees(result.coeffs.angles[1] - state.coefficients.angles[1]) == pytest.approx(15.0, abs=1e-3)
    x0, y0, x1, y1 = (int(v) for v in state.analysis.detection.face.bbox)
    face = (slice(y0, y1), slice(x0, x1))
    assert _mae(result.full_image[face], astronaut[face]) > 4.0
    bx0, by0, bx1, by1 = state.crop_transform.box
    outside = np.ones(astronaut.shape[:2], bool)
    outside[max(0, int(by0) - 1) : int(by1) + 2, max(0, int(bx0) - 1) : int(bx1) + 2] = False
    np.testing.assert_array_equal(result.full_image[outside], astronaut[outside])
    assert _mae(result.crop, state.crop) > 2.0


def test_neural_without_weights_says_what_to_install(state: SourceState, registry: EngineRegistry) -> None:
    with pytest.raises(WeightsNotFoundError, match="epoch_00190_iteration_000400000_checkpoint.pt"):
        edit(state, EditRequest({"yaw": 5.0}, engine="neural"), registry=registry)


def test_neural_engine_through_the_pipeline(state: SourceState, tmp_path: Path) -> None:
    """A (tiny, untrained) project-trained renderer for the default face model is used for "neural"/"auto"."""
    import torch

    from pirender import GeneratorConfig, MappingConfig, PIRenderer, save_pretrained

    small = GeneratorConfig.small()
    e = state.coefficients.expression.shape[0]
    config = GeneratorConfig(
        mapping=MappingConfig(e + 9, 32, 3),
        warping=small.warping,
        editing=small.editing,
        max_nc=small.max_nc,
        image_size=small.image_size,
        face_model=DEFAULT_FACE_MODEL,
    )
    torch.manual_seed(0)
    save_pretrained(PIRenderer(config), tmp_path / "renderer")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "none"))
        own = EngineRegistry(own_dir=tmp_path / "renderer", fast=False)
        for choice in ("neural", "auto"):
            result = edit(state, EditRequest({"yaw": 10.0}, engine=choice), registry=own)
            assert result.engine_used == OWN_NEURAL
            assert result.crop.shape == (256, 256, 3) and result.full_image.shape == state.image.shape
        assert edit(state, EditRequest(engine="preview"), registry=own).engine_used == GEOMETRIC
        clip = make_clip(
            state, EditRequest({"smile": 0.5}, engine="neural"), 0.2, 10, tmp_path / "n.mp4", registry=own
        )
        assert "engine=own" in read_video_metadata(clip).metadata["description"]


def test_bad_requests() -> None:
    with pytest.raises(InputError):
        EditRequest({"yaw": float("nan")})
    with pytest.raises(InputError):
        EditRequest(engine="fastest")
    with pytest.raises(InputError):
        ReenactOptions(parts=("hair",))
    with pytest.raises(InputError):
        AnimateOptions(variants=0)


def test_make_clip(
    state: SourceState, astronaut: np.ndarray, registry: EngineRegistry, tmp_path: Path
) -> None:
    request = EditRequest({"yaw": 15.0, "smile": 0.6})
    seen: list[float] = []
    path = make_clip(
        state,
        request,
        seconds=0.6,
        fps=10,
        path=tmp_path / "clip.mp4",
        registry=registry,
        progress=lambda f, m: seen.append(f),
    )
    frames = _decode_all(path)
    assert len(frames) == 6 and frames[0].shape == astronaut.shape
    assert seen[-1] == 1.0 and seen == sorted(seen)
    info = read_video_metadata(path)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.metadata["comment"].startswith(SYNTHESIZED_NOTICE)
    assert "operation=edit-clip" in info.metadata["description"]
    edited = edit(state, request, registry=registry).full_image
    assert _mae(frames[0], astronaut) < 3.0  # starts at the photo (H.264 loss only) ...
    assert _mae(frames[-1], edited) < 3.0  # ... ends at the edit
    assert _mae(frames[-1], astronaut) > _mae(frames[-1], edited) + 0.3


def test_cancel_between_batches(state: SourceState, registry: EngineRegistry, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if "rendering" in message:
            cancel.set()  # the user presses "stop" during rendering

    with pytest.raises(Cancelled):
        make_clip(
            state,
            EditRequest({"yaw": 10.0}),
            seconds=2,
            path=tmp_path / "c.mp4",
            registry=registry,
            progress=progress,
            cancel=cancel,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.realdata
@pytest.mark.slow
def test_reenact_real_clip_keeps_its_sound(
    shared_data: Path, astronaut: np.ndarray, registry: EngineRegistry, tmp_path: Path
) -> None:
    driving = shared_data / DRIVING
    seen: list[float] = []
    out = reenact(
        astronaut,
        driving,
        ReenactOptions(max_seconds=2.0),
        tmp_path / "re.mp4",
        registry=registry,
        progress=lambda f, m: seen.append(f),
    )
    info = read_video_metadata(out)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.duration == pytest.approx(2.0, abs=0.15)
    assert "operation=reenact" in info.metadata["description"]
    frames = _decode_all(out)
    assert len(frames) == 50 and frames[0].shape == astronaut.shape
    assert seen[-1] == 1.0 and seen == sorted(seen)
    # the photo moves with the video: frames differ from each other, around the face
    motion = np.mean([_mae(frames[i], frames[0]) for i in (10, 25, 49)])
    assert motion > 0.3


def test_animate_without_model_is_a_typed_error(tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    # checked before anything else: the photo and audio are not even read
    with pytest.raises(AudioModelNotInstalledError, match="not installed") as info:
        animate(tmp_path / "missing.jpg", tmp_path / "missing.wav", AnimateOptions(model_dir=str(empty)))
    assert isinstance(info.value, WeightsNotFoundError) and str(empty) in str(info.value)


def test_the_shipped_audio_model_is_found_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from weights.registry import bundled_dir

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
    speech = _write_pcm(tmp_path / "speech.wav", syllables, rate)
    silence = _write_pcm(tmp_path / "silence.wav", np.zeros(2 * rate), rate)
    rest = mouth_opening(state.coefficients.expression[None], readout)[0]
    talk = mouth_opening(model.generate(state.coefficients, speech, seed=0).expression, readout)
    quiet = mouth_opening(model.generate(state.coefficients, silence, seed=0).expression, readout)
    assert np.abs(quiet - rest).max() < 0.03 and talk.std() > 2.5 * quiet.std()
    paths = animate(state, speech, AnimateOptions(engine="preview"), tmp_path / "talk.mp4", registry=registry)
    info = read_video_metadata(paths[0])
    assert info.has_audio and info.duration == pytest.approx(2.0, abs=0.1)


def _write_pcm(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())
    return path


def _write_tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return path


def test_animate_with_a_model(state: SourceState, registry: EngineRegistry, tmp_path: Path) -> None:
    """Plumbing with a tiny untrained model: strengths 0 keep the photo still; files, sound, variants."""
    from audio2motion import AudioFeatureConfig, AudioToMotion, AudioToMotionConfig, FlowConfig

    config = AudioToMotionConfig(
        face_model=DEFAULT_FACE_MODEL,
        num_expression=state.coefficients.expression.shape[0],
        expression_flow=FlowConfig(2, 8, 8),
        pose_flow=FlowConfig(2, 8, 8),
        features=AudioFeatureConfig(n_mels=8),
    )
    model_dir = AudioToMotion(config).save_pretrained(tmp_path / "a2m")
    audio = _write_tone(tmp_path / "speech.wav", 0.6)
    options = AnimateOptions(variants=2, expression_strength=0.0, pose_strength=0.0, model_dir=str(model_dir))
    paths = animate(state, audio, options, tmp_path / "talk.mp4", registry=registry)
    assert [p.name for p in paths] == ["talk_v1.mp4", "talk_v2.mp4"]
    for p in paths:
        info = read_video_metadata(p)
        assert info.has_audio and "operation=animate" in info.metadata["description"]
        assert len(_decode_all(p)) == 15  # ceil(0.6 s * 25 fps)


def test_clip_of_a_large_photo_is_scaled_before_pasting(
    state: SourceState, astronaut: np.ndarray, registry: EngineRegistry, tmp_path: Path
) -> None:
    import cv2

    from pipeline.usecases import _video_canvas
    from reconstruction.crop import paste_back

    request = EditRequest({"yaw": 12.0})
    path = make_clip(
        state, request, seconds=0.2, fps=10, path=tmp_path / "s.mp4", registry=registry, max_side=200
    )
    frames = _decode_all(path)
    assert len(frames) == 2 and frames[0].shape == (200, 200, 3)
    # pasting into the photo scaled to video size == scaling the full-resolution result
    result = edit(state, request, registry=registry)
    canvas, transform = _video_canvas(state, 200)
    small = cv2.resize(result.full_image, (200, 200), interpolation=cv2.INTER_AREA)
    assert _mae(paste_back(canvas, result.crop, transform, mode="residual"), small) < 0.4
    assert _mae(frames[-1], small) < 5.0  # and the encoded frame is that picture (H.264 loss at 200 px)
