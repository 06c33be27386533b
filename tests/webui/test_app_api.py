"""The web app through its HTTP API (gradio_client), tab by tab, including the bad inputs users send."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from benchmarks.load_test import animate_inputs, reenact_inputs
from pipeline import CONTROL_SPECS, PRESETS, SYNTHESIZED_NOTICE, read_video_metadata
from reconstruction.images import read_png_text
from tests.conftest import write_speech_like
from tests.webui.conftest import RunningApp, write_video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

client_mod = pytest.importorskip("gradio_client")
AppError = client_mod.exceptions.AppError
handle_file = client_mod.handle_file

N_CONTROLS = len(CONTROL_SPECS)


def _img(path: str | Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def _reenact(client: Any, photo: Path, video: Path, **fields: Any) -> Any:
    """`/reenact` of `photo` driven by `video` (`fields`: as in `reenact_inputs`)."""
    return client.predict(*reenact_inputs(photo, video, **fields), api_name="/reenact")


def _animate(client: Any, photo: Path, audio: Path, **fields: Any) -> Any:
    """`/animate` of `photo` with `audio` (`fields`: as in `animate_inputs`)."""
    return client.predict(*animate_inputs(photo, audio, **fields), api_name="/animate")


def _mp4s(obj: object) -> list[str]:
    """Every .mp4 path in a client result (plain paths, update dicts, video dicts), in order."""
    if isinstance(obj, str):
        return [obj] if obj.endswith(".mp4") else []
    if isinstance(obj, dict):
        return [p for v in obj.values() for p in _mp4s(v)]
    if isinstance(obj, (list, tuple)):
        return [p for v in obj for p in _mp4s(v)]
    return []


@pytest.fixture(scope="module")
def edit_client(running_app: RunningApp, example_photo: Path):
    """One user session with the example photo analysed."""
    client = running_app.client()
    out = client.predict(handle_file(str(example_photo)), api_name="/analyse")
    return client, out


# ------------------------------------------------------------------------------------------------
# Edit tab
# ------------------------------------------------------------------------------------------------


def test_analyse_shows_face_and_resets(edit_client, example_photo: Path) -> None:
    _, out = edit_client
    faces, result, compare, info, face_choice = out[:5]
    assert "1 face found" in info and "288×288" in info
    assert face_choice["value"] == "1" and face_choice["visible"] is False  # one face: no chooser
    assert _img(faces).shape == (288, 288, 3)
    # the "before" image is the photo itself (JPEG at display size)
    assert _mae(_img(result), _img(example_photo)) < 3.0
    assert list(out[8 : 8 + N_CONTROLS]) == [s.default for s in CONTROL_SPECS]


def test_slider_preview_and_refine_change_the_face_only(edit_client, running_app: RunningApp) -> None:
    from tests.webui.conftest import wait_for

    client, out = edit_client
    before = _img(out[1])
    previews = running_app.ctx.previews
    wait_for(lambda: previews.ready, timeout=180)  # drag previews are rendered in the worker process
    rendered = previews.rendered
    preview = _img(client.predict(yaw=15.0, smile=0.6, api_name="/preview"))
    assert previews.rendered == rendered + 1
    assert preview.shape == before.shape
    assert _mae(preview, before) > 0.5
    face = (slice(70, 177), slice(98, 190))  # the astronaut's face (detected box)
    corner = (slice(230, 288), slice(240, 288))  # the suit and background, far from the face
    assert _mae(preview[face], before[face]) > 4 * max(_mae(preview[corner], before[corner]), 0.5)

    shown, compare, note, coeffs = client.predict(yaw=15.0, smile=0.6, api_name="/refine")
    assert "geometric preview" in note and "Engines" in note  # no neural weights in the test server
    assert coeffs["engine"] == "geometric"
    assert _mae(_img(compare[0]), before) < 1.0 and _mae(_img(compare[1]), _img(shown)) < 1.0
    # same values, same engine: the same picture, rendered again for the release (the drag canvas
    # leaves out final-only finishing) and saved finer (JPEG 90 against the drag's 80: 2.8 apart)
    assert _mae(_img(shown), preview) < 3.5
    # the raw coefficients drag on their own event, the semantic values kept from the release
    raw = _img(client.predict(raw_00=1.5, api_name="/preview_raw"))
    assert 0.2 < _mae(raw, preview) < _mae(raw, before)  # still turned: yaw 15 came from the session
    with pytest.raises(AppError, match="raw_00"):
        client.predict(raw_00=9.0, api_name="/preview_raw")


def test_save_png_is_full_resolution_with_provenance(edit_client, example_photo: Path) -> None:
    client, _ = edit_client
    path = client.predict(yaw=-10.0, api_name="/save_png")
    assert Path(path).suffix == ".png"
    assert _img(path).shape == _img(example_photo).shape
    text = read_png_text(path)
    assert text["Comment"].startswith(SYNTHESIZED_NOTICE)
    assert "operation=edit" in text["Description"] and "yaw=-10" in text["Description"]
    crop = client.predict(yaw=-10.0, api_name="/save_crop")
    assert _img(crop).shape == (256, 256, 3)
    assert read_png_text(crop)["Comment"].startswith(SYNTHESIZED_NOTICE)


def test_preset_and_reset_move_the_sliders(edit_client) -> None:
    client, out = edit_client
    res = client.predict(api_name="/preset_smile")
    values = dict(zip([s.name for s in CONTROL_SPECS], res[:N_CONTROLS], strict=True))
    assert values["smile"] == pytest.approx(PRESETS["smile"]["smile"])
    assert _mae(_img(res[-4]), _img(out[1])) > 0.3
    res = client.predict(api_name="/reset")
    assert all(v == 0 for v in res[:N_CONTROLS])
    assert _mae(_img(res[-4]), _img(out[1])) < 1.0


def test_make_clip_is_an_mp4_with_provenance(edit_client) -> None:
    client, _ = edit_client
    path = client.predict(seconds=0.5, yaw=12.0, api_name="/make_clip")
    info = read_video_metadata(path)
    assert info.video_codec == "h264" and info.duration == pytest.approx(0.5, abs=0.1)
    assert info.metadata["comment"].startswith(SYNTHESIZED_NOTICE)
    assert "operation=edit-clip" in info.metadata["description"]


def test_photo_without_a_face_is_shown_with_a_message(running_app: RunningApp, tmp_path: Path) -> None:
    from skimage import data

    path = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()[:400, :500]).save(path)
    out = running_app.client().predict(handle_file(str(path)), api_name="/analyse")
    faces, result, _, info = out[:4]
    assert "No usable face found" in info
    assert _img(faces).shape == (400, 500, 3)  # the photo itself is shown
    assert result is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.png", b"this is not an image", "not an image we can read"),
        ("empty.jpg", b"", "not an image we can read"),
    ],
)
def test_wrong_file_type_is_refused_readably(
    running_app: RunningApp, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    _assert_refused(running_app.client().predict(handle_file(str(path)), api_name="/analyse"), message)


def _assert_refused(outputs: tuple, reason: str) -> None:
    """An /analyse refusal: the result panels empty, the reason in the info line (no error raised)."""
    faces, result, compare, info = outputs[:4]
    assert faces is None and result is None and compare is None
    assert "Not used" in info and re.search(reason, info), info


def test_too_many_megapixels(running_app: RunningApp, tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (1300, 1000), (200, 180, 160)).save(path)  # 1.3 MP, tiny file; the limit is 1 MP
    _assert_refused(running_app.client().predict(handle_file(str(path)), api_name="/analyse"), "megapixels")


def test_too_large_upload(running_app: RunningApp, tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (700, 700, 3), dtype=np.uint8)).save(path)
    assert path.stat().st_size > running_app.config.max_upload_bytes
    with pytest.raises(Exception, match="(?i)maximum file size|too large|limit"):
        running_app.client().predict(handle_file(str(path)), api_name="/analyse")


def test_actions_without_a_photo(running_app: RunningApp) -> None:
    client = running_app.client()
    assert client.predict(yaw=5.0, api_name="/preview") == {"__type__": "update"}  # ignored quietly (skip)
    # the download panel stays empty (no "Error" badge on it); the reason comes as a warning
    assert client.predict(api_name="/save_png") is None


def test_sessions_are_isolated_and_run_concurrently(
    running_app: RunningApp, example_photo: Path, tmp_path: Path
) -> None:
    mirrored = tmp_path / "mirrored.jpg"
    Image.open(example_photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored, quality=95)
    clients = [running_app.client() for _ in range(3)]
    photos = [example_photo, mirrored, example_photo]
    results: dict[int, object] = {}

    def user(i: int) -> None:
        try:
            clients[i].predict(handle_file(str(photos[i])), api_name="/analyse")
            results[i] = [clients[i].predict(yaw=3.0 * k, api_name="/preview") for k in range(1, 4)]
        except Exception as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=user, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(results.get(i), list) for i in range(3)), results
    last = [_img(results[i][-1]) for i in range(3)]
    # each user sees their own photo: user 1's result is the mirror image of users 0 and 2
    assert _mae(last[0], last[2]) < 1.0
    assert _mae(last[1][:, ::-1], last[0]) < _mae(last[1], last[0]) / 2
    # a fresh session sees nothing of the others
    assert running_app.client().predict(api_name="/save_crop") is None
    # every session writes into its own folder
    files = running_app.ctx.files
    folders = {p.name for p in files.root.iterdir() if p.is_dir()}
    assert len(folders) >= 3


def test_files_are_removed_when_the_session_ends(running_app: RunningApp, example_photo: Path) -> None:
    from tests.webui.conftest import wait_for

    client = running_app.client()
    client.predict(handle_file(str(example_photo)), api_name="/analyse")
    saved = Path(client.predict(yaw=5.0, api_name="/save_png"))
    folder = running_app.ctx.files.path_of(client.session_hash)
    assert folder.is_dir() and any(folder.iterdir()) and saved.is_file()
    client.close()  # the page is closed: the heartbeat stops and Gradio runs the unload event
    wait_for(lambda: not folder.exists(), timeout=30)


def test_installing_a_renderer_needs_no_restart(running_app: RunningApp, example_photo: Path) -> None:
    """Release renders with the neural engine once one is installed and the panel re-checked."""
    import shutil

    from tests.webui.conftest import write_random_renderer

    registry = running_app.ctx.registry
    client = running_app.client()
    client.predict(handle_file(str(example_photo)), api_name="/analyse")
    with pytest.raises(AppError, match="No neural renderer is installed"):
        client.predict(engine="neural", yaw=10.0, api_name="/refine")
    write_random_renderer(registry.own_dir, running_app.ctx.num_expression)
    try:
        engines = client.predict(api_name="/reload_engines")[0]
        assert "| **own** | neural | **yes** |" in engines
        shown, compare, note, coeffs = client.predict(engine="auto", yaw=10.0, api_name="/refine")
        assert coeffs["engine"] == "own" and "neural renderer `own`" in note
        # a late preview of the values the neural engine rendered does not replace its picture ...
        assert client.predict(yaw=10.0, api_name="/preview") == {"__type__": "update"}
        # ... while the next drag is previewed at once with the geometric engine
        assert Path(client.predict(yaw=12.0, api_name="/preview")).is_file()
        png = client.predict(engine="neural", yaw=10.0, api_name="/save_png")
        assert "engine own" in read_png_text(png)["Comment"]
    finally:
        shutil.rmtree(registry.own_dir, ignore_errors=True)
        client.predict(api_name="/reload_engines")
    assert "| **own** | neural | no |" in client.predict(api_name="/engine_status")[0]


# ------------------------------------------------------------------------------------------------
# Reenact tab
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def driving_clip(edit_client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1.5 s talking-face-like clip made by the app itself: the astronaut turning and smiling."""
    client, _ = edit_client
    made = client.predict(seconds=1.5, yaw=20.0, open_mouth=0.6, api_name="/make_clip")
    target = tmp_path_factory.mktemp("driving") / "driving.mp4"
    target.write_bytes(Path(made).read_bytes())
    return target


