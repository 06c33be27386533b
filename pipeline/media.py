"""Output files of the product: mp4 clips and PNG stills, each labelled as synthesized (the last pipeline step).

Videos are encoded with the ffmpeg binary that imageio-ffmpeg bundles: frames are streamed to
an H.264 / yuv420p encoder (`imageio_ffmpeg.write_frames`) into a temporary file, which a second
ffmpeg call remuxes (no re-encoding) with an optional AAC sound track and the provenance tags.
Stills go through `reconstruction.images.save_png` with the same provenance as PNG text chunks.
The fields are documented in docs/PROVENANCE.md.

`read_video_metadata` parses `ffmpeg -i` output (ffprobe is not shipped with imageio-ffmpeg); it
is what the tests and the app use to check a written file.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
from PIL import Image

from core.errors import InputError, MediaReadError, PIRenderError
from pipeline.progress import Cancelled
from reconstruction.images import save_png
from reconstruction.video import ffmpeg_exe

__all__ = [
    "SYNTHESIZED_NOTICE",
    "IPTC_DIGITAL_SOURCE_TYPE",
    "Provenance",
    "VideoInfo",
    "package_version",
    "even_frame_size",
    "fit_frame",
    "write_video",
    "save_image",
    "read_video_metadata",
    "ffmpeg_exe",
]

log = logging.getLogger(__name__)

#: First words of every provenance comment; lets anyone grep a file for it.
SYNTHESIZED_NOTICE = "Synthesized by pirender"
#: IPTC digital source type for media edited or generated with a trained model.
IPTC_DIGITAL_SOURCE_TYPE = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)

_FFMPEG_TIMEOUT_S = 600.0
_PROBE_TIMEOUT_S = 60.0


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """The installed pirender version ("0+unknown" when running from a tree that is not installed);
    read once per process (it is asked for every file written, a preview every few tens of ms)."""
    try:
        return version("pirender")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class Provenance:
    """What an output file says about how it was made (see docs/PROVENANCE.md).

    operation: "edit", "edit-clip", "reenact" or "animate".
    engine: name of the renderer that drew the face ("geometric", "pirender-vox", ...).
    face_model: the 3DMM the coefficients belong to.
    details: further short key/value facts (e.g. the controls used); no file paths, no personal data.
    created: UTC time stamp, ISO 8601, seconds.
    """

    operation: str
    engine: str
    face_model: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    )

    @property
    def software(self) -> str:
        return f"pirender {package_version()}"

    @property
    def comment(self) -> str:
        """One sentence a person can read: that the file is synthesized, and by what."""
        return (
            f"{SYNTHESIZED_NOTICE} {package_version()} ({self.operation}, engine {self.engine}): "
            "the face in this file was generated or altered by a neural/3D renderer; it is not an unaltered recording."
        )

    @property
    def description(self) -> str:
        """`key=value` facts separated by '; ' (machine-readable, one line)."""
        facts = {"operation": self.operation, "engine": self.engine}
        if self.face_model:
            facts["face_model"] = self.face_model
        facts.update({str(k): str(v) for k, v in self.details.items()})
        facts["created"] = self.created
        return "; ".join(f"{k}={_one_line(v)}" for k, v in facts.items())

    def png_text(self) -> dict[str, str]:
        """PNG text chunks (keywords from the PNG spec where one fits)."""
        return {
            "Software": self.software,
            "Comment": self.comment,
            "Description": self.description,
            "Creation Time": self.created,
            "DigitalSourceType": IPTC_DIGITAL_SOURCE_TYPE,
        }

    def video_tags(self) -> dict[str, str]:
        """Container tags of the mp4 (the mp4 muxer stores `comment` and `description`)."""
        return {"comment": self.comment, "description": self.description}

    def video_stream_tags(self) -> dict[str, str]:
        """Tags of the video stream. The container's own `encoder` tag is always rewritten by the
        muxer (to its Lavf version), so the software is recorded as the video stream's `encoder`."""
        return {"encoder": f"{self.software} (libx264)"}


def _one_line(text: object) -> str:
    return " ".join(str(text).split()).replace(";", ",")


# ------------------------------------------------------------------------------------------------
# Frame geometry
# ------------------------------------------------------------------------------------------------


