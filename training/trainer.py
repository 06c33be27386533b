"""The PIRenderer training loop (paper section 3.4).

Two phases of one run, chosen by the step count: the warping phase (`step < warp_iterations`)
trains the mapping and warping networks with the warping loss only (`WarpStage`: the generator's
`warp`, the editing network frozen and not run); the end-to-end phase trains everything with the warping, reconstruction
and style losses. Adam (lr 1e-4, betas 0.5 / 0.999), step decay, an exponential moving average
of the generator (used for samples and export), gradient-norm clipping, mixed precision on
CUDA, and DDP under `torchrun`.

A run directory holds `checkpoints/step_<8-digit step>.pt` (+ `latest.txt`), `train_log.csv`,
`samples/step_<8-digit step>.png` (rows: source | target | warped | output), optional TensorBoard
events, and `export/` (our safetensors format, from the EMA weights). A checkpoint holds
everything needed to continue the same loss curve exactly: model, EMA, optimiser, scheduler,
grad scaler, RNG states, the data position and both configs.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import random
import re
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from core.errors import CheckpointError, InputError
from pirender.checkpoint import save_pretrained
from pirender.config import GeneratorConfig
from pirender.generator import PIRenderer, RenderOutput
from pirender.tensors import tensor_to_images
from training.config import TrainConfig
from training.dataset import PairDataset, ResumableSampler
from training.distributed import DistContext, all_reduce_mean
from training.losses import RendererLoss, Stage
from weights.loading import load_torch_state

__all__ = [
    "CHECKPOINT_FORMAT",
    "LOSS_TERMS",
    "EMA",
    "Trainer",
    "WarpStage",
    "find_latest_checkpoint",
    "read_checkpoint",
    "generator_from_checkpoint",
    "export_checkpoint",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "pirender-training-checkpoint"
#: Every loss term a run can log (fixed CSV columns; a stage leaves the others empty).
LOSS_TERMS = ("warp_perceptual", "warp_l1", "warp_ssim", "perceptual", "style", "l1", "ssim")
_CSV_COLUMNS = (
    "step",
    "stage",
    "epoch",
    "lr",
    "loss",
    *LOSS_TERMS,
    "grad_norm",
    "seconds",
    "images_per_second",
)
_CKPT_RE = re.compile(r"^step_(\d{8})\.pt$")


class EMA:
    """Exponential moving average of a module's parameters (buffers are copied).

    `shadow = d * shadow + (1 - d) * param` after every optimiser step, with a warm-up
    `d = min(decay, (1 + n) / (10 + n))` after n updates: the average follows the model closely
    at first and reaches `decay` after ~10k steps, so short runs and fine-tunes are not judged
    by an average that is still mostly the initial weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        for shadow, param in zip(self.model.parameters(), model.parameters(), strict=True):
            shadow.lerp_(param.detach(), weight)
        for shadow, buf in zip(self.model.buffers(), model.buffers(), strict=True):
            shadow.copy_(buf)
        self.updates += 1


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    random.setstate(state["python"])


def find_latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest `checkpoints/step_*.pt` of a run (by step), or None."""
    folder = Path(run_dir) / "checkpoints"
    found = sorted((int(m.group(1)), p) for p in folder.glob("step_*.pt") if (m := _CKPT_RE.match(p.name)))
    return found[-1][1] if found else None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint (tensors and plain data only: weights_only=True)."""
    path = Path(path)
    if path.is_dir():
        latest = find_latest_checkpoint(path)
        if latest is None:
            raise CheckpointError(f"{path} holds no training checkpoints (checkpoints/step_*.pt)")
        path = latest
    state = load_torch_state(path, "resuming or exporting a training run")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a pirender training checkpoint (for generator weights use pirender.load_generator)"
        )
    return state


def generator_from_checkpoint(path: str | Path, *, ema: bool = True) -> PIRenderer:
    """The generator (EMA weights by default) of a training checkpoint or run directory."""
    state = read_checkpoint(path)
    model = PIRenderer(GeneratorConfig.from_dict(state["generator_config"]))
    weights = state["ema"] if (ema and state.get("ema") is not None) else state["model"]
    model.load_state_dict(weights, strict=True)
    return model.eval()


