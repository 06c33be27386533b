"""Training and judging of the mouth-interior residual network (`pipeline.mouth_refiner`).

    python -m training.mouth_refiner pairs --videos ../shared/data/videos --pairs runs/mouth_pairs
    OMP_NUM_THREADS=1 python -m training.mouth_refiner train --videos ../shared/data/videos \\
        --pairs runs/mouth_pairs --out runs/mouth_refiner --minutes 25
    python -m training.mouth_refiner judge --videos ../shared/data/videos --pairs runs/mouth_pairs \\
        --weights runs/mouth_refiner

The rule's cross-frame pairs (`training.mouth_pairs`: same clip, source closed, target open, the
geometric renderer of this tree drawing the source with the target's coefficients; the truth
from the native-resolution frame through the same box) of the training identity groups only.
The network adds a bounded low-frequency residual to the painted gap. Losses (named weighted
terms) over the gap: L1 between heavily blurred images (Gaussian, `blur` px: shift-tolerant,
since the mesh's opening and the real one never line up to a pixel), the stlpips distance
(AlexNet, shift-tolerant, at 64 px) of the box, and a one-sided term on the gap's darkest
quartile of luma: it costs only when the corrected cavity's darkest quarter is lighter than the
truth's darkest quarter of the same pixels (the pale sheet of the earlier attempts). Colour
augmentation: per-sample channel gains, greyscale (black-and-white photos), flips. The last
step's weights are kept.
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

from pipeline.mouth_refiner import MouthRefiner, MouthRefinerConfig
from training.mouth_pairs import (
    PairOptions,
    PerceptualDistance,
    build_pairs,
    clip_split,
    load_pairs,
    region_metrics,
)
from weights.loading import write_json

__all__ = ["TrainOptions", "blurred", "darkest_quartile", "train", "judge", "main"]

logger = logging.getLogger(__name__)

LUMA = torch.tensor([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class TrainOptions:
    """batch: patches per step; minutes / steps: stop at whichever comes first; l1, perceptual,
    dark: loss weights (the perceptual term on every `perceptual_every`-th step); blur: sigma (box
    pixels) of the blurred L1; seed: sampling, augmentation and init."""

    batch: int = 16
    minutes: float = 25.0
    steps: int = 100_000
    lr: float = 5e-4
    l1: float = 1.0
    perceptual: float = 1.0
    perceptual_every: int = 2
    dark: float = 2.0
    blur: float = 4.0
    seed: int = 0


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, H, W) Gaussian-blurred (separable, reflect padding)."""
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def darkest_quartile(image: torch.Tensor, region: torch.Tensor, share: float = 0.25) -> torch.Tensor:
    """(B,) mean luma ([-1, 1] units) of the darkest `share` of each sample's pixels where `region`
    (B, 1, H, W) > 0.5; 0 for a sample with fewer than 8 such pixels."""
    luma = (image * LUMA.to(image)[None, :, None, None]).sum(1).flatten(1)
    inside = region.flatten(1) > 0.5
    out = []
    for values, mask in zip(luma, inside, strict=True):
        v = values[mask]
        if v.numel() < 8:
            out.append(values.new_zeros(()))
            continue
        k = max(1, round(share * v.numel()))
        out.append(torch.topk(v, k, largest=False).values.mean())
    return torch.stack(out)


def make_batch(
    data: dict[str, torch.Tensor], idx: np.ndarray, rng: np.random.Generator, augment: bool
) -> dict[str, torch.Tensor]:
    """warp, truth (B, 3, h, w), cover, lips (B, 1, h, w), condition (B, 5) of pairs `idx`."""
    t = torch.from_numpy(idx)
    b = {k: data[k][t].clone() for k in ("warp", "truth", "cover", "lips", "condition")}
    if augment:
        n = len(idx)
        gain = torch.from_numpy(rng.uniform(0.85, 1.15, (n, 3))).float()
        grey = torch.from_numpy(rng.random(n) < 0.1)
        for key in ("warp", "truth"):
            x = ((b[key] + 1) / 2) * gain[:, :, None, None]
            luma = (x * LUMA[None, :, None, None]).sum(1, keepdim=True).expand_as(x)
            b[key] = (torch.where(grey[:, None, None, None], luma, x).clamp(0, 1) * 2 - 1).contiguous()
        lip = b["condition"][:, 2:5] * gain
        lip = torch.where(grey[:, None], (lip * LUMA).sum(1, keepdim=True).expand_as(lip), lip)
        b["condition"][:, 2:5] = lip.clamp(0, 1)
        flip = torch.from_numpy(rng.random(n) < 0.5)
        for key in ("warp", "truth", "cover", "lips"):
            b[key] = torch.where(flip[:, None, None, None], b[key].flip(3), b[key])
    return b