def test_reenact_makes_an_mp4_with_provenance(
    running_app: RunningApp, example_photo: Path, driving_clip: Path
) -> None:
    client = running_app.client()
    video, note = _reenact(client, example_photo, driving_clip)
    assert "Done" in note and "silent" in note
    info = read_video_metadata(_mp4s(video)[0])
    assert info.video_codec == "h264" and info.duration == pytest.approx(1.5, abs=0.2)
    assert "operation=reenact" in info.metadata["description"]


def test_edit_video_changes_every_frame_and_keeps_the_length(
    running_app: RunningApp, driving_clip: Path
) -> None:
    """The Edit video tab: the sliders' offsets on every frame of an uploaded clip."""
    client = running_app.client()
    video, note = client.predict(
        handle_file(str(driving_clip)), smile=0.8, gaze_x=0.5, api_name="/edit_video"
    )
    assert "Done" in note and "smile 0.8" in note, note
    edited, original = read_video_metadata(_mp4s(video)[0]), read_video_metadata(driving_clip)
    assert abs(edited.duration - original.duration) < 0.15 and edited.width > 0
    nothing, why = client.predict(None, api_name="/edit_video")
    assert nothing is None and "Not started" in why and "upload" in why


def test_reenact_refuses_bad_inputs(running_app: RunningApp, example_photo: Path, tmp_path: Path) -> None:
    client = running_app.client()
    text = tmp_path / "clip.txt"
    text.write_text("not a video")
    # Each refusal leaves the result panel empty and says why in the note below it.
    long_clip = write_video(tmp_path / "long.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 50, fps=10)
    short = write_video(tmp_path / "short.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 5, fps=10)
    for video, parts, reason in (
        (text, "pose", "not a supported driving video"),
        (long_clip, "pose", "5.0 s long; this server accepts at most 4 s"),
        (short, None, "Choose what the video should move"),
        (short, "pose", "(?i)face"),  # a grey clip has no face to follow
    ):
        result, note = _reenact(client, example_photo, video, parts=parts)
        assert result is None and "Not started" in note and re.search(reason, note), note


def test_reenact_can_be_cancelled(
    running_app: RunningApp, example_photo: Path, tmp_path: Path, driving_clip: Path
) -> None:
    import imageio_ffmpeg
    from gradio_client.utils import Status

    from tests.webui.conftest import wait_for

    gen = imageio_ffmpeg.read_frames(str(driving_clip))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]
    loop = (frames + frames[::-1]) * 4
    longer = write_video(tmp_path / "longer.mp4", loop[:195], fps=50)  # 3.9 s, under the 4 s limit
    client = running_app.client()
    job = client.submit(
        *reenact_inputs(example_photo, longer, parts="all", engine="preview"), api_name="/reenact"
    )
    wait_for(lambda: job.status().code in (Status.PROCESSING, Status.PROGRESS) or job.done(), timeout=60)
    assert not job.done(), job.result()
    message = client.predict(api_name="/cancel_reenact")
    assert message.startswith("Cancelling")
    video, note = job.result(timeout=120)
    assert video is None and note == "Cancelled."
    assert client.predict(api_name="/cancel_reenact") == "Nothing is running."


@pytest.mark.realdata
@pytest.mark.slow
def test_reenact_real_video_keeps_its_sound(
    running_app: RunningApp, example_photo: Path, shared_data: Path, tmp_path: Path
) -> None:
    import subprocess

    from pipeline.media import ffmpeg_exe

    source = shared_data / "videos" / "Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"
    if not source.is_file():
        pytest.skip(f"{source.name} not in the shared data")
    clip = tmp_path / "driving.mp4"  # the first 2 s (the test server accepts at most 4 s)
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(clip),
        ],
        check=True,
        timeout=120,
    )
    video, note = _reenact(running_app.client(), example_photo, clip)
    assert "with the driving video's sound" in note
    info = read_video_metadata(_mp4s(video)[0])
    assert info.has_audio and info.duration == pytest.approx(2.0, abs=0.2)
    assert info.metadata["comment"].startswith(SYNTHESIZED_NOTICE)


