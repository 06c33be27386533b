"""The Edit tab's event handlers and the per-user session they work on.

An upload runs the expensive step once (`pipeline.prepare_photo`) and keeps the `SourceState` in
the user's `EditSession` (a `gr.State`, never shared); every slider move is the cheap step
(`pipeline.edit`), pasted into a small `pipeline.Canvas` of the photo (longest side
`preview_max_side`) and shown as a JPEG; a release renders into the display-size canvas
(`display_max_side`). "Save PNG" pastes into the full-resolution photo; previews, releases,
downloads and clips all reuse the one `SourceState` and the engine state prepared for it. When a
released slider's engine is the geometric preview and the photo is no larger than a drag preview,
the preview of the same values (the drag's last render) is shown again instead of being rendered
a second time. A drag event carries only the sliders of its group (the semantic sliders, or the raw
coefficients) as Gradio sends them, unprocessed; the session remembers the values the page last
sent, which fills in the other group.
"""

from __future__ import annotations

import html
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from core.coefficients import FaceCoefficients
from core.errors import InputError, NoFaceError
from pipeline import (
    CONTROL_SPECS,
    GEOMETRIC,
    Canvas,
    EditRequest,
    Provenance,
    SourceState,
    edit,
    load_image,
    make_clip,
    photo_canvas,
    prepare_photo,
    save_image,
)
from webui.common import (
    PHOTO_EXTENSIONS,
    PROGRESS,
    AppContext,
    JobControl,
    RefusedUpload,
    check_upload,
    draw_face,
    save_jpeg,
    session_id,
    to_display,
)
from webui.preview_worker import PreviewWorker

__all__ = ["EditSession", "EditHandlers", "raw_name", "RAW_RANGE"]

log = logging.getLogger(__name__)

#: Display images kept per session and kind (older ones are deleted: the page no longer shows them, but
#: the browser may still be fetching the last few, and the compare view shows the last released render).
KEEP_IMAGES = {"preview": 6, "edit": 3, "photo": 1}
#: Longest wait, seconds, of a release for the preview of the same values that is still rendering.
#: JPEG quality of the pictures shown while a slider moves (each is on screen for a fraction of a
#: second); released renders are written at save_jpeg's default.
DRAG_JPEG_QUALITY = 80
#: Range of the raw expression sliders: the coefficients are about unit-variance in both face models.
RAW_RANGE = 3.0


def raw_name(i: int) -> str:
    """API / keyword name of raw expression slider i."""
    return f"raw_{i:02d}"


@dataclass(frozen=True)
class ShownRender:
    """A render shown in the page: the slider values it was made for, its display file, its target
    coefficients, the engine that drew it and how long it took."""

    key: tuple
    path: Path
    coeffs: FaceCoefficients
    engine_used: str
    seconds: float


@dataclass(frozen=True)
class ForgetPreviews:
    """Session-end callback: the preview worker drops the session's photo (equal callbacks register once)."""

    worker: PreviewWorker
    session_hash: str

    def __call__(self) -> None:
        self.worker.drop(self.session_hash)


class EditSession:
    """One user's photo in the Edit tab (the value of a gr.State; never shared between sessions).

    source: the prepared photo (full resolution; its engine states are prepared once and reused by
    previews, releases, downloads and clips); canvas: the display-size copy released edits are
    pasted into; drag_canvas: the copy drag previews are pasted into (smaller, or the same size for a
    small photo; `Canvas.quick`: it leaves out the finishing a release lays); before: `canvas` as a JPEG. Ordering of the two kinds of renders: neural_key holds the values
    of the neural release render running or shown, so that a late preview of the same values does
    not overwrite it; generation counts release renders, so that a slow one that finishes after a
    newer one started is dropped. values:
    every slider's value as the page last sent it (a drag event sends only its own group's).
    A deep copy is a new, empty session: Gradio deep-copies a state's initial value once per
    session, which is how each session gets its own instance.
    """

    def __init__(self) -> None:
        self.source: SourceState | None = None
        self.canvas: Canvas | None = None
        self.drag_canvas: Canvas | None = None
        self.photo_name = "photo"
        self.before: Path | None = None
        self.neural_key: tuple | None = None
        self.generation = 0
        self.values: dict[str, float] = {}
        self.shown: dict[str, deque[Path]] = {kind: deque() for kind in KEEP_IMAGES}
        self.lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> EditSession:
        return EditSession()

    def clear(self) -> None:
        self.source = self.canvas = self.drag_canvas = None
        self.before = None
        self.neural_key = None
        self.values = {}

    def remember(self, path: Path, kind: str) -> None:
        """Keep the newest display images of `kind` ("preview", "edit", "photo"); delete older ones."""
        with self.lock:
            shown = self.shown[kind]
            shown.append(path)
            while len(shown) > KEEP_IMAGES[kind]:
                shown.popleft().unlink(missing_ok=True)


