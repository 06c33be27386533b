"""Training and judging of the mouth and eye refiner (`pipeline.mouth_refiner`).

    python -m training.mouth_refiner pairs --videos ../shared/data/videos --pairs runs/mouth_pairs
    python -m training.mouth_refiner train --videos ../shared/data/videos --pairs runs/mouth_pairs \\
        --out runs/mouth_refiner --minutes 30
    python -m training.mouth_refiner judge --videos ../shared/data/videos --pairs runs/mouth_pairs \\
        --weights runs/mouth_refiner

Losses (a dict of named weighted terms): L1 of the confined output against the real target patch
(normalised by the mask's area), the stlpips distance (AlexNet trunk, shift-tolerant) and,
optionally, a hinge patch adversarial term from a small patch discriminator on the masked
regions. Mouth and eye batches alternate. Only the training identity groups of the rule's split
are read; the last step's weights are kept (no choice on held-out data). `torchrun` sets up data
parallel training through `training.distributed` (gloo on CPU); `--amp` runs the forward passes
in bfloat16 autocast.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.mouth_refiner import EYE, MOUTH, MouthRefiner, MouthRefinerConfig
from training.distributed import all_reduce_mean, init_distributed, shutdown_distributed
from training.mouth_pairs import (
    PairOptions,
    PerceptualDistance,
    build_pairs,
    clip_split,
    load_pairs,
    region_metrics,
)
from weights.loading import write_json

__all__ = ["TrainOptions", "PatchDiscriminator", "refiner_losses", "train", "judge", "main"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """batch: patches per step (each kind); minutes / steps: stop at whichever comes first;
    l1, perceptual, adversarial: loss weights (the perceptual term, the costliest, on every
    `perceptual_every`-th step); amp: bfloat16 autocast; seed: sampling and init."""

    batch: int = 32
    minutes: float = 30.0
    steps: int = 100_000
    lr: float = 1e-3
    l1: float = 1.0
    perceptual: float = 1.0
    perceptual_every: int = 2
    adversarial: float = 0.0
    amp: bool = False
    seed: int = 0


class PatchDiscriminator(nn.Module):
    """(B, 3, H, W) in [-1, 1] + mask (B, 1, H, W) -> (B, 1, H/4, W/4) realness logits."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(4, channels, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * channels, 1, 3, 1, 1),
        )

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, mask], dim=1))


def refiner_losses(
    out: torch.Tensor,
    truth: torch.Tensor,
    mask: torch.Tensor,
    perceptual: PerceptualDistance,
    options: TrainOptions,
    discriminator: PatchDiscriminator | None = None,
    with_perceptual: bool = True,
) -> dict[str, torch.Tensor]:
    """Named weighted terms for the confined output `out` (B, 3, H, W) against `truth`."""
    area = mask.mean().clamp_min(1e-3)
    terms = {"l1": options.l1 * (out - truth).abs().mean() / area}
    if options.perceptual > 0 and with_perceptual:
        terms["perceptual"] = options.perceptual * perceptual(out, truth).mean()
    if discriminator is not None and options.adversarial > 0:
        terms["adversarial"] = -options.adversarial * discriminator(out, mask).mean()
    return terms


def _batch(data: dict[str, torch.Tensor], size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    idx = torch.randint(0, len(data["warp"]), (size,), generator=generator)
    return {k: v[idx] for k, v in data.items()}


def _refine(model: nn.Module, b: dict[str, torch.Tensor], kind: int) -> torch.Tensor:
    region = torch.full((len(b["warp"]),), kind, dtype=torch.long)
    net = model(b["warp"], b["source"], b["mask"], b["descriptor"], region)
    mask = b["mask"] * b["gate"][:, None, None, None] if "gate" in b else b["mask"]
    mask = mask * b["need"] if "need" in b else mask
    return b["warp"] + mask * (net - b["warp"])


def _sets(pairs: Path, clips: Sequence[str]) -> list[tuple[int, dict[str, torch.Tensor]]]:
    sets = [(kind, load_pairs(pairs, clips, name)) for kind, name in ((MOUTH, "mouth"), (EYE, "eye"))]
    return [(kind, data) for kind, data in sets if len(data["warp"]) > 0]


def train(
    videos: Path, pairs: Path, out: Path, options: TrainOptions, config: MouthRefinerConfig | None = None
) -> Path:
    """Train on the training identity groups' cached pairs; writes config, weights and training.json."""
    ctx = init_distributed()
    split = clip_split(videos)
    clips = sorted(c for c, s in split.items() if s == "train")
    sets = _sets(pairs, clips)
    if not sets:
        raise FileNotFoundError(f"no cached pairs of training clips in '{pairs}'; run the `pairs` step first")
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed + ctx.rank)
    model: nn.Module = MouthRefiner(config or MouthRefinerConfig())
    core = model
    if ctx.distributed:
        model = nn.parallel.DistributedDataParallel(model)
    perceptual = PerceptualDistance()
    optimiser = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.5, 0.999))
    discriminator = PatchDiscriminator() if options.adversarial > 0 else None
    d_optimiser = torch.optim.Adam(discriminator.parameters(), lr=options.lr) if discriminator else None
    start, step, running, counts = time.time(), 0, {}, {}
    deadline = start + options.minutes * 60.0
    while step < options.steps and time.time() < deadline:
        kind, data = sets[step % len(sets)]
        b = _batch(data, options.batch, generator)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=options.amp):
            composite = _refine(model, b, kind)
            terms = refiner_losses(
                composite.float(), b["truth"], b["mask"], perceptual, options, discriminator
            )
        loss = sum(terms.values())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if discriminator is not None and d_optimiser is not None:
            real = discriminator(b["truth"], b["mask"])
            fake = discriminator(composite.detach().float(), b["mask"])
            d_loss = F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
            d_optimiser.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimiser.step()
        for k, v in terms.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
            counts[k] = counts.get(k, 0) + 1
        step += 1
        if step % 50 == 0:
            means = all_reduce_mean({k: v / counts[k] for k, v in running.items()}, ctx.device)
            if ctx.is_main:
                logger.info("step %d (%.1f min): %s", step, (time.time() - start) / 60, _fmt(means))
            running, counts = {}, {}
    minutes = (time.time() - start) / 60.0
    if ctx.is_main:
        core.save_pretrained(out)
        record = {
            "steps": step,
            "minutes": round(minutes, 1),
            "options": asdict(options),
            "train_clips": clips,
            "held_out_clips": sorted(c for c, s in split.items() if s == "held_out"),
            "patches": {("mouth" if k == MOUTH else "eye"): len(d["warp"]) for k, d in sets},
            "torch_threads": torch.get_num_threads(),
            "world_size": ctx.world_size,
        }
        write_json(out / "training.json", record)
        logger.info("saved %s after %d steps, %.1f min", out, step, minutes)
    shutdown_distributed()
    return out


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in values.items())


