"""Tests of reconstruction/video.py: decoding, limits (seconds, frames, duration), identity groups."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from core.errors import InputError, MediaReadError
from reconstruction.video import VideoReader, ffmpeg_exe, is_video_path, read_identity_groups, read_video


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> Path:
    """3 s at 10 fps, 96x64: frame i has grey level 8 * i (so order and count can be checked)."""
    path = tmp_path_factory.mktemp("video") / "grey.mp4"
    writer = imageio_ffmpeg.write_frames(str(path), (96, 64), fps=10, quality=9, macro_block_size=16)
    writer.send(None)
    for i in range(30):
        writer.send(np.full((64, 96, 3), 8 * i, np.uint8))
    writer.close()
    return path


def test_read_video(small_video):
    frames, info = read_video(small_video)
    assert frames.shape == (30, 64, 96, 3) and frames.dtype == np.uint8
    assert info.fps == pytest.approx(10.0) and info.size == (96, 64) and info.path == small_video
    assert info.duration == pytest.approx(3.0, abs=0.15) and info.expected_frames == 30
    levels = frames.reshape(30, -1).mean(axis=1)
    np.testing.assert_allclose(levels, 8 * np.arange(30), atol=3)
    start, _ = read_video(small_video, max_seconds=1.0)
    assert len(start) == 10
    resampled, rinfo = read_video(small_video, fps=5)
    assert rinfo.fps == 5 and abs(len(resampled) - 15) <= 1
    reader = VideoReader(small_video)
    assert sum(1 for _ in reader) == sum(1 for _ in reader) == 30  # re-iterable


def test_read_video_limits_and_errors(small_video, tmp_path):
    with pytest.raises(MediaReadError, match=r"3\.0 s long; at most 2 s"):
        VideoReader(small_video, max_duration=2.0)
    frames, _ = read_video(small_video, max_seconds=1.5, max_duration=2.0)  # only the start: accepted
    assert len(frames) == 15
    with pytest.raises(MediaReadError, match="at most 2 s"):
        VideoReader(small_video, max_seconds=5, max_duration=2.0)
    with pytest.raises(MediaReadError, match="not found"):
        VideoReader(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaReadError, match="empty"):
        VideoReader(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("not a video\n" * 100)
    with pytest.raises(MediaReadError, match="Could not read a video"):
        VideoReader(tmp_path / "text.mp4")
    with pytest.raises(InputError):
        VideoReader(small_video, fps=0)
    assert is_video_path("a/b.MP4") and is_video_path("x.webm") and not is_video_path("p.jpg")


def test_frame_limit_and_no_duration_limit(small_video):
    """Training data preparation reads the first N frames of clips of any length."""
    reader = VideoReader(small_video, max_frames=7, max_duration=None)
    assert reader.info.expected_frames == 7 and len(list(reader)) == 7
    assert len(list(VideoReader(small_video, max_duration=None))) == 30
    assert len(list(VideoReader(small_video, max_frames=12, max_duration=1.0))) == 12  # only the start
    with pytest.raises(InputError):
        VideoReader(small_video, max_frames=0)
    assert Path(ffmpeg_exe()).name.startswith("ffmpeg")


def test_identity_groups_from_manifest(tmp_path):
    (tmp_path / "MANIFEST.tsv").write_text(
        "file\tnote\n"
        "a.mp4\tman, frontal; identity_group=p1\n"
        "b.mp4\tsame person as a; identity_group=p1\n"
        "c.mp4\tno group here\n"
    )
    assert read_identity_groups(tmp_path) == {"a.mp4": "p1", "b.mp4": "p1"}
    assert read_identity_groups(tmp_path / "missing") == {}
