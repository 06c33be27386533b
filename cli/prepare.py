"""`pirender prepare`: videos -> a training dataset of 256x256 crops and per-frame coefficients.

See `training.prepare` for what is stored. Re-running continues an interrupted run: finished
videos are kept, skipped ones are listed in the manifest (retry them with --retry-failed).
"""

from __future__ import annotations

import argparse
import logging

from training.prepare import BACKENDS, PrepareOptions, build_backend, prepare_dataset

HELP = "prepare a training dataset from a folder of videos (face crops + 3DMM coefficients, train/test split)"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "video_dir", help="folder of videos (.mp4, ...); an optional MANIFEST.tsv gives identity_group= notes"
    )
    parser.add_argument("dataset_dir", help="output dataset folder (manifest.json + videos/*.npz)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="default",
        help="reconstruction backend fitting the coefficients",
    )
    parser.add_argument("--device", default="cpu", help="device of the reconstruction network")
    parser.add_argument(
        "--test-fraction", type=float, default=0.1, help="share of identity groups held out for testing"
    )
    parser.add_argument(
        "--test-groups", nargs="*", default=(), help="explicit identity groups for the test split"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the identity split")
    parser.add_argument("--max-frames", type=int, default=0, help="frames read per video (0 = all)")
    parser.add_argument("--image-format", choices=("jpeg", "png"), default="jpeg", help="frame encoding")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality")
    parser.add_argument("--retry-failed", action="store_true", help="try again videos an earlier run skipped")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    backend = build_backend(args.backend, device=args.device)
    options = PrepareOptions(
        image_format=args.image_format,
        quality=args.quality,
        test_fraction=args.test_fraction,
        seed=args.seed,
        test_groups=tuple(args.test_groups or ()),
        max_frames=args.max_frames,
        retry_failed=args.retry_failed,
    )
    result = prepare_dataset(
        args.video_dir, args.dataset_dir, backend, options, progress=not args.no_progress
    )
    counts = result.manifest.counts()
    log.info(
        "%d videos prepared now, %d kept from before, %d skipped; train %s, test %s",
        len(result.processed),
        len(result.reused),
        len(result.skipped),
        counts["train"],
        counts["test"],
    )
    for skip in result.skipped:
        log.warning("skipped %s: %s", skip["name"], skip["reason"])
    return 0
