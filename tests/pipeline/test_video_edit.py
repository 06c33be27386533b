"""Editing a whole video: every frame keeps its own motion and gets the slider offsets; sound,
length, progress, cancellation and the limits."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputError
from pipeline import (
    Cancelled,
    EngineRegistry,
    VideoEditOptions,
    edit_video,
    read_video_metadata,
)
from reconstruction.video import VideoReader
from tests.pipeline.conftest import decode_all, mae

# A frontal talking-head clip with a sound track (VoxCeleb2-style crop, CC-BY-4.0), 4.56 s at 25 fps.
CLIP = "videos/Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"


def _change(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(largest, median) of the 9x9-blurred per-pixel difference: an edit is a large local change,
    video compression a small spread one."""
    diff = cv2.blur(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2), (9, 9))
    return float(diff.max()), float(np.median(diff))


@pytest.fixture(scope="module")
def frames(astronaut: np.ndarray) -> list[np.ndarray]:
    """Six frames of a (shaky) video of the astronaut, 512 x 512."""
    return [np.roll(astronaut, (i % 3, i // 2), axis=(0, 1)) for i in range(6)]


def test_bad_options() -> None:
    for bad in (
        {"engine": "magic"},
        {"max_side": 0},
        {"max_seconds": 0},
        {"face_index": -1},
    ):
        with pytest.raises(InputError):
            VideoEditOptions(**bad)


def test_unknown_or_out_of_range_control_fails_before_reading(
    tmp_path: Path, registry: EngineRegistry
) -> None:
    missing = tmp_path / "missing.mp4"  # never opened: the values are checked first
    with pytest.raises(InputError, match="unknown control 'grin'"):
        edit_video(missing, {"grin": 1.0}, registry=registry)
    with pytest.raises(InputError, match="yaw"):
        edit_video(missing, {"yaw": 90.0}, registry=registry)


def test_every_frame_is_edited_in_place(
    frames: list[np.ndarray], registry: EngineRegistry, tmp_path: Path
) -> None:
    seen: list[float] = []
    out = edit_video(
        frames,
        {"smile": 1.0, "yaw": 8.0},
        VideoEditOptions(fps=25.0),
        tmp_path / "edited.mp4",
        registry=registry,
        progress=lambda f, m: seen.append(f),
    )
    info = read_video_metadata(out)
    assert (
        "operation=edit-video" in info.metadata["description"] and "smile=1" in info.metadata["description"]
    )
    assert not info.has_audio  # frames in memory have no sound
    edited = decode_all(out)
    assert len(edited) == len(frames) and edited[0].shape == frames[0].shape
    for original, result in zip(frames, edited, strict=True):
        largest, typical = _change(original, result)
        assert largest > 10 and typical < 3  # the face changed, the rest of the frame did not
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_no_values_leave_the_frames_as_they_are(
    frames: list[np.ndarray], registry: EngineRegistry, tmp_path: Path
) -> None:
    out = edit_video(frames[:2], {}, VideoEditOptions(max_side=256), tmp_path / "same.mp4", registry=registry)
    edited = decode_all(out)
    assert edited[0].shape == (256, 256, 3)  # the output size limit
    small = cv2.resize(frames[0], (256, 256), interpolation=cv2.INTER_AREA)
    assert mae(edited[0], small) < 5.0  # H.264 loss of a detailed photo at 256 px


def test_cancel_writes_nothing(frames: list[np.ndarray], registry: EngineRegistry, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("editing frame"):
            cancel.set()

    out = tmp_path / "cancelled.mp4"
    with pytest.raises(Cancelled):
        edit_video(frames, {"smile": 0.5}, None, out, registry=registry, progress=progress, cancel=cancel)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.realdata
@pytest.mark.slow
def test_real_clip_keeps_its_length_and_sound(
    shared_data: Path, registry: EngineRegistry, tmp_path: Path
) -> None:
    clip = shared_data / CLIP
    out = edit_video(clip, {"smile": 0.8}, VideoEditOptions(), tmp_path / "smiling.mp4", registry=registry)
    before, after = read_video_metadata(clip), read_video_metadata(out)
    assert after.has_audio and after.audio_codec == "aac"
    assert after.duration == pytest.approx(before.duration, abs=0.05)
    original = list(VideoReader(clip))
    edited = decode_all(out)
    assert len(edited) == len(original)
    changes = np.array([_change(a, b) for a, b in zip(original, edited, strict=True)])
    assert changes[:, 0].min() > 10  # the face changed in every frame ...
    assert changes[:, 1].max() < 4  # ... and the rest of each frame stayed
    # the face keeps its own motion: consecutive edited frames differ as the originals do
    own = [mae(original[i], original[i + 5]) for i in range(0, len(original) - 5, 10)]
    kept = [mae(edited[i], edited[i + 5]) for i in range(0, len(edited) - 5, 10)]
    assert np.corrcoef(own, kept)[0, 1] > 0.8
