"""Driving videos in: decoding files into frames, and the identity groups of a video folder.

`VideoReader` / `read_video` decode with the ffmpeg bundled in imageio-ffmpeg into (H, W, 3)
uint8 RGB frames, with a configurable maximum duration (or frame count) and optional
resampling. The product (reconstruction backends) and the training data preparation read
videos only through it. `ffmpeg_exe` locates the same ffmpeg binary for the media writers.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import imageio_ffmpeg
import numpy as np

from core.errors import InputError, MediaReadError

__all__ = [
    "DEFAULT_MAX_DURATION",
    "VIDEO_EXTENSIONS",
    "PathLike",
    "ProgressCallback",
    "VideoInfo",
    "VideoReader",
    "ffmpeg_exe",
    "is_video_path",
    "read_identity_groups",
    "read_video",
]

logger = logging.getLogger(__name__)

#: Longest clip accepted by default, seconds (the crops alone take ~5 MB per second at 25 fps).
DEFAULT_MAX_DURATION = 60.0
#: File name endings read as video (anything else is read as a photo).
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"}
)
#: progress(fraction done in [0, 1], what is being done); the signature of gradio's `gr.Progress`.
ProgressCallback = Callable[[float, str], Any]
PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a clip before (and while) decoding it.

    Attributes:
        path: the file, or None for frames given in memory.
        fps: frame rate of the frames delivered (after resampling, if any).
        size: (width, height) of a frame in pixels.
        duration: seconds of the file (0.0 when ffmpeg does not report it).
        source_fps: the file's own frame rate.
        expected_frames: about how many frames will be delivered (from duration, fps and limits).
    """

    path: Path | None
    fps: float
    size: tuple[int, int]
    duration: float
    source_fps: float
    expected_frames: int

    @property
    def frame_bytes(self) -> int:
        """Bytes of one decoded (H, W, 3) uint8 frame."""
        return int(self.size[0] * self.size[1] * 3)


def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's ffmpeg binary, or MediaReadError saying how to install it."""
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise MediaReadError(
            f"The ffmpeg binary of imageio-ffmpeg is not available ({exc}). Install it with "
            "`pip install imageio-ffmpeg`."
        ) from None


