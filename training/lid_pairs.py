"""Blink pairs for the lid network (`pipeline.lid_net`), and the eye-box metrics it is judged by.

    python -m training.lid_pairs --videos ../shared/data/videos --pairs runs/lid_pairs

From each clip (MANIFEST.tsv identity groups; `clip_split` is the held-out split by group used by
the other evaluations): the default backend analyses the first `max_seconds` of the frames scaled
to at most `max_side` px (fixed crop, per-frame coefficients, crop landmarks). Per frame and eye
the mesh's opening (`eye_openings`: lid gap over the eye's width) finds blinks: targets are frames
where both eyes are under `target_open` x the clip's median opening, each paired with the nearest
frame in time where both are at least `source_open` x it (`select_pairs`). The geometric renderer
(lid network off) draws the source with the target's coefficients; for each eye it shuts, the net's
input (`pipeline.lid_net.net_inputs`) and the truth, the real target frame at its **native**
resolution through the same eye box (`native_patch`), are kept. One .npz per clip (resumable),
with the source crops and the clip's coefficients so the judge can render the pairs again.

Metrics (`region_metrics`, images (B, 3, H, W) in [-1, 1]): PSNR (dB), SSIM (Gaussian window 11,
sigma 1.5, luma) and the stlpips distance (AlexNet trunk, shift-tolerant variant of
`stlpips-pytorch`, an optional training extra that imports IPython and torchsummary).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import types
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
from pipeline.lid_net import PATCH, closure, condition, net_inputs, shut_lids
from reconstruction.video import VIDEO_EXTENSIONS, read_identity_groups, read_video

__all__ = [
    "PairOptions",
    "clip_split",
    "validation_clips",
    "eye_openings",
    "select_pairs",
    "native_patch",
    "shut_eyes",
    "build_pairs",
    "load_pairs",
    "psnr",
    "ssim",
    "PerceptualDistance",
    "region_metrics",
]

logger = logging.getLogger(__name__)

#: MediaPipe landmarks per eye: (upper lid, lower lid, one corner, the other corner).
_EYE_POINTS = ((159, 145, 33, 133), (386, 374, 362, 263))


@dataclass(frozen=True)
class PairOptions:
    """The rule's thresholds (docs/LID_NET.md)."""

    max_seconds: float = 8.0
    max_side: int = 512
    target_open: float = 0.4
    source_open: float = 0.85
    pairs: int = 12


def _entries(videos: Path) -> list[ClipEntry]:
    groups = read_identity_groups(videos)
    paths = sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    return [ClipEntry(p.stem, Path(), p, groups.get(p.name, p.stem)) for p in paths]


def clip_split(videos: Path, held_out_fraction: float = 0.25, seed: int = 0) -> dict[str, str]:
    """clip stem -> "train" | "held_out", by identity group."""
    train, held = split_clips(_entries(videos), held_out_fraction, seed)
    return {e.clip_id: "train" for e in train} | {e.clip_id: "held_out" for e in held}


def validation_clips(videos: Path, fraction: float = 0.25, seed: int = 1) -> set[str]:
    """Training clips set aside by identity group for early stopping (never the held-out groups of
    `clip_split`, which stay out of training, checkpoint choice and tuning)."""
    split = clip_split(videos)
    _, aside = split_clips([e for e in _entries(videos) if split[e.clip_id] == "train"], fraction, seed)
    return {e.clip_id for e in aside}


def eye_openings(landmarks: np.ndarray) -> np.ndarray:
    """(T, 2) lid gap over eye width per frame and eye, from (T, 478, 3) crop landmarks (NaN where
    the face was not found)."""
    out = []
    for up, lo, a, b in _EYE_POINTS:
        gap = np.linalg.norm(landmarks[:, up, :2] - landmarks[:, lo, :2], axis=1)
        width = np.linalg.norm(landmarks[:, a, :2] - landmarks[:, b, :2], axis=1)
        out.append(gap / np.maximum(width, 1e-6))
    return np.stack(out, axis=1)


