"""`pirender convert`: public PIRender checkpoint -> our safetensors + config.json directory."""

from __future__ import annotations

import argparse
import logging

from pirender.checkpoint import convert_checkpoint

HELP = "convert a public PIRender checkpoint (.pt) into this project's safetensors format"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", help="the public checkpoint, e.g. epoch_00190_iteration_000400000_checkpoint.pt"
    )
    parser.add_argument("out_dir", help="directory to write config.json and model.safetensors into")


def run(args: argparse.Namespace) -> int:
    out = convert_checkpoint(args.checkpoint, args.out_dir)
    log.info("wrote %s/config.json and %s/model.safetensors", out, out)
    return 0
