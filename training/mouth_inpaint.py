"""Same-frame inpainting samples for the mouth-interior network, and the holes it learns to fill.

From each clip's frames whose mouth is open (MediaPipe inner-lip gap (13-14) / mouth width
(61-291) over `OPEN`), a square box around that frame's own inner lips (the network's box:
`mouth_margin` x their width) is cut twice: from the 256 px crop (the context, at the resolution
the renderer's crop has at inference) and from the clip's native-resolution frame (the truth).
Both are the same frame, so the truth is aligned with the context to the pixel. The holes are
drawn at training time from the frame's inner-lip ring (`random_hole`): mostly a band across the
middle of the opening (from below the upper teeth to above the lower teeth or down to the lower
lip), sometimes the whole opening, with shape jitter and a soft edge, like the gap the geometric
renderer paints. One .npz per clip; the held-out clips also get the cross-frame pairs of the rule
(`training.mouth_pairs`) from the same analysis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from core.errors import PIRenderError
from pipeline.engines import EngineRegistry
from pipeline.mouth_refiner import MouthRefinerConfig, cut_patch
from reconstruction.video import VIDEO_EXTENSIONS
from training.mouth_pairs import (
    ClipAnalysis,
    PairOptions,
    _native_patch,
    analyse_clip,
    build_clip_pairs,
    clip_split,
    mouth_ratio,
    native_to_patch,
)

__all__ = [
    "OPEN",
    "UPPER",
    "LOWER",
    "build_samples",
    "load_samples",
    "shows_opening",
    "random_hole",
    "holes_for",
]

logger = logging.getLogger(__name__)

#: MediaPipe inner lips, corner to corner (78 -> 308); UPPER[i] faces LOWER[i].
UPPER = np.array([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308])
LOWER = np.array([78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308])
#: (inner, outer) lip landmarks whose midpoints sample the lip colour.
_LIP_PAIRS = np.array([[13, 0], [82, 37], [312, 267], [14, 17], [87, 84], [317, 314]])
#: Frames whose opening exceeds this are samples.
OPEN = 0.15
SAMPLES_PER_CLIP = 60
KEYS = ("context", "truth", "lips", "ring", "opening", "lip")


def _box(ring: np.ndarray, config: MouthRefinerConfig) -> np.ndarray:
    """(2, 3) crop -> patch for an inner-lip ring (as `pipeline.mouth_refiner.mouth_box`)."""
    side = config.mouth_margin * max(float(np.ptp(ring[:, 0])), 4.0)
    scale = config.size / side
    c = ring.mean(axis=0)
    return np.array([[scale, 0.0, -(c[0] - side / 2) * scale], [0.0, scale, -(c[1] - side / 2) * scale]])


def _lips_mask(ring: np.ndarray, config: MouthRefinerConfig) -> np.ndarray:
    """(size, size) float32 inner-lip mask of a ring in patch pixels, grown and softened as the box's."""
    mask = np.zeros((config.size, config.size), np.uint8)
    cv2.fillPoly(mask, [np.round(ring * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    r = max(1, round(config.mask_grow * config.size))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return np.clip(cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(1.0, r / 2.0)), 0, 1)


def clip_samples(clip: ClipAnalysis, config: MouthRefinerConfig) -> dict[str, np.ndarray] | None:
    """The inpainting samples of one analysed clip, or None when no frame's mouth is open."""
    landmarks = clip.analysis.crop_landmarks
    with np.errstate(invalid="ignore"):
        frames = np.flatnonzero(mouth_ratio(landmarks) > OPEN)
    if len(frames) == 0:
        return None
    if len(frames) > SAMPLES_PER_CLIP:
        frames = frames[np.round(np.linspace(0, len(frames) - 1, SAMPLES_PER_CLIP)).astype(int)]
    out: dict[str, list] = {k: [] for k in (*KEYS, "frames")}
    for t in frames:
        lm = landmarks[t, :, :2].astype(np.float64)
        ring = np.concatenate([lm[UPPER], lm[LOWER[::-1]]])
        m = _box(ring, config)
        ring_patch = ring @ m[:, :2].T + m[:, 2]
        x, y = ring[:, 0], ring[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        mid = (lm[_LIP_PAIRS[:, 0]] + lm[_LIP_PAIRS[:, 1]]) / 2
        crop = clip.analysis.crops[t]
        xy = np.clip(np.round(mid).astype(int), 0, np.array(crop.shape[1::-1]) - 1)
        out["context"].append(cut_patch(crop, m, config.size))
        out["truth"].append(_native_patch(clip.native[t], native_to_patch(clip, m), config.size))
        out["lips"].append((_lips_mask(ring_patch, config) * 255).astype(np.uint8))
        out["ring"].append(ring_patch.astype(np.float32))
        out["opening"].append(area / max(float(np.ptp(x)), 1.0) ** 2)
        out["lip"].append(np.median(crop[xy[:, 1], xy[:, 0]].astype(np.float32), axis=0))
        out["frames"].append(t)
    return {key: np.stack(values) for key, values in out.items()}


def build_samples(
    videos: Path, folder: Path, pairs: Path, config: MouthRefinerConfig, clips: Sequence[str] = ()
) -> None:
    """Cache every clip's inpainting samples in `folder` and the held-out clips' cross-frame pairs
    (the rule's) in `pairs`, one analysis per clip; finished clips are kept (resumable)."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs.mkdir(parents=True, exist_ok=True)
    split = clip_split(videos)
    registry = EngineRegistry(fast=False)
    options = PairOptions()
    for path in sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS):
        if clips and path.stem not in clips:
            continue
        held = split.get(path.stem) == "held_out"
        done = folder / f"{path.stem}.done"
        if done.exists():
            continue
        try:
            clip = analyse_clip(path, registry, options)
        except PIRenderError as exc:
            logger.warning("skipping %s: %s", path.name, exc)
            done.write_text("unreadable\n")
            continue
        samples = clip_samples(clip, config)
        if samples is not None:
            np.savez_compressed(folder / f"{path.stem}.npz", **samples)
        if held:
            arrays = build_clip_pairs(clip, registry, config, options)
            if arrays is not None:
                np.savez_compressed(pairs / f"{path.stem}.npz", **arrays)
        done.write_text("ok\n")
        logger.info(
            "%s (%s): %d samples",
            path.stem,
            "held out" if held else "train",
            0 if samples is None else len(samples["truth"]),
        )


def load_samples(folder: Path, clips: Sequence[str]) -> dict[str, np.ndarray]:
    """Stack the cached samples of `clips` (numpy, as stored)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in KEYS}
    for clip in clips:
        path = folder / f"{clip}.npz"
        if path.is_file():
            with np.load(path) as data:
                for key in KEYS:
                    parts[key].append(data[key])
    if not parts["truth"]:
        raise FileNotFoundError(f"no cached samples of these clips in '{folder}'; run the `data` step first")
    data = {k: np.concatenate(v) for k, v in parts.items()}
    keep = np.array(
        [shows_opening(t, r, c) for t, r, c in zip(data["truth"], data["ring"], data["lip"], strict=True)]
    )
    return {k: v[keep] for k, v in data.items()}


def shows_opening(truth: np.ndarray, ring: np.ndarray, lip: np.ndarray) -> bool:
    """Whether the frame really shows an opening: the darkest fifth of the pixels inside its inner
    lips is darker than 0.7 x the lip colour's luma (a frame whose landmarks call closed lips open
    would teach the network to fill the mouth with lip)."""
    mask = np.zeros(truth.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(ring).astype(np.int32)], 1)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    inside = truth[mask > 0].astype(np.float32) @ weights
    return len(inside) >= 20 and float(np.percentile(inside, 20)) < 0.7 * float(lip @ weights)


def random_hole(ring: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) float32 soft hole in [0, 1] over the opening of an inner-lip ring (22, 2) in
    patch pixels: a band from a fraction `a` to `b` of the way from the upper to the lower inner
    lip (the middle band with p 0.65, else the whole opening), its points jittered, grown or shrunk
    by up to 1 px and feathered."""
    upper, lower = ring[:11], ring[11:][::-1]
    if rng.random() < 0.65:
        a, b = rng.uniform(0.12, 0.45), rng.uniform(0.55, 1.0)
    else:
        a, b = rng.uniform(-0.05, 0.08), rng.uniform(0.92, 1.08)
    top, bottom = upper + a * (lower - upper), upper + b * (lower - upper)
    poly = np.concatenate([top, bottom[::-1]]) + rng.normal(0.0, 0.8, (22, 2))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    grow = int(rng.integers(-1, 2))
    if grow:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(grow) + 1,) * 2)
        mask = cv2.dilate(mask, kernel) if grow > 0 else cv2.erode(mask, kernel)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), rng.uniform(0.5, 1.5))
    return np.clip(soft, 0.0, 1.0)


def holes_for(rings: np.ndarray, size: int, rng: np.random.Generator) -> torch.Tensor:
    """(B, 1, size, size) random holes for (B, 22, 2) rings."""
    return torch.from_numpy(np.stack([random_hole(r, size, rng) for r in rings]))[:, None]
