"""Frame pairs for the mouth and eye refiner, and the region metrics it is judged by.

From each clip of a folder (with MANIFEST.tsv identity groups): the product's reconstruction
backend analyses the first seconds (fixed crop, per-frame coefficients, crop landmarks); frames
with a closed mouth and open eyes are sources; frames with an open mouth (mouth pairs) or closed
eyes (eye pairs) are targets. For each pair the geometric renderer draws the source with the
target's coefficients; the region patches of that rendering, of the photo and of the real target
(the ground truth) are cut with boxes and masks from the meshes (`pipeline.mouth_refiner`) and
cached, one .npz per clip. The thresholds and the split are the ones fixed in
`weights/files/mouth_refiner/README.md`.

Metrics (`region_metrics`): PSNR (dB), SSIM (Gaussian window 11, sigma 1.5, luma) and the stlpips
distance (AlexNet trunk, shift-tolerant variant of `stlpips-pytorch`, an optional training extra).
"""

from __future__ import annotations

import logging
import math
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from audio2motion.dataset import ClipEntry, split_clips
from core.errors import PIRenderError
from pipeline.engines import EngineRegistry
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.mouth_refiner import (
    EYE,
    MOUTH,
    MouthRefinerConfig,
    cut_patch,
    descriptor_for,
    painted_mouth_mask,
    region_gates,
    regions_for,
)
from reconstruction.video import VIDEO_EXTENSIONS, read_identity_groups, read_video

