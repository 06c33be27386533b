"""The web app: four tabs over the pipeline (edit, reenact, audio, engines), built once per server.

`build_app(config)` creates the shared objects once (the engine registry and the reconstruction
backend, the per-session file manager, the fair-queue rules) and lays out the tabs; everything
that belongs to a user lives in `gr.State` values of their session, so concurrent users never
share request data. `launch_kwargs(config)` gives the arguments for `Blocks.launch` (host, port,
upload limit, theme); `shutdown(demo)` ends every session and removes the process's run folder;
`main()` is the console entry used by the repository's `app.py` (also the Hugging Face Space
entry point): SIGTERM and Ctrl-C both end in `shutdown`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import gradio as gr

from core.errors import PIRenderError
from core.quiet import quiet_console
from pipeline import EngineRegistry, control_set_for, fetch_paper_weights_on_startup
from webui.audio_tab import build_audio_tab
from webui.common import AppContext, session_id
from webui.config import ServerConfig
from webui.edit_tab import build_edit_tab
from webui.examples import example_photos
from webui.preview_worker import PreviewWorker
from webui.reenact_tab import build_reenact_tab
from webui.service import FairQueue, InteractivePace, RunFolder
from webui.sessions import SessionFiles
from webui.status_tab import build_status_tab
from webui.video_edit_tab import build_video_edit_tab

__all__ = ["build_app", "launch_kwargs", "shutdown", "main", "TITLE", "CSS"]

log = logging.getLogger(__name__)

#: Events between two recomputations of Gradio's queue summary (Gradio's default: after every event).
ANALYTICS_EVERY = 500

TITLE = "pirender — portrait editor"

CSS = """
.gradio-container {max-width: 1480px !important}
#app-header h1 {margin-bottom: 0.1em}
#app-header p {margin-top: 0; opacity: 0.8}
#edit-info, #edit-note {min-height: 1.5em}
@media (min-width: 1000px) {
  #edit-right {position: sticky; top: 8px; align-self: flex-start}
}
#status-engines table, #status-weights table {table-layout: auto; width: 100%}
#status-engines td, #status-weights td, #status-engines th, #status-weights th {
  word-break: normal !important; overflow-wrap: normal !important; hyphens: none; white-space: nowrap}
#status-engines td:last-child, #status-weights td:last-child {white-space: normal}
#status-engines, #status-weights {overflow-x: auto}
#audio-audio label, #audio-audio .label-wrap, #audio-audio [data-testid="block-label"] {
  white-space: normal !important; max-width: 100% !important; overflow: visible !important; height: auto}
.no-neural label:has(input[value="neural"]) {opacity: 0.45; pointer-events: none; cursor: not-allowed}
.notice {border-left: 4px solid #d97706 !important; background: rgba(217, 119, 6, 0.07) !important;
         padding: 4px 14px !important; border-radius: 6px}
