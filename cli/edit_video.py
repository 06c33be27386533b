"""`pirender edit-video`: the photo editor's controls applied to every frame of a video.

Each frame keeps its own motion (speech, blinks, head turns) and the control values are added on
top: `pirender edit-video talk.mp4 --smile 0.6 --yaw 10 -o smiling.mp4`. The flags are those of
`pirender edit` (one per control of `CONTROL_SPECS`); the sound is kept.
"""

from __future__ import annotations

import argparse
import logging

from cli.command_helpers import progress_bar
from cli.edit import add_control_arguments, control_values
from pipeline import ENGINE_CHOICES, PRESETS, VideoEditOptions, edit_video, preset_values

HELP = "edit the face in every frame of a video (smile, head turn, ...) keeping its motion and sound"
log = logging.getLogger(__name__)

_DEFAULTS = VideoEditOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="the video to edit (mp4, mov, webm, ...)")
    parser.add_argument("-o", "--output", required=True, help="edited video, .mp4 (with the video's sound)")
    parser.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default=_DEFAULTS.engine,
        help=f"renderer (default: {_DEFAULTS.engine}, the geometric renderer)",
    )
    parser.add_argument(
        "--backend", default=_DEFAULTS.backend, help="reconstruction backend: default or deep3d"
    )
    parser.add_argument(
        "--face-index", type=int, default=0, help="which face of the first frame, largest first"
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named set of control values")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=_DEFAULTS.max_seconds,
        help="edit at most this much of the video (default %(default)s s)",
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=_DEFAULTS.max_side,
        help="longest side of the output, pixels (default %(default)s)",
    )
    add_control_arguments(parser, "added to every frame's own expression and pose; each defaults to 0")


def run(args: argparse.Namespace) -> int:
    values = {**(preset_values(args.preset) if args.preset else {}), **control_values(args)}
    options = VideoEditOptions(
        engine=args.engine,
        backend=args.backend,
        face_index=args.face_index,
        max_seconds=args.max_seconds,
        max_side=args.max_side,
    )
    with progress_bar("edit-video") as progress:
        path = edit_video(args.video, values, options, args.output, progress=progress)
    log.info("wrote %s", path)
    return 0
