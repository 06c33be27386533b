"""`pirender train`: train or fine-tune the generator on a prepared dataset (single process or torchrun).

    pirender train DATASET RUN_DIR                        # paper recipe from scratch
    pirender train DATASET RUN_DIR --init weights.pt --warp-iterations 0 --total-iterations 20000
    torchrun --nproc_per_node 4 -m cli.main train DATASET RUN_DIR --batch-size 5
    pirender train DATASET RUN_DIR --export-only          # latest checkpoint -> RUN_DIR/export

A run directory with checkpoints is resumed automatically (from its newest checkpoint, with its
saved config; flags given now override it, e.g. a larger --total-iterations). Every TrainConfig
field has a flag (--optim-lr, --loss-vgg-weights, ...); unset flags keep the preset's value.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import torch

from core.errors import InputError
from pirender.config import GeneratorConfig
from pirender.generator import PIRenderer
from training.config import TrainConfig, add_config_arguments, config_from_args
from training.dataset import DatasetManifest, PairDataset
from training.distributed import barrier, init_distributed, shutdown_distributed
from training.evaluation.evaluate import load_generator_any
from training.trainer import Trainer, export_checkpoint, find_latest_checkpoint, read_checkpoint

HELP = "train or fine-tune the renderer on a prepared dataset (resumable; torchrun for several GPUs)"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset folder written by `pirender prepare`")
    parser.add_argument("run_dir", help="folder for checkpoints, logs, samples and the exported model")
    parser.add_argument("--preset", choices=("paper", "tiny"), default="paper", help="starting TrainConfig")
    parser.add_argument(
        "--generator",
        default="released",
        help="generator architecture for a new model: 'released', 'small' or a generator config.json path",
    )
    parser.add_argument(
        "--init",
        help="fine-tune from weights: the public checkpoint (.pt), our model folder, or a training checkpoint",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="refuse to continue an existing run (error if checkpoints exist)",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--export-only", action="store_true", help="only export the newest checkpoint's EMA weights"
    )
    add_config_arguments(parser, TrainConfig)


def _generator_config(spec: str) -> GeneratorConfig:
    if spec == "released":
        return GeneratorConfig.released()
    if spec == "small":
        return GeneratorConfig.small()
    if not Path(spec).is_file():
        raise InputError(
            f"unknown generator {spec!r}: use released, small, or the path of a generator config.json"
        )
    return GeneratorConfig.load(spec)


def _for_dataset(config: GeneratorConfig, dataset: str) -> GeneratorConfig:
    """A new model takes the dataset's face model and descriptor width (e.g. 41 rows for the default model)."""
    manifest = DatasetManifest.load(dataset)
    if manifest.face_model == config.face_model or not manifest.videos:
        return config
    record = manifest.load_video(manifest.videos[0])
    rows = record.motion.descriptor_rows().shape[1]
    log.info("new generator for face model %s (%d descriptor rows)", manifest.face_model, rows)
    return replace(config, face_model=manifest.face_model, mapping=replace(config.mapping, coeff_nc=rows))


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    latest = find_latest_checkpoint(run_dir)
    if args.export_only:
        if latest is None:
            raise InputError(f"{run_dir} has no checkpoints to export")
        out = export_checkpoint(latest, run_dir / "export")
        log.info("exported %s to %s", latest.name, out)
        return 0
    if latest is not None and args.no_resume:
        raise InputError(f"{run_dir} already holds checkpoints; use another run folder or drop --no-resume")

    ctx = init_distributed(args.device)
    try:
        state = read_checkpoint(latest) if latest is not None else None
        if state is not None:
            base = TrainConfig.from_dict(state["train_config"])
            model = PIRenderer(GeneratorConfig.from_dict(state["generator_config"]))
        else:
            base = TrainConfig.paper() if args.preset == "paper" else TrainConfig.tiny()
            torch.manual_seed(base.seed)
            model = (
                load_generator_any(args.init)
                if args.init
                else PIRenderer(_for_dataset(_generator_config(args.generator), args.dataset))
            )
        config = config_from_args(args, base)
        gcfg = model.config
        size = config.image_size or gcfg.image_size
        common = {
            "window": gcfg.window,
            "image_size": size,
            "face_model": gcfg.face_model,
            "coeff_nc": gcfg.coeff_nc,
        }
        train_set = PairDataset(
            args.dataset, "train", seed=config.seed, color_jitter=config.color_jitter, **common
        )
        try:
            sample_set = PairDataset(args.dataset, "test", seed=config.seed, **common)
        except InputError:
            sample_set = None
        trainer = Trainer(config, model, train_set, run_dir, dist_ctx=ctx, sample_dataset=sample_set)
        if state is not None:
            trainer.load_state_dict(state)
            log.info("resuming %s at step %d", run_dir, trainer.step)
        elif ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            gcfg.save(run_dir / "generator_config.json")
        if ctx.is_main:
            (run_dir / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        trainer.fit()
        if ctx.is_main:
            out = trainer.export()
            log.info("training finished at step %d; model for the app in %s", trainer.step, out)
        trainer.close()
        barrier()  # the other ranks wait for rank 0's export before the group is torn down
    finally:
        shutdown_distributed()
    return 0
