"""`pirender audio-train`: train the audio-to-motion flows on prepared clips.

Runs `audio2motion.training.train_main` with the arguments unchanged (`pirender audio-train --help`
shows its options).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cli.command_helpers import add_passthrough_arguments

HELP = "train the audio-to-motion model on prepared clips (see its --help)"
PASSTHROUGH = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough_arguments(parser)


def run_argv(argv: Sequence[str]) -> int:
    from audio2motion.training import (
        train_main as main,
    )  # heavy (torch, MediaPipe): only this command needs it

    return int(main(list(argv)) or 0)


def run(args: argparse.Namespace) -> int:
    return run_argv(args.arguments)
