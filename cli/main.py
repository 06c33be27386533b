"""The `pirender` command line: one subcommand per capability, each defined in its own module.

A command module provides `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`. The
commands that wrap another command line (`WRAPPED`) get every argument after their name unchanged,
`--help` included (it shows the wrapped command's options).
Errors of the project (PIRenderError) are printed as one readable line, never as a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from cli.wrapped import WRAPPED, add_passthrough_arguments
from core.errors import PIRenderError
from core.quiet import quiet_console

__all__ = ["main", "COMMANDS", "WRAPPED"]

#: Modules of the subcommands, in the order of `pirender --help`; a command is named after its
#: module with "-" for "_", except where `_RENAMED` says otherwise.
_COMMAND_MODULES = (
    "convert", "download", "weights_status", "render", "coeffs", "edit", "edit_video", "reenact", "animate",
    "prepare", "train", "evaluate",
)  # fmt: skip
_RENAMED = {"weights_status": "weights"}
#: subcommand name -> module implementing it
COMMANDS: dict[str, str] = {_RENAMED.get(m, m.replace("_", "-")): f"cli.{m}" for m in _COMMAND_MODULES}

log = logging.getLogger("pirender")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pirender",
        description="Portrait editing, reenactment and audio animation with 3DMM-driven rendering.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show debug messages and the libraries' own log lines and warnings",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    for name, wrapped in WRAPPED.items():
        p = sub.add_parser(name, help=wrapped.help, description=wrapped.help, add_help=False)
        add_passthrough_arguments(p)
        p.set_defaults(_run=wrapped.run)
    return parser


def _split_command(argv: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """(top-level options, command name or None, the command's arguments)."""
    for i, token in enumerate(argv):
        if not token.startswith("-"):
            return list(argv[:i]), token, list(argv[i + 1 :])
    return list(argv), None, []


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options, command, rest = _split_command(argv)
    # First: the command modules below load MediaPipe / TF Lite, whose C++ logs this hides.
    quiet_console(verbose=bool({"-v", "--verbose"} & set(options)))
    wrapped = WRAPPED.get(command) if command else None
    args = build_parser().parse_args(argv) if wrapped is None else None
    try:
        if args is None:
            return int(wrapped.run_argv(rest) or 0)
        return int(args._run(args) or 0)
    except PIRenderError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
