"""What every tab shares: the app context, error translation, upload checks and display images.

The web UI only turns widgets into pipeline requests and the project's typed errors into
`gr.Error` / `gr.Warning`. `ui_errors` is that translation: a `PIRenderError` shows
its own message; anything unexpected is logged with a short reference and shown as a generic
message, so a user never sees a stack trace and the server keeps running.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import secrets
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import PIRenderError
from pipeline import Cancelled, EngineRegistry, load_image, read_video_metadata, save_jpeg
from webui.config import ServerConfig
from webui.preview_worker import PreviewWorker
from webui.service import FairQueue, InteractivePace, JobCancel
from webui.sessions import SessionFiles

__all__ = [
    "ui_outcome",
    "RefusedUpload",
    "AppContext",
    "REFINE_CHOICES",
    "PROGRESS",
    "NEURAL_MISSING",
    "neural_ready",
    "engine_radio",
    "page_message",
    "JobControl",
    "TabHandlers",
    "photo_input",
    "source_photo_input",
    "photo_examples",
    "read_photo",
    "ui_errors",
    "check_upload",
    "check_media",
    "to_display",
    "save_jpeg",
    "draw_face",
    "session_id",
    "PHOTO_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "AUDIO_EXTENSIONS",
]

log = logging.getLogger(__name__)

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".flac", ".webm", ".opus")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: Radio choices of the renderer (label, EditRequest.engine): of the Edit tab's released sliders, the videos.
REFINE_CHOICES = [
    ("Best available", "auto"),
    ("Neural renderer", "neural"),
    ("Geometric preview", "preview"),
]


NEURAL_MISSING = "Neural renderer: not installed (its weights are missing); see the Engines & weights tab."
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^\s'\"`/\\()]+){2,}[/\\]?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`'])")


def neural_ready(ctx: AppContext) -> bool:
    """Whether a neural renderer's weights are installed (cheap: checks files, loads nothing)."""
    return any(s.kind == "neural" and s.available for s in ctx.registry.status())


def engine_radio(ctx: AppContext, label: str, elem_id: str) -> gr.Radio:
    """The renderer choice; without neural weights its neural option is shown disabled, with one line of why."""
    ready = neural_ready(ctx)
    return gr.Radio(
        REFINE_CHOICES,
        value="auto",
        label=label,
        info=None if ready else NEURAL_MISSING,
        elem_id=elem_id,
        elem_classes=[] if ready else ["no-neural"],
    )


def page_message(text: str) -> str:
    """An error for the page: server paths reduced to file names, the first two sentences shown, the
    rest behind a "details" toggle (HTML, escaped)."""
    clean = _PATH.sub(lambda m: f"'{Path(m.group().rstrip('/')).name}'", str(text)).strip()
    sentences = _SENTENCE_END.split(clean)
    head, rest = " ".join(sentences[:2]), " ".join(sentences[2:])
    out = html.escape(head)
    if rest:
        out += f"<details><summary>details</summary>{html.escape(rest)}</details>"
    return out


#: Default value of handlers' `progress` parameter: Gradio recognises it and injects a tracker per event.
PROGRESS = gr.Progress()


@dataclass(frozen=True)
class AppContext:
    """The shared, read-only objects of one app (created once in `build_app`; no per-user data).

    registry: the engine registry (weights load once per process); files: per-session folders and jobs;
    num_expression: E of the backend's face model (length of the raw coefficient sliders);
    backend_error: why the configured backend could not be loaded (then "default" is used);
    fair: the queue's per-session rules (`newer_waiting` tells a handler its event is stale).
    previews: the child process drag previews are rendered in (`webui.preview_worker`), or None.
    pace: video jobs give way to previews while people drag (`webui.service.InteractivePace`).
    """

    config: ServerConfig
    registry: EngineRegistry
    files: SessionFiles
    backend: str
    num_expression: int
    examples: tuple[Path, ...] = ()
    backend_error: str | None = None
    fair: FairQueue | None = None
    previews: PreviewWorker | None = None
    pace: InteractivePace | None = None