"""

HEADER = (
    "# pirender — portrait editor\n"
    "Edit a portrait with head-pose and expression sliders, make it imitate a driving video, or animate it "
    "from speech (after *PIRenderer*, Ren et al., ICCV 2021). Every image and video it produces is labelled "
    "as synthesized inside the file. Your uploads and results belong to your session only and are deleted "
    "when you leave."
)


def _context(config: ServerConfig, registry: EngineRegistry | None, run: RunFolder) -> AppContext:
    """The shared objects: engine registry, the backend (loaded now, once), session files, examples."""
    registry = registry or EngineRegistry()
    backend_name, backend_error = config.backend, None
    try:
        backend = registry.backend(backend_name)
    except PIRenderError as exc:
        if backend_name == "default":
            raise
        log.warning("backend %s unavailable (%s); using the default backend", backend_name, exc)
        backend_name, backend_error = "default", str(exc)
        backend = registry.backend(backend_name)
    num_expression = control_set_for(backend.face_model).num_expression
    files = SessionFiles(
        run.path / "sessions",
        config.temp_ttl_seconds,
        keep_downloads=config.keep_downloads,
        session_quota_bytes=int(config.session_quota_mb * 2**20),
        total_quota_bytes=int(config.total_quota_mb * 2**20),
        quota_root=run.path,
    )
    try:
        examples = tuple(example_photos(config.cache_dir))
    except (OSError, ImportError, ValueError) as exc:
        log.warning("no example photo (%s)", exc)
        examples = ()
    fair = FairQueue(config.session_queue_limit)
    previews = PreviewWorker(backend_name) if config.preview_process else None
    return AppContext(
        config,
        registry,
        files,
        backend_name,
        num_expression,
        examples,
        backend_error,
        fair,
        previews,
        InteractivePace(),
    )


def _warm_up_neural(ctx: AppContext) -> None:
    """Load (and compile) an installed neural renderer in the background, so the first release is not slow."""
    face_model = ctx.registry.backend(ctx.backend).face_model

    def load() -> None:
        try:
            engine = ctx.registry.neural_for(face_model)
        except PIRenderError as exc:
            log.warning("the neural renderer could not be loaded: %s", exc)
            return
        if engine is not None:
            log.info("neural renderer %s ready", engine.name)

    threading.Thread(target=load, name="pirender-neural-warmup", daemon=True).start()


def build_app(
    config: ServerConfig | None = None, *, registry: EngineRegistry | None = None, notice: str | None = None
) -> gr.Blocks:
    """The Gradio app. `registry`: an `EngineRegistry` to share (tests pass one; default: a new one);
    `notice`: one line shown above the tabs (e.g. why the start-up fetch of the paper weights failed)."""
    config = config or ServerConfig.from_env()
    run = RunFolder(config.temp_dir)
    run.claim()
    # Gradio's upload cache goes into the run folder too (its components read this when created)
    os.environ["GRADIO_TEMP_DIR"] = str(run.path)
    ctx = _context(config, registry, run)
    ttl = int(config.temp_ttl_seconds)
    with gr.Blocks(title=TITLE, delete_cache=(max(60, min(600, ttl // 4)), ttl)) as demo:
        gr.Markdown(HEADER, elem_id="app-header")
        if notice:
            gr.Markdown(f"**Note:** {notice}", elem_id="app-notice")
        with gr.Tabs():
            with gr.Tab("Edit", id="edit"):
                build_edit_tab(ctx)
            with gr.Tab("Reenact", id="reenact"):
                build_reenact_tab(ctx)
            with gr.Tab("Edit video", id="edit-video"):
                build_video_edit_tab(ctx)
            with gr.Tab("Audio", id="audio") as audio_tab:
                build_audio_tab(ctx, audio_tab)
            with gr.Tab("Engines & weights", id="engines") as status_tab:
                build_status_tab(ctx, status_tab)

        def end_session(request: gr.Request) -> None:
            ctx.files.remove(session_id(request))

        demo.unload(end_session)
    # Gradio's queue rebuilds a pandas table of its last 10 000 events after every event (for its
    # monitoring summary): at 80 slider events a second that was most of the queue's own CPU. Once
    # every ANALYTICS_EVERY events keeps the summary fresh enough. Read when the queue is made.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))
    demo.queue(default_concurrency_limit=config.edit_concurrency, max_size=config.queue_size)
    ctx.fair.install(demo._queue)
    ctx.files.pin_existing()  # the examples Gradio cached while the tabs were built
    ctx.files.start_sweeper()
    if ctx.previews is not None:
        ctx.previews.start()
    _warm_up_neural(ctx)
    demo.pirender_context = ctx  # for tests and benchmarks
    demo.pirender_run = run
    return demo


def shutdown(demo: gr.Blocks) -> None:
    """End every session (running jobs cancelled), stop the server, remove the run folder."""
    ctx: AppContext = demo.pirender_context
    ctx.files.stop_sweeper()
    ctx.files.end_all()
    if ctx.previews is not None:
        ctx.previews.close()
    demo.close()
    demo.pirender_run.remove()
    log.info("stopped; the temporary files of this run were removed")


def launch_kwargs(config: ServerConfig) -> dict[str, Any]:
    """Arguments of `Blocks.launch` for this configuration."""
    return {
        "server_name": config.host,
        "server_port": config.port,
        "max_file_size": config.max_upload_bytes,
        "show_error": False,
        "theme": gr.themes.Soft(
            primary_hue="indigo",
            font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
            font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
        ),
        "css": CSS,
        "footer_links": ["api", "settings"],
    }


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # Gradio's launch loop stops on it, then `main` cleans up


def main() -> None:
    """Build from the environment (`ServerConfig.from_env`) and serve until SIGTERM or Ctrl-C."""
    quiet_console()
    startup = fetch_paper_weights_on_startup()  # only with PIRENDER_FETCH_PAPER=1; never raises
    notice = None
    if startup.requested:
        log.info("paper weights at start-up: %s", startup.message())
        notice = startup.message()
    config = ServerConfig.from_env()
    demo = build_app(config, notice=notice)
    signal.signal(signal.SIGTERM, _interrupt)
    log.info("starting on http://%s:%d", config.host, config.port)
    try:
        demo.launch(**launch_kwargs(config))
    except KeyboardInterrupt:
        pass
    finally:
        shutdown(demo)
