"""`pirender download`: fetch a registered weights file from the Hugging Face Hub (after licence opt-in)."""

from __future__ import annotations

import argparse
import logging

from weights.registry import REGISTRY, resolve_weights

HELP = "download registered weights from the Hugging Face Hub (needs --accept-licence)"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(REGISTRY), help="registry entry to fetch")
    parser.add_argument(
        "--accept-licence", action="store_true", help="I have read and accept the file's licence terms"
    )


def run(args: argparse.Namespace) -> int:
    entry = REGISTRY[args.name]
    log.info("%s: %s. Licence: %s (%s)", entry.filename, entry.description, entry.licence, entry.licence_url)
    path = resolve_weights(args.name, allow_download=True, accept_licence=args.accept_licence)
    log.info("ready: %s", path)
    return 0