def export_checkpoint(path: str | Path, out_dir: str | Path, *, ema: bool = True) -> Path:
    """Training checkpoint (or run directory) -> our safetensors model directory for the app."""
    state = read_checkpoint(path)
    model = generator_from_checkpoint(path, ema=ema)
    meta = {
        "trained_steps": str(state["step"]),
        "weights": "ema" if ema and state.get("ema") is not None else "raw",
    }
    if state.get("dataset"):
        meta["dataset"] = str(state["dataset"])
    return save_pretrained(model, out_dir, metadata=meta)


class WarpStage(nn.Module):
    """The network of the warp pre-training phase: the generator's mapping and warping networks
    (`PIRenderer.warp`, no editing network, no fake image), as a module that DDP can wrap."""

    def __init__(self, generator: PIRenderer) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, source: torch.Tensor, descriptor: torch.Tensor) -> RenderOutput:
        return self.generator.warp(source, descriptor)


class _CsvLog:
    """Append-only CSV of step records; on resume, rows after the resumed step are dropped."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        rows: list[dict[str, str]] = []
        if path.is_file() and resume_step > 0:
            with path.open(newline="") as fh:
                rows = [
                    r
                    for r in csv.DictReader(fh)
                    if r.get("step", "").isdigit() and int(r["step"]) <= resume_step
                ]
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=_CSV_COLUMNS)
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in _CSV_COLUMNS} for r in rows)

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=_CSV_COLUMNS).writerow({k: record.get(k, "") for k in _CSV_COLUMNS})


class Trainer:
    """Trains a `PIRenderer` on a `PairDataset`.

    Args:
        config: the training config.
        generator: the model to train (fresh, or loaded for fine-tuning); moved to the context's device.
        dataset: training pairs (its image size is what the model sees).
        run_dir: where checkpoints, logs and samples go (written by rank 0 only).
        dist_ctx: from `init_distributed()`; None = single process on CPU.
        sample_dataset: pairs for the sample grids (e.g. the test split); default `dataset`.
        loss: a prebuilt loss (tests share one); default built from `config.loss`.
    """

    def __init__(
        self,
        config: TrainConfig,
        generator: PIRenderer,
        dataset: PairDataset,
        run_dir: str | Path,
        *,
        dist_ctx: DistContext | None = None,
        sample_dataset: PairDataset | None = None,
        loss: RendererLoss | None = None,
    ) -> None:
        self.config = config
        self.ctx = dist_ctx or DistContext()
        self.device = self.ctx.device
        self.run_dir = Path(run_dir)
        self.dataset = dataset
        self.sample_dataset = sample_dataset or dataset
        self.model = generator.to(self.device).train()
        self._trainable = {n for n, p in self.model.named_parameters() if p.requires_grad}
        self.ema = EMA(self.model, config.optim.ema_decay) if config.optim.ema_decay > 0 else None
        self.loss = (loss or RendererLoss(config.loss)).to(self.device)
        o = config.optim
        self.optimizer = torch.optim.Adam(
            [p for p in self.model.parameters() if p.requires_grad], lr=o.lr, betas=(o.beta1, o.beta2)
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(o.lr_decay_steps), gamma=o.lr_decay_factor
        )
        self.amp_dtype = self._amp_dtype(config.amp)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.stage: Stage | None = None
        self.net: nn.Module = self.model
        self.skipped_steps = 0
        self._csv: _CsvLog | None = None
        self._tb: Any = None

    # ------------------------------------------------------------------ set-up

    def _amp_dtype(self, mode: str) -> torch.dtype | None:
        if mode == "auto":
            return torch.float16 if self.device.type == "cuda" else None
        if mode == "off":
            return None
        if mode == "fp16" and self.device.type != "cuda":
            raise InputError("fp16 mixed precision needs a CUDA device (use amp 'bf16' or 'off' on CPU)")
        return torch.float16 if mode == "fp16" else torch.bfloat16

    def stage_at(self, step: int) -> Stage:
        """Training stage of `step`: "warp" for the first `warp_iterations` steps, then "full"."""
        return "warp" if step < self.config.warp_iterations else "full"

    def _enter_stage(self, stage: Stage) -> None:
        """Freeze the editing network in the warping phase; (re)wrap in DDP over the trainable parameters."""
        for name, p in self.model.named_parameters():
            p.requires_grad_(
                name in self._trainable and (stage == "full" or not name.startswith("editing_net."))
            )
        net: nn.Module = self.model if stage == "full" else WarpStage(self.model)
        if self.ctx.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(net, device_ids=ids)
        self.net = net
        self.stage = stage
        if self.ctx.is_main:
            log.info("step %d: %s stage", self.step, "warping" if stage == "warp" else "end-to-end")

    def _loader(self) -> Iterator[dict[str, Any]]:
        sampler = ResumableSampler(
            len(self.dataset),
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            seed=self.config.seed,
            start=self.step * self.config.batch_size,
        )
        workers = self.config.num_workers
        loader = DataLoader(
            self.dataset,
            batch_size=self.config.batch_size,
            sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=2 if workers > 0 else None,
        )
        return iter(loader)

    def _open_logs(self) -> None:
        if not self.ctx.is_main or self._csv is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._csv = _CsvLog(self.run_dir / "train_log.csv", self.step)
        if self.config.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.info("TensorBoard is not installed; logging to train_log.csv only")
            else:
                self._tb = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=self.step or None)

    # ------------------------------------------------------------------ training

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimiser step on a batch; returns the (unweighted-sum) loss and each weighted term."""
        stage = self.stage_at(self.step)
        if stage != self.stage:
            self._enter_stage(stage)
        source = batch["source"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)
        descriptor = batch["descriptor"].to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else nullcontext()
        )
        with autocast:
            output = self.net(source, descriptor)
            terms = self.loss(output, target, stage)
        total = torch.stack([t.float() for t in terms.values()]).sum()
        record: dict[str, float] = {name: float(t.detach()) for name, t in terms.items()}
        record["loss"] = float(total.detach())
        finite = math.isfinite(record["loss"])
        if self.ctx.distributed:  # every rank must take the same branch, or DDP's all-reduce hangs
            flag = torch.tensor([1.0 if finite else 0.0], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
            finite = bool(flag.item() > 0)
        if not finite and not self.scaler.is_enabled():
            self.skipped_steps += 1
            log.warning("step %d: non-finite loss, step skipped (%d so far)", self.step, self.skipped_steps)
            if self.skipped_steps > 20:
                raise InputError(
                    "more than 20 steps had a non-finite loss: lower the learning rate or check the data"
                )
            record["grad_norm"] = math.nan
        else:
            self.scaler.scale(total).backward()
            self.scaler.unscale_(self.optimizer)
            params = [p for p in self.model.parameters() if p.grad is not None]
            max_norm = self.config.optim.grad_clip if self.config.optim.grad_clip > 0 else math.inf
            record["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            self.scaler.step(self.optimizer)  # skipped by the scaler itself when fp16 gradients overflowed
            self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        return record

    def fit(self, until: int | None = None) -> list[float]:
        """Train up to step `until` (default: total_iterations); returns the loss of every step run.

        Writes logs, samples and checkpoints on their schedules, and samples and a checkpoint at the end.
        """
        end = self.config.total_iterations if until is None else min(until, self.config.total_iterations)
        self._open_logs()
        losses: list[float] = []
        if self.step >= end:
            return losses
        batches = self._loader()
        c = self.config
        while self.step < end:
            started = time.perf_counter()
            batch = next(batches)
            record = self.train_step(batch)
            seconds = time.perf_counter() - started
            losses.append(record["loss"])
            if self.step % c.log_every == 0 or self.step == end:
                self._log(record, seconds, batch["source"].shape[0])
            if self.ctx.is_main and self.step % c.sample_every == 0:
                self.save_samples()
            if self.step % c.checkpoint_every == 0 and self.step != end:
                self.save_checkpoint()
        if self.ctx.is_main and self.step % c.sample_every != 0:
            self.save_samples()  # the end state is always shown
        self.save_checkpoint()
        return losses

    def _log(self, record: dict[str, float], seconds: float, batch: int) -> None:
        values = all_reduce_mean(record, self.device)
        if not self.ctx.is_main:
            return
        row = dict(values)
        row.update(
            step=self.step,
            stage=self.stage,
            epoch=f"{self.step * self.config.batch_size / max(1, len(self.dataset) // self.ctx.world_size):.3f}",
            lr=self.optimizer.param_groups[0]["lr"],
            seconds=f"{seconds:.4f}",
            images_per_second=f"{batch * self.ctx.world_size / max(seconds, 1e-9):.2f}",
        )
        if self._csv is not None:
            self._csv.write(row)
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"train/{k}", v, self.step)
            self._tb.add_scalar("train/lr", row["lr"], self.step)
        terms = ", ".join(f"{k} {v:.4g}" for k, v in values.items() if k in LOSS_TERMS)
        log.info(
            "step %d [%s] loss %.4f (%s) |g| %.3g, %.2f s/step",
            self.step,
            self.stage,
            values["loss"],
            terms,
            values["grad_norm"],
            seconds,
        )

    # ------------------------------------------------------------------ samples, checkpoints

    def sample_grid(self) -> np.ndarray:
        """(rows * h, 4 * w, 3) uint8: per sample source | target | warped | output, rendered by the EMA model."""
        ds = self.sample_dataset
        n = min(self.config.num_samples, len(ds))
        keys = [(i * len(ds) // n, 0) for i in range(n)]
        batch = [ds[k] for k in keys]
        source = torch.stack([b["source"] for b in batch]).to(self.device)
        target = torch.stack([b["target"] for b in batch]).to(self.device)
        descriptor = torch.stack([b["descriptor"] for b in batch]).to(self.device)
        model = self.ema.model if self.ema is not None else self.model
        with torch.no_grad():
            out = model(source, descriptor)
        columns = [tensor_to_images(t) for t in (source, target, out.warp_image, out.fake_image)]
        rows = [np.concatenate([col[i] for col in columns], axis=1) for i in range(n)]
        return np.concatenate(rows, axis=0)

    def save_samples(self) -> Path:
        grid = self.sample_grid()
        path = self.run_dir / "samples" / f"step_{self.step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(path)
        if self._tb is not None:
            self._tb.add_image("samples", grid, self.step, dataformats="HWC")
        return path

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "step": self.step,
            "stage": self.stage_at(self.step),
            "generator_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
            "sampler": {
                "consumed": self.step * self.config.batch_size,
                "seed": self.config.seed,
                "world_size": self.ctx.world_size,
            },
            "dataset": str(self.dataset.manifest.root),
            "loss_fallback": bool(self.loss.fallback),
            "skipped_steps": self.skipped_steps,
        }

    def save_checkpoint(self) -> Path | None:
        """Write checkpoints/step_<8-digit step>.pt atomically (rank 0), update latest.txt, prune old ones."""
        if not self.ctx.is_main:
            return None
        folder = self.run_dir / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"step_{self.step:08d}.pt"
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        tmp.replace(path)
        (folder / "latest.txt").write_text(path.name + "\n")
        found = sorted(
            (int(m.group(1)), p) for p in folder.glob("step_*.pt") if (m := _CKPT_RE.match(p.name))
        )
        for _, old in found[: -self.config.keep_checkpoints]:
            old.unlink(missing_ok=True)
        log.info("saved %s", path)
        return path

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore everything `state_dict` saved; the data stream continues where it stopped."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("not a pirender training checkpoint")
        saved_cfg = GeneratorConfig.from_dict(state["generator_config"])
        if saved_cfg != self.model.config:
            raise CheckpointError(
                f"the checkpoint's generator config {saved_cfg} differs from the model's {self.model.config}"
            )
        world = state["sampler"].get("world_size", 1)
        if world != self.ctx.world_size:
            log.warning(
                "checkpoint was written with %d processes, resuming with %d: the data order changes",
                world,
                self.ctx.world_size,
            )
        self.model.load_state_dict(state["model"], strict=True)
        if self.ema is not None:
            self.ema.model.load_state_dict(
                state["ema"] if state.get("ema") is not None else state["model"], strict=True
            )
            self.ema.updates = int(state.get("ema_updates", state["step"]))
        self.step = int(state["step"])
        # The optimiser holds every trainable parameter from the start, so its state maps one to one.
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        self.skipped_steps = int(state.get("skipped_steps", 0))
        self.stage = None  # re-entered (and re-wrapped) at the next step

    def load_checkpoint(self, path: str | Path) -> None:
        self.load_state_dict(read_checkpoint(path))
        log.info("resumed from %s at step %d", path, self.step)

    def export(self, out_dir: str | Path | None = None, *, ema: bool = True) -> Path:
        """Write the (EMA) generator in our safetensors format (default: run_dir/export)."""
        model = self.ema.model if (ema and self.ema is not None) else self.model
        meta = {"trained_steps": str(self.step), "weights": "ema" if model is not self.model else "raw"}
        return save_pretrained(model, out_dir or self.run_dir / "export", metadata=meta)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
