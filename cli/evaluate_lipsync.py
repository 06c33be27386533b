"""`pirender evaluate-lipsync`: does the animated mouth follow the speech, on real talking-head clips?

Runs `training.evaluation.lipsync.main` with the arguments unchanged, except that the clips'
folder may come first without its flag: `pirender evaluate-lipsync VIDEOS --model DIR` is
`--videos VIDEOS --model DIR` (`pirender evaluate-lipsync --help` shows every option).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cli.command_helpers import add_passthrough_arguments, leading_folder_as

HELP = (
    "lip-sync of an audio-to-motion model on real clips: mouth-opening r, amplitude, silence (see its --help)"
)
PASSTHROUGH = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough_arguments(parser)


def run_argv(argv: Sequence[str]) -> int:
    from training.evaluation.lipsync import main  # heavy (torch, MediaPipe): only this command needs it

    return int(main(leading_folder_as("--videos", argv)) or 0)


def run(args: argparse.Namespace) -> int:
    return run_argv(args.arguments)