def is_video_path(path: PathLike) -> bool:
    """True when the file name ends like a video (`VIDEO_EXTENSIONS`)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _ffmpeg_error(path: Path, exc: BaseException) -> MediaReadError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return MediaReadError(
        f"Could not read a video from {path} ({first[:160]}). Use an MP4/MOV/WebM/MKV file with a "
        "video track (H.264, HEVC, VP9 or AV1), or convert it with ffmpeg."
    )


class VideoReader:
    """A video file as a re-iterable stream of (H, W, 3) uint8 RGB frames.

    The file is probed when the reader is made (size, frame rate, duration); every iteration
    starts a new ffmpeg process, so a clip too large to hold in memory can be read twice.

    Args:
        path: the video file.
        fps: resample to this frame rate with ffmpeg's fps filter (None: the file's own rate).
        max_seconds: read only the first `max_seconds` seconds (None: the whole clip).
        max_frames: read only the first `max_frames` frames (None: no frame limit).
        max_duration: the longest clip accepted, seconds (None: no limit); a longer one raises
            MediaReadError unless `max_seconds` (at most `max_duration`) or `max_frames` asks
            for its start only.

    Raises MediaReadError for a missing or unreadable file, a file without a video track, and a
    clip longer than the limit.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        fps: float | None = None,
        max_seconds: float | None = None,
        max_frames: int | None = None,
        max_duration: float | None = DEFAULT_MAX_DURATION,
    ) -> None:
        self.path = Path(path)
        if max_duration is not None and not max_duration > 0:
            raise InputError(f"max_duration must be positive, got {max_duration}")
        if max_seconds is not None and not max_seconds > 0:
            raise InputError(f"max_seconds must be positive, got {max_seconds}")
        if max_frames is not None and not max_frames > 0:
            raise InputError(f"max_frames must be positive, got {max_frames}")
        if max_seconds is not None and max_duration is not None and max_seconds > max_duration:
            raise MediaReadError(
                f"{max_seconds:g} s of video were asked for, but at most {max_duration:g} s are accepted; "
                "ask for less or raise the limit (max_duration)."
            )
        if fps is not None and not (0 < fps <= 240):
            raise InputError(f"fps must be in (0, 240], got {fps}")
        if not self.path.is_file():
            raise MediaReadError(f"Video file not found: {self.path}. Check the path.")
        if self.path.stat().st_size == 0:
            raise MediaReadError(f"The video file {self.path} is empty (0 bytes): use a complete file.")
        self.max_seconds = max_seconds
        self.max_duration = None if max_duration is None else float(max_duration)
        self._resample = fps
        meta = self._probe()
        source_fps = float(meta.get("fps") or 0.0)
        if not source_fps > 0:
            raise MediaReadError(
                f"{self.path} does not state its frame rate; re-encode it with ffmpeg (e.g. -r 25)."
            )
        width, height = (int(v) for v in meta["size"])
        duration = float(meta.get("duration") or 0.0)
        truncate = max_seconds is not None or max_frames is not None
        if self.max_duration is not None and duration > self.max_duration + 0.5 / source_fps and not truncate:
            raise MediaReadError(
                f"The video {self.path.name} is {duration:.1f} s long; at most {self.max_duration:g} s are "
                "accepted. Trim it (or use only its start), or raise the limit (max_duration)."
            )
        out_fps = float(fps) if fps is not None else source_fps
        seconds = duration if max_seconds is None else min(duration or max_seconds, max_seconds)
        expected = max(1, round(seconds * out_fps)) if seconds > 0 else 0
        if max_frames is not None:
            expected = min(expected, max_frames) if expected else max_frames
        self.info = VideoInfo(
            path=self.path,
            fps=out_fps,
            size=(width, height),
            duration=duration,
            source_fps=source_fps,
            expected_frames=expected,
        )
        logger.debug(
            "video %s: %dx%d, %.3f fps, %.2f s (delivering %.3f fps)",
            self.path,
            width,
            height,
            source_fps,
            duration,
            out_fps,
        )
        # Hard cap on frames delivered (also against durations ffmpeg misreports); None = no cap.
        caps = [round(max_seconds * out_fps)] if max_seconds is not None else []
        caps += [max_frames] if max_frames is not None else []
        if not caps and self.max_duration is not None:
            caps = [round(self.max_duration * out_fps)]
        self._max_frames = max(1, min(caps)) if caps else None
        self._truncate = truncate

    def _open(self) -> _Opened:
        output_params = ["-vf", f"fps={self._resample:g}"] if self._resample is not None else []
        try:
            gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24", output_params=output_params)
            meta = next(gen)
        except (OSError, RuntimeError, StopIteration, ValueError) as exc:
            raise _ffmpeg_error(self.path, exc) from None
        return _Opened(gen, meta)

    def _probe(self) -> dict[str, Any]:
        opened = self._open()
        try:
            meta = opened.meta
            if not meta.get("size") or min(meta["size"]) <= 0:
                raise MediaReadError(f"{self.path} has no video track (it may be an audio file).")
            return meta
        finally:
            opened.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        w, h = self.info.size
        opened = self._open()
        count = 0
        try:
            for raw in opened.gen:
                if self._max_frames is not None and count >= self._max_frames:
                    if self._truncate:
                        break
                    raise MediaReadError(
                        f"The video {self.path.name} runs longer than the limit of {self.max_duration:g} s. "
                        "Trim it (or use only its start), or raise the limit (max_duration)."
                    )
                if len(raw) != w * h * 3:
                    raise MediaReadError(
                        f"{self.path}: frame {count} has {len(raw)} bytes, expected {w}x{h}x3; the file may "
                        "change resolution mid-stream. Re-encode it with ffmpeg."
                    )
                count += 1
                yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
        except (OSError, RuntimeError) as exc:
            raise _ffmpeg_error(self.path, exc) from None
        finally:
            opened.close()
        if count == 0:
            raise MediaReadError(f"No frames could be decoded from {self.path}; the file may be damaged.")


class _Opened:
    """An ffmpeg frame generator with its meta dict."""

    def __init__(self, gen: Any, meta: dict[str, Any]) -> None:
        self.gen = gen
        self.meta = meta

    def close(self) -> None:
        self.gen.close()


def read_video(
    path: PathLike,
    *,
    fps: float | None = None,
    max_seconds: float | None = None,
    max_duration: float | None = DEFAULT_MAX_DURATION,
) -> tuple[np.ndarray, VideoInfo]:
    """Decode a whole clip: ((T, H, W, 3) uint8 RGB frames, `VideoInfo`). See `VideoReader`."""
    reader = VideoReader(path, fps=fps, max_seconds=max_seconds, max_duration=max_duration)
    frames = np.stack(list(reader))
    return frames, reader.info


_GROUP_RE = re.compile(r"identity_group=([^\s;,]+)")


def read_identity_groups(folder: str | Path) -> dict[str, str]:
    """file name -> identity group, from a MANIFEST.tsv whose `note` column holds `identity_group=...`.

    Clips of one person share a group, so that train/test splits never share a person. Files not
    listed (or a folder without a manifest) are left out: callers treat each as its own group.
    """
    path = Path(folder) / "MANIFEST.tsv"
    if not path.is_file():
        return {}
    groups: dict[str, str] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            name, note = row.get("file"), row.get("note") or ""
            match = _GROUP_RE.search(note)
            if name and match:
                groups[name] = match.group(1)
    return groups