class JobControl:
    """Per-session handle of one tab's long job: the Cancel button sets `cancel`, the pipeline checks it.

    The value of a gr.State. A deep copy is a new handle: Gradio deep-copies a state's initial
    value once per session, which is how each session gets its own (an Event cannot be copied).
    """

    def __init__(self) -> None:
        self.cancel = JobCancel()
        self.running = False

    def __deepcopy__(self, memo: dict[int, Any]) -> JobControl:
        return JobControl()

    @contextmanager
    def run(
        self, files: SessionFiles, session_hash: str, pace: InteractivePace | None = None
    ) -> Iterator[threading.Event]:
        """Mark the job running for the duration of the block (Cancel works from its first line on);
        yields the event the pipeline checks. The job belongs to the session: when the session ends,
        `files` sets the event (the pipeline stops at the next frame boundary); a job whose session
        ended while it waited in the queue raises Cancelled at once. `pace`: the job gives way to
        slider previews between its render batches."""
        self.cancel.clear()
        self.cancel.pace = pace
        files.begin_job(session_hash, self.cancel)
        self.running = True
        try:
            yield self.cancel
        finally:
            self.running = False
            files.end_job(session_hash, self.cancel)

    def stop(self, message: str) -> str:
        """The Cancel button: ask the running job to stop; returns the note to show."""
        if self.running:
            self.cancel.set()
            return message
        return "Nothing is running."


class TabHandlers:
    """Event handlers of a tab; they hold only the shared app context (user data comes as arguments)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @classmethod
    def for_job_tab(cls, ctx: AppContext, intro: str) -> tuple[Any, gr.State]:
        """The handlers of a tab that runs one video job per click, its per-session job control
        (a `gr.State`) and the tab's one-paragraph introduction."""
        gr.Markdown(intro)
        return cls(ctx), gr.State(JobControl())

    @staticmethod
    def cancel(job: JobControl) -> str:
        """The Cancel button of a job: the frames being rendered finish first, then the job stops."""
        return job.stop("Cancelling… the frames being rendered finish first.")

    def make_video(
        self,
        sid: str,
        stem: str,
        use_case: Callable[..., Any],
        *inputs: Any,
        progress: gr.Progress,
        cancel: threading.Event,
        what: str,
    ) -> Any:
        """Run a use case that writes one mp4 into the session's downloads (`stem`.mp4, passed after
        `inputs`); its result, or None when the user cancelled (a warning says so, nothing is kept)."""
        out = self.ctx.files.new_path(sid, stem, ".mp4", download=True)
        try:
            return self.run_job(use_case, *inputs, out, progress=progress, cancel=cancel)
        except Cancelled:
            gr.Warning(f"{what} cancelled; no video was written.", title="Cancelled")
            return None

    def run_job(
        self,
        use_case: Callable[..., T],
        *inputs: Any,
        progress: gr.Progress,
        cancel: threading.Event,
    ) -> T:
        """A long use case (`reenact`, `animate`...) on the shared engines, reporting to the page's
        progress bar and stopped by the job's Cancel button."""
        return use_case(
            *inputs,
            progress=lambda f, m: progress(f, desc=m),
            cancel=cancel,
            registry=self.ctx.registry,
        )


def job_buttons(label: str, prefix: str) -> tuple[gr.Button, gr.Button]:
    """The Run and Cancel buttons of a video job tab (elem ids `prefix`-run / `prefix`-cancel)."""
    with gr.Row():
        run = gr.Button(label, variant="primary", elem_id=f"{prefix}-run")
        stop = gr.Button("Cancel", variant="stop", elem_id=f"{prefix}-cancel")
    return run, stop


