"""Edit tab: one photo, semantic sliders, before/after, full-resolution PNG and a morph clip (PIRenderer 4.3).

While a slider is dragged, `.input` events render with the geometric preview at drag size
(trigger_mode "always_last", no progress overlay, their own concurrency group; each event carries
only the sliders of its group, unprocessed by Gradio, which keeps Gradio's work per event small:
API `preview` for the semantic sliders, `preview_raw` for the raw coefficients); on `.release` the
best installed engine (the neural renderer when its weights are present) renders the same values
at display size. Full-resolution PNG downloads run in a group of their own (one at a time by
default), so they never hold up previews or releases. The handlers
and the per-user session live in `webui.edit_handlers`. The sliders are generated from the
control table (`pipeline.CONTROL_SPECS`), so reset, presets, the API parameter names and the
pipeline all use the same definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr

from pipeline import CONTROL_SPECS, PRESETS, preset_values
from webui.common import AppContext, engine_radio, photo_input, ui_errors, ui_outcome
from webui.edit_handlers import RAW_RANGE, EditHandlers, EditSession, raw_name

__all__ = ["EditTab", "build_edit_tab", "controls_help"]

C = TypeVar("C", bound=gr.components.Component)


@dataclass
class EditTab:
    """The components of the tab (the tests and the browser test find them by elem_id)."""

    session: gr.State
    photo: gr.Image
    result: gr.Image
    compare: gr.ImageSlider
    faces: gr.Image
    sliders: dict[str, gr.Slider]
    raw_sliders: dict[str, gr.Slider]
    files: gr.File
    clip: gr.Video


def controls_help() -> str:
    """Markdown table of the sliders, generated from CONTROL_SPECS."""
    rows = ["| slider | range | what it does |", "| --- | --- | --- |"]
    for spec in CONTROL_SPECS:
        unit = f" {spec.unit}" if spec.unit else ""
        rows.append(f"| {spec.label} | {spec.minimum:g} … {spec.maximum:g}{unit} | {spec.description} |")
    rows.append("")
    rows.append(
        "All sliders are relative to the photo: 0 keeps it as it is. Presets set several sliders at once."
    )
    return "\n".join(rows)


def _shown(kind: Callable[..., C], label: str, elem_id: str, **size: int) -> C:
    """A picture of the result tabs: shown from a file, not editable, with a full-screen button."""
    return kind(
        label=label, type="filepath", interactive=False, elem_id=elem_id, buttons=["fullscreen"], **size
    )


def _wire_drag_previews(
    h: EditHandlers, session: gr.State, groups: dict[str, dict[str, gr.Slider]], result: gr.Image, limit: int
) -> None:
    """One drag event per slider group (API name -> its sliders), each taking only its own sliders."""

    def previewer(api_name: str) -> Callable[..., Any]:
        def preview(session: EditSession, request: gr.Request, **values: Any) -> Any:
            return h.preview(session, request, api_name, **values)

        preview.__name__ = api_name
        return preview

    for api_name, group in groups.items():
        gr.on(
            [s.input for s in group.values()],
            ui_errors(previewer(api_name)),
            inputs=[session],
            inputs_kwargs=group,
            outputs=[result],
            trigger_mode="always_last",
            show_progress="hidden",
            preprocess=False,  # the sliders as Gradio sends them (no thread hop per input); checked by h
            concurrency_limit=limit,
            concurrency_id="preview",
            api_name=api_name,
        )


def build_edit_tab(ctx: AppContext) -> EditTab:
    """Lay out the Edit tab and wire its events (inside a `gr.Tab` of `build_app`)."""
    h = EditHandlers(ctx)
    cfg = ctx.config
    session = gr.State(EditSession())
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            photo = photo_input(
                cfg.max_upload_bytes,
                cfg.max_megapixels,
                label="Photo",
                type="filepath",
                image_mode=None,
                sources=["upload", "clipboard"],
                height=260,
                elem_id="edit-photo",
            )
            face = gr.Dropdown(label="Face", choices=[], visible=False, interactive=True, elem_id="edit-face")
            info = gr.Markdown("Upload a portrait photo, or pick the example below.", elem_id="edit-info")
            if ctx.examples:
                gr.Examples(
                    examples=[[str(p)] for p in ctx.examples],
                    inputs=[photo],
                    label="Example (NASA portrait, public domain)",
                    examples_per_page=4,
                    elem_id="edit-example",
                )
            with gr.Row():
                preset_buttons = {name: gr.Button(name, size="sm", min_width=60) for name in PRESETS}
                reset = gr.Button("Reset", size="sm", variant="stop", min_width=60, elem_id="edit-reset")
            sliders: dict[str, gr.Slider] = {}
            for group, title in (("head", "Head pose and position"), ("expression", "Expression")):
                with gr.Accordion(title, open=True):
                    specs = [s for s in CONTROL_SPECS if s.group == group]
                    for i in range(0, len(specs), 2):
                        with gr.Row():
                            for spec in specs[i : i + 2]:
                                unit = f" ({spec.unit})" if spec.unit else ""
                                sliders[spec.name] = gr.Slider(
                                    spec.minimum,
                                    spec.maximum,
                                    value=spec.default,
                                    step=spec.step,
                                    label=spec.label + unit,
                                    elem_id=f"slider-{spec.name}",
                                    min_width=200,
                                )
            with gr.Accordion("What the sliders do", open=False):
                gr.Markdown(controls_help())
            raw_sliders: dict[str, gr.Slider] = {}
            with gr.Accordion(f"Advanced: raw expression coefficients ({ctx.num_expression})", open=False):
                gr.Markdown(
                    "Offsets added to the face model's expression coefficients (about unit "
                    "variance), after the sliders above."
                )
                for i in range(0, ctx.num_expression, 4):
                    with gr.Row():
                        for j in range(i, min(i + 4, ctx.num_expression)):
                            raw_sliders[raw_name(j)] = gr.Slider(
                                -RAW_RANGE,
                                RAW_RANGE,
                                value=0.0,
                                step=0.05,
                                label=f"e{j}",
                                min_width=120,
                                elem_id=f"slider-{raw_name(j)}",
                            )
                coeffs = gr.JSON(label="Target coefficients of the current edit", open=False)
        with gr.Column(scale=6, min_width=360, elem_id="edit-right"):
            with gr.Tabs():
                with gr.Tab("Result"):
                    result = _shown(gr.Image, "Edited photo", "edit-result", height=560)
                with gr.Tab("Before / after"):
                    compare = _shown(
                        gr.ImageSlider, "Before / after (drag the divider)", "edit-compare", max_height=560
                    )
                with gr.Tab("Detected face"):
                    faces = _shown(gr.Image, "Detected face and landmarks", "edit-faces", height=560)
            note = gr.Markdown("", elem_id="edit-note")
            refine = engine_radio(ctx, "Renderer when a slider is released", "edit-engine")
            with gr.Row():
                save_full = gr.Button("Save PNG (full resolution)", variant="primary", elem_id="edit-save")
                save_crop = gr.Button("Save face crop (PNG)", elem_id="edit-save-crop")
            files = gr.File(label="Download", interactive=False, height=90, elem_id="edit-download")
            with gr.Accordion("Make a clip: original → edit", open=False):
                clip_seconds = gr.Slider(0.5, 6.0, value=cfg.clip_seconds, step=0.5, label="Length (s)")
                make = gr.Button("Make clip", elem_id="edit-make-clip")
                clip = gr.Video(label="Clip (mp4)", interactive=False, elem_id="edit-clip")

    all_sliders = {**sliders, **raw_sliders}
    slider_list = list(all_sliders.values())
    resets_out = slider_list
    # Analysis, refined renders and presets share one queue: a user's edits run in order.
    edit_queue: dict[str, Any] = {"concurrency_limit": cfg.edit_concurrency, "concurrency_id": "edit"}
    save_queue: dict[str, Any] = {"concurrency_limit": cfg.save_concurrency, "concurrency_id": "saves"}

    analysis_outputs = [faces, result, compare, info, face, files, clip, coeffs, *resets_out]
    photo.change(
        ui_errors(h.analyse_new),
        inputs=[photo, session],
        outputs=analysis_outputs,
        **edit_queue,
        show_progress="minimal",
        show_progress_on=[faces, result],
        api_name="analyse",
    )
    face.input(
        ui_errors(h.analyse),
        inputs=[photo, face, session],
        outputs=analysis_outputs,
        **edit_queue,
        show_progress="minimal",
        show_progress_on=[faces, result],
        api_name="choose_face",
    )

    _wire_drag_previews(
        h, session, {"preview": sliders, "preview_raw": raw_sliders}, result, cfg.preview_concurrency
    )
    gr.on(
        [s.release for s in slider_list],
        ui_errors(h.refine),
        inputs=[session, refine],
        inputs_kwargs=all_sliders,
        outputs=[result, compare, note, coeffs],
        trigger_mode="always_last",
        show_progress="hidden",
        **edit_queue,
        api_name="refine",
    )
    value_outputs = [*slider_list, result, compare, note, coeffs]
    for name, button in preset_buttons.items():

        def apply(session: EditSession, engine: str, request: gr.Request, _name: str = name) -> tuple:
            return h.set_values(preset_values(_name), session, engine, request)

        apply.__name__ = f"preset_{name}"
        button.click(
            ui_errors(apply),
            inputs=[session, refine],
            outputs=value_outputs,
            **edit_queue,
            api_name=f"preset_{name}",
            show_progress="hidden",
        )

    def reset_all(session: EditSession, engine: str, request: gr.Request) -> tuple:
        return h.set_values({}, session, engine, request)

    reset.click(
        ui_errors(reset_all),
        inputs=[session, refine],
        outputs=value_outputs,
        **edit_queue,
        api_name="reset",
        show_progress="hidden",
    )

    def saver(what: str) -> Callable[..., str]:
        def save(session: EditSession, engine: str, request: gr.Request, **values: Any) -> str:
            return h.save_png(session, engine, what, request, **values)

        save.__name__ = f"save_{what}"
        return save

    for button, what, api_name in ((save_full, "photo", "save_png"), (save_crop, "crop", "save_crop")):
        button.click(
            ui_outcome(saver(what), lambda message: None),
            inputs=[session, refine],
            inputs_kwargs=all_sliders,
            outputs=[files],
            api_name=api_name,
            **save_queue,
        )
    make.click(
        ui_outcome(h.clip, lambda message: None),
        inputs=[session, refine, clip_seconds],
        inputs_kwargs=all_sliders,
        outputs=[clip],
        concurrency_limit=cfg.job_concurrency,
        concurrency_id="jobs",
        api_name="make_clip",
    )
    return EditTab(session, photo, result, compare, faces, sliders, raw_sliders, files, clip)
