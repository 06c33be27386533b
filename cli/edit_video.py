"""`pirender edit-video`: the photo editor's controls applied to every frame of a video.

Each frame keeps its own motion (speech, blinks, head turns) and the control values are added on
top: `pirender edit-video talk.mp4 --smile 0.6 --yaw 10 -o smiling.mp4`. The flags are those of
`pirender edit` (one per control of `CONTROL_SPECS`); the sound is kept.
"""

from __future__ import annotations

import argparse
import logging

from cli.command_helpers import add_input_arguments, add_option_flags, options_from_args, progress_bar
from cli.edit import add_control_arguments, control_values
from pipeline import PRESETS, VideoEditOptions, edit_video, preset_values

HELP = "edit the face in every frame of a video (smile, head turn, ...) keeping its motion and sound"
log = logging.getLogger(__name__)

_DEFAULTS = VideoEditOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(
        parser,
        output_help="edited video, .mp4 (with the video's sound)",
        source="video",
        source_help="the video to edit (mp4, mov, webm, ...)",
        engine=_DEFAULTS.engine,
        engine_note=", the geometric renderer",
        backend=_DEFAULTS.backend,
    )
    options = {
        "face_index": "which face of the first frame, largest first",
        "max_seconds": "edit at most this much of the video (default %(default)s s)",
        "max_side": "longest side of the output, pixels (default %(default)s)",
    }
    add_option_flags(parser, _DEFAULTS, options)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named set of control values")
    add_control_arguments(parser, "added to every frame's own expression and pose; each defaults to 0")


def run(args: argparse.Namespace) -> int:
    values = {**(preset_values(args.preset) if args.preset else {}), **control_values(args)}
    options = options_from_args(VideoEditOptions, args)
    with progress_bar("edit-video") as progress:
        path = edit_video(args.video, values, options, args.output, progress=progress)
    log.info("wrote %s", path)
    return 0