def video_result_column(
    handlers: TabHandlers,
    job: gr.State,
    buttons: tuple[gr.Button, gr.Button],
    prefix: str,
    api_name: str,
    inputs: list[Any],
    inputs_kwargs: dict[str, Any] | None = None,
) -> tuple[gr.Video, gr.Markdown]:
    """The result column of a video job tab (an mp4 and a note), wired to `handlers.run` and
    `handlers.cancel`: a refusal leaves the video empty with the reason in the note."""
    run, stop = buttons
    with gr.Column(scale=1, min_width=300):
        result = gr.Video(label="Result (mp4)", interactive=False, elem_id=f"{prefix}-result")
        note = gr.Markdown("", elem_id=f"{prefix}-note")
    extra = {"inputs_kwargs": inputs_kwargs} if inputs_kwargs else {}
    event = run.click(
        ui_outcome(handlers.run, lambda message: (None, f"**Not started.** {message}")),
        inputs=inputs,
        outputs=[result, note],
        concurrency_limit=handlers.ctx.config.job_concurrency,
        concurrency_id="jobs",
        api_name=api_name,
        **extra,
    )
    stop.click(
        handlers.cancel,
        inputs=[job],
        outputs=[note],
        cancels=[event],
        queue=False,
        api_name=f"cancel_{api_name}",
    )
    return result, note


def session_id(request: gr.Request | None) -> str:
    """Gradio's session hash of the request (API clients have one too); a random one otherwise."""
    value = getattr(request, "session_hash", None) if request is not None else None
    return str(value) if value else "anon-" + secrets.token_hex(8)


def ui_errors(fn: F) -> F:
    """Run a handler; PIRenderError -> gr.Error(message); unexpected errors -> logged + generic gr.Error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except PIRenderError as exc:
            log.info("%s: %s: %s", fn.__name__, type(exc).__name__, exc)
            raise gr.Error(page_message(str(exc)), title=_title(exc), print_exception=False) from None
        except MemoryError:
            log.exception("%s ran out of memory", fn.__name__)
            raise gr.Error(
                "The server ran out of memory for this request. Try a smaller photo or a shorter clip.",
                title="Too large",
                print_exception=False,
            ) from None
        except Exception:  # noqa: BLE001 - the last line of defence: never show a stack trace
            ref = secrets.token_hex(3)
            log.exception("unexpected error in %s (ref %s)", fn.__name__, ref)
            raise gr.Error(
                f"Something went wrong on the server (reference {ref}). The app is still running: try "
                "again, or with another file. If it keeps happening, report the reference.",
                title="Unexpected error",
                print_exception=False,
            ) from None

    return wrapper  # type: ignore[return-value]


def ui_outcome(fn: F, empty: Callable[[str], Any]) -> F:
    """Like `ui_errors`, but a refusal the user can fix (a missing upload, a file out of limits, no
    face, a missing model) leaves the panels in their empty state with the reason in the page
    (`empty(message)` gives the outputs) and a warning toast, instead of an "Error" badge on them."""
    guarded = ui_errors(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return guarded(*args, **kwargs)
        except gr.Error as exc:
            if getattr(exc, "title", "") == "Unexpected error":
                raise
            message = str(getattr(exc, "message", exc))
            gr.Warning(message, title=getattr(exc, "title", None) or "Not done")
            return empty(message)

    return wrapper  # type: ignore[return-value]


def _title(exc: PIRenderError) -> str:
    name = type(exc).__name__
    return {
        "NoFaceError": "No face found",
        "FaceTooSmallError": "Face too small",
        "ImageReadError": "Cannot use this image",
        "MediaReadError": "Cannot use this file",
        "WeightsNotFoundError": "Not installed",
        "AudioModelNotInstalledError": "Audio model not installed",
        "FaceModelMismatchError": "Engine does not fit",
        "Cancelled": "Cancelled",
        "StorageFullError": "Storage full",
    }.get(name, "Error")


def check_upload(path: str | Path | None, max_bytes: int, extensions: tuple[str, ...], what: str) -> Path:
    """An uploaded file's path after checking presence, size and extension; gr.Error saying what to do."""
    if path is None or str(path) == "":
        raise gr.Error(f"Please upload a {what} first.", title="Missing input", print_exception=False)
    p = Path(path)
    if not p.is_file():
        raise gr.Error(
            f"The uploaded {what} is no longer on the server; upload it again.",
            title="Upload lost",
            print_exception=False,
        )
    size = p.stat().st_size
    if size == 0:
        raise gr.Error(f"The uploaded {what} is empty (0 bytes).", title="Empty file", print_exception=False)
    if size > max_bytes:
        raise gr.Error(
            f"The {what} is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB. "
            "Use a smaller or shorter file.",
            title="File too large",
            print_exception=False,
        )
    if p.suffix.lower() not in extensions:
        raise gr.Error(
            f"'{html.escape(p.name)}' is not a supported {what} file. Use one of: {', '.join(extensions)}.",
            title="Wrong file type",
            print_exception=False,
        )
    return p


