"""Training and judging of the mouth-interior inpainting network (`pipeline.mouth_refiner`).

    python -m training.mouth_refiner data --videos ../shared/data/videos --samples runs/mouth_inpaint \\
        --pairs runs/mouth_pairs
    OMP_NUM_THREADS=1 python -m training.mouth_refiner train --videos ../shared/data/videos \\
        --samples runs/mouth_inpaint --out runs/mouth_refiner --minutes 22
    python -m training.mouth_refiner judge --videos ../shared/data/videos --samples runs/mouth_inpaint \\
        --pairs runs/mouth_pairs --weights runs/mouth_refiner

Same-frame inpainting (`training.mouth_inpaint`): a hole is cut into the middle of a real open
mouth and the network fills it from the context around it (cut from the 256 px crop, as at
inference); the truth is the same frame at native resolution, aligned to the pixel. Losses (named
weighted terms) over the hole: L1 (normalised by the hole's area), the stlpips distance (AlexNet,
shift-tolerant, at 64 px) of the patch with the hole filled, and a hinge adversarial term from a small
spectrally normalised patch discriminator that sees that patch and the hole. Colour augmentation:
per-sample channel gains and greyscale (black-and-white photos). Only the training identity
groups of the rule's split are read; the last step's weights are kept.
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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from pipeline.mouth_refiner import MouthRefiner, MouthRefinerConfig
from training.mouth_inpaint import build_samples, holes_for, load_samples
from training.mouth_pairs import PerceptualDistance, clip_split, load_pairs, psnr, region_metrics
from weights.loading import write_json

__all__ = ["TrainOptions", "PatchDiscriminator", "train", "judge", "main"]

logger = logging.getLogger(__name__)

#: The flat fill the same-frame table compares with: `pipeline.mouth`'s default cavity colour.
FLAT_CAVITY = (34.0, 13.0, 15.0)


@dataclass(frozen=True)
class TrainOptions:
    """batch: patches per step; minutes / steps: stop at whichever comes first; l1, perceptual,
    adversarial: loss weights (the perceptual term on every `perceptual_every`-th step); the
    adversarial term starts after `adversarial_after` steps; seed: sampling, holes and init."""

    batch: int = 16
    minutes: float = 22.0
    steps: int = 100_000
    lr: float = 5e-4
    l1: float = 1.0
    perceptual: float = 1.0
    perceptual_every: int = 2
    adversarial: float = 0.05
    adversarial_after: int = 300
    seed: int = 0


class PatchDiscriminator(nn.Module):
    """(B, 3, H, W) in [-1, 1] + hole (B, 1, H, W) -> (B, 1, H/8, W/8) realness logits."""

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

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, hole], dim=1))


def _images(x: np.ndarray) -> torch.Tensor:
    """(B, h, w, 3) uint8 -> (B, 3, h, w) in [-1, 1]."""
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2).contiguous()


def make_batch(
    data: dict[str, np.ndarray], idx: np.ndarray, rng: np.random.Generator, augment: bool
) -> dict[str, torch.Tensor]:
    """context, truth (B, 3, h, w), hole, lips (B, 1, h, w), condition (B, 5) for samples `idx`."""
    size = data["truth"].shape[1]
    hole = holes_for(data["ring"][idx], size, rng)
    b = {
        "context": _images(data["context"][idx]),
        "truth": _images(data["truth"][idx]),
        "lips": torch.from_numpy(data["lips"][idx].astype(np.float32) / 255.0)[:, None],
        "hole": hole,
    }
    lip = torch.from_numpy(data["lip"][idx] / 255.0).float()
    if augment:
        n = len(idx)
        gain = torch.from_numpy(rng.uniform(0.85, 1.15, (n, 3))).float()
        grey = torch.from_numpy(rng.random(n) < 0.1)
        weights = torch.tensor([0.299, 0.587, 0.114])
        for key in ("context", "truth"):
            x = ((b[key] + 1) / 2) * gain[:, :, None, None]
            luma = (x * weights[None, :, None, None]).sum(1, keepdim=True).expand_as(x)
            b[key] = (torch.where(grey[:, None, None, None], luma, x).clamp(0, 1) * 2 - 1).contiguous()
        lip = lip * gain
        lip = torch.where(grey[:, None], (lip * weights).sum(1, keepdim=True).expand_as(lip), lip)
        flip = torch.from_numpy(rng.random(n) < 0.5)
        for key in ("context", "truth", "lips", "hole"):
            b[key] = torch.where(flip[:, None, None, None], b[key].flip(3), b[key])
    share = 4.0 * b["hole"].flatten(1).mean(1, keepdim=True)
    opening = torch.from_numpy(10.0 * data["opening"][idx]).float()[:, None]
    b["condition"] = torch.cat([opening, share, lip.clamp(0, 1)], dim=1)
    return b


def _filled(model: MouthRefiner, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(the net's raw patch, the truth with its hole filled by the net)."""
    net = model(model.blank(b["context"], b["hole"]), b["hole"], b["lips"], b["condition"])
    return net, model.composite(b["truth"], net, b["hole"])


