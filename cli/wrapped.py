"""The `pirender` commands that wrap another command line (training, evaluation, audio-to-motion).

Each gets every argument after its name unchanged, `--help` included (it shows the wrapped
command's options). The wrapped module is imported only when the command runs (torch, MediaPipe:
heavy), so that `pirender --help` stays fast; this module imports nothing heavy, so that `cli.main`
can quiet the console before any library loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from collections.abc import Sequence

__all__ = ["WRAPPED", "Passthrough", "add_passthrough_arguments", "leading_folder_as"]


def add_passthrough_arguments(parser: argparse.ArgumentParser) -> None:
    """Every argument after the command name goes unchanged to the wrapped command (for `pirender --help`
    only: `cli.main` hands such commands their arguments before parsing)."""
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the wrapped command's arguments")


def leading_folder_as(flag: str, argv: Sequence[str]) -> list[str]:
    """Wrapped commands' arguments: a leading positional folder becomes `FLAG FOLDER`."""
    argv = list(argv)
    if argv and not argv[0].startswith("-"):
        return [flag, *argv]
    return argv


@dataclasses.dataclass(frozen=True)
class Passthrough:
    """A command that wraps another command line: `module.function(argv)` gets the arguments unchanged
    (with `leading_folder`: a leading positional folder becomes that flag's value)."""

    module: str
    help: str
    function: str = "main"
    leading_folder: str | None = None

    def run_argv(self, argv: Sequence[str]) -> int:
        main = getattr(importlib.import_module(self.module), self.function)
        argv = list(argv) if self.leading_folder is None else leading_folder_as(self.leading_folder, argv)
        return int(main(argv) or 0)

    def run(self, args: argparse.Namespace) -> int:
        return self.run_argv(args.arguments)


#: subcommand name -> the command line it wraps, in the order of `pirender --help` (after
#: `cli.main.COMMANDS`). With a leading folder flag the folder may come first without it:
#: `pirender evaluate-lipsync VIDEOS --model DIR` is `--videos VIDEOS --model DIR`.
WRAPPED: dict[str, Passthrough] = {
    "evaluate-lipsync": Passthrough(
        "training.evaluation.lipsync",
        "lip-sync of an audio-to-motion model on real clips: mouth-opening r, amplitude, silence"
        " (see its --help)",
        leading_folder="--videos",
    ),
    "evaluate-reenactment": Passthrough(
        "training.evaluation.self_reenactment",
        "self-reenactment of real clips: PSNR in face/mouth/eye boxes and mouth-opening ratio (see its --help)",
        leading_folder="--videos",
    ),
    "audio-prepare": Passthrough(
        "audio2motion.prepare",
        "prepare audio-to-motion training clips from talking videos with sound (see its --help)",
    ),
    "audio-train": Passthrough(
        "audio2motion.training",
        "train the audio-to-motion model on prepared clips (see its --help)",
        function="train_main",
    ),
    "audio-evaluate": Passthrough(
        "audio2motion.evaluate",
        "evaluate an audio-to-motion model on held-out clips (NLL, lip-sync proxy; see its --help)",
        function="evaluate_main",
    ),
}