def check_media(
    path: Path, max_seconds: float, what: str, *, need_video: bool = False, need_audio: bool = False
) -> Any:
    """Probe a video/audio upload (`pipeline.read_video_metadata`) and enforce the duration limit.

    Returns the `VideoInfo`; raises gr.Error for a file without the needed stream or one that is
    too long, and MediaReadError (shown by `ui_errors`) for an unreadable one.
    """
    info = read_video_metadata(path)
    name = html.escape(path.name)
    if need_video and info.video_codec is None:
        raise gr.Error(
            f"'{name}' has no video stream: upload a video of a face.",
            title="Wrong file type",
            print_exception=False,
        )
    if need_audio and info.audio_codec is None:
        raise gr.Error(
            f"'{name}' has no sound: upload speech (wav, mp3, m4a) or record it.",
            title="Wrong file type",
            print_exception=False,
        )
    if info.duration is not None and info.duration > max_seconds + 0.05:
        raise gr.Error(
            f"The {what} is {info.duration:.1f} s long; this server accepts at most {max_seconds:g} s. "
            "Trim it and upload it again.",
            title="Too long",
            print_exception=False,
        )
    return info


class RefusedUpload(str):
    """What a photo input hands its handler instead of a file it refused (too large, not an image,
    too many pixels): the reason, so the handler can leave its panels empty and say why there."""

    def __new__(cls, message: str, title: str = "Cannot use this photo") -> RefusedUpload:
        refused = super().__new__(cls, message)
        refused.title = title
        return refused

    def error(self) -> gr.Error:
        """The refusal as the page error the handlers raise."""
        return gr.Error(str(self), title=self.title, print_exception=False)


