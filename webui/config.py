"""Server settings of the web app: one typed dataclass, read one way (defaults, then environment, then overrides).

`ServerConfig` holds every limit and knob the app enforces (upload size, image megapixels, clip
durations, queue concurrency, temporary-file lifetime); `ServerConfig.from_env()` reads them
from environment variables so that a Hugging Face Space or a container can set them without
code. Nothing here touches the disk or the network.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.errors import InputError

__all__ = ["ServerConfig", "ENV_VARS"]

#: field name -> environment variable that sets it.
ENV_VARS: dict[str, str] = {
    "host": "GRADIO_SERVER_NAME",
    "port": "GRADIO_SERVER_PORT",
    "max_upload_mb": "PIRENDER_MAX_UPLOAD_MB",
    "max_megapixels": "PIRENDER_MAX_MEGAPIXELS",
    "max_video_seconds": "PIRENDER_MAX_VIDEO_SECONDS",
    "max_audio_seconds": "PIRENDER_MAX_AUDIO_SECONDS",
    "job_concurrency": "PIRENDER_JOB_CONCURRENCY",
    "edit_concurrency": "PIRENDER_EDIT_CONCURRENCY",
    "preview_concurrency": "PIRENDER_PREVIEW_CONCURRENCY",
    "preview_process": "PIRENDER_PREVIEW_PROCESS",
    "save_concurrency": "PIRENDER_SAVE_CONCURRENCY",
    "queue_size": "PIRENDER_QUEUE_SIZE",
    "temp_ttl_seconds": "PIRENDER_TEMP_TTL",
    "temp_dir": "PIRENDER_TEMP_DIR",
    "cache_dir": "PIRENDER_CACHE_DIR",
    "display_max_side": "PIRENDER_DISPLAY_MAX_SIDE",
    "preview_max_side": "PIRENDER_PREVIEW_MAX_SIDE",
    "backend": "PIRENDER_BACKEND",
    "max_variants": "PIRENDER_MAX_VARIANTS",
    "ui_downloads": "PIRENDER_UI_DOWNLOADS",
    "session_queue_limit": "PIRENDER_SESSION_QUEUE_LIMIT",
    "keep_downloads": "PIRENDER_KEEP_DOWNLOADS",
    "session_quota_mb": "PIRENDER_SESSION_QUOTA_MB",
    "total_quota_mb": "PIRENDER_TOTAL_QUOTA_MB",
}

_TRUE = ("1", "true", "yes", "on")


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _default_temp_dir() -> Path:
    """The temp root: each server process makes its run folder inside (its uploads and session folders)."""
    return Path(tempfile.gettempdir()) / "pirender"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pirender" / "webui"


@dataclass(frozen=True)
class ServerConfig:
    """Everything the web app needs to know about the server it runs on.

    host/port: where to listen (Gradio's own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT).
    max_upload_mb: largest accepted upload, megabytes (enforced by Gradio and again by the app).
    max_megapixels: largest photo, megapixels (width x height / 1e6).
    max_video_seconds / max_audio_seconds: longest driving video / speech clip, seconds.
    job_concurrency: video jobs (clips, reenactment, audio animation) that run at once, all users together.
    edit_concurrency: photo analyses and released-slider renders that run at once.
    preview_concurrency: slider previews that run at once (cheap; they never wait behind the other groups).
    preview_process: render drag previews in a child process (`webui.preview_worker`), so that they
        do not hold the server's interpreter lock while it answers other users' requests (default:
        when this process may use two cores or more; with one it would only add work).
    save_concurrency: full-resolution downloads (PNG of the photo or of the face crop) made at once;
        they have their own group, so a burst of saves neither blocks previews nor takes every core.
    queue_size: events waiting in the queue before new ones are refused ("queue full").
    temp_ttl_seconds: a session's files are deleted this long after its last use (and when it ends).
    temp_dir: the temp root; each process works in its own `run-<pid>-<random>` folder inside (Gradio's
        uploads and the per-session folders), removed at shutdown, or at the next start-up after a crash.
    cache_dir: generated example photos and the like.
    session_queue_limit: most events one session may have waiting in the queue (a video job: one).
    keep_downloads: downloads (PNGs, videos) kept per session; older ones are deleted.
    session_quota_mb / total_quota_mb: most disk one session / the whole run folder may use.
    display_max_side: longest side, pixels, of the images shown in the page (downloads keep full size).
    preview_max_side: longest side, pixels, of the pictures shown while a slider is being dragged (at
        most display_max_side); the release shows the display_max_side render.
    backend: reconstruction backend used to analyse photos ("default" or "deep3d").
    max_variants: most variants one audio request may ask for.
    ui_downloads: the Engines tab may fetch weights from the Hugging Face Hub (after licence acceptance).
    clip_seconds / clip_fps: length and frame rate of the "make a clip" video.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: float = 30.0
    max_megapixels: float = 40.0
    max_video_seconds: float = 30.0
    max_audio_seconds: float = 30.0
    job_concurrency: int = 1
    edit_concurrency: int = 2
    preview_concurrency: int = 4
    preview_process: bool = field(default_factory=lambda: _cores() >= 2)
    save_concurrency: int = 1
    queue_size: int = 64
    temp_ttl_seconds: float = 3600.0
    temp_dir: Path = field(default_factory=_default_temp_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    display_max_side: int = 1024
    preview_max_side: int = 640
    backend: str = "default"
    max_variants: int = 4
    ui_downloads: bool = True
    clip_seconds: float = 2.0
    clip_fps: int = 25
    session_queue_limit: int = 8
    keep_downloads: int = 8
    session_quota_mb: float = 300.0
    total_quota_mb: float = 3000.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "temp_dir", Path(self.temp_dir))
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        positive = (
            "max_upload_mb",
            "max_megapixels",
            "max_video_seconds",
            "max_audio_seconds",
            "temp_ttl_seconds",
            "clip_seconds",
            "session_quota_mb",
            "total_quota_mb",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise InputError(f"ServerConfig.{name} must be a positive number, got {value!r}")
        for name in (
            "job_concurrency",
            "edit_concurrency",
            "preview_concurrency",
            "save_concurrency",
            "queue_size",
            "max_variants",
            "clip_fps",
            "session_queue_limit",
            "keep_downloads",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InputError(f"ServerConfig.{name} must be an integer >= 1, got {value!r}")
        if not 0 <= self.port <= 65535:
            raise InputError(f"ServerConfig.port must be in [0, 65535], got {self.port}")
        for name in ("display_max_side", "preview_max_side"):
            if getattr(self, name) < 256:
                raise InputError(
                    f"ServerConfig.{name} must be at least 256 pixels, got {getattr(self, name)}"
                )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def drag_max_side(self) -> int:
        """Longest side, pixels, of a drag preview: preview_max_side, never more than display_max_side."""
        return min(self.preview_max_side, self.display_max_side)

    @property
    def offline(self) -> bool:
        """Downloads are forbidden (PIRENDER_OFFLINE or HF_HUB_OFFLINE); read live, the registry does the same."""
        return any(
            os.environ.get(v, "").strip().lower() in _TRUE for v in ("PIRENDER_OFFLINE", "HF_HUB_OFFLINE")
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServerConfig:
        """Defaults, then the environment variables of `ENV_VARS`, then `overrides` (e.g. from tests).

        Raises InputError naming the variable when a value cannot be parsed.
        """
        env = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, object] = {}
        for name, var in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[name] = _parse(raw.strip(), str(types[name]), var)
        unknown = set(overrides) - set(types)
        if unknown:
            raise InputError(f"unknown ServerConfig fields: {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def describe(self) -> dict[str, str]:
        """Limits as a person reads them (for the status panel)."""
        return {
            "upload size": f"{self.max_upload_mb:g} MB",
            "photo size": f"{self.max_megapixels:g} megapixels",
            "driving video": f"{self.max_video_seconds:g} s",
            "audio": f"{self.max_audio_seconds:g} s",
            "video jobs at once": str(self.job_concurrency),
            "photo analyses / renders at once": str(self.edit_concurrency),
            "slider previews at once": str(self.preview_concurrency)
            + (" (rendered in a worker process)" if self.preview_process else ""),
            "PNG downloads made at once": str(self.save_concurrency),
            "temporary files kept": f"{self.temp_ttl_seconds / 60:g} min after last use",
            "downloads kept per session": f"the last {self.keep_downloads}",
            "disk per session / in total": f"{self.session_quota_mb:g} MB / {self.total_quota_mb:g} MB",
            "waiting requests per session": str(self.session_queue_limit),
            "reconstruction backend": self.backend,
        }


def _parse(raw: str, type_name: str, var: str) -> object:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_name == "Path":
            return Path(raw).expanduser()
        return raw
    except ValueError:
        raise InputError(f"environment variable {var}={raw!r} is not a valid {type_name}") from None
