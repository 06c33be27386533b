"""Training and judging of the mouth-interior network (`pipeline.mouth_refiner`).

    python -m training.mouth_refiner pairs --videos ../shared/data/videos --pairs runs/mouth_pairs
    OMP_NUM_THREADS=1 python -m training.mouth_refiner train --videos ../shared/data/videos \\
        --pairs runs/mouth_pairs --out runs/mouth_refiner --minutes 40
    python -m training.mouth_refiner judge --videos ../shared/data/videos --pairs runs/mouth_pairs \\
        --weights runs/mouth_refiner

Losses (named weighted terms) on the output confined to the painted gap: L1 against the real
target's mouth (cut from the native-resolution frame; normalised by the gap's area), the stlpips
distance (AlexNet trunk, shift-tolerant) and a hinge adversarial term from a small spectrally
normalised patch discriminator that sees the patch and the gap's coverage, so the gap is not an L1
average of teeth and tongue. Only the training identity groups of the rule's split are read; the
last step's weights are kept (no choice on held-out data).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from pipeline.mouth_refiner import MouthRefiner, MouthRefinerConfig
from training.mouth_pairs import (
    HALF_OPEN,
    PairOptions,
    PerceptualDistance,
    build_pairs,
    clip_split,
    load_pairs,
    region_metrics,
)
from weights.loading import write_json

__all__ = ["TrainOptions", "PatchDiscriminator", "train", "judge", "main"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """batch: patches per step; minutes / steps: stop at whichever comes first; l1, perceptual,
    adversarial: loss weights (the perceptual term, at 64 px, on every `perceptual_every`-th step); the
    adversarial term starts after `adversarial_after` steps; seed: sampling and init."""

    batch: int = 8
    minutes: float = 40.0
    steps: int = 100_000
    lr: float = 5e-4
    l1: float = 1.0
    perceptual: float = 1.0
    perceptual_every: int = 2
    adversarial: float = 0.05
    adversarial_after: int = 200
    seed: int = 0


class PatchDiscriminator(nn.Module):
    """(B, 3, H, W) in [-1, 1] + coverage (B, 1, H, W) -> (B, 1, H/8, W/8) realness logits."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(4, c, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(c, 2 * c, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(2 * c, 4 * c, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(4 * c, 1, 3, 1, 1)),
        )

    def forward(self, image: torch.Tensor, cover: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, cover], dim=1))