def photo_input(max_bytes: int, max_megapixels: float | None = None, **kwargs: Any) -> gr.Image:
    """A `gr.Image` photo upload (any gr.Image keyword) that answers a non-image, oversized or
    too-many-megapixel file with a readable gr.Error (no server path).

    A plain `gr.Image` lets PIL's exceptions escape from preprocessing (a decompression bomb among
    them): a stack trace in the log and a message without content for the user. The pixel count
    is read from the header before Gradio decodes anything, with the same limit as the pipeline's
    `load_image`. The check wraps this one instance's `preprocess` (subclassing a Gradio component
    would make Gradio write a .pyi stub next to this module).
    """
    component = gr.Image(**kwargs)
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        path = getattr(payload, "path", None)
        name = getattr(payload, "orig_name", None) or (Path(path).name if path else "the file")
        try:
            if path and Path(path).is_file() and Path(path).stat().st_size > max_bytes:
                size = Path(path).stat().st_size
                return RefusedUpload(
                    f"The photo is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB.",
                    "File too large",
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                if path and max_megapixels is not None:
                    _check_megapixels(Path(path), max_megapixels)
                return original(payload)
        except gr.Error as exc:
            return RefusedUpload(str(exc.message), exc.title or "Cannot use this photo")
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
        ) as exc:
            log.info("rejected upload %s: %s: %s", name, type(exc).__name__, exc)
            if isinstance(exc, Image.DecompressionBombError):
                return RefusedUpload(
                    f"'{html.escape(str(name))}' has too many pixels to open safely. Resize the photo "
                    f"(at most {max_megapixels or 40:g} megapixels) and upload it again.",
                    "Photo too large",
                )
            return RefusedUpload(
                f"'{html.escape(str(name))}' is not an image we can read. Use a JPEG, PNG, WebP, BMP or TIFF "
                "photo (HEIC/RAW: export as JPEG first).",
                "Wrong file type",
            )

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def _check_megapixels(path: Path, max_megapixels: float) -> None:
    """gr.Error when the image's header declares more than `max_megapixels` (nothing is decoded)."""
    with Image.open(path) as im:
        width, height = im.size
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise gr.Error(
            f"The photo is {width}×{height} pixels ({megapixels:.1f} megapixels); this server accepts at "
            f"most {max_megapixels:g} megapixels. Resize it and upload it again.",
            title="Photo too large",
            print_exception=False,
        )


def source_photo_input(ctx: AppContext, elem_id: str) -> gr.Image:
    """The "Source photo" upload of the video tabs."""
    return photo_input(
        ctx.config.max_upload_bytes,
        ctx.config.max_megapixels,
        label="Source photo",
        type="filepath",
        image_mode=None,
        sources=["upload", "clipboard"],
        height=240,
        elem_id=elem_id,
    )


def photo_examples(ctx: AppContext, photo: gr.Image) -> None:
    """The example photos (if any) as a gr.Examples feeding `photo`."""
    if ctx.examples:
        gr.Examples(examples=[[str(p)] for p in ctx.examples], inputs=[photo], label="Example photo")


def read_photo(ctx: AppContext, photo: str | Path | None) -> np.ndarray:
    """An uploaded photo checked (presence, size, type, megapixels) and read: (H, W, 3) uint8 RGB."""
    cfg = ctx.config
    if isinstance(photo, RefusedUpload):
        raise photo.error()
    path = check_upload(photo, cfg.max_upload_bytes, PHOTO_EXTENSIONS, "photo")
    return load_image(path, max_megapixels=cfg.max_megapixels)


def to_display(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(H, W, 3) uint8 -> the image shrunk (area filter) so its longer side is <= max_side, and the scale."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def draw_face(
    image: np.ndarray,
    boxes: list[tuple[float, float, float, float]],
    chosen: int,
    landmarks: np.ndarray | None,
    scale: float,
) -> np.ndarray:
    """Mark the detected faces on a display copy: the chosen face in green with its landmarks, others grey.

    boxes are (x0, y0, x1, y1) in original pixels; landmarks (N, 2+) in original pixels; `scale`
    maps original to display pixels.
    """
    out = np.ascontiguousarray(image.copy())
    thick = max(2, round(max(out.shape[:2]) / 400))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        colour = (40, 220, 90) if i == chosen else (170, 170, 170)
        p0 = (int(round(x0 * scale)), int(round(y0 * scale)))
        p1 = (int(round(x1 * scale)), int(round(y1 * scale)))
        cv2.rectangle(out, p0, p1, colour, thick, cv2.LINE_AA)
        cv2.putText(
            out,
            str(i + 1),
            (p0[0] + 3, max(12, p0[1] - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5 + thick * 0.15,
            colour,
            max(1, thick - 1),
            cv2.LINE_AA,
        )
    if landmarks is not None:
        radius = max(1, thick // 2)
        for x, y in np.asarray(landmarks)[:, :2] * scale:
            cv2.circle(out, (int(round(x)), int(round(y))), radius, (255, 230, 60), -1, cv2.LINE_AA)
    return out
