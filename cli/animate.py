"""`pirender animate`: animate a photo with speech (paper section 3.3 / 4.3, audio-driven animation)."""

from __future__ import annotations

import argparse
import logging

from cli.command_helpers import add_photo_arguments, options_from_args, progress_bar
from pipeline import AnimateOptions, animate

HELP = "animate a portrait photo from a speech recording (needs the audio-to-motion model)"
log = logging.getLogger(__name__)

_DEFAULTS = AnimateOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_photo_arguments(parser, output_help="output video, .mp4 (variants: _v1, _v2, ...)")
    parser.add_argument("audio", help="speech: wav, mp3, m4a, or a video with sound")
    parser.add_argument(
        "--seed", type=int, default=_DEFAULTS.seed, help="noise seed (same seed, same motion)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=_DEFAULTS.temperature,
        help="motion variety; 0 = most likely motion",
    )
    parser.add_argument("--expression-strength", type=float, default=_DEFAULTS.expression_strength)
    parser.add_argument("--pose-strength", type=float, default=_DEFAULTS.pose_strength)
    parser.add_argument(
        "--variants", type=int, default=_DEFAULTS.variants, help="clips with seeds seed, seed+1, ..."
    )
    parser.add_argument("--fps", type=float, default=_DEFAULTS.fps)
    parser.add_argument(
        "--model-dir", default=None, help="audio-to-motion model folder (default: the installed one)"
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(AnimateOptions, args)
    with progress_bar("animate") as progress:
        paths = animate(args.photo, args.audio, options, args.output, progress=progress)
    for path in paths:
        log.info("wrote %s", path)
    return 0
