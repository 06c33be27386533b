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

from pipeline import CONTROL_SPECS, VideoEditOptions, edit_video
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


#: The tab's introduction, above its inputs.
INTRO = (
    "The same controls as in Edit, applied to every frame of a video: the person keeps their own "
    "head motion and expressions, and the sliders add on top (a constant smile, a look to the side...)."
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
        with job.run(self.ctx.files, sid, self.ctx.pace) as cancel:
            self.ctx.files.adopt(sid, video)
            path = common.check_upload(video, cfg.max_upload_bytes, common.VIDEO_EXTENSIONS, "video")
            info = common.check_media(path, cfg.max_video_seconds, "video", need_video=True)
            changes = {name: float(v) for name, v in values.items() if v}
            options = VideoEditOptions(backend=self.ctx.backend, max_seconds=cfg.max_video_seconds)
            written = self.make_video(
                sid,
                "edited",
                edit_video,
                path,
                changes,
                options,
                progress=progress,
                cancel=cancel,
                what="Video editing",
            )
            if written is None:
                return None, "Cancelled."
        what = ", ".join(f"{k} {v:g}" for k, v in changes.items()) or "no change"
        sound = "its sound kept" if info.has_audio else "no sound in the video"
        seconds = time.perf_counter() - started
        return str(
            written
        ), f"Done in {seconds:.1f} s: {what} on every frame ({sound}); labelled as synthesized."


def build_video_edit_tab(ctx: AppContext) -> None:
    """Lay out the Edit video tab and wire its events."""
    cfg = ctx.config
    h, job = VideoEditHandlers.for_job_tab(ctx, INTRO)
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
            buttons = common.job_buttons("Edit the video", "video-edit")
        common.video_result_column(h, job, buttons, "video-edit", "edit_video", [video, job], sliders)