@torch.no_grad()
def judge(videos: Path, pairs: Path, weights: Path) -> dict:
    """The rule's table: baseline (geometric) and refined metrics on the held-out pairs, and the verdict."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    model = MouthRefiner.from_pretrained(weights)
    perceptual = PerceptualDistance()
    table: dict[str, dict[str, dict[str, float]]] = {}
    for kind, name in ((MOUTH, "mouth"), (EYE, "eye")):
        data = load_pairs(pairs, held, name)
        refined = (
            torch.cat(
                [
                    _refine(model, {k: v[i : i + 64] for k, v in data.items()}, kind)
                    for i in range(0, len(data["warp"]), 64)
                ]
            )
            if len(data["warp"])
            else data["warp"]
        )
        table[name] = {
            "geometric": region_metrics(data["warp"], data["truth"], perceptual),
            "refined": region_metrics(refined, data["truth"], perceptual),
        }
    m, e = table["mouth"], table["eye"]
    wins = {
        "psnr": m["refined"]["psnr"] > m["geometric"]["psnr"],
        "ssim": m["refined"]["ssim"] > m["geometric"]["ssim"],
        "stlpips": m["refined"]["stlpips"] < m["geometric"]["stlpips"],
    }
    eye_drop = e["geometric"]["psnr"] - e["refined"]["psnr"]
    eyes_ok = not math.isfinite(eye_drop) or eye_drop <= 0.3
    return {
        "held_out_clips": held,
        "table": table,
        "mouth_wins": wins,
        "eye_psnr_drop_db": eye_drop,
        "ships": sum(wins.values()) >= 2 and eyes_ok,
    }


def _markdown(result: dict) -> str:
    lines = ["| region | pairs | engine | PSNR (dB) | SSIM | stlpips |", "|---|---|---|---|---|---|"]
    for name, rows in result["table"].items():
        for engine, r in rows.items():
            lines.append(
                f"| {name} | {r['n']} | {engine} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['stlpips']:.4f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `pairs`, `train` and `judge` (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m training.mouth_refiner", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("pairs", "train", "judge"):
        p = sub.add_parser(name)
        p.add_argument("--videos", type=Path, required=True, help="clips with MANIFEST.tsv")
        p.add_argument("--pairs", type=Path, default=Path("runs/mouth_pairs"), help="cache of region pairs")
        if name == "pairs":
            p.add_argument("--clips", nargs="*", default=(), help="only these clip stems")
        if name == "train":
            p.add_argument("--out", type=Path, default=Path("runs/mouth_refiner"))
            for field, default in asdict(TrainOptions()).items():
                flag = "--" + field.replace("_", "-")
                if isinstance(default, bool):
                    p.add_argument(flag, action="store_true")
                else:
                    p.add_argument(flag, type=type(default), default=default)
        if name == "judge":
            p.add_argument(
                "--weights", type=Path, required=True, help="folder with config.json + model.safetensors"
            )
            p.add_argument("--output", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "pairs":
        build_pairs(args.videos, args.pairs, MouthRefinerConfig(), PairOptions(), clips=tuple(args.clips))
    elif args.command == "train":
        options = TrainOptions(**{f: getattr(args, f) for f in asdict(TrainOptions())})
        train(args.videos, args.pairs, args.out, options)
    else:
        result = judge(args.videos, args.pairs, args.weights)
        sys.stdout.write(_markdown(result) + "\n")
        sys.stdout.write(
            f"mouth wins {result['mouth_wins']}, eye PSNR drop {result['eye_psnr_drop_db']:.2f} dB, "
        )
        sys.stdout.write(f"ships: {result['ships']}\n")
        if args.output is not None:
            args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