def train(
    videos: Path, samples: Path, out: Path, options: TrainOptions, config: MouthRefinerConfig | None = None
) -> Path:
    """Train on the training identity groups' samples; writes config, weights and training.json."""
    split = clip_split(videos)
    clips = sorted(c for c, s in split.items() if s == "train")
    data = load_samples(samples, clips)
    n = len(data["truth"])
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model = MouthRefiner(config or MouthRefinerConfig())
    perceptual = PerceptualDistance()
    discriminator = PatchDiscriminator()
    optimiser = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.5, 0.999))
    d_optimiser = torch.optim.Adam(discriminator.parameters(), lr=2 * options.lr, betas=(0.5, 0.999))
    start, step, running, counts = time.time(), 0, {}, {}
    deadline = start + options.minutes * 60.0
    while step < options.steps and time.time() < deadline:
        b = make_batch(data, rng.integers(0, n, options.batch), rng, augment=True)
        net, filled = _filled(model, b)
        area = b["hole"].mean().clamp_min(1e-3)
        terms = {"l1": options.l1 * ((net - b["truth"]).abs() * b["hole"]).mean() / area}
        if options.perceptual > 0 and step % options.perceptual_every == 0:
            small = [F.interpolate(x, size=64, mode="area") for x in (filled, b["truth"])]
            terms["perceptual"] = options.perceptual * perceptual(*small).mean()
        weight = F.adaptive_max_pool2d(b["hole"], (b["hole"].shape[2] // 8, b["hole"].shape[3] // 8))
        if options.adversarial > 0 and step >= options.adversarial_after:
            logits = discriminator(filled, b["hole"])
            terms["adversarial"] = (
                -options.adversarial * (logits * weight).sum() / weight.sum().clamp_min(1.0)
            )
        optimiser.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimiser.step()
        if options.adversarial > 0:
            real = discriminator(b["truth"], b["hole"])
            fake = discriminator(filled.detach(), b["hole"])
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
            "samples": n,
            "torch_threads": torch.get_num_threads(),
        },
    )
    logger.info("saved %s after %d steps, %.1f min", out, step, minutes)
    return out


def _hole_psnr(out: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor) -> float:
    """PSNR (dB, 8-bit) over the hole's pixels (weighted by its coverage), pooled over the set."""
    qa, qb = ((out + 1) * 127.5).round(), ((truth + 1) * 127.5).round()
    mse = (((qa - qb) ** 2) * hole).sum() / (3 * hole.sum()).clamp_min(1e-6)
    return float(10.0 * torch.log10(255.0**2 / mse.clamp_min(1e-10)))


