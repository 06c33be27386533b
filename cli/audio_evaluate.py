"""`pirender audio-evaluate`: held-out likelihood and lip-sync proxy of an audio-to-motion model.

Runs `audio2motion.evaluate.evaluate_main` with the arguments unchanged (`pirender audio-evaluate --help`
shows its options).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cli.command_helpers import add_passthrough_arguments

HELP = "evaluate an audio-to-motion model on held-out clips (NLL, lip-sync proxy; see its --help)"
PASSTHROUGH = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passthrough_arguments(parser)


def run_argv(argv: Sequence[str]) -> int:
    from audio2motion.evaluate import (
        evaluate_main as main,
    )  # heavy (torch, MediaPipe): only this command needs it

    return int(main(list(argv)) or 0)


def run(args: argparse.Namespace) -> int:
    return run_argv(args.arguments)
