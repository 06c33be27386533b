"""Evaluation of an audio-to-motion model on held-out clips (paper section 4, audio-driven results).

Two measures:

* NLL per frame (nats, in raw coefficient units, teacher forcing) of each held-out clip.
* Lip-sync proxy: the Pearson correlation between the audio loudness envelope (dBFS per frame)
  and a mouth-opening measure of motion sampled from the clip's first frame and its audio.
  How wide the mouth is depends on the face model, so the caller supplies the measure: a
  callable (T, E) -> (T,) or a readout vector (E,) over the expression coefficients. The same
  correlation on the clip's real motion is reported as a reference. For the default face model
  the measure is the vertical gap between the inner lip midpoints (`face_model_mouth_readout`).
* Silence check (`silence_check`): motion generated for digital silence should keep the mouth
  where the source has it and the head nearly still.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from core.coefficients import FaceCoefficients
from core.errors import InputError, PIRenderError

from .config import condition_silence
from .dataset import ClipArrays, discover_clips, load_clips, split_clips, whole_clip_batch
from .model import AudioToMotion

__all__ = [
    "MouthReadout",
    "SilenceCheck",
    "face_model_mouth_readout",
    "silence_check",
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


def face_model_mouth_readout(face_model: str) -> MouthReadout | None:
    """The inner-lip gap measure of the project's default face model; None for other models."""
    from core.coefficients import DEFAULT_FACE_MODEL

    if face_model != DEFAULT_FACE_MODEL:
        return None
    from reconstruction.face_model import load_default_face_model
    from reconstruction.motion import mouth_opening as lip_gap_of_expression

    face = load_default_face_model()
    return lambda expression: lip_gap_of_expression(face, expression)


@dataclass(frozen=True)
class SilenceCheck:
    """Motion generated for digital silence, relative to the source.

    Attributes:
        frames: frames generated.
        mouth_max_change: largest |mouth opening - source's| (units of the mouth measure).
        mouth_std: standard deviation of the mouth opening over time.
        pose_std_deg: mean over pitch/yaw/roll of the angle standard deviation, degrees.
    """

    frames: int
    mouth_max_change: float
    mouth_std: float
    pose_std_deg: float


def silence_check(
    model: AudioToMotion,
    source: FaceCoefficients,
    mouth_readout: MouthReadout,
    seconds: float = 4.0,
    seed: int = 0,
    temperature: float = 0.7,
) -> SilenceCheck:
    """Generate `seconds` of digital silence from `source` and measure mouth and head motion."""
    frames = max(3, int(round(seconds * model.config.fps)))
    feats = np.repeat(condition_silence(model.config)[None], frames, 0)
    motion = model.generate_from_features(source, feats, seed=seed, temperature=temperature)
    mouth = mouth_opening(motion.expression, mouth_readout)
    rest = float(mouth_opening(np.asarray(source.expression)[None], mouth_readout)[0])
    return SilenceCheck(
        frames,
        float(np.abs(mouth - rest).max()),
        float(mouth.std()),
        float(np.degrees(motion.angles).std(0).mean()),
    )


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
    num_seeds: int = 1,
) -> EvaluationReport:
    """NLL per frame of every clip and, given a mouth measure, loudness/mouth correlations.

    The generated correlation of a clip is the mean over `num_seeds` samples (seeds seed, seed + 1, ...).
    """
    if num_seeds < 1:
        raise InputError(f"num_seeds must be >= 1, got {num_seeds}")
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
            samples = [
                loudness_mouth_correlation(
                    clip.loudness[1:],
                    mouth_opening(_generated_motion(model, clip, seed + i, temperature), mouth_readout),
                    max_lag,
                )
                for i in range(num_seeds)
            ]
            gen_r = _nanmean(samples)
            gen_r = float("nan") if gen_r is None else gen_r
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
    parser = argparse.ArgumentParser(prog="pirender audio-evaluate", description=evaluate_main.__doc__)
    parser.add_argument("--model", required=True, help="folder written by save_pretrained (e.g. OUT/best)")
    parser.add_argument("--data-dir", required=True, help="folder of prepared clips")
    parser.add_argument("--held-out-fraction", type=float, default=0.1, help="as used for training")
    parser.add_argument("--split-seed", type=int, default=0, help="the training seed (it fixes the split)")
    parser.add_argument(
        "--all-clips", action="store_true", help="evaluate every clip, not only the held-out ones"
    )
    parser.add_argument(
        "--mouth-readout",
        help="(E,) readout vector: .npy file or comma-separated numbers (default: the inner-lip gap of "
        "the default face model, when the model uses it)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-seeds", type=int, default=1, help="samples averaged per clip")
    parser.add_argument(
        "--min-audio-dbfs", type=float, default=-50.0, help="skip clips with silent sound (as in training)"
    )
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-lag", type=int, default=0)
    parser.add_argument("--output", help="write the report as JSON here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        model = AudioToMotion.from_pretrained(args.model)
        entries = discover_clips(args.data_dir)
        if not args.all_clips:
            entries = split_clips(entries, args.held_out_fraction, args.split_seed)[1]
        clips = load_clips(
            entries,
            model.config.features,
            model.config.fps,
            min_audio_dbfs=args.min_audio_dbfs,
            refuse_misaligned=True,
        )
        readout = _readout_from_arg(args.mouth_readout)
        if readout is None:
            readout = face_model_mouth_readout(model.config.face_model)
        report = evaluate(
            model, clips, readout, args.seed, args.temperature, args.max_lag, num_seeds=args.num_seeds
        )
        silence = None
        if readout is not None and clips:
            first = clips[0]
            source = FaceCoefficients(
                first.face_model, first.expression[0], first.pose[0, :3], first.pose[0, 3:], np.zeros(3)
            )
            silence = silence_check(model, source, readout, seed=args.seed, temperature=args.temperature)
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
    if silence is not None:
        logger.info(
            "silence (%d frames): mouth max change %.4f, mouth std %.4f, head angle std %.2f deg",
            silence.frames,
            silence.mouth_max_change,
            silence.mouth_std,
            silence.pose_std_deg,
        )
    if args.output:
        data = report.to_dict()
        data["silence"] = None if silence is None else asdict(silence)
        Path(args.output).write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(evaluate_main())
