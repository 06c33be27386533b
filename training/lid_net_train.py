"""Train and judge the lid network (`pipeline.lid_net`) on the blink pairs of `training.lid_pairs`.

    python -m training.lid_pairs --videos ../shared/data/videos --pairs runs/lid_pairs
    OMP_NUM_THREADS=1 python -m training.lid_net_train train --videos ../shared/data/videos \\
        --pairs runs/lid_pairs --out weights/files/lid_net --minutes 30
    OMP_NUM_THREADS=1 python -m training.lid_net_train judge --videos ../shared/data/videos \\
        --pairs runs/lid_pairs --weights weights/files/lid_net

`train` fits the network on the training identity groups' shut eyes: the loss (`lid_losses`, a
dict of named weighted terms) is L1 over the eye box plus the stlpips distance (AlexNet trunk,
`training.lid_pairs.PerceptualDistance`) and, with `--adversarial W`, a patch discriminator's
hinge term. Augmentation: mirrored boxes, and one colour gain per sample applied to the inputs
and the truth alike (a photo's light differs from a clip's). Under `torchrun --nproc_per_node N`
each process draws its own batches and the gradients are averaged (DistributedDataParallel,
gloo on CPU); `--amp` runs the forward pass under autocast (bfloat16 on CPU, float16 on CUDA
with a gradient scaler). Only rank 0 saves. `judge` renders the held-out pairs with the geometric
renderer of this commit, lid network off and on, and writes the eye-box metrics (docs/LID_NET.md,
rule item 1) to `judge.json` beside the weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.coefficients import MotionSequence
from pipeline.engines import EngineRegistry
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.lid_net import LidNet, net_inputs, shared_lid_net
from training.distributed import all_reduce_mean, init_distributed, shutdown_distributed
from training.lid_augment import augment
from training.lid_pairs import (
    PerceptualDistance,
    clip_split,
    load_pairs,
    native_patch,
    region_metrics,
    shut_eyes,
    validation_clips,
)
from weights.loading import write_json

__all__ = ["PatchCritic", "lid_losses", "validate", "train", "judge", "main"]

logger = logging.getLogger(__name__)


class PatchCritic(nn.Module):
    """A small patch discriminator: (B, 3, 40, 64) in [-1, 1] -> (B, 1, 10, 16) realness scores."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def lid_losses(
    out: torch.Tensor,
    truth: torch.Tensor,
    perceptual: PerceptualDistance | None,
    critic: PatchCritic | None = None,
    weights: tuple[float, float, float] = (1.0, 1.0, 0.0),
    perceptual_batch: int = 8,
) -> dict[str, torch.Tensor]:
    """Named weighted terms for (B, 3, 40, 64) output and truth in [-1, 1]: l1, stlpips (on the
    first `perceptual_batch` samples at the boxes' own size; skipped without `perceptual`: it
    costs more than the rest of a step on one CPU thread), adversarial."""
    terms = {"l1": weights[0] * (out - truth).abs().mean()}
    if perceptual is not None:
        n = perceptual_batch
        terms["stlpips"] = weights[1] * perceptual(out[:n], truth[:n], resize=False).mean()
    if critic is not None and weights[2] > 0.0:
        terms["adversarial"] = -weights[2] * critic(out).mean()
    return terms


