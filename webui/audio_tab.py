"""Audio tab: a photo speaks a recording, driven by the audio-to-motion flows (PIRenderer 3.3 / appendix D.2).

Widgets become a `pipeline.AnimateOptions` and one `pipeline.animate` call (one mp4 per variant,
seeds seed, seed + 1, ...). Until an audio-to-motion model is installed the tab says so at the
top and the Generate button answers with the pipeline's `AudioModelNotInstalledError` message;
nothing is faked. The notice is refreshed whenever the tab is opened, so installing a model
needs no restart.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gradio as gr

from core.errors import PIRenderError
from pipeline import AnimateOptions, AnimationControls, Cancelled, animate, audio_model_dir
from webui import common
from webui.common import PROGRESS, AppContext, JobControl

__all__ = ["build_audio_tab", "audio_notice"]

log = logging.getLogger(__name__)


def audio_notice() -> tuple[str, bool]:
    """(Markdown, model installed?) for the banner at the top of the tab."""
    try:
        directory = audio_model_dir()
    except PIRenderError as exc:
        return (
            f"### The audio-to-motion model is not installed\n{exc}\n\n"
            "This tab stays unavailable until then: it will not fake a talking head.",
            False,
        )
    return f"Audio-to-motion model: `{directory.name}` (from `{directory}`).", True


class AudioHandlers(common.TabHandlers):
    """Event handlers of the Audio tab."""

    def run(
        self,
        photo: str | None,
        audio: str | None,
        seed: float,
        temperature: float,
        lips: float,
        expression: float,
        head: float,
        still: bool,
        blinks: float,
        variants: float,
        engine: str,
        job: JobControl,
        request: gr.Request,
        progress: gr.Progress = PROGRESS,
    ) -> tuple:
        cfg = self.ctx.config
        t0 = time.perf_counter()
        sid = common.session_id(request)
        with job.run(self.ctx.files, sid, self.ctx.pace) as cancel:
            self.ctx.files.adopt(sid, photo, audio)
            audio_model_dir()  # AudioModelNotInstalledError first: nothing else is worth checking without it
            image = common.read_photo(self.ctx, photo)
            audio_path = common.check_upload(
                audio, cfg.max_upload_bytes, common.AUDIO_EXTENSIONS, "audio file"
            )
            common.check_media(
                audio_path, cfg.max_audio_seconds, "audio", need_audio=True
            )  # the one probe of the audio
            n = int(variants or 1)
            if not 1 <= n <= cfg.max_variants:
                raise gr.Error(
                    f"Ask for 1 to {cfg.max_variants} variants.",
                    title="Too many variants",
                    print_exception=False,
                )
            controls = AnimationControls(
                lips=float(lips),
                expression=float(expression),
                head=float(head),
                still=bool(still),
                blinks_per_minute=float(blinks),
            )
            options = AnimateOptions(
                seed=int(seed or 0),
                temperature=float(temperature),
                variants=n,
                engine=engine or "auto",
                backend=self.ctx.backend,
                max_seconds=cfg.max_audio_seconds,
                controls=controls,
            )
            out = self.ctx.files.new_path(sid, "talking", ".mp4", download=True)
            try:
                paths = self.run_job(
                    animate, image, audio_path, options, out, progress=progress, cancel=cancel
                )
                self.ctx.files.track(sid, paths)
            except Cancelled:
                gr.Warning("Animation cancelled; no video was written.", title="Cancelled")
                return (
                    *[gr.update(value=None, visible=i == 0) for i in range(cfg.max_variants)],
                    "Cancelled.",
                )
        videos = [
            gr.update(
                value=str(paths[i]) if i < len(paths) else None,
                visible=i < len(paths),
                label=f"Variant {i + 1} (seed {options.seed + i})",
            )
            for i in range(cfg.max_variants)
        ]
        note = f"Done in {time.perf_counter() - t0:.1f} s: {len(paths)} variant(s). Files are labelled as synthesized."
        return (*videos, note)


def build_audio_tab(ctx: AppContext, tab: gr.Tab) -> None:
    """Lay out the Audio tab inside `tab` and wire its events."""
    cfg = ctx.config
    h = AudioHandlers(ctx)
    job = gr.State(JobControl())
    text, installed = audio_notice()
    notice = gr.Markdown(text, elem_id="audio-notice", elem_classes=[] if installed else ["notice"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                photo = common.source_photo_input(ctx, "audio-photo")
                audio = gr.Audio(
                    label=f"Speech (≤ {cfg.max_audio_seconds:g} s)",
                    sources=["upload", "microphone"],
                    type="filepath",
                    elem_id="audio-audio",
                )
            gr.Markdown("Speech: a wav, mp3 or m4a file, or record it with the microphone.")
            common.photo_examples(ctx, photo)
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
                variants = gr.Slider(1, cfg.max_variants, value=1, step=1, label="Variants (seed, seed+1, …)")
            temperature = gr.Slider(
                0.0,
                1.5,
                value=0.7,
                step=0.05,
                label="Temperature",
                info="0 = the most likely motion; higher = livelier, more varied",
            )
            with gr.Row():
                lips = gr.Slider(0.0, 3.0, value=1.0, step=0.05, label="Lips", elem_id="audio-lips")
                expression = gr.Slider(
                    0.0, 3.0, value=1.0, step=0.05, label="Expression", elem_id="audio-expression"
                )
                head = gr.Slider(0.0, 3.0, value=1.0, step=0.05, label="Head motion", elem_id="audio-head")
            with gr.Row():
                still = gr.Checkbox(
                    value=False, label="Still head (keep the photo's pose)", elem_id="audio-still"
                )
                blinks = gr.Slider(
                    0.0, 60.0, value=15.0, step=1.0, label="Blinks per minute", elem_id="audio-blinks"
                )
            engine = common.engine_radio(ctx, "Renderer", "audio-engine")
            with gr.Row():
                run = gr.Button(
                    "Generate talking head", variant="primary", elem_id="audio-run", interactive=installed
                )
                stop = gr.Button("Cancel", variant="stop", elem_id="audio-cancel")
        with gr.Column(scale=1, min_width=300):
            videos = [
                gr.Video(
                    label=f"Variant {i + 1}", interactive=False, visible=i == 0, elem_id=f"audio-result-{i}"
                )
                for i in range(cfg.max_variants)
            ]
            note = gr.Markdown("", elem_id="audio-note")

    def nothing_made(message: str) -> tuple:
        """Every variant panel empty (the first one shown) and the reason in the note."""
        return (
            *[gr.update(value=None, visible=i == 0) for i in range(cfg.max_variants)],
            f"**Not started.** {message}",
        )

    event = run.click(
        common.ui_outcome(h.run, nothing_made),
        inputs=[
            photo,
            audio,
            seed,
            temperature,
            lips,
            expression,
            head,
            still,
            blinks,
            variants,
            engine,
            job,
        ],
        outputs=[*videos, note],
        concurrency_limit=cfg.job_concurrency,
        concurrency_id="jobs",
        api_name="animate",
    )
    stop.click(
        h.cancel, inputs=[job], outputs=[note], cancels=[event], queue=False, api_name="cancel_animate"
    )

    def refresh() -> tuple[Any, Any]:
        text, installed = audio_notice()
        return (
            gr.update(value=text, elem_classes=[] if installed else ["notice"]),
            gr.update(interactive=installed),
        )

    tab.select(refresh, outputs=[notice, run], api_visibility="private", queue=False)
