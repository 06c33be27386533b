"""`pirender reenact`: make a photo imitate the face in a driving video (paper section 4.2, motion imitation)."""

from __future__ import annotations

import argparse
import logging

from pipeline.engines import ENGINE_CHOICES
from pipeline.usecases import ReenactOptions

HELP = "animate a portrait photo with the head motion and expressions of a driving video (mp4 with its sound)"
log = logging.getLogger(__name__)

_DEFAULTS = ReenactOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", help="the portrait photo")
    parser.add_argument("driving", help="the driving video (mp4, mov, webm, ...)")
    parser.add_argument("-o", "--output", required=True, help="output video, .mp4")
    parser.add_argument(
        "--mode",
        choices=("relative", "absolute"),
        default=_DEFAULTS.mode,
        help="relative: add the driving face's changes to the photo's own pose and expression; "
        f"absolute: copy them (default {_DEFAULTS.mode})",
    )
    parser.add_argument(
        "--parts",
        default=",".join(_DEFAULTS.parts),
        help="comma-separated: expression, pose, mouth, eyes, all (default %(default)s)",
    )
    parser.add_argument(
        "--smoothing", type=float, default=_DEFAULTS.smoothing, help="temporal smoothing strength, 0 = off"
    )
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default=_DEFAULTS.engine, help="renderer")
    parser.add_argument(
        "--backend", default=_DEFAULTS.backend, help="reconstruction backend: default or deep3d"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=_DEFAULTS.max_seconds, help="use at most this much of the video"
    )


def run(args: argparse.Namespace) -> int:
    from cli.edit import progress_bar
    from pipeline.usecases import reenact

    options = ReenactOptions(
        mode=args.mode,
        parts=tuple(p.strip() for p in args.parts.split(",") if p.strip()),
        smoothing=args.smoothing,
        engine=args.engine,
        backend=args.backend,
        max_seconds=args.max_seconds,
    )
    with progress_bar("reenact") as progress:
        path = reenact(args.photo, args.driving, options, args.output, progress=progress)
    log.info("wrote %s", path)
    return 0