def even_frame_size(height: int, width: int, max_side: int | None = None) -> tuple[int, int]:
    """(H, W) scaled down (never up) so that the longer side is <= max_side, both even (yuv420p needs it)."""
    if height < 2 or width < 2:
        raise InputError(f"a video frame must be at least 2x2 pixels, got {width}x{height}")
    scale = 1.0 if not max_side else min(1.0, max_side / max(height, width))
    h = max(2, int(round(height * scale)) // 2 * 2)
    w = max(2, int(round(width * scale)) // 2 * 2)
    return h, w


def fit_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> exactly `size` = (H', W'): area-resized, or trimmed by one odd pixel row/column."""
    h, w = size
    if frame.shape[:2] == (h, w):
        return np.ascontiguousarray(frame)
    fh, fw = frame.shape[:2]
    if fh - h in (0, 1) and fw - w in (0, 1):  # only the odd row/column dropped: no resampling
        return np.ascontiguousarray(frame[:h, :w])
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def _check_frame(frame: object, index: int) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        found = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"video frame {index} must be a (H, W, 3) uint8 RGB array, got {found}")
    return frame


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    fps: float,
    *,
    provenance: Provenance | None = None,
    audio_path: str | os.PathLike[str] | None = None,
    audio_start: float = 0.0,
    audio_has_sound: bool | None = None,
    max_side: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> Path:
    """Encode (H, W, 3) uint8 RGB frames to an H.264 (yuv420p) mp4, with AAC audio and provenance tags.

    The frame size is taken from the first frame (scaled to `max_side` and made even); later
    frames are fitted to it. `audio_path` (any file with a sound track) is cut to the video's
    duration starting at `audio_start` seconds; a file without sound just gives a silent video.
    `audio_has_sound`: whether `audio_path` has a sound track, when the caller already knows
    (None: the file is probed).
    The output appears only when complete (written to a temporary name first). If iterating
    `frames` raises (e.g. a cancellation), nothing is left behind and the exception propagates.
    The output folder must exist: it is never created here, so a job whose folder was removed
    (the web session that owned it ended) cannot bring it back. A folder that is missing, or
    disappears while the video is being made, raises Cancelled. Returns the path.
    """
    if not (math.isfinite(fps) and 0 < fps <= 240):
        raise InputError(f"fps must be in (0, 240], got {fps}")
    if not 0 <= crf <= 51:
        raise InputError(f"crf must be in [0, 51], got {crf}")
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"videos are written as mp4: give an output name ending in .mp4, got '{path.name}'")
    _require_folder(path)
    try:
        with tempfile.TemporaryDirectory(
            prefix=".pirender-video-", dir=path.parent, ignore_cleanup_errors=True
        ) as tmp:
            raw = Path(tmp) / "video.mp4"
            num_frames = _encode_frames(frames, raw, fps, max_side, crf, preset)
            duration = num_frames / fps
            staged = Path(tmp) / f"out{path.suffix}"
            if audio_path is not None and audio_has_sound is None:
                audio_has_sound = _has_audio(audio_path)
            _remux(raw, staged, provenance, audio_path if audio_has_sound else None, audio_start, duration)
            _require_folder(path)
            os.replace(staged, path)
    except (OSError, PIRenderError) as exc:
        if isinstance(exc, Cancelled) or path.parent.is_dir():
            raise
        _require_folder(path)  # the folder went away while writing: a cancellation, not a failure
    log.info("wrote %s (%d frames, %.2f s)", path, num_frames, duration)
    return path


def _require_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise Cancelled(
            f"The output folder of '{path.name}' does not exist (any more); no video was written. "
            "Create the folder, or start again."
        )


def _encode_frames(
    frames: Iterable[np.ndarray],
    raw: Path,
    fps: float,
    max_side: int | None,
    crf: int,
    preset: str,
) -> int:
    writer = None
    size: tuple[int, int] | None = None
    count = 0
    try:
        for count, frame in enumerate(frames, start=1):
            frame = _check_frame(frame, count - 1)
            if writer is None:
                size = even_frame_size(frame.shape[0], frame.shape[1], max_side)
                writer = imageio_ffmpeg.write_frames(
                    str(raw),
                    (size[1], size[0]),
                    fps=fps,
                    codec="libx264",
                    pix_fmt_out="yuv420p",
                    quality=None,
                    macro_block_size=2,
                    ffmpeg_log_level="error",
                    output_params=["-crf", str(crf), "-preset", preset, "-movflags", "+faststart"],
                )
                writer.send(None)  # start the encoder process
            writer.send(fit_frame(frame, size))
        if writer is None:
            raise InputError("cannot write a video without frames")
    finally:
        if writer is not None:
            writer.close()
    return count


def _remux(
    raw: Path,
    out: Path,
    provenance: Provenance | None,
    audio_path: str | os.PathLike[str] | None,
    audio_start: float,
    duration: float,
) -> None:
    """Copy the video stream into `out` with tags, adding the first audio stream of `audio_path` as AAC
    (None: a silent video)."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(raw)]
    if audio_path is not None:
        if audio_start > 0:
            cmd += ["-ss", f"{audio_start:.3f}"]
        cmd += ["-i", str(audio_path), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k"]
        cmd += ["-t", f"{duration:.3f}"]
    else:
        cmd += ["-map", "0:v:0"]
    cmd += ["-c:v", "copy", "-map_metadata", "-1", "-movflags", "+faststart"]
    if provenance is not None:
        for key, value in provenance.video_tags().items():
            cmd += ["-metadata", f"{key}={value}"]
        for key, value in provenance.video_stream_tags().items():
            cmd += ["-metadata:s:v:0", f"{key}={value}"]
    cmd.append(str(out))
    _run_ffmpeg(cmd, "write the video")


def _run_ffmpeg(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise PIRenderError(f"ffmpeg took longer than {_FFMPEG_TIMEOUT_S:.0f} s to {what}.") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise PIRenderError(f"ffmpeg could not {what}: {lines[-1] if lines else 'no message'}")


def _has_audio(path: str | os.PathLike[str]) -> bool:
    try:
        has_audio = read_video_metadata(path).audio_codec is not None
    except MediaReadError:
        has_audio = False
    if not has_audio:
        log.info("%s has no sound track: the video is silent", Path(path).name)
    return has_audio


def save_image(image: np.ndarray, path: str | os.PathLike[str], provenance: Provenance) -> Path:
    """Write a (H, W, 3) uint8 still as PNG with the provenance text chunks."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(
            f"stills are written as PNG (to carry provenance): use a name ending in .png, got '{path.name}'"
        )
    return save_png(image, path, provenance.png_text())


def save_jpeg(image: np.ndarray, path: Path, quality: int = 90, comment: str | None = None) -> Path:
    """Write a (H, W, 3) uint8 RGB image as JPEG for display (fast), with `comment` in a COM marker.

    The comment carries the provenance sentence, so a displayed result saved from the page still
    says that it is synthesized. Downloads are PNG files with the full provenance record. Written
    to a temporary name beside `path` and renamed, so a reader never sees half a file; the folder
    is never created (a session's folder that is gone stays gone).
    """
    extra = {"comment": comment.encode("utf-8")} if comment else {}
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(image).save(tmp, format="JPEG", quality=quality, **extra)
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------
# Reading back
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What `ffmpeg -i` says about a media file.

    duration: seconds (None if unknown); fps: of the first video stream; width/height: pixels;
    video_codec, pix_fmt, audio_codec: names as ffmpeg prints them (None when there is no such stream);
    audio_rate: Hz; metadata: container-level tags (lower-case keys); video_metadata: the tags of
    the first video stream.
    """

    duration: float | None
    fps: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    pix_fmt: str | None
    audio_codec: str | None
    audio_rate: int | None
    metadata: Mapping[str, str]
    video_metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO_RE = re.compile(r"Stream #\S+.*?: Video: (\w+)")
_AUDIO_RE = re.compile(r"Stream #\S+.*?: Audio: (\w+)(?:[^,]*), (\d+) Hz")
_SIZE_RE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_FPS_RE = re.compile(r"(\d+(?:\.\d+)?) fps")
_PIX_FMTS = ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "rgb24", "bgr24", "gray", "yuv420p10le", "nv12")


def read_video_metadata(path: str | os.PathLike[str]) -> VideoInfo:
    """Parse `ffmpeg -i path` (stderr) into a `VideoInfo`. Raises MediaReadError for unreadable files."""
    path = Path(path)
    if not path.is_file():
        raise MediaReadError(f"Media file not found: '{path}'.")
    try:
        proc = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MediaReadError(f"Reading '{path}' took longer than {_PROBE_TIMEOUT_S:.0f} s.") from None
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        raise MediaReadError(
            f"'{path.name}' is not a readable video or audio file. Use an mp4, mov, webm, wav, mp3 or m4a file."
        )
    return _parse_ffmpeg_info(text)


def _parse_ffmpeg_info(text: str) -> VideoInfo:
    lines = text.splitlines()
    metadata = _metadata_block(lines, lambda line: line.startswith("Input #0"), "  ")
    video_metadata = _metadata_block(lines, lambda line: bool(_VIDEO_RE.search(line)), "    ")
    duration = None
    if m := _DURATION_RE.search(text):
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    video_codec = pix_fmt = audio_codec = None
    width = height = audio_rate = None
    fps = None
    for line in lines:
        if video_codec is None and (m := _VIDEO_RE.search(line)):
            video_codec = m.group(1)
            rest = line[m.end() :]
            pix_fmt = next((p for p in _PIX_FMTS if re.search(rf"\b{p}\b", rest)), None)
            if s := _SIZE_RE.search(rest):
                width, height = int(s.group(1)), int(s.group(2))
            if f := _FPS_RE.search(rest):
                fps = float(f.group(1))
        elif audio_codec is None and (m := _AUDIO_RE.search(line)):
            audio_codec, audio_rate = m.group(1), int(m.group(2))
    return VideoInfo(
        duration, fps, width, height, video_codec, pix_fmt, audio_codec, audio_rate, metadata, video_metadata
    )


def _metadata_block(lines: list[str], owner: Callable[[str], bool], indent: str) -> dict[str, str]:
    """Tags of the `Metadata:` block (indented by `indent`) directly after the first line `owner` accepts."""
    out: dict[str, str] = {}
    start = next((i for i, line in enumerate(lines) if owner(line)), None)
    if start is None or start + 1 >= len(lines) or lines[start + 1] != f"{indent}Metadata:":
        return out
    last_key = None
    for line in lines[start + 2 :]:
        if not line.startswith(indent + "  "):
            break
        stripped = line.strip()
        key, sep, value = stripped.partition(":")
        if sep and key.strip():
            last_key = key.strip().lower()
            out[last_key] = value.strip()
        elif last_key is not None:  # a continuation line of a multi-line value
            out[last_key] += "\n" + value.strip()
    return out
