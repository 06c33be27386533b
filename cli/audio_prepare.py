"""`pirender audio-prepare`: talking videos with sound -> audio-to-motion training clips.

Runs `audio2motion.prepare.main` with the arguments unchanged (`pirender audio-prepare --help`
shows its options).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cli.command_helpers import add_passthrough_arguments

HELP = "prepare audio-to-motion training clips from talking videos with sound (see its --help)"
PASSTHROUGH = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough_arguments(parser)


def run_argv(argv: Sequence[str]) -> int:
    from audio2motion.prepare import main  # heavy (torch, MediaPipe): only this command needs it

    return int(main(list(argv)) or 0)


def run(args: argparse.Namespace) -> int:
    return run_argv(args.arguments)
