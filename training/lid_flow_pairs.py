"""Blink pairs for the lid warping network (`pipeline.lid_flow`), by LID_NET's rule (docs/LID_FLOW.md).

    python -m training.lid_flow_pairs --videos ../shared/data/videos --pairs runs/lid_flow_pairs

From each clip (MANIFEST.tsv identity groups; `clip_split` is the held-out split by group of the
other evaluations): the default backend analyses the first `max_seconds` of the frames scaled to at
most `max_side` px. Per frame and eye the mesh's opening (lid gap over the eye's width) finds
blinks: targets are frames where both eyes are under `target_open` x the clip's median opening,
each paired with the nearest frame in time where both are at least `source_open` x it. The
geometric renderer (network off) draws the source with the target's coefficients; for each eye it
shuts, the network's input (`lid_flow_geometry.net_inputs`), the crop point each box pixel reads
geometrically (`base`, for the differentiable read in training) and the truth, the real target
frame at its native resolution through the same eye box, are kept. One .npz per clip (resumable),
with the source crops and the clip's coefficients so the judge can render the pairs again.
LID_NET's pair code (commit 15bb372) with the flow's extra arrays.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from audio2motion.dataset import ClipEntry, split_clips
from core.errors import PIRenderError
from pipeline.engines import EngineRegistry
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.lid_flow_geometry import PATCH, closure, condition, net_inputs, shut_lids
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
]

logger = logging.getLogger(__name__)

#: MediaPipe landmarks per eye: (upper lid, lower lid, one corner, the other corner).
_EYE_POINTS = ((159, 145, 33, 133), (386, 374, 362, 263))


@dataclass(frozen=True)
class PairOptions:
    """The rule's thresholds (docs/LID_FLOW.md)."""

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
    """Training clips set aside by identity group for checkpoint choice (never the held-out groups
    of `clip_split`, which stay out of training, checkpoint choice and tuning)."""
    split = clip_split(videos)
    _, aside = split_clips([e for e in _entries(videos) if split[e.clip_id] == "train"], fraction, seed)
    return {e.clip_id for e in aside}


def eye_openings(landmarks: np.ndarray) -> np.ndarray:
    """(T, 2) lid gap over eye width per frame and eye, from (T, 478, 3) crop landmarks."""
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
    """Cut a (size[1], size[0], 3) patch of a frame through `matrix` (frame -> patch), with a
    prefilter when it shrinks."""
    shrink = 1.0 / max(float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))), 1e-6)
    if shrink > 1.2:
        frame = cv2.GaussianBlur(frame, (0, 0), 0.45 * shrink)
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _compose(crop_to_patch: np.ndarray, native_to_crop: np.ndarray) -> np.ndarray:
    """(2, 3) native -> patch."""
    a, n = crop_to_patch, native_to_crop
    return np.concatenate([a[:, :2] @ n[:, :2], a[:, :2] @ n[:, 2:] + a[:, 2:]], axis=1)


def shut_eyes(renderer: GeometricRenderer, state, target) -> list:
    """(eye index, photo's lids, target's lids) of each eye the geometric renderer shuts."""
    points = renderer.target_points(state, target)
    return shut_lids(state.points, points, renderer.projector.layout.eyes, state.wide)


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
    keys = ("frames", "eye", "inputs", "condition", "truth", "matrix", "base", "source_index")
    out: dict[str, list] = {k: [] for k in keys}
    for s, t in pairs:
        if s not in states:
            states[s] = renderer.prepare(analysis.crops[s], motion.frame(s))
        state, target = states[s], motion.frame(t)
        eyes = shut_eyes(renderer, state, target)
        if not eyes:
            continue
        frame = renderer.render_frame(state, target)
        if frame.hidden is None or frame.flow is None:
            continue
        for k, source_lids, target_lids in eyes:
            made = net_inputs(frame.crop, state.source, frame.flow, frame.hidden, source_lids, target_lids)
            if made is None:
                continue
            out["frames"].append((s, t))
            out["eye"].append(k)
            out["inputs"].append(made.inputs.astype(np.float16))
            out["condition"].append(condition(closure(source_lids, target_lids), state.exposure))
            out["truth"].append(native_patch(native[t], _compose(made.matrix, native_to_crop)))
            out["matrix"].append(made.matrix)
            out["base"].append(made.base)
            out["source_index"].append(s)
    if not out["eye"]:
        return None
    arrays = {k: np.stack(v) for k, v in out.items()}
    sources = sorted(states)
    arrays["source_index"] = np.searchsorted(sources, arrays["source_index"])
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


def load_pairs(folder: Path, clips: list[str]) -> dict[str, np.ndarray]:
    """The training arrays of the cached `clips`, concatenated; `source` holds each pair's source
    crop index into the concatenated `source_crops`."""
    keys = ("inputs", "condition", "truth", "matrix", "base")
    parts: dict[str, list] = {k: [] for k in (*keys, "source", "source_crops")}
    offset = 0
    for clip in clips:
        path = folder / f"{clip}.npz"
        if not path.is_file():
            continue
        with np.load(path) as data:
            for k in keys:
                parts[k].append(data[k])
            parts["source"].append(data["source_index"] + offset)
            parts["source_crops"].append(data["source_crops"])
            offset += len(data["source_crops"])
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cache the lid flow network's blink pairs.")
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--pairs", type=Path, default=Path("runs/lid_flow_pairs"))
    parser.add_argument("--only", choices=("train", "held_out"), default=None)
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
        build_pairs(args.videos, args.pairs, only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