__all__ = [
    "PairOptions",
    "clip_split",
    "build_clip_pairs",
    "build_pairs",
    "load_pairs",
    "psnr",
    "ssim",
    "PerceptualDistance",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairOptions:
    """Thresholds of the rule (see the module docstring)."""

    max_seconds: float = 8.0
    max_side: int = 512
    source_mouth: float = 0.05
    source_eyes: float = 0.22
    target_mouth: float = 0.18
    target_eyes: float = 0.12
    mouth_pairs: int = 40
    eye_pairs: int = 20


def clip_split(videos: Path, held_out_fraction: float = 0.25, seed: int = 0) -> dict[str, str]:
    """clip stem -> "train" | "held_out", by identity group (the rule's split)."""
    groups = read_identity_groups(videos)
    paths = sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    entries = [ClipEntry(p.stem, Path(), p, groups.get(p.name, p.stem)) for p in paths]
    train, held = split_clips(entries, held_out_fraction, seed)
    return {e.clip_id: "train" for e in train} | {e.clip_id: "held_out" for e in held}


def _ratio(lm: np.ndarray, a: int, b: int, c: int, d: int) -> np.ndarray:
    gap = np.linalg.norm(lm[:, a, :2] - lm[:, b, :2], axis=1)
    width = np.linalg.norm(lm[:, c, :2] - lm[:, d, :2], axis=1)
    return gap / np.maximum(width, 1e-6)


def openings(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T,) mouth opening and (T,) smaller eye opening of (T, 478, 3) crop landmarks (NaN where lost)."""
    mouth = _ratio(landmarks, 13, 14, 61, 291)
    eyes = np.minimum(_ratio(landmarks, 159, 145, 33, 133), _ratio(landmarks, 386, 374, 362, 263))
    return mouth, eyes


def _spread(indices: np.ndarray, count: int) -> np.ndarray:
    if len(indices) <= count:
        return indices
    return indices[np.round(np.linspace(0, len(indices) - 1, count)).astype(int)]


def select_pairs(mouth: np.ndarray, eyes: np.ndarray, options: PairOptions) -> list[tuple[int, int, int]]:
    """(source frame, target frame, kind) pairs of one clip, kind MOUTH or EYE."""
    with np.errstate(invalid="ignore"):
        sources = np.flatnonzero((mouth < options.source_mouth) & (eyes > options.source_eyes))
        mouth_targets = np.flatnonzero(mouth > options.target_mouth)
        eye_targets = np.flatnonzero(eyes < options.target_eyes)
    if len(sources) == 0:
        return []
    pairs = []
    for targets, count, kind in (
        (mouth_targets, options.mouth_pairs, MOUTH),
        (eye_targets, options.eye_pairs, EYE),
    ):
        for t in _spread(targets, count):
            s = int(sources[np.argmin(np.abs(sources - t))])
            pairs.append((s, int(t), kind))
    return pairs


def build_clip_pairs(
    path: Path, registry: EngineRegistry, config: MouthRefinerConfig, options: PairOptions
) -> dict[str, np.ndarray] | None:
    """The cached arrays of one clip (see `load_pairs`), or None when it has no usable pair."""
    frames, info = read_video(path, max_seconds=options.max_seconds)
    h, w = frames[0].shape[:2]
    scale = min(1.0, options.max_side / max(h, w))
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    analysis = registry.backend("default").analyze_video(list(frames), fps=info.fps)
    motion = analysis.raw_motion or analysis.motion
    mouth, eyes = openings(analysis.crop_landmarks)
    pairs = select_pairs(mouth, eyes, options)
    if not pairs:
        return None
    # The baseline: the geometric renderer without the refiner (whether or not one is installed).
    renderer = GeometricRenderer(registry.backend("default").model, PreviewSettings(refine=False))
    layout = renderer.projector.layout
    states: dict[int, object] = {}
    out: dict[str, list] = {
        k: [] for k in ("warp", "truth", "source", "mask", "descriptor", "gate", "need", "kind", "frames")
    }
    for s, t, kind in pairs:
        if s not in states:
            states[s] = renderer.prepare(analysis.crops[s], motion.frame(s))
        state = states[s]
        target = motion.frame(t)
        frame = renderer.render_frame(state, target)
        rendered = frame.crop
        painted = painted_mouth_mask(
            frame.overlay_alpha if frame.overlay_alpha is not None else np.zeros(state.size, np.float32)
        )
        target_points = renderer.projector.project(target, state.coeffs.identity, state.size)
        descriptor = descriptor_for(target, state.coeffs, config)
        target_regions = regions_for(target_points, layout, config)
        source_regions = regions_for(state.points, layout, config)
        gates = region_gates(target_points, state.points, layout)
        for tr, sr, gate in zip(target_regions, source_regions, gates, strict=True):
            if tr.kind != kind:
                continue
            out["warp"].append(cut_patch(rendered, tr.matrix, tr.size))
            out["truth"].append(cut_patch(analysis.crops[t], tr.matrix, tr.size))
            out["source"].append(cut_patch(analysis.crops[s], sr.matrix, sr.size))
            out["mask"].append((tr.mask * 255).astype(np.uint8))
            need = cut_patch(painted, tr.matrix, tr.size) if kind == MOUTH else np.ones_like(tr.mask)
            out["need"].append((need * 255).astype(np.uint8))
            out["descriptor"].append(descriptor)
            out["gate"].append(np.float32(gate))
            out["kind"].append(kind)
            out["frames"].append((s, t))
    arrays: dict[str, np.ndarray] = {}
    for kind, name in ((MOUTH, "mouth"), (EYE, "eye")):
        sel = [i for i, k in enumerate(out["kind"]) if k == kind]
        for key in ("warp", "truth", "source", "mask", "descriptor", "gate", "need", "frames") if sel else ():
            arrays[f"{name}_{key}"] = np.stack([out[key][i] for i in sel])
    return arrays


def build_pairs(
    videos: Path, folder: Path, config: MouthRefinerConfig, options: PairOptions, clips: Sequence[str] = ()
) -> None:
    """Cache the pairs of every clip of `videos` (or of `clips`) in `folder`, one .npz per clip;
    clips already cached are kept (the run is resumable)."""
    folder.mkdir(parents=True, exist_ok=True)
    registry = EngineRegistry(fast=False)
    paths = sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    for path in paths:
        if clips and path.stem not in clips:
            continue
        target, empty = folder / f"{path.stem}.npz", folder / f"{path.stem}.none"
        if target.exists() or empty.exists():
            continue
        try:
            arrays = build_clip_pairs(path, registry, config, options)
        except PIRenderError as exc:
            logger.warning("skipping %s: %s", path.name, exc)
            arrays = None
        if arrays is None:
            empty.write_text("no usable pair\n")
            continue
        np.savez_compressed(target, **arrays)
        logger.info(
            "%s: %d mouth, %d eye patches",
            path.stem,
            len(arrays.get("mouth_warp", ())),
            len(arrays.get("eye_warp", ())),
        )


def load_pairs(folder: Path, clips: Sequence[str], kind: str) -> dict[str, torch.Tensor]:
    """Stack the cached pairs of `clips` for kind "mouth" | "eye": warp, truth, source (B, 3, h, w)
    in [-1, 1], mask (B, 1, h, w) in [0, 1], descriptor (B, D), gate (B,) and need (B, 1, h, w) (1 where not cached)."""
    keys = ("warp", "truth", "source", "mask", "descriptor", "gate", "need")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for clip in clips:
        path = folder / f"{clip}.npz"
        if not path.is_file():
            continue
        with np.load(path) as data:
            if f"{kind}_warp" not in data.files:
                continue
            n = len(data[f"{kind}_warp"])
            for key in parts:
                name = f"{kind}_{key}"
                if name in data.files:
                    parts[key].append(data[name])
                elif key == "need":  # caches made before the painted-gap restriction: everywhere
                    parts[key].append(np.full(data[f"{kind}_mask"].shape, 255, np.uint8))
                else:
                    parts[key].append(np.ones(n, np.float32))
    out: dict[str, torch.Tensor] = {}
    for key, values in parts.items():
        arr = np.concatenate(values) if values else np.zeros((0,))
        if key in ("warp", "truth", "source"):
            out[key] = torch.from_numpy(arr.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2).contiguous()
        elif key in ("mask", "need"):
            out[key] = torch.from_numpy(arr.astype(np.float32) / 255.0)[:, None].contiguous()
        else:
            out[key] = torch.from_numpy(arr.astype(np.float32))
    return out


# ------------------------------------------------------------------------------------------------
# Metrics (images (B, 3, H, W) in [-1, 1])
# ------------------------------------------------------------------------------------------------


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB of 8-bit images (the inputs are quantised to 8 bits first)."""
    qa, qb = ((a + 1) * 127.5).round(), ((b + 1) * 127.5).round()
    mse = ((qa - qb) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(255.0**2 / mse)


def _luma(x: torch.Tensor) -> torch.Tensor:
    rgb = ((x + 1) * 127.5).round()
    return (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]).double()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) SSIM on luma (0-255), Gaussian window 11, sigma 1.5, valid positions only."""
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :])[None, None]
    x, y = _luma(a), _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = F.conv2d(x, window), F.conv2d(y, window)
    sxx = F.conv2d(x * x, window) - mx**2
    syy = F.conv2d(y * y, window) - my**2
    sxy = F.conv2d(x * y, window) - mx * my
    value = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return value.flatten(1).mean(1).float()


class PerceptualDistance(torch.nn.Module):
    """stlpips distance (AlexNet trunk, shift-tolerant), (B,) for images in [-1, 1]; min side resized to 64.

    Needs the optional `stlpips-pytorch` package (and IPython + torchsummary, which it imports).
    Its module imports torchvision for the variants not used here; when torchvision is absent an
    empty stand-in module satisfies that import (the shift-tolerant AlexNet is built without it).
    """

    def __init__(self) -> None:
        super().__init__()
        if "torchvision" not in sys.modules:
            try:
                import torchvision  # noqa: F401
            except ImportError:
                stand_in = types.ModuleType("torchvision")
                stand_in.models = types.ModuleType("torchvision.models")
                sys.modules["torchvision"] = stand_in
                sys.modules["torchvision.models"] = stand_in.models
        from stlpips_pytorch import stlpips

        self.metric = stlpips.LPIPS(net="alex", variant="shift_tolerant", verbose=False).eval()
        for p in self.metric.parameters():
            p.requires_grad_(False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        h, w = a.shape[2:]
        if min(h, w) < 64:
            size = (round(h * 64 / min(h, w)), round(w * 64 / min(h, w)))
            a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
            b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
        return self.metric(a, b).flatten()


def region_metrics(
    out: torch.Tensor, truth: torch.Tensor, perceptual: PerceptualDistance, batch: int = 64
) -> dict[str, float]:
    """Mean PSNR, SSIM and stlpips of `out` against `truth` (B, 3, h, w) in [-1, 1]."""
    if len(out) == 0:
        return {"psnr": math.nan, "ssim": math.nan, "stlpips": math.nan, "n": 0}
    with torch.no_grad():
        dist = torch.cat(
            [perceptual(out[i : i + batch], truth[i : i + batch]) for i in range(0, len(out), batch)]
        )
    return {
        "psnr": float(psnr(out, truth).mean()),
        "ssim": float(ssim(out, truth).mean()),
        "stlpips": float(dist.mean()),
        "n": len(out),
    }
