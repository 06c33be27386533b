"""`pirender animate`: animate a photo with speech (paper section 3.3 / 4.3, audio-driven animation).

The motion controls (`AnimationControls`): separate strengths of the lips, the rest of the
expression and the head motion, a still mode (no head motion), the blink rate, and head motion
taken from a reference video (`--head-from`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from cli.command_helpers import add_input_arguments, add_option_flags, options_from_args, progress_bar
from pipeline import AnimateOptions, AnimationControls, animate, head_motion_from_video

HELP = "animate a portrait photo from a speech recording (needs the audio-to-motion model)"
log = logging.getLogger(__name__)

_DEFAULTS = AnimateOptions()
_CONTROLS = AnimationControls()
#: the separate strengths of `AnimationControls` (None: from --expression-strength / --pose-strength)
_STRENGTHS = (
    ("--lips", "lip motion strength (0 = lips as in the photo)"),
    ("--expression", "strength of the rest of the expression (brows, cheeks)"),
    ("--head", "head motion strength (0 = no head motion)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser, output_help="output video, .mp4 (variants: _v1, _v2, ...)")
    parser.add_argument("audio", help="speech: wav, mp3, m4a, or a video with sound")
    sampling = {
        "seed": "noise seed (same seed, same motion)",
        "temperature": "motion variety; 0 = most likely motion",
        "variants": "clips with seeds seed, seed+1, ...",
        "fps": None,
    }
    add_option_flags(parser, _DEFAULTS, sampling)
    parser.add_argument(
        "--model-dir", default=None, help="audio-to-motion model folder (default: the installed one)"
    )
    group = parser.add_argument_group(
        "motion controls", "strengths are in [0, 3]; 1 = as the model learnt it"
    )
    for flag, text in _STRENGTHS:
        group.add_argument(flag, type=float, default=None, help=text)
    group.add_argument("--still", action="store_true", help="keep the photo's head pose exactly")
    group.add_argument(
        "--blinks-per-minute",
        type=float,
        default=_CONTROLS.blinks_per_minute,
        help="mean blink rate, 0 = no blinks (default %(default)g)",
    )
    group.add_argument(
        "--head-from",
        metavar="VIDEO",
        default=None,
        help="take the head motion from this video (its face's turns and nods, scaled by --head)",
    )
    strength_defaults = {
        "expression_strength": "default of --lips and --expression",
        "pose_strength": "default of --head",
    }
    add_option_flags(group, _DEFAULTS, strength_defaults)


def controls_from_args(args: argparse.Namespace) -> AnimationControls:
    """The motion controls the command line asks for (without the reference video's motion)."""
    return AnimationControls(
        lips=args.expression_strength if args.lips is None else args.lips,
        expression=args.expression_strength if args.expression is None else args.expression,
        head=args.pose_strength if args.head is None else args.head,
        still=args.still,
        blinks_per_minute=args.blinks_per_minute,
    )


def run(args: argparse.Namespace) -> int:
    controls = controls_from_args(args)
    with progress_bar("animate") as progress:
        if args.head_from and not args.still:
            progress(0.0, "tracking the head in the reference video")
            reference = head_motion_from_video(args.head_from, args.backend)
            controls = dataclasses.replace(controls, head_reference=reference)
        options = options_from_args(AnimateOptions, args, controls=controls)
        paths = animate(args.photo, args.audio, options, args.output, progress=progress)
    for path in paths:
        log.info("wrote %s", path)
    return 0
