"""Self-reenactment of real talking-head clips: a clip's first frame driven by its own video, compared
with the real frames, for the former and the current way of putting the render into the photo.

For each clip: the first frame is the photo; the clip's own motion (reconstruction backend, absolute
mode: the driving expression and pose are copied) drives the geometric renderer; every frame is put
back into the photo (a) the former way, adding the upsampled change of the 256 px crop to the photo
(`former_residual_paste`), and (b) the current way (`pipeline.place_frame`: the photo's own pixels
moved along the renderer's flow). Measured against the real frame of the same instant, in boxes
around the real face's landmarks: PSNR of the face, the mouth and the eyes; and the mouth-opening
ratio: median over frames where the real mouth is open (inner-lip gap / mouth width > 0.15) of
rendered / real opening, both re-detected with the MediaPipe mesh.

    python -m training.evaluation.self_reenactment --videos ../shared/data/videos [--clips 6] [--output OUT.json]

Clips are taken from the identity groups the audio model's training split holds out
(`lipsync.held_out_videos`); the default face model itself was estimated from all shared clips.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline import EngineRegistry, prepare_photo
from pipeline.photo import Canvas, place_frame
from reconstruction.crop import crop_face, crop_mask
from reconstruction.motion import relative_motion
from reconstruction.tracking import FaceTracker
from reconstruction.video import read_video
from training.evaluation.lipsync import held_out_videos, mouth_ratio, run_and_report

__all__ = ["ReenactmentScores", "former_residual_paste", "evaluate_clip", "main"]

logger = logging.getLogger(__name__)

_MOUTH = (61, 291, 0, 17, 13, 14)
_EYES = ((33, 133, 159, 145), (362, 263, 386, 374))
_OPEN = 0.15


def former_residual_paste(canvas: Canvas, crop: np.ndarray) -> np.ndarray:
    """The former default paste: photo + upsampled (edited crop - photo's crop), feathered at the crop border."""
    t = canvas.transform
    h, w = canvas.image.shape[:2]
    delta = crop.astype(np.float32) - crop_face(canvas.image, t).astype(np.float32)
    delta *= crop_mask(t.crop_size)[:, :, None]
    up = cv2.warpAffine(delta, t.matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return np.clip(canvas.image.astype(np.float32) + up + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ReenactmentScores:
    """One clip, one way: mean PSNR (dB) in the face, mouth and eye boxes, and the mouth-opening ratio."""

    clip: str
    way: str
    frames: int
    psnr_face: float
    psnr_mouth: float
    psnr_eyes: float
    mouth_ratio: float


def _box(points: np.ndarray, pad: float, shape: tuple[int, int]) -> tuple[slice, slice] | None:
    if not np.all(np.isfinite(points)):
        return None
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    px, py = pad * (x1 - x0) + 2, pad * (y1 - y0) + 2
    h, w = shape
    xs = slice(max(0, int(x0 - px)), min(w, int(x1 + px) + 1))
    ys = slice(max(0, int(y0 - py)), min(h, int(y1 + py) + 1))
    return (ys, xs) if ys.stop > ys.start and xs.stop > xs.start else None


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * math.log10(255.0**2 / max(mse, 1e-10))


def _scores(
    name: str, way: str, rendered: list[np.ndarray], real: np.ndarray, real_lm: np.ndarray
) -> ReenactmentScores:
    face, mouth, eyes = [], [], []
    shape = real.shape[1:3]
    for out, truth, lm in zip(rendered, real, real_lm, strict=False):
        for points, pad, sink in ((lm, 0.05, face), (lm[list(_MOUTH)], 0.25, mouth)):
            box = _box(points, pad, shape)
            if box is not None:
                sink.append(_psnr(out[box], truth[box]))
        for eye in _EYES:
            box = _box(lm[list(eye)], 0.4, shape)
            if box is not None:
                eyes.append(_psnr(out[box], truth[box]))
    with FaceTracker() as tracker:
        rendered_lm = tracker.track(rendered).landmarks[:, :, :2]
    real_open = mouth_ratio(real_lm[: len(rendered)])
    rendered_open = mouth_ratio(rendered_lm)
    use = np.isfinite(real_open) & np.isfinite(rendered_open) & (real_open > _OPEN)
    ratio = float(np.median(rendered_open[use] / real_open[use])) if use.sum() >= 3 else float("nan")

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    return ReenactmentScores(name, way, len(rendered), mean(face), mean(mouth), mean(eyes), ratio)


def evaluate_clip(
    path: Path, registry: EngineRegistry, *, max_seconds: float = 8.0, max_side: int = 512
) -> list[ReenactmentScores]:
    """Former and current scores of one clip (frames scaled so the longer side is at most `max_side`)."""
    frames, _ = read_video(path, max_seconds=max_seconds)
    h, w = frames[0].shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    state = prepare_photo(frames[0], registry=registry)
    backend = registry.backend(state.backend)
    driving = backend.analyze_video(list(frames))
    motion = relative_motion(
        state.coefficients,
        driving.raw_motion or driving.motion,
        parts=("all",),
        mode="absolute",
        face_model=backend.model,
    )
    engine = registry.geometric(state.backend)
    engine_state = state.engine_state(engine)
    canvas = Canvas(state.image, state.crop_transform)
    former, current = [], []
    for i in range(len(motion)):
        frame = engine.render_frame(engine_state, motion.frame(i))
        former.append(former_residual_paste(canvas, frame.crop))
        current.append(place_frame(canvas, frame))
    with FaceTracker() as tracker:
        real_lm = tracker.track(frames).landmarks[:, :, :2]
    n = len(current)
    return [
        _scores(path.stem, "former", former, frames[:n], real_lm[:n]),
        _scores(path.stem, "current", current, frames[:n], real_lm[:n]),
    ]


def summarise(rows: Sequence[ReenactmentScores]) -> dict[str, dict[str, float]]:
    """Mean of each measure per way (NaN clips left out), plus the median mouth ratio."""
    out: dict[str, dict[str, float]] = {}
    for way in sorted({r.way for r in rows}):
        sel = [r for r in rows if r.way == way]
        out[way] = {
            key: float(np.nanmean([getattr(r, key) for r in sel]))
            for key in ("psnr_face", "psnr_mouth", "psnr_eyes")
        }
        out[way]["median_mouth_ratio"] = float(np.nanmedian([r.mouth_ratio for r in sel]))
        out[way]["clips"] = float(len(sel))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: evaluate held-out clips; prints per-clip rows and the summary, writes JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.self_reenactment", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--videos", type=Path, required=True, help="folder of clips with MANIFEST.tsv")
    parser.add_argument("--clips", type=int, default=6, help="at most this many held-out clips")
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    registry = EngineRegistry(fast=False)

    def rows() -> Iterator[ReenactmentScores]:
        for path, _ in held_out_videos(args.videos)[: args.clips]:
            yield from evaluate_clip(path, registry, max_seconds=args.max_seconds, max_side=args.max_side)

    return run_and_report(rows(), summarise, args.output, rows_key="rows")


if __name__ == "__main__":
    sys.exit(main())