def select_pairs(openings: np.ndarray, options: PairOptions) -> list[tuple[int, int]]:
    """(source, target) frames of one clip: blink targets spread evenly, each with the nearest
    open frame in time."""
    median = np.nanmedian(openings, axis=0)
    if not np.all(np.isfinite(median)) or np.any(median <= 0):
        return []
    with np.errstate(invalid="ignore"):
        targets = np.flatnonzero(np.all(openings < options.target_open * median, axis=1))
        sources = np.flatnonzero(np.all(openings >= options.source_open * median, axis=1))
    if len(targets) == 0 or len(sources) == 0:
        return []
    if len(targets) > options.pairs:
        targets = targets[np.round(np.linspace(0, len(targets) - 1, options.pairs)).astype(int)]
    return [(int(sources[np.argmin(np.abs(sources - t))]), int(t)) for t in targets]


def native_patch(frame: np.ndarray, matrix: np.ndarray, size: tuple[int, int] = PATCH) -> np.ndarray:
    """Cut a (size[1], size[0], 3) patch of a native frame through `matrix` (native -> patch),
    with a prefilter when it shrinks."""
    shrink = 1.0 / max(float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))), 1e-6)
    if shrink > 1.2:
        frame = cv2.GaussianBlur(frame, (0, 0), 0.45 * shrink)
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _compose(crop_to_patch: np.ndarray, native_to_crop: np.ndarray) -> np.ndarray:
    """(2, 3) native -> patch."""
    a, n = crop_to_patch, native_to_crop
    return np.concatenate([a[:, :2] @ n[:, :2], a[:, :2] @ n[:, 2:] + a[:, 2:]], axis=1)


def shut_eyes(renderer: GeometricRenderer, state, target) -> list[tuple[int, tuple, tuple]]:
    """(eye index, photo's lids, target's lids) of each eye the geometric renderer shuts."""
    points = renderer.projector.project(target, state.coeffs.identity, state.size)
    return shut_lids(state.points, points, renderer.projector.layout.eyes, state.size)


def _clip_arrays(path: Path, registry: EngineRegistry, options: PairOptions) -> dict | None:
    native, info = read_video(path, max_seconds=options.max_seconds)
    h, w = native[0].shape[:2]
    scale = min(1.0, options.max_side / max(h, w))
    frames = native
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in native])
    analysis = registry.backend("default").analyze_video(list(frames), fps=info.fps)
    affine = np.asarray(analysis.crop_transform.affine, np.float64)
    native_to_crop = np.concatenate([affine[:, :2] * scale, affine[:, 2:]], axis=1)
    motion = analysis.raw_motion or analysis.motion
    pairs = select_pairs(eye_openings(analysis.crop_landmarks), options)
    if not pairs:
        return None
    renderer = GeometricRenderer(registry.backend("default").model, PreviewSettings())
    states: dict[int, object] = {}
    out: dict[str, list] = {k: [] for k in ("frames", "eye", "inputs", "condition", "truth", "matrix")}
    for s, t in pairs:
        if s not in states:
            states[s] = renderer.prepare(analysis.crops[s], motion.frame(s))
        state, target = states[s], motion.frame(t)
        eyes = shut_eyes(renderer, state, target)
        if not eyes:
            continue
        crop = renderer.render_frame(state, target).crop
        for k, source_lids, target_lids in eyes:
            made = net_inputs(crop, state.source, source_lids, target_lids)
            if made is None:
                continue
            inputs, matrix, _, _ = made
            out["frames"].append((s, t))
            out["eye"].append(k)
            out["inputs"].append(inputs.astype(np.float16))
            out["condition"].append(condition(closure(source_lids, target_lids), state.exposure))
            out["truth"].append(native_patch(native[t], _compose(matrix, native_to_crop)))
            out["matrix"].append(matrix)
    if not out["eye"]:
        return None
    arrays = {k: np.stack(v) for k, v in out.items()}
    sources = sorted(states)
    arrays["source_frames"] = np.array(sources)
    arrays["source_crops"] = np.stack([analysis.crops[i] for i in sources])
    arrays |= {
        "m_expression": motion.expression,
        "m_angles": motion.angles,
        "m_translation": motion.translation,
        "m_crop": motion.crop,
        "m_fps": np.float32(motion.fps),
        "m_face_model": np.array(motion.face_model),
    }
    if motion.identity is not None:
        arrays["m_identity"] = motion.identity
    return arrays