def _tensors(data: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    inputs = torch.from_numpy(data["inputs"].astype(np.float32)).permute(0, 3, 1, 2)
    truth = torch.from_numpy(data["truth"].astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)
    return inputs, torch.from_numpy(data["condition"].astype(np.float32)), truth


@torch.no_grad()
def validate(
    model: LidNet, data: tuple[torch.Tensor, torch.Tensor, torch.Tensor], perceptual: PerceptualDistance
) -> float:
    """L1 + stlpips of the network's boxes on the validation identities (no augmentation): the
    early-stopping score (lower is better)."""
    inputs, cond, truth = data
    model.eval()
    made = (inputs[:, :3] + model(inputs, cond)).clamp(-1, 1)
    dist = torch.cat(
        [perceptual(made[i : i + 64], truth[i : i + 64], resize=False) for i in range(0, len(made), 64)]
    )
    model.train()
    return float((made - truth).abs().mean() + dist.mean())


def train(
    videos: Path,
    folders: list[Path],
    out: Path,
    minutes: float,
    batch: int = 16,
    seed: int = 0,
    adversarial: float = 0.0,
    amp: bool = False,
    perceptual_every: int = 2,
    validate_every: int = 250,
) -> dict:
    """Fit the network on the training groups' shut eyes cached in `folders` for `minutes`; the
    checkpoint kept is the one with the best validation score (`validate`, on training groups set
    aside by identity, `validation_clips`; never the rule's held-out groups); rank 0 saves it in
    `out` with `training.json` (the run's record)."""
    ctx = init_distributed("cpu" if not torch.cuda.is_available() else None)
    split = clip_split(videos)
    aside = validation_clips(videos)
    clips = sorted(c for c, s in split.items() if s == "train" and c not in aside)
    keys = ("inputs", "condition", "truth")

    def gather(names: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = [load_pairs(f, names, keys) for f in folders]
        return _tensors({k: np.concatenate([p[k] for p in parts if len(p[k])]) for k in keys})

    inputs, cond, truth = gather(clips)
    held_aside = _tensors(load_pairs(folders[0], sorted(aside), keys))
    torch.manual_seed(seed)
    model = LidNet().to(ctx.device)
    net = DistributedDataParallel(model) if ctx.distributed else model
    perceptual = PerceptualDistance().to(ctx.device)
    critic = PatchCritic().to(ctx.device) if adversarial > 0 else None
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-4)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=2e-4) if critic is not None else None
    use_amp = amp and ctx.device.type == "cuda"
    dtype = torch.float16 if ctx.device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=use_amp)
    generator = torch.Generator().manual_seed(seed + ctx.rank)
    start, step, history, scores = time.perf_counter(), 0, [], []
    best = (float("inf"), 0, {k: v.clone() for k, v in model.state_dict().items()})
    while time.perf_counter() - start < 60.0 * minutes:
        index = torch.randint(0, len(inputs), (batch,), generator=generator)
        x, y = augment(inputs[index], truth[index], generator)
        x, y, c = x.to(ctx.device), y.to(ctx.device), cond[index].to(ctx.device)
        with torch.autocast(ctx.device.type, dtype=dtype, enabled=amp):
            made = (x[:, :3] + net(x, c)).clamp(-1, 1)
        every = perceptual if step % perceptual_every == 0 else None
        terms = lid_losses(made.float(), y, every, critic, (1.0, 1.0, adversarial))
        loss = sum(terms.values())
        optimiser.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        if critic is not None:
            hinge = torch.relu(1 - critic(y)).mean() + torch.relu(1 + critic(made.detach())).mean()
            critic_opt.zero_grad()
            hinge.backward()
            critic_opt.step()
        history.append({k: float(v.detach()) for k, v in terms.items()})
        step += 1
        if step % 100 == 0:
            recent = {k: float(np.mean([h[k] for h in history[-100:] if k in h])) for k in history[0]}
            recent = all_reduce_mean(recent, ctx.device)
            if ctx.is_main:
                logger.info("step %d: %s", step, " ".join(f"{k} {v:.4f}" for k, v in recent.items()))
        if step % validate_every == 0 and len(held_aside[0]):
            score = validate(model, held_aside, perceptual)
            scores.append((step, score))
            if score < best[0]:
                best = (score, step, {k: v.clone() for k, v in model.state_dict().items()})
            if ctx.is_main:
                logger.info("step %d: validation %.4f (best %.4f at %d)", step, score, best[0], best[1])
    if len(held_aside[0]):
        model.load_state_dict(best[2])
    record = {
        "steps": step,
        "minutes": (time.perf_counter() - start) / 60.0,
        "samples": len(inputs),
        "clips": len(clips),
        "validation_clips": sorted(aside),
        "validation_samples": len(held_aside[0]),
        "validation": scores,
        "chosen_step": best[1],
        "batch": batch,
        "world_size": ctx.world_size,
        "adversarial": adversarial,
        "amp": amp,
        "perceptual_every": perceptual_every,
        "final": {k: float(np.mean([h[k] for h in history[-200:] if k in h])) for k in history[0]}
        if history
        else {},
        "config": model.config.to_dict(),
    }
    if ctx.is_main:
        model.eval()
        model.save_pretrained(out)
        write_json(out / "training.json", record)
    shutdown_distributed()
    return record


