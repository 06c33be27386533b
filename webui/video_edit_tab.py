"""Edit video tab: the edit sliders applied to every frame of a video (each frame keeps its own motion).

Widgets become one `pipeline.edit_video` call: the video's own head motion and expressions are
tracked frame by frame, the slider offsets are added on top, the sound is kept, and the mp4 (with
provenance tags) is written into the session's folder. Progress and Cancel work as in the Reenact tab.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gradio as gr

from pipeline import CONTROL_SPECS, Cancelled, VideoEditOptions, edit_video
from webui import common
from webui.common import PROGRESS, AppContext, JobControl

__all__ = ["build_video_edit_tab"]

log = logging.getLogger(__name__)

#: The sliders offered here: what people change in a whole clip (the rest stay at the video's own look).
VIDEO_CONTROLS = (
    "smile",
    "open_mouth",
    "raise_brows",
    "close_eyes",
    "gaze_x",
    "gaze_y",
    "yaw",
    "pitch",
    "roll",
)


class VideoEditHandlers(common.TabHandlers):
    """Event handlers of the Edit video tab."""

    def run(
        self,
        video: str | None,
        job: JobControl,
        request: gr.Request,
        progress: gr.Progress = PROGRESS,
        **values: float,
    ) -> tuple[Any, str]:
        cfg = self.ctx.config
        started = time.perf_counter()
        sid = common.session_id(request)
        with job.run(self.ctx.files, sid) as cancel:
            self.ctx.files.adopt(sid, video)
            path = common.check_upload(video, cfg.max_upload_bytes, common.VIDEO_EXTENSIONS, "video")
            info = common.check_media(path, cfg.max_video_seconds, "video", need_video=True)
            changes = {name: float(v) for name, v in values.items() if v}
            options = VideoEditOptions(backend=self.ctx.backend, max_seconds=cfg.max_video_seconds)
            out = self.ctx.files.new_path(sid, "edited", ".mp4", download=True)
            try:
                written = self.run_job(
                    edit_video, path, changes, options, out, progress=progress, cancel=cancel
                )
            except Cancelled:
                gr.Warning("Video editing cancelled; no video was written.", title="Cancelled")
                return None, "Cancelled."
        sound = "with its sound" if info.has_audio else "(the video has no sound)"
        what = ", ".join(f"{k} {v:g}" for k, v in changes.items()) or "no change"
        note = (
            f"Done in {time.perf_counter() - started:.1f} s: {what}, every frame keeping its own motion, "
            f"{sound}. The file is labelled as synthesized."
        )
        return str(written), note

    @staticmethod
    def cancel(job: JobControl) -> str:
        return job.stop("Cancelling… the current frame finishes first.")


def build_video_edit_tab(ctx: AppContext) -> None:
    """Lay out the Edit video tab and wire its events."""
    cfg = ctx.config
    h = VideoEditHandlers(ctx)
    job = gr.State(JobControl())
    gr.Markdown(
        "The same controls as in Edit, applied to every frame of a video: the person keeps their own "
        "head motion and expressions, and the sliders add on top (a constant smile, a look to the side...)."
    )
    specs = {s.name: s for s in CONTROL_SPECS}
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            video = gr.Video(
                label=f"Video (≤ {cfg.max_video_seconds:g} s)",
                sources=["upload"],
                height=240,
                elem_id="video-edit-input",
            )
            sliders = {
                name: gr.Slider(
                    specs[name].minimum,
                    specs[name].maximum,
                    value=0.0,
                    step=specs[name].step,
                    label=specs[name].label,
                    elem_id=f"video-slider-{name}",
                )
                for name in VIDEO_CONTROLS
                if name in specs
            }
            with gr.Row():
                run = gr.Button("Edit the video", variant="primary", elem_id="video-edit-run")
                stop = gr.Button("Cancel", variant="stop", elem_id="video-edit-cancel")
        with gr.Column(scale=1, min_width=300):
            result = gr.Video(label="Result (mp4)", interactive=False, elem_id="video-edit-result")
            note = gr.Markdown("", elem_id="video-edit-note")
    event = run.click(
        common.ui_outcome(h.run, lambda message: (None, f"**Not started.** {message}")),
        inputs=[video, job],
        inputs_kwargs=sliders,
        outputs=[result, note],
        concurrency_limit=cfg.job_concurrency,
        concurrency_id="jobs",
        api_name="edit_video",
    )
    stop.click(
        h.cancel, inputs=[job], outputs=[note], cancels=[event], queue=False, api_name="cancel_edit_video"
    )