def _gap_weight(cover: torch.Tensor) -> torch.Tensor:
    """(B, 1, h/8, w/8): where the discriminator's logits look at the gap."""
    return F.adaptive_max_pool2d(cover, (cover.shape[2] // 8, cover.shape[3] // 8))


def _batch(data: dict[str, torch.Tensor], size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    idx = torch.randint(0, len(data["warp"]), (size,), generator=generator)
    b = {k: v[idx] for k, v in data.items()}
    flip = torch.rand(size, generator=generator) < 0.5  # mouths are roughly symmetric
    for key in ("warp", "truth", "source", "lips", "cover"):
        b[key] = torch.where(flip[:, None, None, None], b[key].flip(3), b[key])
    return b


def refine(model: MouthRefiner, b: dict[str, torch.Tensor]) -> torch.Tensor:
    """The network's patch confined to the painted gap."""
    net = model(b["warp"], b["source"], b["lips"], b["cover"], b["descriptor"], b["colours"])
    return model.composite(b["warp"], net, b["cover"])


def train(
    videos: Path,
    pairs: Path,
    out: Path,
    options: TrainOptions,
    config: MouthRefinerConfig | None = None,
    extra: Sequence[Path] = (),
) -> Path:
    """Train on the training identity groups' cached pairs (of `pairs` and the `extra` caches);
    writes config, weights and training.json."""
    split = clip_split(videos)
    clips = sorted(c for c, s in split.items() if s == "train")
    sets = [load_pairs(folder, clips) for folder in (pairs, *extra)]
    data = {k: torch.cat([d[k] for d in sets if len(d["warp"])]) for k in sets[0]}
    keep = data["cover"].flatten(1).amax(1) > 0.05  # pairs where the renderer painted a gap
    data = {k: v[keep] for k, v in data.items()}
    if len(data["warp"]) == 0:
        raise FileNotFoundError(f"no cached pairs of training clips in '{pairs}'; run the `pairs` step first")
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    model = MouthRefiner(config or MouthRefinerConfig())
    perceptual = PerceptualDistance()
    discriminator = PatchDiscriminator()
    optimiser = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.5, 0.999))
    d_optimiser = torch.optim.Adam(discriminator.parameters(), lr=2 * options.lr, betas=(0.5, 0.999))
    start, step, running, counts = time.time(), 0, {}, {}
    deadline = start + options.minutes * 60.0
    while step < options.steps and time.time() < deadline:
        b = _batch(data, options.batch, generator)
        composite = refine(model, b)
        area = b["cover"].mean().clamp_min(1e-3)
        terms = {"l1": options.l1 * (composite - b["truth"]).abs().mean() / area}
        if options.perceptual > 0 and step % options.perceptual_every == 0:
            small = [F.interpolate(x, size=64, mode="area") for x in (composite, b["truth"])]
            terms["perceptual"] = options.perceptual * perceptual(*small).mean()
        adversarial = options.adversarial > 0 and step >= options.adversarial_after
        if adversarial:
            weight = _gap_weight(b["cover"])
            logits = discriminator(composite, b["cover"])
            terms["adversarial"] = (
                -options.adversarial * (logits * weight).sum() / weight.sum().clamp_min(1.0)
            )
        optimiser.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimiser.step()
        if options.adversarial > 0:
            weight = _gap_weight(b["cover"])
            real = discriminator(b["truth"], b["cover"])
            fake = discriminator(composite.detach(), b["cover"])
            hinge = F.relu(1.0 - real) + F.relu(1.0 + fake)
            d_loss = (hinge * weight).sum() / weight.sum().clamp_min(1.0)
            d_optimiser.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimiser.step()
            terms["d_hinge"] = d_loss.detach()
        for k, v in terms.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
            counts[k] = counts.get(k, 0) + 1
        step += 1
        if step % 50 == 0:
            logger.info(
                "step %d (%.1f min): %s",
                step,
                (time.time() - start) / 60,
                ", ".join(f"{k} {running[k] / counts[k]:.4f}" for k in running),
            )
            running, counts = {}, {}
            if step % 500 == 0:
                model.save_pretrained(out)
    minutes = (time.time() - start) / 60.0
    model.save_pretrained(out)
    write_json(
        out / "training.json",
        {
            "steps": step,
            "minutes": round(minutes, 1),
            "options": asdict(options),
            "train_clips": clips,
            "held_out_clips": sorted(c for c, s in split.items() if s == "held_out"),
            "patches": len(data["warp"]),
            "pair_caches": [str(folder) for folder in (pairs, *extra)],
            "torch_threads": torch.get_num_threads(),
        },
    )
    logger.info("saved %s after %d steps, %.1f min", out, step, minutes)
    return out


@torch.no_grad()
def judge(videos: Path, pairs: Path, weights: Path) -> dict:
    """The rule's table on the held-out pairs: geometric vs network (mouth box, truth at native resolution)."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    model = MouthRefiner.from_pretrained(weights)
    perceptual = PerceptualDistance()
    data = load_pairs(pairs, held)
    n = len(data["warp"])
    network = torch.cat([refine(model, {k: v[i : i + 64] for k, v in data.items()}) for i in range(0, n, 64)])
    table = {
        "geometric": region_metrics(data["warp"], data["truth"], perceptual),
        "network": region_metrics(network, data["truth"], perceptual),
    }
    g, m = table["geometric"], table["network"]
    wins = {"psnr": m["psnr"] > g["psnr"], "stlpips": m["stlpips"] < g["stlpips"]}
    return {"held_out_clips": held, "table": table, "wins": wins, "metrics_pass": all(wins.values())}


def _markdown(result: dict) -> str:
    lines = ["| engine | pairs | PSNR (dB) | SSIM | stlpips |", "|---|---|---|---|---|"]
    for engine, r in result["table"].items():
        lines.append(f"| {engine} | {r['n']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['stlpips']:.4f} |")
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
        p.add_argument("--pairs", type=Path, default=Path("runs/mouth_pairs"), help="cache of mouth pairs")
        if name == "pairs":
            p.add_argument("--clips", nargs="*", default=(), help="only these clip stems")
            p.add_argument("--half-open", action="store_true", help="training pairs whose photo shows teeth")
        if name == "train":
            p.add_argument("--extra-pairs", type=Path, nargs="*", default=(), help="more pair caches")
        if name == "train":
            p.add_argument("--out", type=Path, default=Path("runs/mouth_refiner"))
            for field, default in asdict(TrainOptions()).items():
                p.add_argument("--" + field.replace("_", "-"), type=type(default), default=default)
        if name == "judge":
            p.add_argument(
                "--weights", type=Path, required=True, help="folder with config.json + model.safetensors"
            )
            p.add_argument("--output", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "pairs":
        options = HALF_OPEN if args.half_open else PairOptions()
        build_pairs(args.videos, args.pairs, MouthRefinerConfig(), options, clips=tuple(args.clips))
    elif args.command == "train":
        options = TrainOptions(**{f: getattr(args, f) for f in asdict(TrainOptions())})
        train(args.videos, args.pairs, args.out, options, extra=tuple(args.extra_pairs))
    else:
        result = judge(args.videos, args.pairs, args.weights)
        sys.stdout.write(
            _markdown(result) + f"\nwins {result['wins']}, metrics pass: {result['metrics_pass']}\n"
        )
        if args.output is not None:
            args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