@torch.no_grad()
def judge(videos: Path, samples: Path, pairs: Path, weights: Path) -> dict:
    """The rule's cross-frame table on the held-out pairs (geometric vs network) and the same-frame
    inpainting error on the held-out samples (fixed holes; network vs a flat cavity fill)."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    model = MouthRefiner.from_pretrained(weights)
    perceptual = PerceptualDistance()
    data = load_pairs(pairs, held)
    n = len(data["warp"])
    network = torch.cat(
        [
            model.fill(
                data["warp"][i : i + 64],
                data["cover"][i : i + 64],
                data["lips"][i : i + 64],
                data["condition"][i : i + 64],
            )
            for i in range(0, n, 64)
        ]
    )
    table = {
        "geometric": region_metrics(data["warp"], data["truth"], perceptual),
        "network": region_metrics(network, data["truth"], perceptual),
    }
    g, m = table["geometric"], table["network"]
    wins = {"psnr": m["psnr"] > g["psnr"], "stlpips": m["stlpips"] < g["stlpips"]}
    same = load_samples(samples, held)
    b = make_batch(same, np.arange(len(same["truth"])), np.random.default_rng(0), augment=False)
    flat = torch.tensor(FLAT_CAVITY)[None, :, None, None] / 127.5 - 1.0
    fills = {
        "flat cavity fill": model.composite(b["context"], flat.expand_as(b["context"]), b["hole"]),
        "network": model.fill(b["context"], b["hole"], b["lips"], b["condition"]),
    }
    inpaint = {}
    for name, out in fills.items():
        metrics = region_metrics(out, b["truth"], perceptual)
        metrics["hole_psnr"] = _hole_psnr(out, b["truth"], b["hole"])
        inpaint[name] = metrics
    inpaint["context only (hole's truth pasted)"] = {
        "psnr": float(psnr(model.composite(b["context"], b["truth"], b["hole"]), b["truth"]).mean())
    }
    return {
        "held_out_clips": held,
        "table": table,
        "wins": wins,
        "metrics_pass": all(wins.values()),
        "same_frame": inpaint,
    }


def _markdown(result: dict) -> str:
    lines = ["| engine | pairs | PSNR (dB) | SSIM | stlpips |", "|---|---|---|---|---|"]
    for engine, r in result["table"].items():
        lines.append(f"| {engine} | {r['n']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['stlpips']:.4f} |")
    lines += [
        "",
        "| same-frame fill | samples | hole PSNR (dB) | box PSNR | SSIM | stlpips |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["same_frame"].items():
        if "n" in r:
            lines.append(
                f"| {name} | {r['n']} | {r['hole_psnr']:.2f} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['stlpips']:.4f} |"
            )
        else:
            lines.append(f"| {name} | | | {r['psnr']:.2f} | | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `data`, `train` and `judge` (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m training.mouth_refiner", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("data", "train", "judge"):
        p = sub.add_parser(name)
        p.add_argument("--videos", type=Path, required=True, help="clips with MANIFEST.tsv")
        p.add_argument("--samples", type=Path, default=Path("runs/mouth_inpaint"), help="inpainting samples")
        if name in ("data", "judge"):
            p.add_argument(
                "--pairs", type=Path, default=Path("runs/mouth_pairs"), help="held-out cross-frame pairs"
            )
        if name == "data":
            p.add_argument("--clips", nargs="*", default=(), help="only these clip stems")
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
    if args.command == "data":
        build_samples(args.videos, args.samples, args.pairs, MouthRefinerConfig(), clips=tuple(args.clips))
    elif args.command == "train":
        options = TrainOptions(**{f: getattr(args, f) for f in asdict(TrainOptions())})
        train(args.videos, args.samples, args.out, options)
    else:
        result = judge(args.videos, args.samples, args.pairs, args.weights)
        sys.stdout.write(
            _markdown(result) + f"\nwins {result['wins']}, metrics pass: {result['metrics_pass']}\n"
        )
        if args.output is not None:
            args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