def build_pairs(
    videos: Path, folder: Path, options: PairOptions | None = None, only: str | None = None
) -> None:
    """Cache every clip's pairs in `folder` (one .npz per clip; a clip without pairs leaves a .none);
    with `only` ("train" or "held_out"), the clips of that side of the split only."""
    options = options or PairOptions()
    folder.mkdir(parents=True, exist_ok=True)
    split = clip_split(videos)
    registry = EngineRegistry(fast=False)
    for path in sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS):
        if only is not None and split.get(path.stem) != only:
            continue
        target, empty = folder / f"{path.stem}.npz", folder / f"{path.stem}.none"
        if target.exists() or empty.exists():
            continue
        start = time.perf_counter()
        try:
            arrays = _clip_arrays(path, registry, options)
        except PIRenderError as exc:
            logger.warning("skipping %s: %s", path.name, exc)
            arrays = None
        if arrays is None:
            empty.write_text("no usable pair\n")
            continue
        np.savez_compressed(target, **arrays)
        logger.info(
            "%s (%s): %d shut eyes, %.1f s",
            path.stem, split.get(path.stem), len(arrays["eye"]), time.perf_counter() - start,
        )  # fmt: skip


def load_pairs(folder: Path, clips: list[str], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The `keys` arrays of the cached `clips`, concatenated (clips without pairs are skipped)."""
    parts: dict[str, list] = {k: [] for k in keys}
    for clip in clips:
        path = folder / f"{clip}.npz"
        if path.is_file():
            with np.load(path) as data:
                for k in keys:
                    parts[k].append(data[k])
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}


# ------------------------------------------------------------------------------------------------
# Metrics (images (B, 3, H, W) in [-1, 1])
# ------------------------------------------------------------------------------------------------


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB of 8-bit images (both quantised to 8 bits first)."""
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


def _stand_in(name: str, **attributes: object) -> None:
    """An empty module for an import of stlpips that the shift-tolerant AlexNet does not use,
    when the real one is absent."""
    if name in sys.modules:
        return
    try:
        __import__(name)
    except ImportError:
        module = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(module, key, value)
            if isinstance(value, types.ModuleType):
                sys.modules[f"{name}.{key}"] = value
        sys.modules[name] = module


class PerceptualDistance(torch.nn.Module):
    """stlpips distance (AlexNet trunk, shift-tolerant), (B,) for images in [-1, 1]; the shorter
    side is resized to 64 first. Differentiable (a training loss as well as a metric).

    Needs the optional `stlpips-pytorch` package. It imports torchvision, IPython and torchsummary
    for things not used here; when they are absent, empty stand-in modules satisfy those imports
    (the shift-tolerant AlexNet and its weights come with the package).
    """

    def __init__(self) -> None:
        super().__init__()
        _stand_in("torchvision", models=types.ModuleType("torchvision.models"))
        _stand_in("IPython", embed=lambda *a, **k: None)
        _stand_in("torchsummary", summary=lambda *a, **k: None)
        from stlpips_pytorch import stlpips

        self.metric = stlpips.LPIPS(net="alex", variant="shift_tolerant", verbose=False).eval()
        for p in self.metric.parameters():
            p.requires_grad_(False)

    def forward(self, a: torch.Tensor, b: torch.Tensor, resize: bool = True) -> torch.Tensor:
        """resize=False: at the images' own size (a cheaper training loss)."""
        h, w = a.shape[2:]
        if resize and min(h, w) < 64:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cache the lid network's blink pairs.")
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--pairs", type=Path, default=Path("runs/lid_pairs"))
    parser.add_argument(
        "--more",
        action="store_true",
        help="training clips only, more of each clip (20 s, 40 targets): extra training pairs, never judged",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.more:
        build_pairs(args.videos, args.pairs, PairOptions(max_seconds=20.0, pairs=40), only="train")
    else:
        build_pairs(args.videos, args.pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
