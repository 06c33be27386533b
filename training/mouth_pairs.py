"""The rule's cross-frame mouth pairs, and the region metrics the mouth networks are judged by.

From each clip of a folder (with MANIFEST.tsv identity groups): the product's reconstruction
backend analyses the first seconds (fixed crop, per-frame coefficients, crop landmarks) of the
frames scaled to at most `max_side`; frames with a closed mouth are sources, frames with an open
mouth are targets (same clip, same person; `select_pairs`). The judged box (`mouth_box`) lies
around the target's inner lips; the ground truth is the real target's mouth cut from the clip's
**native-resolution** frame through the same box (`native_patch`). The thresholds and the split
are the rule's (docs/MOUTH_REFINER.md); `training.mouth_looks` builds and caches the pairs.

Metrics (`region_metrics`): PSNR (dB), SSIM (Gaussian window 11, sigma 1.5, luma) and the stlpips
distance (AlexNet trunk, shift-tolerant variant of `stlpips-pytorch`, an optional training extra).
"""

from __future__ import annotations

import logging
import math
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from audio2motion.dataset import ClipEntry, split_clips
from pipeline.engines import EngineRegistry
from reconstruction.video import VIDEO_EXTENSIONS, read_identity_groups, read_video

__all__ = [
    "PairOptions",
    "clip_split",
    "ClipAnalysis",
    "analyse_clip",
    "native_to_patch",
    "mouth_box",
    "cut_patch",
    "native_patch",
    "psnr",
    "ssim",
    "PerceptualDistance",
    "region_metrics",
]

logger = logging.getLogger(__name__)

#: The judged box: its side in pixels, and over the inner lips' width.
BOX_SIZE, BOX_MARGIN = 96, 1.3


@dataclass(frozen=True)
class PairOptions:
    """Thresholds of the rule: the first `max_seconds`, analysed at most `max_side` px; source
    frames with an inner-lip gap / mouth width under `source_mouth` (and at least `source_min`),
    targets over `target_mouth`; at most `pairs` per clip, spread over its targets.
    `HALF_OPEN` (training only) takes sources that already show some teeth."""

    max_seconds: float = 8.0
    max_side: int = 512
    source_min: float = 0.0
    source_mouth: float = 0.05
    target_mouth: float = 0.18
    pairs: int = 40


#: Training pairs whose photo already shows part of its teeth: the renderer keeps them and paints
#: only the gap between them (as on a smiling photo), whose truth is mostly the mouth's dark inside.
HALF_OPEN = PairOptions(source_min=0.06, source_mouth=0.15, target_mouth=0.25, pairs=25)


def clip_split(videos: Path, held_out_fraction: float = 0.25, seed: int = 0) -> dict[str, str]:
    """clip stem -> "train" | "held_out", by identity group (the rule's split)."""
    groups = read_identity_groups(videos)
    paths = sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    entries = [ClipEntry(p.stem, Path(), p, groups.get(p.name, p.stem)) for p in paths]
    train, held = split_clips(entries, held_out_fraction, seed)
    return {e.clip_id: "train" for e in train} | {e.clip_id: "held_out" for e in held}


def mouth_box(points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray], size: int = BOX_SIZE) -> np.ndarray:
    """(2, 3) crop pixels -> the judged box around the inner lips of a projected mesh (N, 2+);
    `mouth`: the layout's (upper, lower) inner-lip vertex indices."""
    upper, lower = mouth
    ring = np.concatenate([points[upper, :2], points[lower[::-1], :2]]).astype(np.float64)
    side = BOX_MARGIN * max(float(np.ptp(ring[:, 0])), 4.0)
    scale = size / side
    centre = ring.mean(axis=0)
    return np.array(
        [[scale, 0.0, -(centre[0] - side / 2) * scale], [0.0, scale, -(centre[1] - side / 2) * scale]]
    )


def cut_patch(image: np.ndarray, matrix: np.ndarray, size: int = BOX_SIZE) -> np.ndarray:
    """(size, size, C) patch of `image` through `matrix` (image -> patch), bilinear."""
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def mouth_ratio(landmarks: np.ndarray) -> np.ndarray:
    """(T,) inner-lip gap (13-14) over mouth width (61-291) of (T, 478, 3) crop landmarks."""
    gap = np.linalg.norm(landmarks[:, 13, :2] - landmarks[:, 14, :2], axis=1)
    width = np.linalg.norm(landmarks[:, 61, :2] - landmarks[:, 291, :2], axis=1)
    return gap / np.maximum(width, 1e-6)


def select_pairs(mouth: np.ndarray, options: PairOptions) -> list[tuple[int, int]]:
    """(source frame, target frame) pairs of one clip: targets spread evenly, each with the
    nearest source frame in time."""
    with np.errstate(invalid="ignore"):
        sources = np.flatnonzero((mouth >= options.source_min) & (mouth < options.source_mouth))
        targets = np.flatnonzero(mouth > options.target_mouth)
    if len(sources) == 0 or len(targets) == 0:
        return []
    if len(targets) > options.pairs:
        targets = targets[np.round(np.linspace(0, len(targets) - 1, options.pairs)).astype(int)]
    return [(int(sources[np.argmin(np.abs(sources - t))]), int(t)) for t in targets]


def native_patch(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cut a patch through `matrix` (native frame -> patch) with a prefilter when it shrinks."""
    shrink = 1.0 / max(float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))), 1e-6)
    if shrink > 1.2:
        frame = cv2.GaussianBlur(frame, (0, 0), 0.45 * shrink)
    return cut_patch(frame, matrix, size)


@dataclass
class ClipAnalysis:
    """One clip read and analysed: native frames, the backend's analysis, its per-frame
    coefficients, and the (2, 3) map from a native frame to the crop."""

    native: np.ndarray
    analysis: object
    motion: object
    native_to_crop: np.ndarray


def analyse_clip(path: Path, registry: EngineRegistry, options: PairOptions) -> ClipAnalysis:
    """Read the first seconds of a clip and analyse its frames scaled to at most `max_side` px."""
    native, info = read_video(path, max_seconds=options.max_seconds)
    h, w = native[0].shape[:2]
    scale = min(1.0, options.max_side / max(h, w))
    frames = native
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in native])
    analysis = registry.backend("default").analyze_video(list(frames), fps=info.fps)
    crop_affine = np.asarray(analysis.crop_transform.affine, np.float64)
    native_to_crop = np.concatenate([crop_affine[:, :2] * scale, crop_affine[:, 2:]], axis=1)
    return ClipAnalysis(native, analysis, analysis.raw_motion or analysis.motion, native_to_crop)


def native_to_patch(clip: ClipAnalysis, matrix: np.ndarray) -> np.ndarray:
    """(2, 3) native frame -> patch, for a crop -> patch `matrix`."""
    n = clip.native_to_crop
    return np.concatenate([matrix[:, :2] @ n[:, :2], matrix[:, :2] @ n[:, 2:] + matrix[:, 2:]], 1)


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
