"""`pirender edit`: portrait editing of one photo (paper section 4.1, intuitive image editing).

One flag per control of `reconstruction.controls.CONTROL_SPECS` (generated from the table, so the
CLI, the web UI and the pipeline share one definition), a preset, the engine choice, and optional
extra outputs: the edited 256x256 crop and a short clip moving from the photo to the edit.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from cli.command_helpers import add_input_arguments, flag_name, progress_bar
from pipeline import (
    CONTROL_SPECS,
    PRESETS,
    EditRequest,
    Provenance,
    edit,
    make_clip,
    prepare_photo,
    request_from_preset,
    save_image,
)

HELP = "edit a portrait photo (head pose, expression, gaze...) and write a PNG; see --help for every control"
log = logging.getLogger(__name__)


def _value_in_range(spec: Any) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not spec.minimum <= value <= spec.maximum:
            raise argparse.ArgumentTypeError(
                f"{spec.name} must be between {spec.minimum:g} and {spec.maximum:g}{' ' + spec.unit if spec.unit else ''}, got {value:g}"
            )
        return value

    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser, output_help="edited photo, .png (carries provenance text)")
    parser.add_argument("--face-index", type=int, default=0, help="which face, when the photo has several")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named set of control values")
    parser.add_argument("--save-crop", metavar="PNG", help="also write the edited 256x256 crop")
    parser.add_argument("--clip", metavar="MP4", help="also write a clip moving from the photo to the edit")
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="length of --clip (default 2 s)")
    add_control_arguments(parser, "each defaults to the photo's own look")


def add_control_arguments(parser: argparse.ArgumentParser, description: str) -> None:
    """One flag per control of `CONTROL_SPECS` (`--smile V`, `--yaw V`, ...), range-checked."""
    group = parser.add_argument_group("controls", description)
    for spec in CONTROL_SPECS:
        unit = f" {spec.unit}" if spec.unit else ""
        text = f"{spec.label}: {spec.description} [{spec.minimum:g}..{spec.maximum:g}{unit}]"
        group.add_argument(
            flag_name(spec.name),
            dest=f"control_{spec.name}",
            type=_value_in_range(spec),
            metavar="V",
            help=text.replace("%", "%%"),  # argparse expands %-formats in help
        )


def control_values(args: argparse.Namespace) -> dict[str, float]:
    """The control values given on the command line (absent ones are left out)."""
    values = {}
    for spec in CONTROL_SPECS:
        value = getattr(args, f"control_{spec.name}", None)
        if value is not None:
            values[spec.name] = value
    return values


def run(args: argparse.Namespace) -> int:
    values = control_values(args)
    options = {"engine": args.engine}
    request = (
        request_from_preset(args.preset, values, **options) if args.preset else EditRequest(values, **options)
    )
    with progress_bar("edit") as progress:
        progress(0.0, "analysing the photo")
        state = prepare_photo(args.photo, backend=args.backend, face_index=args.face_index)
        for note in state.advice():
            log.warning("%s", note)
        progress(0.5, "rendering")
        result = edit(state, request)
        provenance = Provenance("edit", result.engine_used, state.face_model, request.details())
        save_image(result.full_image, args.output, provenance)
        if args.save_crop:
            save_image(result.crop, args.save_crop, provenance)
        progress(1.0, "saved")
    log.info("wrote %s (engine %s)", args.output, result.engine_used)
    if args.clip:
        with progress_bar("clip") as progress:
            make_clip(state, request, seconds=args.clip_seconds, path=args.clip, progress=progress)
        log.info("wrote %s", args.clip)
    return 0