class EditHandlers:
    """The tab's event handlers. Holds only the shared app context; user data comes in as arguments."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.names = [s.name for s in CONTROL_SPECS]
        self.raw_names = [raw_name(i) for i in range(ctx.num_expression)]
        self._raw = frozenset(self.raw_names)

    # --- helpers -----------------------------------------------------------------------------

    def _request(self, values: Mapping[str, Any], engine: str) -> EditRequest:
        controls = {n: float(values.get(n) or 0.0) for n in self.names}
        raw = np.array([float(values.get(n) or 0.0) for n in self.raw_names], dtype=np.float32)
        offset = raw if raw.size and np.any(raw) else None
        return EditRequest(
            values={k: v for k, v in controls.items() if v}, raw_expression_offset=offset, engine=engine
        )

    def _slider_values(self, values: Mapping[str, Any]) -> dict[str, float]:
        """The sliders' values as finite numbers (drag events come unprocessed: their raw values are
        checked here, the semantic ones again by `EditRequest`)."""
        out: dict[str, float] = {}
        for name, value in values.items():
            try:
                number = float(value or 0.0)
            except (TypeError, ValueError):
                raise InputError(f"slider '{name}' needs a number, got {value!r}") from None
            if not math.isfinite(number):
                raise InputError(f"slider '{name}' must be finite, got {number}")
            if name in self._raw and abs(number) > RAW_RANGE:
                raise InputError(
                    f"slider '{name}' must be in [{-RAW_RANGE:g}, {RAW_RANGE:g}], got {number:g}"
                )
            out[name] = number
        return out

    def _stale(self, request: gr.Request | None, api_name: str) -> bool:
        """A newer event of the same kind from the same session waits in the queue: skip this one."""
        fair = self.ctx.fair
        return fair is not None and fair.newer_waiting(getattr(request, "session_hash", None), api_name)

    def _key(self, values: Mapping[str, Any]) -> tuple:
        return tuple(round(float(values.get(n) or 0.0), 6) for n in (*self.names, *self.raw_names))

    @staticmethod
    def _write(session: EditSession, image: np.ndarray, path: Path, engine: str, quality: int = 90) -> Path:
        comment = Provenance("edit", engine, session.source.face_model if session.source else "").comment
        return save_jpeg(image, path, quality, comment=comment)

    def _show(
        self, session: EditSession, image: np.ndarray, sid: str, stem: str, engine: str, quality: int = 90
    ) -> Path:
        path = self._write(session, image, self.ctx.files.new_path(sid, stem, ".jpg"), engine, quality)
        session.remember(path, stem)
        return path

    @staticmethod
    def _coeff_record(c: FaceCoefficients, engine_used: str, seconds: float) -> dict[str, Any]:
        return {
            "engine": engine_used,
            "render_ms": round(seconds * 1000, 1),
            "face_model": c.face_model,
            "angles_degrees (pitch, yaw, roll)": [round(float(v), 3) for v in c.angles_degrees],
            "translation": [round(float(v), 4) for v in c.translation],
            "expression": [round(float(v), 4) for v in c.expression],
        }

    def _engine_note(self, engine_used: str, asked: str, seconds: float) -> str:
        if engine_used == GEOMETRIC and asked != "preview":
            return (
                f"Rendered with the **geometric preview** in {seconds * 1000:.0f} ms. No neural renderer "
                "is installed for this photo's face model: see the *Engines & weights* tab."
            )
        name = "geometric preview" if engine_used == GEOMETRIC else f"neural renderer `{engine_used}`"
        return f"Rendered with the **{name}** in {seconds * 1000:.0f} ms."

    # --- upload / analysis -----------------------------------------------------------------------

    def analyse_new(self, photo: str | None, session: EditSession, request: gr.Request) -> tuple:
        """A photo was uploaded, picked from the examples or cleared: analyse its largest face."""
        return self.analyse(photo, None, session, request)

    def analyse(self, photo: str | None, face: Any, session: EditSession, request: gr.Request) -> tuple:
        """Prepare face number `face` (1-based; None: the largest) of the photo and reset the sliders."""
        resets = [s.default for s in CONTROL_SPECS] + [0.0] * len(self.raw_names)
        if not photo or isinstance(photo, RefusedUpload):
            session.clear()
            hint = "Upload a portrait photo, or pick the example below."
            if isinstance(photo, RefusedUpload):  # the result panels stay empty; the reason is shown here
                gr.Warning(str(photo), title=photo.title)
                hint = f"**Not used.** {photo} {hint}"
            return (
                None,
                None,
                None,
                hint,
                gr.update(visible=False, choices=[], value=None),
                None,
                None,
                None,
                *resets,
            )
        sid = session_id(request)
        self.ctx.files.adopt(sid, photo)
        path = check_upload(photo, self.ctx.config.max_upload_bytes, PHOTO_EXTENSIONS, "photo")
        image = load_image(path, max_megapixels=self.ctx.config.max_megapixels)
        face_index = int(face) - 1 if face not in (None, "") else 0
        t0 = time.perf_counter()
        session.clear()
        session.photo_name = Path(path).stem
        try:
            state = prepare_photo(
                image, self.ctx.backend, face_index=max(0, face_index), registry=self.ctx.registry
            )
        except NoFaceError as exc:
            gr.Warning(html.escape(str(exc)), title="No face found")
            small, _ = to_display(image, self.ctx.config.display_max_side)
            shown = save_jpeg(small, self.ctx.files.new_path(sid, "photo", ".jpg"))  # unaltered: no label
            session.remember(shown, "photo")
            return (
                str(shown),
                None,
                None,
                f"**No usable face found.** {exc}",
                gr.update(visible=False, choices=[], value=None),
                None,
                None,
                None,
                *resets,
            )
        canvas = photo_canvas(state, self.ctx.config.display_max_side)
        drag_side = self.ctx.config.drag_max_side
        # (its own canvas even for a small photo: a drag preview leaves out what only a release lays)
        drag = photo_canvas(state, drag_side, quick=True)
        session.source, session.canvas, session.drag_canvas = state, canvas, drag
        self.ctx.files.on_end(sid, session.clear)  # free the photo's memory when the session ends
        if self.ctx.previews is not None:  # the preview worker prepares its copy now, drops it at the end
            self.ctx.previews.load(sid, state, drag)
            self.ctx.files.on_end(sid, ForgetPreviews(self.ctx.previews, sid))
        before = save_jpeg(canvas.image, self.ctx.files.new_path(sid, "before", ".jpg"))
        session.before = before
        detection = state.analysis.detection
        faces = list(getattr(detection, "faces", ()) or (detection.face,))
        chosen = int(detection.face.index)
        overlay = draw_face(
            canvas.image, [f.bbox for f in faces], chosen, detection.face.landmarks, canvas.scale
        )
        overlay_path = save_jpeg(overlay, self.ctx.files.new_path(sid, "faces", ".jpg"))
        seconds = time.perf_counter() - t0
        n = state.num_faces
        h, w = image.shape[:2]
        info = (
            f"**{n} face{'s' if n != 1 else ''} found**; editing face {chosen + 1} "
            f"({detection.face.size:.0f} px). Photo {w}×{h} ({w * h / 1e6:.1f} MP), backend "
            f"`{state.backend}` (face model `{state.face_model}`), analysed in {seconds:.2f} s."
        )
        if n > 1:
            info += " Faces are numbered largest first; choose another with *Face*."
        for note in state.advice():
            info += f" **Note:** {html.escape(note)}"
        choices = [str(i + 1) for i in range(n)]
        face_update = gr.update(visible=n > 1, choices=choices, value=str(chosen + 1))
        return (
            str(overlay_path),
            str(before),
            (str(before), str(before)),
            info,
            face_update,
            None,
            None,
            None,
            *resets,
        )

    # --- slider events ---------------------------------------------------------------------------

    def preview(
        self, session: EditSession, request: gr.Request, api_name: str = "preview", **values: Any
    ) -> Any:
        """A slider is moving: the geometric preview of the current values at drag size (skipped without
        a photo, and when a newer preview of the same session already waits: nothing is rendered).

        values: the sliders of the dragged group (`api_name` names its event); the others keep the
        values the session last received."""
        with session.lock:
            session.values.update(self._slider_values(values))
            values = dict(session.values)
        source, canvas = session.source, session.drag_canvas
        if self.ctx.pace is not None:
            self.ctx.pace.note(getattr(request, "session_hash", None) or "")
        if source is None or canvas is None or self._stale(request, api_name):
            return gr.skip()
        key = self._key(values)
        if session.neural_key == key:  # the neural release render of these very values is running or shown
            return gr.skip()
        sid, request_ = session_id(request), self._request(values, "preview")
        path = self.ctx.files.new_path(sid, "preview", ".jpg")
        previews = self.ctx.previews
        made = previews.render(sid, source, canvas, request_, path, DRAG_JPEG_QUALITY) if previews else None
        if made is None:  # no worker (or it could not): rendered here
            result = edit(source, request_, registry=self.ctx.registry, canvas=canvas)
            self._write(session, result.full_image, path, result.engine_used, DRAG_JPEG_QUALITY)
        session.remember(path, "preview")
        if session.neural_key == key:
            return gr.skip()
        return str(path)

    def refine(self, session: EditSession, engine: str, request: gr.Request, **values: Any) -> tuple:
        """A slider was released: render with the chosen engine and update compare view and coefficients
        (always rendered again: a drag preview leaves out what only a finished image lays, `Canvas.quick`)."""
        source = session.source
        with session.lock:
            session.values = self._slider_values(values)
        if source is None:
            gr.Warning("Upload a photo (or pick the example) first.", title="No photo")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if self._stale(request, "refine"):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        engine = engine or "auto"
        key = self._key(values)
        renderer = self.ctx.registry.select(engine, source.backend, source.face_model)
        session.neural_key = key if renderer.name != GEOMETRIC else None
        with session.lock:
            session.generation += 1
            generation = session.generation
        t0 = time.perf_counter()
        result = edit(
            source, self._request(values, engine), registry=self.ctx.registry, canvas=session.canvas
        )
        seconds = time.perf_counter() - t0
        if session.generation != generation:  # a newer release render started meanwhile: this one is stale
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        shown = self._show(session, result.full_image, session_id(request), "edit", result.engine_used)
        coeffs, engine_used = result.coeffs, result.engine_used
        before = str(session.before) if session.before else str(shown)
        return (
            str(shown),
            (before, str(shown)),
            self._engine_note(engine_used, engine, seconds),
            self._coeff_record(coeffs, engine_used, seconds),
        )

    def set_values(
        self, values: Mapping[str, float], session: EditSession, engine: str, request: gr.Request
    ) -> tuple:
        """Presets and reset: move every slider and render once."""
        full = {n: float(values.get(n, 0.0)) for n in self.names}
        full.update({n: 0.0 for n in self.raw_names})
        updates = [full[n] for n in self.names] + [0.0] * len(self.raw_names)
        if session.source is None:
            return (*updates, gr.skip(), gr.skip(), gr.skip(), gr.skip())
        shown, compare, note, record = self.refine(session, engine, request, **full)
        return (*updates, shown, compare, note, record)

    # --- files -----------------------------------------------------------------------------------

    def _require(self, session: EditSession) -> SourceState:
        if session.source is None:
            raise gr.Error(
                "Upload a photo (or pick the example) first.", title="No photo", print_exception=False
            )
        return session.source

    def save_png(
        self, session: EditSession, engine: str, what: str, request: gr.Request, **values: Any
    ) -> str:
        """The edit at the photo's full resolution (what = "photo") or the 256-px face crop, as PNG.

        Uses the session's prepared photo and engine state: nothing is analysed or prepared again.
        """
        source = self._require(session)
        edit_request = self._request(values, engine or "auto")
        result = edit(source, edit_request, registry=self.ctx.registry)
        details = edit_request.details()
        if what == "crop":
            details["output"] = "face crop 256x256"
        provenance = Provenance("edit", result.engine_used, source.face_model, details)
        image = result.crop if what == "crop" else result.full_image
        stem = f"{session.photo_name}-{'crop' if what == 'crop' else 'edited'}"
        out = self.ctx.files.new_path(session_id(request), stem, ".png", download=True)
        path = save_image(image, out, provenance)
        return str(path)

    def clip(
        self,
        session: EditSession,
        engine: str,
        seconds: float,
        request: gr.Request,
        progress: gr.Progress = PROGRESS,
        **values: Any,
    ) -> str:
        """A short mp4 morphing from the photo to the edit (display resolution)."""
        source = self._require(session)
        sid = session_id(request)
        with JobControl().run(self.ctx.files, sid, self.ctx.pace) as cancel:  # stops when the session ends
            out = self.ctx.files.new_path(sid, f"{session.photo_name}-clip", ".mp4", download=True)
            path = make_clip(
                source,
                self._request(values, engine or "auto"),
                seconds=float(seconds or self.ctx.config.clip_seconds),
                fps=float(self.ctx.config.clip_fps),
                path=out,
                progress=lambda f, m: progress(f, desc=m),
                cancel=cancel,
                registry=self.ctx.registry,
                max_side=self.ctx.config.display_max_side,
            )
        return str(path)
