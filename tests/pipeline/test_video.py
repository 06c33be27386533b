"""Videos of a real portrait: the morph clip, cancellation, reenactment of a real driving clip."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputError
from pipeline import (
    REENACT_PARTS,
    SYNTHESIZED_NOTICE,
    Cancelled,
    EditRequest,
    EngineRegistry,
    ReenactOptions,
    SourceState,
    edit,
    make_clip,
    read_video_metadata,
    reenact,
    reenact_parts,
)
from pipeline.eyes import gaze_from_landmarks
from reconstruction.detection import FaceDetector
from reconstruction.motion import TRANSFER_PARTS
from reconstruction.video import read_video
from tests.pipeline.conftest import decode_all, mae

# A short frontal talking-head clip with a sound track (VoxCeleb2-style crop, CC-BY-4.0).
DRIVING = "videos/Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"


def test_bad_options() -> None:
    with pytest.raises(InputError):
        ReenactOptions(parts=("hair",))
    with pytest.raises(InputError):
        ReenactOptions(batch_size=0)


def test_reenact_parts_are_one_table_of_exclusive_choices() -> None:
    names = [c.name for c in REENACT_PARTS]
    assert names == ["everything", "expression+pose", "expression", "pose", "mouth", "eyes"]
    assert len({c.label for c in REENACT_PARTS}) == len(names)
    for choice in REENACT_PARTS:
        assert set(choice.parts) <= set(TRANSFER_PARTS) and choice.description
        assert ReenactOptions(parts=choice.name).parts == choice.parts == reenact_parts(choice.name)
    assert ReenactOptions().parts == reenact_parts("expression+pose")  # the default
    assert ReenactOptions(parts="mouth").parts == ("mouth",)
    with pytest.raises(InputError, match="everything"):
        reenact_parts("hair")


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
    frames = decode_all(path)
    assert len(frames) == 6 and frames[0].shape == astronaut.shape
    assert seen[-1] == 1.0 and seen == sorted(seen)
    info = read_video_metadata(path)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.metadata["comment"].startswith(SYNTHESIZED_NOTICE)
    assert "operation=edit-clip" in info.metadata["description"]
    edited = edit(state, request, registry=registry).full_image
    assert mae(frames[0], astronaut) < 3.0  # starts at the photo (H.264 loss only) ...
    assert mae(frames[-1], edited) < 3.0  # ... ends at the edit
    assert mae(frames[-1], astronaut) > mae(frames[-1], edited) + 0.3


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


def test_clip_of_a_large_photo_is_scaled_before_pasting(
    state: SourceState, registry: EngineRegistry, tmp_path: Path
) -> None:
    request = EditRequest({"yaw": 12.0})
    path = make_clip(
        state, request, seconds=0.2, fps=10, path=tmp_path / "s.mp4", registry=registry, max_side=200
    )
    frames = decode_all(path)
    assert len(frames) == 2 and frames[0].shape == (200, 200, 3)
    small = cv2.resize(
        edit(state, request, registry=registry).full_image, (200, 200), interpolation=cv2.INTER_AREA
    )
    assert mae(frames[-1], small) < 5.0  # the encoded frame is the edit at video size (H.264 loss at 200 px)


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
    frames = decode_all(out)
    assert len(frames) == 50 and frames[0].shape == astronaut.shape
    assert seen[-1] == 1.0 and seen == sorted(seen)
    # the photo moves with the video: frames differ from each other, around the face
    motion = np.mean([mae(frames[i], frames[0]) for i in (10, 25, 49)])
    assert motion > 0.3


# A child looking at the camera (frame 0), to the picture's right (frame 121) and left (frame 144).
GLANCING = "videos/KwaiVGI__LivePortrait__d11.mp4"


@pytest.mark.realdata
@pytest.mark.slow
def test_reenact_transfers_the_drivers_gaze(
    shared_data: Path, state: SourceState, registry: EngineRegistry, tmp_path: Path
) -> None:
    frames, _ = read_video(shared_data / GLANCING, max_seconds=6.0)
    driving = [frames[i] for i in [0] * 4 + [121] * 4 + [144] * 4]
    with FaceDetector(search_small_faces=False, max_faces_limit=1) as detector:
        drv = gaze_from_landmarks(np.stack([detector.detect_one(f).face.landmarks for f in driving[::4]]))
        assert (
            drv[1, 0] - drv[0, 0] > 0.5 and drv[2, 0] - drv[0, 0] < -0.5
        )  # the driver looks right, then left
        looks = {}
        for parts in ("eyes", "everything", "expression"):
            options = ReenactOptions(parts=parts, smoothing=0.0, engine="preview")
            out = reenact(state, driving, options, tmp_path / f"{parts}.mp4", registry=registry)
            video = decode_all(out)
            gaze = np.array([gaze_from_landmarks(detector.detect_one(f).face.landmarks) for f in video])
            looks[parts] = gaze[:, 0].reshape(3, 4).mean(axis=1) - gaze[0, 0]  # (straight, right, left)
    for parts in ("eyes", "everything"):  # the reenacted irises move the driver's way
        assert looks[parts][1] > 0.2 and looks[parts][2] < -0.2, (parts, looks[parts])
        # and about as far as the driver's (the sliders stop at +-1)
        reach = np.clip(drv[1:, 0] - drv[0, 0], -1.0, 1.0)
        assert (np.abs(looks[parts][1:]) > 0.5 * np.abs(reach)).all(), (parts, looks[parts], reach)
    assert np.abs(looks["expression"][1:]).max() < 0.5 * np.abs(looks["eyes"][1:]).min()  # no gaze with it
