"""Train and judge the lid warping network (`pipeline.lid_flow`) on `training.lid_flow_pairs`.

    python -m training.lid_flow_pairs --videos ../shared/data/videos --pairs runs/lid_flow_pairs
    OMP_NUM_THREADS=1 python -m training.lid_flow_train train --videos ../shared/data/videos \\
        --pairs runs/lid_flow_pairs --out runs/lid_flow --minutes 30
    OMP_NUM_THREADS=1 python -m training.lid_flow_train judge --videos ../shared/data/videos \\
        --pairs runs/lid_flow_pairs --weights weights/files/lid_flow

`train`: the network's offset moves each box pixel's read of the SOURCE crop (`read`, a
differentiable `grid_sample` at the geometric read point plus the offset), the read is blended
into the geometric box by the lid mask, the lash band and the gate (`composite`, the box form of
`retouch_shut_lids`), and the loss (`flow_losses`) is L1 + stlpips (AlexNet trunk, shift-tolerant)
against the real blink over the box with the lash band and all below it excluded (the engine owns
the lash line), plus a smoothness term on the coarse offset grid. Augmentation: mirrored boxes and
one colour gain per sample. Under `torchrun` each process draws its own batches and the gradients
are averaged (DistributedDataParallel, gloo on CPU); `--amp` runs the forward pass under autocast.
The checkpoint kept is the best on training groups set aside by identity (`validation_clips`).
`judge` renders the held-out pairs with the geometric renderer, network off and on, and writes the
eye-box metrics (docs/LID_FLOW.md, rule item 1) to `judge.json` beside the weights.
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
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from core.coefficients import MotionSequence
from pipeline.engines import EngineRegistry
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.lid_flow import LidFlowNet, blend_weight, shared_lid_flow
from pipeline.lid_flow_geometry import eye_box
from training.distributed import all_reduce_mean, init_distributed, shutdown_distributed
from training.lid_flow_metrics import PerceptualDistance, region_metrics
from training.lid_flow_pairs import clip_split, load_pairs, native_patch, shut_eyes, validation_clips
from weights.loading import write_json

__all__ = ["Batch", "read", "composite", "flow_losses", "train", "judge", "main"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Batch:
    """Training tensors: inputs (B, 11, 40, 64); cond (B, 2); truth (B, 3, 40, 64) in [-1, 1];
    base (B, 40, 64, 2) crop points; to_crop (B, 2, 2) box -> crop linear map; source (B, 3, S, S)
    the source crops in [-1, 1]."""

    inputs: torch.Tensor
    cond: torch.Tensor
    truth: torch.Tensor
    base: torch.Tensor
    to_crop: torch.Tensor
    source: torch.Tensor


def read(batch: Batch, offset: torch.Tensor) -> torch.Tensor:
    """(B, 3, 40, 64): the source crops read at the geometric point plus `offset` (B, 2, 40, 64,
    box pixels), bilinear, differentiable in the offset."""
    shift = torch.einsum("bij,bjhw->bhwi", batch.to_crop, offset)
    size = batch.source.shape[-1]
    grid = (batch.base + shift + 0.5) / size * 2.0 - 1.0
    return F.grid_sample(batch.source, grid, mode="bilinear", padding_mode="border", align_corners=False)


def composite(batch: Batch, offset: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """The box as the product makes it: the read blended over the geometric patch by the weight."""
    w = blend_weight(batch.inputs, gate)
    return batch.inputs[:, :3] * (1.0 - w) + read(batch, offset) * w


def flow_losses(
    out: torch.Tensor,
    batch: Batch,
    coarse: torch.Tensor,
    perceptual: PerceptualDistance | None,
    smooth: float = 0.05,
    bound: float = 10.0,
    perceptual_batch: int = 8,
) -> dict[str, torch.Tensor]:
    """Named terms: l1 and stlpips over the box outside the lash band (the excluded part of the
    truth replaced by the output itself, so it costs nothing), smooth on the coarse offset grid."""
    keep = 1.0 - batch.inputs[:, 9:10]
    terms = {"l1": ((out - batch.truth).abs() * keep).sum() / (3.0 * keep.sum()).clamp_min(1.0)}
    if perceptual is not None:
        n = perceptual_batch
        truth = batch.truth[:n] * keep[:n] + out[:n].detach() * (1.0 - keep[:n])
        terms["stlpips"] = perceptual(out[:n], truth, resize=False).mean()
    dx = (coarse[:, :, :, 1:] - coarse[:, :, :, :-1]).pow(2).mean()
    dy = (coarse[:, :, 1:] - coarse[:, :, :-1]).pow(2).mean()
    terms["smooth"] = smooth * (dx + dy) / bound**2
    return terms


def _load(folders: list[Path], clips: list[str]) -> dict[str, torch.Tensor]:
    parts = [p for p in (load_pairs(f, clips) for f in folders) if len(p["inputs"])]
    if not parts:
        return {}
    offset, merged = 0, {k: [] for k in parts[0]}
    for p in parts:
        for k, v in p.items():
            merged[k].append(v + offset if k == "source" else v)
        offset += len(p["source_crops"])
    data = {k: np.concatenate(v) for k, v in merged.items()}
    to_crop = np.linalg.inv(data["matrix"][:, :, :2])
    return {
        "inputs": torch.from_numpy(data["inputs"].astype(np.float32)).permute(0, 3, 1, 2),
        "cond": torch.from_numpy(data["condition"].astype(np.float32)),
        "truth": torch.from_numpy(data["truth"].astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2),
        "base": torch.from_numpy(data["base"].astype(np.float32)),
        "to_crop": torch.from_numpy(to_crop.astype(np.float32)),
        "source": torch.from_numpy(data["source"].astype(np.int64)),
        "crops": torch.from_numpy(data["source_crops"]).permute(0, 3, 1, 2),  # uint8
    }


def _batch(data: dict[str, torch.Tensor], index: torch.Tensor, device: torch.device) -> Batch:
    crops = data["crops"][data["source"][index]].float() / 127.5 - 1.0
    return Batch(
        data["inputs"][index].to(device),
        data["cond"][index].to(device),
        data["truth"][index].to(device),
        data["base"][index].to(device),
        data["to_crop"][index].to(device),
        crops.to(device),
    )


def augment(batch: Batch, generator: torch.Generator) -> Batch:
    """Half the samples mirrored (the box flipped, its flow's x and the offset's x axis negated),
    and one colour gain per sample on every picture alike (a photo's light differs from a clip's)."""
    n = len(batch.inputs)
    flip = torch.rand(n, generator=generator) < 0.5
    inputs, truth, base, to_crop = (t.clone() for t in (batch.inputs, batch.truth, batch.base, batch.to_crop))
    inputs[flip] = inputs[flip].flip(-1)
    inputs[flip, 7] = -inputs[flip, 7]
    truth[flip] = truth[flip].flip(-1)
    base[flip] = base[flip].flip(-2)
    to_crop[flip, :, 0] = -to_crop[flip, :, 0]
    gain = (1.0 + 0.15 * (2 * torch.rand(n, 3, 1, 1, generator=generator) - 1)).to(inputs.device)

    def tint(x: torch.Tensor) -> torch.Tensor:
        return ((x + 1.0) * gain - 1.0).clamp(-1.0, 1.0)

    inputs[:, :3], inputs[:, 3:6] = tint(inputs[:, :3]), tint(inputs[:, 3:6])
    return Batch(inputs, batch.cond, tint(truth), base, to_crop, tint(batch.source))


@torch.no_grad()
def validate(model: LidFlowNet, data: dict[str, torch.Tensor], perceptual: PerceptualDistance) -> float:
    """L1 + stlpips (outside the lash band) on the set-aside identities: the checkpoint score."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data["inputs"]), 64):
        index = torch.arange(start, min(start + 64, len(data["inputs"])))
        batch = _batch(data, index, torch.device("cpu"))
        offset, gate, coarse = model(batch.inputs, batch.cond)
        terms = flow_losses(composite(batch, offset, gate), batch, coarse, perceptual, perceptual_batch=64)
        total += float(terms["l1"] + terms["stlpips"]) * len(index)
        count += len(index)
    model.train()
    return total / max(count, 1)