# ------------------------------------------------------------------------------------------------
# Audio tab
# ------------------------------------------------------------------------------------------------


def test_audio_tab_says_when_the_model_is_missing(
    running_app: RunningApp, example_photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model ships in weights/files/audio2motion; hide every model folder to see the message."""
    import pipeline.audio

    monkeypatch.setattr(pipeline.audio, "_model_dirs", lambda explicit: [tmp_path / "no-model"])
    wav = write_speech_like(tmp_path / "speech.wav", 1.0)
    *videos, note = _animate(running_app.client(), example_photo, wav)
    assert not _mp4s(videos) and "audio-to-motion model is not installed" in note


def test_audio_tab_finds_the_shipped_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's model in weights/files/audio2motion makes the tab available with no setup."""
    from webui.audio_tab import audio_notice

    monkeypatch.delenv("PIRENDER_AUDIO_MODEL", raising=False)
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path))
    text, installed = audio_notice()
    assert installed and "audio2motion" in text and "weights/files" in text.replace("\\", "/")


def test_animate_makes_variants_once_a_model_is_installed(
    running_app: RunningApp, example_photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an (untrained, tiny) audio-to-motion model installed, the tab makes N labelled variants."""
    from audio2motion import AudioToMotion, AudioToMotionConfig, FlowConfig
    from core.coefficients import DEFAULT_FACE_MODEL

    config = AudioToMotionConfig(
        face_model=DEFAULT_FACE_MODEL,
        num_expression=running_app.ctx.num_expression,
        expression_flow=FlowConfig(2, 16, 16),
        pose_flow=FlowConfig(2, 16, 16),
    )
    AudioToMotion(config).save_pretrained(tmp_path / "audio-model")
    monkeypatch.setenv("PIRENDER_AUDIO_MODEL", str(tmp_path / "audio-model"))  # read per request: no restart
    wav = write_speech_like(tmp_path / "speech.wav", 1.0)
    out = _animate(
        running_app.client(),
        example_photo,
        wav,
        seed=3,
        lips=1.2,
        expression=0.8,
        head=0.0,
        still=True,
        blinks_per_minute=20.0,
        variants=2,
    )
    videos, note = _mp4s(out[:-1]), out[-1]
    assert len(videos) == 2 and "2 variant(s)" in note
    for seed, path in zip((3, 4), videos, strict=True):
        info = read_video_metadata(path)
        assert info.has_audio and info.duration == pytest.approx(1.0, abs=0.15)
        assert (
            f"operation=animate; engine=geometric; face_model={DEFAULT_FACE_MODEL}; seed={seed}"
            in info.metadata["description"]
        )


def test_media_duration_limit_message(tmp_path: Path) -> None:
    import gradio as gr

    from webui.common import check_media

    wav = write_speech_like(tmp_path / "long.wav", 4.0)
    with pytest.raises(gr.Error, match="4.0 s long; this server accepts at most 3 s"):
        check_media(wav, 3.0, "audio", need_audio=True)
    silent = write_video(tmp_path / "silent.mp4", [np.zeros((32, 32, 3), np.uint8)] * 5)
    with pytest.raises(gr.Error, match="has no sound"):
        check_media(silent, 3.0, "audio", need_audio=True)
    assert check_media(wav, 5.0, "audio", need_audio=True).has_audio


# ------------------------------------------------------------------------------------------------
# Engines & weights tab
# ------------------------------------------------------------------------------------------------


def test_engine_status_panel(running_app: RunningApp) -> None:
    client = running_app.client()
    engines, weights, missing, details = client.predict(api_name="/engine_status")
    assert "geometric" in engines and "pirender-vox" in engines and "CC BY-NC 4.0" in engines
    assert "epoch_00190_iteration_000400000_checkpoint.pt" in weights and "BFM_model_front.mat" in weights
    assert "vinthony/SadTalker-V002rc" in weights  # where huggingface_hub would fetch it
    assert "pirender download" in missing or "pirender download" in details
    assert "PIRENDER_OFFLINE" in details and "Audio-to-motion model" in details
    again = client.predict(api_name="/reload_engines")
    assert again[1] == weights and "| **geometric** | preview | **yes** | no |" in again[0]  # unloaded


def test_weights_download_needs_licence_and_respects_offline(
    running_app: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = running_app.client()
    monkeypatch.delenv("PIRENDER_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(AppError, match="requires accepting its licence"):
        client.predict("pirender-vox", False, api_name="/download_weights")
    monkeypatch.setenv("PIRENDER_OFFLINE", "1")
    with pytest.raises(AppError, match="is not installed"):
        client.predict("pirender-vox", True, api_name="/download_weights")


def test_saves_have_their_own_group_and_never_hold_up_previews(running_app: RunningApp) -> None:
    fns = {fn.api_name: fn for fn in running_app.demo.fns.values()}
    cfg = running_app.config
    assert {fns[n].concurrency_id for n in ("save_png", "save_crop")} == {"saves"}
    assert fns["save_png"].concurrency_limit == cfg.save_concurrency == 1
    assert fns["preview"].concurrency_id == "preview" and fns["preview"].trigger_mode == "always_last"
    # drag events: each takes only its own group of sliders, unprocessed (the handler checks them)
    assert fns["preview_raw"].concurrency_id == "preview" and fns["preview_raw"].trigger_mode == "always_last"
    assert len(fns["preview"].inputs) == 1 + len(CONTROL_SPECS) and not fns["preview"].preprocess
    assert fns["refine"].concurrency_id == "edit"
