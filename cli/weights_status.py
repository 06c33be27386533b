"""`pirender weights`: which weights are installed, what each enables, where missing ones go."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import AudioModelNotInstalledError, audio_model_dir
from pipeline.engines import OWN_NEURAL, EngineRegistry
from weights.bundles import paper_path_status
from weights.registry import REGISTRY, local_path, missing_message, weights_dir

HELP = "list the registered weights, whether each is installed, and where to put missing ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose-missing", action="store_true", help="print full instructions for missing files"
    )


def run(args: argparse.Namespace) -> int:
    for name, entry in REGISTRY.items():
        path = local_path(name)
        state = "installed" if path.is_file() else "missing"
        sys.stdout.write(f"{name:22s} {state:9s} {path}  [{entry.licence}]\n")
        if state == "missing" and args.verbose_missing:
            sys.stdout.write(f"    {missing_message(entry)}\n")
    for name, path, missing in _project_models():
        state = "missing" if missing else "installed"
        sys.stdout.write(f"{name:22s} {state:9s} {path}  [trained by this project]\n")
        if missing and args.verbose_missing:
            sys.stdout.write(f"    {missing}\n")
    sys.stdout.write(f"paper-quality path: {paper_path_status().summary()}\n")
    return 0


def _project_models() -> list[tuple[str, Path, str | None]]:
    """(name, folder, what is missing or None) of the models this project trains (not downloadable)."""
    registry = EngineRegistry(fast=False)
    own_missing = {row.name: row.missing for row in registry.status()}[OWN_NEURAL]
    try:
        audio, audio_missing = audio_model_dir(), None
    except AudioModelNotInstalledError as err:
        audio, audio_missing = weights_dir() / "audio2motion", str(err)
    return [("own renderer", registry.own_dir, own_missing), ("audio2motion", audio, audio_missing)]
