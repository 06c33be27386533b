"""`pirender weights`: which weights are installed, what each enables, where missing ones go."""

from __future__ import annotations

import argparse
import sys

from weights.registry import REGISTRY, local_path, missing_message

HELP = "list the registered weights, whether each is installed, and where to put missing ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose-missing", action="store_true", help="print full instructions for missing files")


def run(args: argparse.Namespace) -> int:
    for name, entry in REGISTRY.items():
        path = local_path(name)
        state = "installed" if path.is_file() else "missing"
        sys.stdout.write(f"{name:22s} {state:9s} {path}  [{entry.licence}]\n")
        if state == "missing" and args.verbose_missing:
            sys.stdout.write(f"    {missing_message(entry)}\n")
    return 0