def losses(
    model: MouthRefiner,
    b: dict[str, torch.Tensor],
    options: TrainOptions,
    perceptual: PerceptualDistance | None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The named weighted loss terms of a batch and the corrected patches."""
    out = model.correct(b["warp"], b["cover"], b["lips"], b["condition"])
    cover = b["cover"]
    area = cover.sum().clamp_min(1.0)
    diff = (blurred(out, options.blur) - blurred(b["truth"], options.blur)).abs().mean(1, keepdim=True)
    terms = {"l1": options.l1 * (diff * cover).sum() / area}
    if perceptual is not None:
        small = [F.interpolate(x, size=64, mode="area") for x in (out, b["truth"])]
        terms["perceptual"] = options.perceptual * perceptual(*small).mean()
    if options.dark > 0:
        lighter = darkest_quartile(out, cover) - darkest_quartile(b["truth"], cover)
        terms["dark"] = options.dark * F.relu(lighter).mean()
    return terms, out


def train(
    videos: Path, pairs: Path, out: Path, options: TrainOptions, config: MouthRefinerConfig | None = None
) -> Path:
    """Train on the training identity groups' pairs; writes config, weights and training.json."""
    split = clip_split(videos)
    clips = sorted(c for c, s in split.items() if s == "train")
    data = load_pairs(pairs, clips)
    n = len(data["warp"])
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model = MouthRefiner(config or MouthRefinerConfig())
    perceptual = PerceptualDistance()
    optimiser = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.5, 0.999))
    start, step, running, counts = time.time(), 0, {}, {}
    deadline = start + options.minutes * 60.0
    while step < options.steps and time.time() < deadline:
        b = make_batch(data, rng.integers(0, n, options.batch), rng, augment=True)
        use = perceptual if options.perceptual > 0 and step % options.perceptual_every == 0 else None
        terms, _ = losses(model, b, options, use)
        optimiser.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimiser.step()
        for k, v in terms.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
            counts[k] = counts.get(k, 0) + 1
        step += 1
        if step % 100 == 0:
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
            "pairs": n,
            "torch_threads": torch.get_num_threads(),
        },
    )
    logger.info("saved %s after %d steps, %.1f min", out, step, minutes)
    return out


@torch.no_grad()
def judge(videos: Path, pairs: Path, weights: Path) -> dict:
    """The rule's cross-frame table on the held-out pairs: geometric (network off) vs network;
    also the gap's darkest-quartile luma (0-255) of each and of the truth."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    model = MouthRefiner.from_pretrained(weights)
    perceptual = PerceptualDistance()
    data = load_pairs(pairs, held)
    n = len(data["warp"])
    keys = ("warp", "cover", "lips", "condition")
    network = torch.cat([model.correct(*(data[k][i : i + 64] for k in keys)) for i in range(0, n, 64)])
    table = {
        "geometric": region_metrics(data["warp"], data["truth"], perceptual),
        "network": region_metrics(network, data["truth"], perceptual),
    }
    for name, images in (("geometric", data["warp"]), ("network", network), ("truth", data["truth"])):
        dark = darkest_quartile(images, data["cover"])
        table.setdefault(name, {})["gap_dark_quartile"] = float((dark.mean() + 1) * 127.5)
    g, m = table["geometric"], table["network"]
    wins = {"psnr": m["psnr"] > g["psnr"], "stlpips": m["stlpips"] < g["stlpips"]}
    return {"held_out_clips": held, "table": table, "wins": wins, "metrics_pass": all(wins.values())}


def _markdown(result: dict) -> str:
    lines = [
        "| engine | pairs | PSNR (dB) | SSIM | stlpips | gap darkest quarter (luma) |",
        "|---|---|---|---|---|---|",
    ]
    for engine, r in result["table"].items():
        if "psnr" in r:
            lines.append(
                f"| {engine} | {r['n']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['stlpips']:.4f} "
                f"| {r['gap_dark_quartile']:.1f} |"
            )
        else:
            lines.append(f"| {engine} | | | | | {r['gap_dark_quartile']:.1f} |")
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
        p.add_argument("--pairs", type=Path, default=Path("runs/mouth_pairs"), help="cross-frame pairs")
        if name == "pairs":
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
    if args.command == "pairs":
        build_pairs(args.videos, args.pairs, MouthRefinerConfig(), PairOptions(), clips=tuple(args.clips))
    elif args.command == "train":
        options = TrainOptions(**{f: getattr(args, f) for f in asdict(TrainOptions())})
        train(args.videos, args.pairs, args.out, options)
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
