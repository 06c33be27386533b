"""`pirender download`: fetch a registered weights file, or a named bundle such as `paper`, from the
Hugging Face Hub (after licence opt-in)."""

from __future__ import annotations

import argparse
import logging
import sys

from weights.bundles import BUNDLES, download_bundle
from weights.registry import REGISTRY, resolve_weights

HELP = (
    "download registered weights, or the 'paper' bundle (everything the paper-quality path needs), "
    "from the Hugging Face Hub (needs --accept-licence)"
)
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        choices=sorted(BUNDLES) + sorted(REGISTRY),
        help="a bundle ('paper': renderer checkpoint, Deep3DFaceRecon network, BFM) or one registry entry",
    )
    parser.add_argument(
        "--accept-licence", action="store_true", help="I have read and accept the files' licence terms"
    )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    if args.name in BUNDLES:
        result = download_bundle(args.name, accept_licence=args.accept_licence, report=_say)
        return 0 if result.status.neural else 1
    entry = REGISTRY[args.name]
    log.info("%s: %s. Licence: %s (%s)", entry.filename, entry.description, entry.licence, entry.licence_url)
    path = resolve_weights(args.name, allow_download=True, accept_licence=args.accept_licence)
    log.info("ready: %s", path)
    return 0
