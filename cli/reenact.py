"""`pirender reenact`: make a photo imitate the face in a driving video (paper section 4.2, motion imitation)."""

from __future__ import annotations

import argparse
import logging

from cli.command_helpers import add_input_arguments, options_from_args, progress_bar
from pipeline import REENACT_PARTS, ReenactOptions, reenact

HELP = "animate a portrait photo with the head motion, expressions and gaze of a driving video (mp4 with its sound)"
log = logging.getLogger(__name__)

_DEFAULTS = ReenactOptions()
_DEFAULT_PARTS = next(c.name for c in REENACT_PARTS if c.parts == _DEFAULTS.parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser, output_help="output video, .mp4")
    parser.add_argument("driving", help="the driving video (mp4, mov, webm, ...)")
    parser.add_argument(
        "--mode",
        choices=("relative", "absolute"),
        default=_DEFAULTS.mode,
        help="relative: add the driving face's changes to the photo's own pose and expression; "
        f"absolute: copy them (default {_DEFAULTS.mode})",
    )
    parser.add_argument(
        "--parts",
        choices=[c.name for c in REENACT_PARTS],
        default=_DEFAULT_PARTS,
        help="what the video moves: "
        + "; ".join(f"{c.name}: {c.description}" for c in REENACT_PARTS)
        + " (default %(default)s)",
    )
    parser.add_argument(
        "--smoothing", type=float, default=_DEFAULTS.smoothing, help="temporal smoothing strength, 0 = off"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=_DEFAULTS.max_seconds, help="use at most this much of the video"
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(ReenactOptions, args)
    with progress_bar("reenact") as progress:
        path = reenact(args.photo, args.driving, options, args.output, progress=progress)
    log.info("wrote %s", path)
    return 0
