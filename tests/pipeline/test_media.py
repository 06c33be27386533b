"""Output files: H.264/AAC mp4 with provenance tags, PNG provenance, and reading the tags back."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from core.errors import InputError, MediaReadError
from pipeline.media import (
    IPTC_DIGITAL_SOURCE_TYPE,
    SYNTHESIZED_NOTICE,
    Provenance,
    _parse_ffmpeg_info,
    even_frame_size,
    read_video_metadata,
    save_image,
    write_video,
)
from reconstruction.images import read_png_text
from tests.pipeline.conftest import write_tone


def _frames(n: int, h: int = 61, w: int = 83) -> list[np.ndarray]:
    """Smooth gradients with a moving bright square (content a video codec keeps)."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    out = []
    for i in range(n):
        f = base.copy()
        f[10:30, 2 * i : 2 * i + 20] = 250
        out.append(f)
    return out


def _decode(path: Path) -> tuple[dict, list[np.ndarray]]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]
    return meta, frames


def test_even_frame_size() -> None:
    assert even_frame_size(61, 83) == (60, 82)
    assert even_frame_size(1000, 2000, max_side=500) == (250, 500)
    assert even_frame_size(100, 50, max_side=1000) == (100, 50)  # never enlarged
    with pytest.raises(InputError):
        even_frame_size(1, 10)


def test_write_video_silent_with_provenance(tmp_path: Path) -> None:
    prov = Provenance("edit-clip", "geometric", "pirender-mesh-v1", {"yaw": "15"})
    out = write_video(_frames(12), tmp_path / "clip.mp4", 25, provenance=prov)
    info = read_video_metadata(out)
    assert (info.video_codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 82, 60)
    assert info.fps == 25 and not info.has_audio
    assert info.metadata["comment"].startswith(SYNTHESIZED_NOTICE)
    assert "engine=geometric" in info.metadata["description"] and "yaw=15" in info.metadata["description"]
    assert info.video_metadata["encoder"].startswith("pirender")
    meta, frames = _decode(out)
    assert len(frames) == 12 and meta["size"] == (82, 60)
    # lossy, but the content is the frames' (not a blank or shifted picture)
    err = np.abs(frames[5].astype(int) - _frames(12)[5][:60, :82].astype(int)).mean()
    assert err < 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temporary files left


def test_write_video_with_audio_cut_to_video(tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "tone.wav", 3.0, hz=440.0)
    out = write_video(
        _frames(25), tmp_path / "a.mp4", 25, audio_path=wav, provenance=Provenance("animate", "x")
    )
    info = read_video_metadata(out)
    assert info.audio_codec == "aac"
    assert info.duration is not None and info.duration < 1.3  # the 3 s tone is cut to the 1 s video


def test_write_video_with_soundless_audio_source_is_silent(tmp_path: Path) -> None:
    silent = write_video(_frames(5), tmp_path / "silent.mp4", 25)
    out = write_video(_frames(5), tmp_path / "b.mp4", 25, audio_path=silent)
    assert not read_video_metadata(out).has_audio


def test_failed_frame_source_leaves_nothing(tmp_path: Path) -> None:
    def frames():
        yield from _frames(3)
        raise KeyboardInterrupt  # e.g. a cancellation raised between batches

    with pytest.raises(KeyboardInterrupt):
        write_video(frames(), tmp_path / "x.mp4", 25)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "frames, name",
    [
        ([np.zeros((10, 10, 3), np.float32)], "a.mp4"),
        ([np.zeros((10, 10), np.uint8)], "a.mp4"),
        ([], "a.mp4"),
        ([np.zeros((10, 10, 3), np.uint8)], "a.gif"),
    ],
)
def test_write_video_rejects_bad_input(tmp_path: Path, frames: list, name: str) -> None:
    with pytest.raises(InputError):
        write_video(frames, tmp_path / name, 25)
    assert not (tmp_path / name).exists()


def test_png_provenance(tmp_path: Path) -> None:
    image = np.full((40, 30, 3), 120, np.uint8)
    out = save_image(image, tmp_path / "e.png", Provenance("edit", "geometric", "m", {"smile": "0.6"}))
    text = read_png_text(out)
    assert text["Comment"].startswith(SYNTHESIZED_NOTICE)
    assert text["DigitalSourceType"] == IPTC_DIGITAL_SOURCE_TYPE
    assert text["Software"].startswith("pirender")
    assert "smile=0.6" in text["Description"]
    with pytest.raises(InputError):
        save_image(image, tmp_path / "e.jpg", Provenance("edit", "geometric"))


def test_read_video_metadata_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaReadError):
        read_video_metadata(junk)
    with pytest.raises(MediaReadError):
        read_video_metadata(tmp_path / "missing.mp4")


def test_parse_ffmpeg_info_text() -> None:
    text = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':
  Metadata:
    major_brand     : isom
    comment         : Synthesized by pirender 1.0 (edit)
  Duration: 00:01:02.50, start: 0.000000, bitrate: 440 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], 400 kb/s, 29.97 fps, 29.97 tbr (default)
    Metadata:
      handler_name    : VideoHandler
      encoder         : pirender 1.0 (libx264)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
    Metadata:
      handler_name    : SoundHandler
At least one output file must be specified
"""
    info = _parse_ffmpeg_info(text)
    assert info.duration == pytest.approx(62.5)
    assert (info.width, info.height, info.fps) == (640, 360, 29.97)
    assert (info.video_codec, info.pix_fmt, info.audio_codec, info.audio_rate) == (
        "h264",
        "yuv420p",
        "aac",
        44100,
    )
    assert info.metadata == {"major_brand": "isom", "comment": "Synthesized by pirender 1.0 (edit)"}
    assert info.video_metadata["encoder"] == "pirender 1.0 (libx264)"