def train(
    videos: Path,
    folders: list[Path],
    out: Path,
    minutes: float,
    batch: int = 16,
    seed: int = 0,
    amp: bool = False,
    perceptual_every: int = 2,
    validate_every: int = 250,
) -> dict:
    """Fit the network for `minutes` on the training groups' shut eyes; keep the best checkpoint on
    the set-aside groups; rank 0 saves it in `out` with `training.json`."""
    ctx = init_distributed("cpu" if not torch.cuda.is_available() else None)
    split = clip_split(videos)
    aside = validation_clips(videos)
    clips = sorted(c for c, s in split.items() if s == "train" and c not in aside)
    data = _load(folders, clips)
    held_aside = _load(folders[:1], sorted(aside))
    torch.manual_seed(seed)
    model = LidFlowNet().to(ctx.device)
    net = DistributedDataParallel(model) if ctx.distributed else model
    perceptual = PerceptualDistance().to(ctx.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-4)
    dtype = torch.float16 if ctx.device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=amp and ctx.device.type == "cuda")
    generator = torch.Generator().manual_seed(seed + ctx.rank)
    start, step, history, scores = time.perf_counter(), 0, [], []
    best = (float("inf"), 0, {k: v.clone() for k, v in model.state_dict().items()})
    if held_aside:
        best = (validate(model, held_aside, perceptual), 0, best[2])
        scores.append((0, best[0]))
    while time.perf_counter() - start < 60.0 * minutes:
        index = torch.randint(0, len(data["inputs"]), (batch,), generator=generator)
        b = augment(_batch(data, index, ctx.device), generator)
        with torch.autocast(ctx.device.type, dtype=dtype, enabled=amp):
            offset, gate, coarse = net(b.inputs, b.cond)
        made = composite(b, offset.float(), gate.float())
        every = perceptual if step % perceptual_every == 0 else None
        terms = flow_losses(made, b, coarse.float(), every, bound=model.config.bound)
        loss = sum(terms.values())
        optimiser.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        history.append({k: float(v.detach()) for k, v in terms.items()})
        step += 1
        if step % 100 == 0:
            recent = {k: float(np.mean([h[k] for h in history[-100:] if k in h])) for k in history[0]}
            recent = all_reduce_mean(recent, ctx.device)
            if ctx.is_main:
                logger.info("step %d: %s", step, " ".join(f"{k} {v:.4f}" for k, v in recent.items()))
        if step % validate_every == 0 and held_aside:
            score = validate(model, held_aside, perceptual)
            scores.append((step, score))
            if score < best[0]:
                best = (score, step, {k: v.clone() for k, v in model.state_dict().items()})
            if ctx.is_main:
                logger.info("step %d: validation %.4f (best %.4f at %d)", step, score, best[0], best[1])
    if held_aside:
        model.load_state_dict(best[2])
    record = {
        "steps": step,
        "minutes": (time.perf_counter() - start) / 60.0,
        "samples": len(data["inputs"]),
        "clips": len(clips),
        "validation_clips": sorted(aside),
        "validation_samples": len(held_aside["inputs"]) if held_aside else 0,
        "validation": scores,
        "chosen_step": best[1],
        "batch": batch,
        "world_size": ctx.world_size,
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
    """Held-out eye-box metrics of the geometric renderer, network off and on (rule item 1): the
    whole box against the real blink. The network on is the bundled one; `weights` must hold the
    same files (copy them to weights/files/lid_flow first)."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    registry = EngineRegistry(fast=False)
    face_model = registry.backend("default").model
    off = GeometricRenderer(face_model, PreviewSettings())
    on = GeometricRenderer(face_model, dataclasses.replace(PreviewSettings(), lid_flow=True))
    bundled, model = shared_lid_flow(off.face_model), LidFlowNet.from_pretrained(weights)
    if bundled is None or any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), bundled.state_dict().values(), strict=True)
    ):
        raise SystemExit(
            f"judge renders with the bundled weights; copy '{weights}' to weights/files/lid_flow first"
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
            crops = {"geometric": off.render(state, target), "network": on.render(state, target)}
            for k, _, target_lids in shut_eyes(off, state, target):
                if k != int(k_eye):
                    continue
                matrix = eye_box(*target_lids)
                for name, crop in crops.items():
                    outputs[name].append(native_patch(crop, matrix))
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
    parser = argparse.ArgumentParser(description="Train and judge the lid warping network.")
    parser.add_argument("command", choices=("train", "judge"))
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--pairs", type=Path, default=Path("runs/lid_flow_pairs"))
    parser.add_argument("--more-pairs", type=Path, default=None, help="extra training pairs (--more)")
    parser.add_argument("--out", type=Path, default=Path("runs/lid_flow"))
    parser.add_argument("--weights", type=Path, default=Path("weights/files/lid_flow"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--perceptual-every", type=int, default=2)
    parser.add_argument("--validate-every", type=int, default=250)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "train":
        folders = [args.pairs] + ([args.more_pairs] if args.more_pairs else [])
        record = train(
            args.videos, folders, args.out, args.minutes, args.batch, amp=args.amp,
            perceptual_every=args.perceptual_every, validate_every=args.validate_every,
        )  # fmt: skip
    else:
        record = judge(args.videos, args.pairs, args.weights)
    sys.stdout.write(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
