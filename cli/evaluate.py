"""`pirender evaluate`: same-identity reconstruction and cross-identity reenactment on held-out videos.

Writes report.json and report.md (a comparison table with the paper's numbers). Extra engines
can be compared with --compare (`PATH` for the --engine kind, or `KIND:PATH`, e.g.
`geometric:default` for the geometric preview of the default backend's face model). Renderer
kinds are registered in `ENGINE_FACTORIES` (name -> callable(path, device) -> `pipeline.Renderer`).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from core.errors import WeightsNotFoundError
from pipeline import EngineRegistry, NeuralEngine, Renderer

HELP = "evaluate a renderer checkpoint on a prepared dataset's test split (L1, PSNR, SSIM, AED, APD, ...)"
log = logging.getLogger(__name__)

# The training package is imported inside the functions below: only this command needs it.


def _geometric_engine(backend: str, device: str) -> Renderer:
    """The geometric preview for the face model of reconstruction backend `backend` ("default" | "deep3d")."""
    return EngineRegistry(fast=False, device=device).geometric(backend or "default")


def _pirender_engine(path: str, device: str) -> Renderer:
    """A PIRenderer checkpoint (training run, our model folder or the public checkpoint) as a neural engine."""
    from training.evaluation.evaluate import load_generator_any

    return NeuralEngine(load_generator_any(path, device=device), name=Path(path).name)


#: Engine kinds `--engine` accepts: name -> factory(checkpoint path (a backend name for
#: "geometric"), device).
ENGINE_FACTORIES: dict[str, Callable[[str, str], Renderer]] = {
    "pirender": _pirender_engine,
    "geometric": _geometric_engine,
}


def _split_kind(spec: str, default_kind: str) -> tuple[str, str]:
    """'KIND:PATH' -> (KIND, PATH) when KIND is a known engine kind; otherwise (default_kind, spec)."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in ENGINE_FACTORIES:
        return kind, rest
    return default_kind, spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        help="training run folder / checkpoint, our model folder, or the public checkpoint "
        "(for --engine geometric: the reconstruction backend, e.g. 'default')",
    )
    parser.add_argument("dataset", help="dataset folder written by `pirender prepare`")
    parser.add_argument(
        "--compare",
        nargs="*",
        default=(),
        help="more engines for the same table: PATH (of the --engine kind) or KIND:PATH, e.g. geometric:default",
    )
    parser.add_argument(
        "--engine", choices=sorted(ENGINE_FACTORIES), default="pirender", help="kind of renderer"
    )
    parser.add_argument("-o", "--out", default="evaluation", help="folder for report.json and report.md")
    parser.add_argument("--split", default="test", choices=("test", "train"))
    parser.add_argument(
        "--max-frames", type=int, default=50, help="targets per video, evenly spaced (0 = all)"
    )
    parser.add_argument("--no-cross", action="store_true", help="skip cross-identity reenactment")
    parser.add_argument(
        "--targets",
        choices=("window", "coefficients"),
        default="window",
        help="what the engine receives per target frame: its descriptor window or its coefficient record",
    )
    parser.add_argument(
        "--backend", default="default", help="re-fitting backend for AED/APD ('none' to skip)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--no-identity", action="store_true", help="skip identity similarity even if dlib is installed"
    )
    parser.add_argument("--fid-weights", help="TorchScript FID Inception file (default: weights folder)")
    parser.add_argument("--lpips-backbone", help="torchvision vgg16-397923af.pth (default: weights folder)")
    parser.add_argument("--lpips-weights", help="LPIPS v0.1 VGG lin layers (default: weights folder)")


def run(args: argparse.Namespace) -> int:
    from training.evaluation.evaluate import (
        DlibFaceEmbedder,
        EvalOptions,
        evaluate_engine,
        find_inception,
        find_lpips,
        write_reports,
    )
    from training.prepare import build_backend

    fitter = None
    if args.backend != "none":
        try:
            fitter = build_backend(args.backend, device=args.device)
        except WeightsNotFoundError as exc:
            log.warning("AED/APD will be skipped: %s", exc)
    embedder = None
    if not args.no_identity:
        try:
            embedder = DlibFaceEmbedder()
        except WeightsNotFoundError as exc:
            log.warning("%s", exc)
    lpips = find_lpips(args.lpips_backbone, args.lpips_weights)
    fid = find_inception(args.fid_weights, args.device)
    # The measuring networks load once and serve every engine of the table.
    measures = {"fitter": fitter, "embedder": embedder, "lpips": lpips, "fid": fid}
    options = EvalOptions(
        split=args.split, max_frames=args.max_frames, cross_identity=not args.no_cross, targets=args.targets
    )
    reports = []
    for spec in (args.checkpoint, *args.compare):
        kind, path = _split_kind(spec, args.engine)
        engine = ENGINE_FACTORIES[kind](path, args.device)
        name = f"geometric ({path or 'default'})" if kind == "geometric" else Path(path).name
        log.info("evaluating %s", name)
        reports.append(evaluate_engine(engine, args.dataset, name=name, options=options, **measures))
    json_path, md_path = write_reports(reports, args.out, dataset=str(args.dataset), options=options)
    log.info("wrote %s and %s", json_path, md_path)
    return 0
