"""Evaluation of an audio-to-motion model on held-out clips (paper section 4, audio-driven results).

Two measures:

* NLL per frame (nats, in raw coefficient units, teacher forcing) of each held-out clip.
* Lip-sync proxy: the Pearson correlation between the audio loudness envelope (dBFS per frame)
  and a mouth-opening measure of motion sampled from the clip's first frame and its audio.
  How wide the mouth is depends on the face model, so the caller supplies the measure: a
  callable (T, E) -> (T,) or a readout vector (E,) over the expression coefficients. The same
  correlation on the clip's real motion is reported as a reference.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pirender.errors import InputError, PIRenderError
from reconstruction.coefficients import FaceCoefficients

from .dataset import ClipArrays, discover_clips, load_clips, split_clips, whole_clip_batch
from .model import AudioToMotion

__all__ = [
    "MouthReadout",
    "held_out_nll",
    "ClipEvaluation",
    "EvaluationReport",
    "mouth_opening",
    "loudness_mouth_correlation",
    "evaluate",
    "evaluate_main",
]

logger = logging.getLogger(__name__)

MouthReadout = Callable[[np.ndarray], np.ndarray] | np.ndarray


@torch.no_grad()
def held_out_nll(model: AudioToMotion, clips: Sequence[ClipArrays]) -> dict[str, float]:
    """Frame-weighted mean NLL per frame (nats, raw coefficient units) over whole clips.

    Keys "expression", "pose", "total", plus "frames". Clips shorter than 2 frames are ignored.
    """
    device = model.expression_std.device
    was_training = model.training
    model.eval()
    sums = {"expression": 0.0, "pose": 0.0}
    frames = 0
    try:
        for clip in clips:
            if len(clip) < 2:
                continue
            ll = model.log_likelihood(whole_clip_batch(clip, model.config).to(device))
            for name in sums:
                sums[name] -= float(ll[name].sum())
            frames += len(clip) - 1
    finally:
        model.train(was_training)
    if frames == 0:
        raise InputError("no held-out clip has at least 2 frames")
    out = {name: value / frames for name, value in sums.items()}
    out["total"] = out["expression"] + out["pose"]
    out["frames"] = float(frames)
    return out


def mouth_opening(expression: np.ndarray, readout: MouthReadout) -> np.ndarray:
    """(T, E) expression coefficients -> (T,) mouth opening (units of the caller's measure)."""
    expression = np.asarray(expression, dtype=np.float64)
    if expression.ndim != 2:
        raise InputError(f"expression must be (T, E), got {expression.shape}")
    if callable(readout):
        out = np.asarray(readout(expression), dtype=np.float64).reshape(-1)
    else:
        vector = np.asarray(readout, dtype=np.float64).reshape(-1)
        if vector.shape[0] != expression.shape[1]:
            raise InputError(
                f"mouth readout has {vector.shape[0]} weights, expression has {expression.shape[1]}"
            )
        out = expression @ vector
    if out.shape[0] != expression.shape[0]:
        raise InputError(f"mouth measure returned {out.shape[0]} values for {expression.shape[0]} frames")
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-12 else float("nan")


def loudness_mouth_correlation(loudness: np.ndarray, mouth: np.ndarray, max_lag: int = 0) -> float:
    """Pearson correlation of (T,) loudness (dBFS) and (T,) mouth opening.

    With max_lag > 0, the mouth may lag or lead the audio by up to that many frames and the best
    correlation is returned. NaN when either signal is constant (e.g. pure silence).
    """
    loudness, mouth = np.asarray(loudness, np.float64).reshape(-1), np.asarray(mouth, np.float64).reshape(-1)
    if loudness.shape != mouth.shape or loudness.size < 3:
        raise InputError(
            f"need two equally long signals of >= 3 frames, got {loudness.shape} and {mouth.shape}"
        )
    best = float("nan")
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            r = _pearson(loudness[: loudness.size - lag], mouth[lag:])
        else:
            r = _pearson(loudness[-lag:], mouth[: mouth.size + lag])
        if math.isnan(best) or (not math.isnan(r) and r > best):
            best = r
    return best


@dataclass(frozen=True)
class ClipEvaluation:
    """Measures of one clip (correlations are None without a mouth measure)."""

    clip_id: str
    frames: int
    nll_per_frame: float
    generated_correlation: float | None
    reference_correlation: float | None


@dataclass(frozen=True)
class EvaluationReport:
    """Frame-weighted NLL over all clips and clip-averaged correlations."""

    nll_per_frame: float
    nll_expression_per_frame: float
    nll_pose_per_frame: float
    frames: int
    generated_correlation: float | None
    reference_correlation: float | None
    clips: tuple[ClipEvaluation, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict."""
        return asdict(self)


def _nanmean(values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else None


def _generated_motion(model: AudioToMotion, clip: ClipArrays, seed: int, temperature: float) -> np.ndarray:
    """(T - 1, E) expression sampled from the clip's first frame, aligned with clip frames 1 .. T - 1."""
    source = FaceCoefficients(
        clip.face_model, clip.expression[0], clip.pose[0, :3], clip.pose[0, 3:], np.zeros(3)
    )
    motion = model.generate_from_features(source, clip.features[1:], seed=seed, temperature=temperature)
    return motion.expression


def evaluate(
    model: AudioToMotion,
    clips: Sequence[ClipArrays],
    mouth_readout: MouthReadout | None = None,
    seed: int = 0,
    temperature: float = 0.7,
    max_lag: int = 0,
) -> EvaluationReport:
    """NLL per frame of every clip and, given a mouth measure, loudness/mouth correlations."""
    usable = [c for c in clips if len(c) >= 4]
    if not usable:
        raise InputError("evaluation needs at least one clip with 4 or more frames")
    per_clip, sums, frames = [], {"expression": 0.0, "pose": 0.0}, 0
    for clip in usable:
        nll = held_out_nll(model, [clip])
        n = int(nll["frames"])
        frames += n
        for name in sums:
            sums[name] += nll[name] * n
        gen_r = ref_r = None
        if mouth_readout is not None:
            generated = _generated_motion(model, clip, seed, temperature)
            gen_r = loudness_mouth_correlation(
                clip.loudness[1:], mouth_opening(generated, mouth_readout), max_lag
            )
            ref_r = loudness_mouth_correlation(
                clip.loudness, mouth_opening(clip.expression, mouth_readout), max_lag
            )
        per_clip.append(ClipEvaluation(clip.clip_id, n, nll["total"], gen_r, ref_r))
    nll_e, nll_p = sums["expression"] / frames, sums["pose"] / frames
    gen = _nanmean([c.generated_correlation for c in per_clip if c.generated_correlation is not None])
    ref = _nanmean([c.reference_correlation for c in per_clip if c.reference_correlation is not None])
    return EvaluationReport(nll_e + nll_p, nll_e, nll_p, frames, gen, ref, tuple(per_clip))


def _readout_from_arg(value: str | None) -> np.ndarray | None:
    if value is None:
        return None
    path = Path(value)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float64).reshape(-1)
    try:
        return np.array([float(v) for v in value.split(",")])
    except ValueError:
        raise InputError(
            f"--mouth-readout must be a .npy file or comma-separated numbers, got {value!r}"
        ) from None


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """CLI: evaluate a trained model on the held-out split (or all clips) of a clip folder."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="pirender eval-audio", description=evaluate_main.__doc__)
    parser.add_argument("--model", required=True, help="folder written by save_pretrained (e.g. OUT/best)")
    parser.add_argument("--data-dir", required=True, help="folder of prepared clips")
    parser.add_argument("--held-out-fraction", type=float, default=0.1, help="as used for training")
    parser.add_argument("--split-seed", type=int, default=0, help="the training seed (it fixes the split)")
    parser.add_argument(
        "--all-clips", action="store_true", help="evaluate every clip, not only the held-out ones"
    )
    parser.add_argument("--mouth-readout", help="(E,) readout vector: .npy file or comma-separated numbers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-lag", type=int, default=0)
    parser.add_argument("--output", help="write the report as JSON here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        model = AudioToMotion.from_pretrained(args.model)
        entries = discover_clips(args.data_dir)
        if not args.all_clips:
            entries = split_clips(entries, args.held_out_fraction, args.split_seed)[1]
        clips = load_clips(entries, model.config.features, model.config.fps)
        report = evaluate(
            model, clips, _readout_from_arg(args.mouth_readout), args.seed, args.temperature, args.max_lag
        )
    except PIRenderError as exc:
        logger.error("%s", exc)
        return 2
    logger.info(
        "%d clips, %d frames: NLL per frame %.3f (expression %.3f, pose %.3f); loudness/mouth r = %s (real: %s)",
        len(report.clips),
        report.frames,
        report.nll_per_frame,
        report.nll_expression_per_frame,
        report.nll_pose_per_frame,
        report.generated_correlation,
        report.reference_correlation,
    )
    if args.output:
        Path(args.output).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0
