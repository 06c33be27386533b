"""`pirender evaluate-reenactment`: a clip's first frame driven by its own video, against the real frames.

Runs `training.evaluation.self_reenactment.main` with the arguments unchanged, except that the
clips' folder may come first without its flag: `pirender evaluate-reenactment VIDEOS` is
`--videos VIDEOS` (`pirender evaluate-reenactment --help` shows every option).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cli.command_helpers import add_passthrough_arguments, leading_folder_as

HELP = "self-reenactment of real clips: PSNR in face/mouth/eye boxes and mouth-opening ratio (see its --help)"
PASSTHROUGH = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough_arguments(parser)


def run_argv(argv: Sequence[str]) -> int:
    from training.evaluation.self_reenactment import (
        main,  # heavy (torch, MediaPipe): only this command needs it
    )

    return int(main(leading_folder_as("--videos", argv)) or 0)


def run(args: argparse.Namespace) -> int:
    return run_argv(args.arguments)
