"""Engines and weights tab: what is loaded, under which licence, what each missing file enables and where it goes.

Reads the shared `EngineRegistry` (`status()`, cheap: checks files, loads nothing), the weights
files (`pipeline.weight_files`: licences, hub mirrors, the offline switch) and the audio-model
lookup of the pipeline. "Check again" calls `EngineRegistry.reload()`, so weights copied into place are used
without restarting the server. When downloads are enabled for the app, a file can be fetched
from its Hugging Face Hub mirror after the user ticks the licence box.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr

import pipeline
from core.errors import PIRenderError
from webui.common import AppContext, TabHandlers, ui_errors

__all__ = ["build_status_tab", "status_markdown", "engines_markdown", "weights_markdown"]

log = logging.getLogger(__name__)


def _cell(text: object) -> str:
    """Text for a Markdown table cell: one line, no pipes (gr.Markdown sanitises any HTML itself)."""
    return " ".join(str(text).split()).replace("|", "/")


def _mark(flag: bool) -> str:
    return "**yes**" if flag else "no"


def engine_rows(ctx: AppContext) -> list[dict[str, Any]]:
    """One record per rendering engine, from `EngineRegistry.status()` (cheap: loads nothing)."""
    return [s.to_dict() for s in ctx.registry.status()]


def weight_rows() -> list[dict[str, Any]]:
    """One record per registered weights file: installed?, licence, what it enables, hub mirror."""
    return pipeline.weight_files()


def engines_markdown(ctx: AppContext) -> str:
    """The engines as a Markdown table plus what is missing for each."""
    rows = engine_rows(ctx)
    out = [
        "#### Rendering engines",
        "",
        "| engine | kind | ready | loaded | takes coefficients of | licence |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| **{_cell(r['name'])}** | {_cell(r['kind'])} | {_mark(r['available'])} | "
            f"{_mark(r['loaded'])} | `{_cell(r['face_model'])}` | {_cell(r['licence'])} |"
        )
    out.append("")
    for r in rows:
        line = f"- **{_cell(r['name'])}** enables {_cell(r['enables'])}."
        if r.get("missing"):
            line += " *Not ready: see what is missing below.*"
        out.append(line)
    out += ["", f"**Paper-quality path:** {_cell(pipeline.paper_path_status().summary())}"]
    return "\n".join(out)


def missing_markdown(ctx: AppContext) -> str:
    """Full instructions for every engine that cannot run, and for the audio model."""
    out = []
    for r in engine_rows(ctx):
        if r.get("missing"):
            out.append(f"- **{_cell(r['name'])}**: {_cell(r['missing'])}")
    out.append(f"- {audio_status()}")
    return "\n".join(out)


def weights_markdown() -> str:
    """The weight files as a Markdown table plus what each enables."""
    rows = weight_rows()
    out = [
        "#### Weight files",
        "",
        "| name | file | installed | licence | hub mirror (repo / file) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        mirror = f"`{_cell(r['mirror'])}`" if r["mirror"] else "not on the hub: obtain it from the licensor"
        out.append(
            f"| **{_cell(r['name'])}** | `{_cell(r['file'])}` | {_mark(r['installed'])} | "
            f"{_cell(r['licence'])} | {mirror} |"
        )
    out.append("")
    for r in rows:
        where = f"installed at `{_cell(r['path'])}`" if r["installed"] else f"goes to `{_cell(r['path'])}`"
        out.append(f"- **{_cell(r['name'])}** ({where}) is needed for {_cell(r['enables'])}.")
    return "\n".join(out)


def audio_status() -> str:
    """Markdown: where the audio-to-motion model was found, or why audio animation is unavailable."""
    try:
        directory = pipeline.audio_model_dir()
    except PIRenderError as exc:
        return f"**Audio-to-motion model: not installed.** {_cell(exc)}"
    return f"**Audio-to-motion model: installed** at `{directory}`."


def status_markdown(ctx: AppContext) -> str:
    """Backend, download settings and server limits as Markdown."""
    cfg = ctx.config
    lines = [
        f"**Reconstruction backend:** `{ctx.backend}` (photos and driving videos are analysed with it).",
    ]
    if ctx.backend_error:
        lines.append(
            f"The configured backend `{cfg.backend}` could not be loaded, so `default` is used: "
            f"{_cell(ctx.backend_error)}"
        )
    lines += [
        "",
        f"**Weights folder:** `{pipeline.weights_dir()}` (set `PIRENDER_WEIGHTS_DIR` to change it). Copy files there, "
        "then press *Check again*: no restart is needed.",
        f"**Downloads from the Hugging Face Hub:** {'allowed' if pipeline.downloads_allowed() else 'off (offline mode)'}. "
        "`PIRENDER_OFFLINE=1` (or `HF_HUB_OFFLINE=1`) forbids them; `PIRENDER_HUB_REPO_<NAME>` "
        "(e.g. `PIRENDER_HUB_REPO_PIRENDER_VOX`) sets another repo id; from a shell: "
        "`pirender download NAME --accept-licence`.",
        "",
        audio_status(),
        "",
        "**Licences.** The public PIRender weights are CC BY-NC 4.0 (non-commercial use only). The Basel Face "
        "Model needs registration with the University of Basel; it is never bundled. Outputs of this app are "
        "labelled as synthesized inside every file (PNG text chunks, mp4 tags).",
        "",
        "**Server limits:** " + "; ".join(f"{k}: {v}" for k, v in cfg.describe().items()) + ".",
    ]
    return "\n".join(lines)


class StatusHandlers(TabHandlers):
    """Event handlers of the panel (the registry they reload is shared by every session)."""

    def refresh(self) -> tuple[str, str, str, str]:
        return (
            engines_markdown(self.ctx),
            weights_markdown(),
            missing_markdown(self.ctx),
            status_markdown(self.ctx),
        )

    def reload(self) -> tuple[str, str, str, str]:
        self.ctx.registry.reload()
        gr.Info("Engines reloaded: the files present now are used from the next request on.")
        return self.refresh()

    def download_paper(self, accept: bool) -> tuple[str, str, str, str]:
        """Everything the paper-quality renderer needs, in one step (licences shown beside the button)."""
        self._check_downloads_allowed("paper")
        result = pipeline.install_paper_bundle(accept_licence=bool(accept))
        self.ctx.registry.reload()
        if result.status.neural:
            gr.Info(result.status.summary())
        else:
            gr.Warning(result.status.summary())
        return self.refresh()

    def _check_downloads_allowed(self, name: str) -> None:
        if not self.ctx.config.ui_downloads:
            raise gr.Error(
                "Downloads from the app are switched off on this server (PIRENDER_UI_DOWNLOADS=0). "
                f"Ask the administrator to run `pirender download {html.escape(str(name))} "
                "--accept-licence`.",
                title="Not allowed",
                print_exception=False,
            )

    def download(self, name: str, accept: bool) -> tuple[str, str, str, str]:
        self._check_downloads_allowed(name)
        if not name:
            raise gr.Error("Choose a file to download.", title="Nothing chosen", print_exception=False)
        path = pipeline.install_weights(name, accept_licence=bool(accept))
        self.ctx.registry.reload()
        gr.Info(f"{name} is installed at {path}.")
        return self.refresh()


@contextmanager
def _download_section(ctx: AppContext, title: str, explanation: str) -> Iterator[None]:
    """A closed accordion (hidden when the app does not offer downloads): what it fetches, then a row of controls."""
    with gr.Accordion(title, open=False, visible=ctx.config.ui_downloads):
        gr.Markdown(explanation)
        with gr.Row():
            yield


def build_status_tab(ctx: AppContext, tab: gr.Tab) -> None:
    """Lay out the Engines & weights tab (inside `tab`, which refreshes the panel when selected)."""
    h = StatusHandlers(ctx)
    gr.Markdown(
        "Which renderers, reconstruction backend and audio model this server can use now, their "
        "licences, and what each missing file would enable."
    )
    engines = gr.Markdown(engines_markdown(ctx), elem_id="status-engines")
    weights = gr.Markdown(weights_markdown(), elem_id="status-weights")
    with gr.Accordion("What is missing, and how to install it", open=False):
        missing = gr.Markdown(missing_markdown(ctx), elem_id="status-missing")
    details = gr.Markdown(status_markdown(ctx), elem_id="status-details")
    with gr.Row():
        refresh = gr.Button("Check again (reload engines)", elem_id="status-reload")
    with _download_section(
        ctx,
        "Paper quality in one step: the public PIRender weights",
        "Fetches the PIRender checkpoint, Deep3DFaceRecon's `epoch_20.pth` and the Basel Face Model "
        "files (building `BFM_model_front.mat` when the mirror has only the raw model), checks them "
        "and reloads the engines. Their licences:\n\n"
        + "\n".join(f"- {_cell(line)}" for line in pipeline.paper_bundle_licences()),
    ):
        accept_paper = gr.Checkbox(label="I have read and accept these licences", value=False)
        fetch_paper = gr.Button("Download everything", variant="primary")
    with _download_section(
        ctx,
        "Download a file from the Hugging Face Hub",
        "Fetches the file into the weights folder with `huggingface_hub` (needs internet; "
        "off in offline mode). Read the licence first: the public PIRender weights are for "
        "non-commercial use only.",
    ):
        names = pipeline.weight_file_names()
        name = gr.Dropdown(choices=names, value=names[0], label="File")
        accept = gr.Checkbox(label="I have read and accept this file's licence", value=False)
        fetch = gr.Button("Download", variant="primary")
    outputs = [engines, weights, missing, details]
    refresh.click(ui_errors(h.reload), outputs=outputs, api_name="reload_engines", concurrency_limit=None)
    tab.select(
        ui_errors(h.refresh),
        outputs=outputs,
        api_name="engine_status",
        concurrency_limit=None,
        show_progress="hidden",
    )
    fetch_paper.click(
        ui_errors(h.download_paper),
        inputs=[accept_paper],
        outputs=outputs,
        api_name="download_paper_weights",
        concurrency_limit=1,
        concurrency_id="downloads",
    )
    fetch.click(
        ui_errors(h.download),
        inputs=[name, accept],
        outputs=outputs,
        api_name="download_weights",
        concurrency_limit=1,
        concurrency_id="downloads",
    )
