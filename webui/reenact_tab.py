"""Reenact tab: a source photo performs the motion of a driving video (PIRenderer 4.2, motion imitation).

Widgets become a `pipeline.ReenactOptions` and one `pipeline.reenact` call, which writes an mp4
with the driving video's sound and provenance tags into the session's folder. The progress bar
follows the pipeline's progress callback; Cancel sets the session's `JobControl.cancel` event
(checked by the pipeline between render batches) and cancels the Gradio event.
"""

from __future__ import annotations

import logging
import time

import gradio as gr

from pipeline import ReenactOptions, reenact
from webui import common
from webui.common import PROGRESS, AppContext, JobControl

__all__ = ["build_reenact_tab", "PARTS", "PART_VALUES", "reenact_options"]

log = logging.getLogger(__name__)

#: The one choice of what the driving video moves: (label, radio value) and the radio value's
#: `ReenactOptions.parts` (names from `reconstruction.motion.TRANSFER_PARTS`; mouth and eyes only
#: are exclusive, so the choices are one radio, not checkboxes).
PARTS = [
    ("Everything", "all"),
    ("Expression + head pose", "expression_pose"),
    ("Expression only", "expression"),
    ("Head pose only", "pose"),
    ("Mouth only", "mouth"),
    ("Eyes only", "eyes"),
]
PART_VALUES: dict[str, tuple[str, ...]] = {
    "all": ("all",),
    "expression_pose": ("expression", "pose"),
    "expression": ("expression",),
    "pose": ("pose",),
    "mouth": ("mouth",),
    "eyes": ("eyes",),
}


def reenact_options(
    mode: str, parts: str | None, smoothing: float, engine: str, backend: str, max_seconds: float
) -> ReenactOptions:
    """Widget values -> ReenactOptions (`parts`: a value of the PARTS radio)."""
    if parts not in PART_VALUES:
        raise gr.Error(
            "Choose what the video should move (everything, expression and pose, ...).",
            title="Nothing to transfer",
            print_exception=False,
        )
    return ReenactOptions(
        mode=mode or "relative",
        parts=PART_VALUES[parts],
        smoothing=float(smoothing),
        engine=engine or "auto",
        max_seconds=float(max_seconds),
        backend=backend,
    )


#: The tab's introduction, above its inputs.
INTRO = (
    "The photo imitates the face in the driving video. *Relative* motion adds the video's changes "
    "(from its first frame) to the photo's own pose and expression; *absolute* copies them."
)


class ReenactHandlers(common.TabHandlers):
    """Event handlers of the Reenact tab."""

    def run(
        self,
        photo: str | None,
        video: str | None,
        mode: str,
        parts: str,
        smoothing: float,
        engine: str,
        job: JobControl,
        request: gr.Request,
        progress: gr.Progress = PROGRESS,
    ) -> tuple:
        cfg = self.ctx.config
        t0 = time.perf_counter()
        sid = common.session_id(request)
        with job.run(self.ctx.files, sid, self.ctx.pace) as cancel:
            self.ctx.files.adopt(sid, photo, video)
            image = common.read_photo(self.ctx, photo)
            video_path = common.check_upload(
                video, cfg.max_upload_bytes, common.VIDEO_EXTENSIONS, "driving video"
            )
            info = common.check_media(video_path, cfg.max_video_seconds, "driving video", need_video=True)
            options = reenact_options(mode, parts, smoothing, engine, self.ctx.backend, cfg.max_video_seconds)
            path = self.make_video(
                sid,
                "reenacted",
                reenact,
                image,
                video_path,
                options,
                progress=progress,
                cancel=cancel,
                what="Reenactment",
            )
            if path is None:
                return None, "Cancelled."
        seconds = time.perf_counter() - t0
        sound = (
            "with the driving video's sound" if info.has_audio else "silent (the driving video has no sound)"
        )
        note = (
            f"Done in {seconds:.1f} s: {options.mode} motion, parts {', '.join(options.parts)}, "
            f"{sound}. The file is labelled as synthesized."
        )
        return str(path), note


def build_reenact_tab(ctx: AppContext) -> None:
    """Lay out the Reenact tab and wire its events."""
    cfg = ctx.config
    h, job = ReenactHandlers.for_job_tab(ctx, INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                photo = common.source_photo_input(ctx, "reenact-photo")
                video = gr.Video(
                    label=f"Driving video (≤ {cfg.max_video_seconds:g} s)",
                    sources=["upload"],
                    height=240,
                    elem_id="reenact-video",
                )
            common.photo_examples(ctx, photo)
            with gr.Row():
                mode = gr.Radio(
                    [("Relative", "relative"), ("Absolute", "absolute")], value="relative", label="Motion"
                )
                engine = common.engine_radio(ctx, "Renderer", "reenact-engine")
            parts = gr.Radio(
                PARTS,
                value="expression_pose",
                label="What the video moves",
                info="Where the eyes look (gaze) follows the video with Everything and Eyes only.",
                elem_id="reenact-parts",
            )
            smoothing = gr.Slider(
                0.0,
                3.0,
                value=1.0,
                step=0.25,
                label="Smoothing of the driving motion",
                info="0 = none, 1 = default, higher = calmer head motion",
            )
            buttons = common.job_buttons("Generate video", "reenact")
        common.video_result_column(
            h, job, buttons, "reenact", "reenact", [photo, video, mode, parts, smoothing, engine, job]
        )
