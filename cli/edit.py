"""`pirender edit`: portrait editing of one photo (paper section 4.1, intuitive image editing).

One flag per control of `reconstruction.controls.CONTROL_SPECS` (generated from the table, so the
CLI, the web UI and the pipeline share one definition), a preset, the engine choice, and optional
extra outputs: the edited 256x256 crop and a short clip moving from the photo to the edit.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pipeline.engines import ENGINE_CHOICES

HELP = "edit a portrait photo (head pose, expression, gaze...) and write a PNG; see --help for every control"
log = logging.getLogger(__name__)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[float, str], None]]:
    """A `(fraction, message)` progress callback drawing a tqdm bar on stderr (only on a terminal)."""
    from tqdm import tqdm

    with tqdm(total=100, desc=description, unit="%", disable=None, leave=False) as bar:

        def update(fraction: float, message: str) -> None:
            bar.n = round(100 * min(max(fraction, 0.0), 1.0))
            bar.set_postfix_str(message, refresh=False)
            bar.refresh()

        yield update


def flag_name(control: str) -> str:
    """`--head-yaw` for the control "head_yaw"."""
    return "--" + control.replace("_", "-")


def _value_in_range(spec: Any) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not spec.minimum <= value <= spec.maximum:
            raise argparse.ArgumentTypeError(
                f"{spec.name} must be between {spec.minimum:g} and {spec.maximum:g} {spec.unit}, got {value:g}"
            )
        return value

    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from reconstruction.controls import CONTROL_SPECS, PRESETS

    parser.add_argument("photo", help="the portrait photo (JPEG, PNG, WebP, ...)")
    parser.add_argument("-o", "--output", required=True, help="edited photo, .png (carries provenance text)")
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default="auto", help="renderer (default: auto)")
    parser.add_argument("--backend", default="default", help="reconstruction backend: default or deep3d")
    parser.add_argument("--face-index", type=int, default=0, help="which face, when the photo has several")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named set of control values")
    parser.add_argument("--save-crop", metavar="PNG", help="also write the edited 256x256 crop")
    parser.add_argument("--clip", metavar="MP4", help="also write a clip moving from the photo to the edit")
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="length of --clip (default 2 s)")
    parser.add_argument(
        "--paste",
        choices=("residual", "replace"),
        default="residual",
        help="how the crop goes back into the photo",
    )
    group = parser.add_argument_group("controls", "each defaults to the photo's own look")
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
    from reconstruction.controls import CONTROL_SPECS

    values = {}
    for spec in CONTROL_SPECS:
        value = getattr(args, f"control_{spec.name}", None)
        if value is not None:
            values[spec.name] = value
    return values


def run(args: argparse.Namespace) -> int:
    from pipeline.media import Provenance, save_image
    from pipeline.usecases import EditRequest, edit, make_clip, prepare_photo, request_from_preset

    values = control_values(args)
    options = {"engine": args.engine, "paste": args.paste}
    request = (
        request_from_preset(args.preset, values, **options) if args.preset else EditRequest(values, **options)
    )
    with progress_bar("edit") as progress:
        progress(0.0, "analysing the photo")
        state = prepare_photo(args.photo, backend=args.backend, face_index=args.face_index)
        progress(0.5, "rendering")
        result = edit(state, request)
        details = {k: f"{v:g}" for k, v in sorted(request.values.items())}
        provenance = Provenance("edit", result.engine_used, state.face_model, details)
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