def judge(videos: Path, folder: Path, weights: Path) -> dict:
    """Held-out eye-box metrics of the geometric renderer, lid network off and on (rule item 1).
    The network on is the bundled one (`weights/files/lid_net`) unless `weights` is another folder."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    registry = EngineRegistry(fast=False)
    face_model = registry.backend("default").model
    off = GeometricRenderer(face_model, PreviewSettings())
    on = GeometricRenderer(face_model, dataclasses.replace(PreviewSettings(), lid_net=True))
    bundled = shared_lid_net(off.face_model)
    model = LidNet.from_pretrained(weights)
    if bundled is None or any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), bundled.state_dict().values(), strict=True)
    ):
        raise SystemExit(
            f"judge renders with the bundled weights; copy '{weights}' to weights/files/lid_net first"
        )
    outputs: dict[str, list] = {"geometric": [], "network": [], "truth": []}
    clips_used = []
    for clip in held:
        path = folder / f"{clip}.npz"
        if not path.is_file():
            continue
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        motion = MotionSequence.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("m_")})
        states = {
            int(s): off.prepare(crop, motion.frame(int(s)))
            for s, crop in zip(arrays["source_frames"], arrays["source_crops"], strict=True)
        }
        for (s, t), truth, k_eye in zip(arrays["frames"], arrays["truth"], arrays["eye"], strict=True):
            state, target = states[int(s)], motion.frame(int(t))
            crops = {
                "geometric": off.render_frame(state, target).crop,
                "network": on.render_frame(state, target).crop,
            }
            for k, source_lids, target_lids in shut_eyes(off, state, target):
                if k != int(k_eye):
                    continue
                for name, crop in crops.items():
                    made = net_inputs(crop, state.source, source_lids, target_lids)
                    outputs[name].append(native_patch(crop, made[1]))
                outputs["truth"].append(truth)
        clips_used.append(clip)
    perceptual = PerceptualDistance()

    def tensor(images: list) -> torch.Tensor:
        return torch.from_numpy(np.stack(images).astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)

    truth = tensor(outputs.pop("truth"))
    result = {name: region_metrics(tensor(images), truth, perceptual) for name, images in outputs.items()}
    result["clips"] = clips_used
    write_json(weights / "judge.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train and judge the lid network.")
    parser.add_argument("command", choices=("train", "judge"))
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--pairs", type=Path, default=Path("runs/lid_pairs"))
    parser.add_argument(
        "--more-pairs", type=Path, default=None, help="extra training pairs (lid_pairs --more)"
    )
    parser.add_argument("--out", type=Path, default=Path("weights/files/lid_net"))
    parser.add_argument("--weights", type=Path, default=Path("weights/files/lid_net"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--adversarial", type=float, default=0.0)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--perceptual-every", type=int, default=2)
    parser.add_argument("--validate-every", type=int, default=250)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "train":
        folders = [args.pairs] + ([args.more_pairs] if args.more_pairs else [])
        record = train(
            args.videos,
            folders,
            args.out,
            args.minutes,
            args.batch,
            adversarial=args.adversarial,
            amp=args.amp,
            perceptual_every=args.perceptual_every,
            validate_every=args.validate_every,
        )
    else:
        record = judge(args.videos, args.pairs, args.weights)
    sys.stdout.write(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
