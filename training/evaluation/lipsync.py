"""Lip-sync evaluation on real talking-head clips : does the animated mouth follow the speech?

For each clip with sound: its first frame is the photo, its own sound track is the speech; the
photo is animated with the audio-to-motion model and rendered with the project's geometric
renderer (`pipeline.prepare_photo` + the "preview" engine); the MediaPipe face mesh is
re-detected on every rendered frame and on every real frame (`reconstruction.detection.FaceTracker`).
Mouth opening = inner-lip gap / mouth width (mesh points 13-14 over 61-291). Per clip:

* r0: Pearson r of generated vs real mouth opening at the same instant;
* r_best / best_offset_s: the largest r over constant offsets within +-0.6 s;
* amplitude: std(generated opening) / std(real opening);
* silence_closed: fraction of the silent frames (no speech in the real sound, see
  `phonetics.speech_activity`) on which the generated mouth is closed: opening <= the rendered
  photo's own opening + 0.03, or < 0.08 (lips together);
* silence_std: std of the generated opening over the silent frames (stillness);
* jitter / real_jitter: RMS second difference over time of the re-detected mesh (478 points,
  normalised by the mouth-width-independent outer-eye distance), generated vs real.

Clips are those of a videos folder whose MANIFEST says they have sound, restricted to the
identity groups held out by `split_clips(..., held_out_fraction, seed)` (the training split), so
no evaluated person was seen in training. Language: "english" when the manifest note says
English, "other" otherwise (unspecified or another language).

It lives in `training/` (above `pipeline` in the layer order) because it renders through the
product's use cases; the model under test comes from `audio2motion`.

    pirender evaluate-lipsync ../shared/data/videos --model weights/files/audio2motion \
        --model runs/new/best --output runs/lipsync.json
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio2motion.audio import load_audio
from audio2motion.controls import AnimationControls
from audio2motion.dataset import ClipEntry, split_clips
from audio2motion.model import AudioToMotion
from audio2motion.phonetics import speech_activity
from core.coefficients import MotionSequence
from core.errors import InputError, PIRenderError
from pipeline import default_registry, prepare_photo
from pipeline.renderer import crops
from reconstruction.tracking import FaceTracker
from reconstruction.video import read_identity_groups, read_video

__all__ = [
    "LipsyncClip",
    "mouth_ratio",
    "held_out_videos",
    "with_settings",
    "evaluate_clip",
    "summarise",
    "run_and_report",
    "main",
]

logger = logging.getLogger(__name__)

_UPPER, _LOWER, _LEFT, _RIGHT = 13, 14, 61, 291
_EYE_OUTER = (33, 263)
#: Offsets searched for r_best, seconds.
MAX_OFFSET_S = 0.6
#: Openings below this (inner-lip gap / mouth width) count as closed lips.
CLOSED_RATIO = 0.08
#: ... as does any opening at most this much above the photo's own.
CLOSED_MARGIN = 0.03


def mouth_ratio(landmarks: np.ndarray) -> np.ndarray:
    """(..., 478, 2|3) mesh landmarks -> (...,) inner-lip gap / mouth width."""
    lm = np.asarray(landmarks, dtype=np.float64)
    gap = np.linalg.norm(lm[..., _LOWER, :2] - lm[..., _UPPER, :2], axis=-1)
    width = np.linalg.norm(lm[..., _RIGHT, :2] - lm[..., _LEFT, :2], axis=-1)
    return gap / np.maximum(width, 1e-6)


def _track(frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """(T, 478, 2) landmarks of the face in each frame, NaN where it was not found."""
    with FaceTracker() as tracker:
        result = tracker.track(frames)
    return result.landmarks[:, :, :2]


def _fill(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN entries of a (T,) series (all-NaN stays NaN)."""
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values
    idx = np.arange(values.size)
    return np.interp(idx, idx[ok], values[ok])


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-12 else float("nan")


def shifted_r(generated: np.ndarray, real: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Best Pearson r of generated[t + lag] vs real[t] over |lag| <= max_lag: (r, lag)."""
    n = min(generated.size, real.size)
    best = (float("-inf"), 0)
    for lag in range(-max_lag, max_lag + 1):
        g = generated[max(0, lag) : n + min(0, lag)]
        r = real[max(0, -lag) : n - max(0, lag)]
        if g.size >= 10:
            value = _pearson(g, r)
            if math.isfinite(value) and value > best[0]:
                best = (value, lag)
    return best


def _jitter(landmarks: np.ndarray) -> float:
    """RMS second difference of (T, 478, 2) landmarks in outer-eye-distance units (NaN frames skipped)."""
    eyes = np.linalg.norm(landmarks[:, _EYE_OUTER[1]] - landmarks[:, _EYE_OUTER[0]], axis=-1)
    norm = landmarks / np.nanmedian(eyes)
    acc = norm[2:] - 2 * norm[1:-1] + norm[:-2]
    ok = np.isfinite(acc).all(axis=(1, 2))
    return float(np.sqrt(np.mean(acc[ok] ** 2))) if ok.any() else float("nan")


@dataclass(frozen=True)
class LipsyncClip:
    """The measures of one clip and one model (see the module docstring)."""

    clip: str
    language: str
    model: str
    frames: int
    r0: float
    r_best: float
    best_offset_s: float
    amplitude: float
    silent_frames: int
    silence_closed: float
    silence_std: float
    jitter: float
    real_jitter: float


@dataclass(frozen=True)
class RealClip:
    """What a clip's real video gives once: photo, sound, per-frame openings and speech mask."""

    name: str
    language: str
    path: Path
    fps: float
    photo: np.ndarray
    opening: np.ndarray
    landmarks: np.ndarray
    speech: np.ndarray


def held_out_videos(
    videos: Path, held_out_fraction: float = 0.25, seed: int = 0, training_side: bool = False
) -> list[tuple[Path, str]]:
    """(video path, language) of the clips with sound whose identity group the training split holds out
    (with `training_side`, the other clips: for choosing inference settings without the held-out ones)."""
    manifest = videos / "MANIFEST.tsv"
    if not manifest.is_file():
        raise InputError(f"no MANIFEST.tsv in '{videos}'")
    with manifest.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r.get("has_audio", "yes") == "yes"]
    groups = read_identity_groups(videos)
    entries = [
        ClipEntry(
            Path(r["file"]).stem, Path(), videos / r["file"], groups.get(r["file"], Path(r["file"]).stem)
        )
        for r in rows
    ]
    language = {
        Path(r["file"]).stem: "english" if "english" in r.get("note", "").lower() else "other" for r in rows
    }
    train, held = split_clips(entries, held_out_fraction, seed)
    return [(e.media_path, language[e.clip_id]) for e in (train if training_side else held)]


#: Config fields `--set` may replace: inference settings only (the others describe the weights).
INFERENCE_SETTINGS = {
    "lip_gain": float,
    "flow_mouth": float,
    "lip_speech_gate": bool,
    "expression_smoothing_s": float,
    "pose_smoothing_s": float,
    "rest_mouth_gap": float,
}


def with_settings(model: AudioToMotion, settings: Sequence[str]) -> AudioToMotion:
    """The model with inference settings of its config replaced ("lip_gain=5", "lip_speech_gate=true")."""
    changes: dict[str, Any] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        kind = INFERENCE_SETTINGS.get(key.strip())
        if not sep or kind is None:
            raise InputError(
                f"--set needs KEY=VALUE with KEY one of {', '.join(INFERENCE_SETTINGS)}, got '{item}'"
            )
        key, text = key.strip(), value.strip().lower()
        if kind is bool:
            if text not in ("true", "false"):
                raise InputError(f"--set {key} needs true or false, got '{value}'")
            changes[key] = text == "true"
        else:
            try:
                changes[key] = float(text)
            except ValueError:
                raise InputError(f"--set {key} needs a number, got '{value}'") from None
    model.config = dataclasses.replace(model.config, **changes)
    return model


def load_real_clip(path: Path, language: str, max_seconds: float) -> RealClip | None:
    """Decode a clip, track its face and find its speech; None when its sound is silent."""
    frames, info = read_video(path, max_seconds=max_seconds)
    wave = load_audio(path, sample_rate=16000, max_seconds=max_seconds, on_too_long="trim")
    if float(np.percentile(np.abs(wave), 99)) < 10 ** (-50 / 20):
        logger.info("skipping %s: its sound track is silent", path.name)
        return None
    landmarks = _track(frames)
    opening = _fill(mouth_ratio(landmarks))
    active = speech_activity(wave, 16000).astype(np.float64)  # 100 frames/s
    bounds = np.round(np.arange(len(frames) + 1) * 100 / info.fps).astype(int).clip(0, active.size)
    speech = np.array(
        [active[a:b].mean() > 0.5 if b > a else False for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    )
    return RealClip(path.stem, language, path, info.fps, frames[0], opening, landmarks, speech)


def evaluate_clip(
    real: RealClip,
    model: AudioToMotion,
    model_name: str,
    *,
    seed: int = 0,
    temperature: float = 0.7,
    controls: AnimationControls | None = None,
    max_seconds: float = 20.0,
) -> LipsyncClip:
    """Animate the clip's first frame with its own sound and measure the re-detected mouth."""
    registry = default_registry()
    state = prepare_photo(real.photo, registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    motion = model.generate(
        state.coefficients,
        real.path,
        fps=real.fps,
        seed=seed,
        temperature=temperature,
        max_seconds=max_seconds,
        on_too_long="trim",
        controls=controls,
    )
    rendered = crops(engine.render_frames(state.engine_state(engine), motion))
    still = crops(engine.render_frames(state.engine_state(engine), _photo_motion(motion, state)))[0]
    landmarks = _track(rendered)
    generated = _fill(mouth_ratio(landmarks))
    photo_open = float(_fill(mouth_ratio(_track([still])))[0])
    n = min(generated.size, real.opening.size)
    gen, ref, speech = generated[:n], real.opening[:n], real.speech[:n]
    r_best, lag = shifted_r(gen, ref, int(round(MAX_OFFSET_S * real.fps)))
    silent = ~speech
    closed = (gen <= max(photo_open + CLOSED_MARGIN, CLOSED_RATIO)) | (gen < CLOSED_RATIO)
    return LipsyncClip(
        real.name,
        real.language,
        model_name,
        n,
        _pearson(gen, ref),
        r_best,
        lag / real.fps,
        float(gen.std() / max(ref.std(), 1e-9)),
        int(silent.sum()),
        float(closed[silent].mean()) if silent.any() else float("nan"),
        float(gen[silent].std()) if silent.any() else float("nan"),
        _jitter(landmarks[:n]),
        _jitter(real.landmarks[:n]),
    )


def _photo_motion(motion: MotionSequence, state: Any) -> MotionSequence:
    """The photo's own coefficients as a one-frame motion (its rendered mouth is the rest opening)."""
    c = state.coefficients
    return MotionSequence(
        motion.face_model,
        np.asarray(c.expression, np.float32)[None],
        np.asarray(c.angles, np.float32)[None],
        np.asarray(c.translation, np.float32)[None],
        np.asarray(c.crop, np.float32)[None],
        fps=motion.fps,
        identity=c.identity,
    )


def summarise(rows: Sequence[LipsyncClip]) -> dict[str, dict[str, float]]:
    """Per model and language ("all" too): medians of r0, r_best, amplitude, jitter ratio; the
    pooled fraction of silent frames with the mouth closed."""
    out: dict[str, dict[str, float]] = {}
    for model in sorted({r.model for r in rows}):
        for language in ("all", "english", "other"):
            sel = [r for r in rows if r.model == model and language in ("all", r.language)]
            if not sel:
                continue
            silent = sum(r.silent_frames for r in sel)
            closed = sum(r.silence_closed * r.silent_frames for r in sel if r.silent_frames)
            out[f"{model} / {language}"] = {
                "clips": float(len(sel)),
                "median_r0": float(np.median([r.r0 for r in sel])),
                "median_r_best": float(np.median([r.r_best for r in sel])),
                "median_amplitude": float(np.median([r.amplitude for r in sel])),
                "silence_closed": float(closed / silent) if silent else float("nan"),
                "median_jitter_ratio": float(np.median([r.jitter / r.real_jitter for r in sel])),
            }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: evaluate one or more models on the held-out clips; prints a table, writes JSON."""
    parser = argparse.ArgumentParser(prog="pirender evaluate-lipsync", description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, required=True, help="folder of clips with MANIFEST.tsv")
    parser.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    parser.add_argument("--held-out-fraction", type=float, default=0.25)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument(
        "--max-seconds", type=float, default=20.0, help="evaluate the first seconds of each clip"
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON file for per-clip rows and summary")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="replace an inference setting of every model's config, e.g. lip_gain=5 (repeatable)",
    )
    parser.add_argument(
        "--training-clips",
        action="store_true",
        help="evaluate the training side of the split instead (to choose settings without the held-out clips)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    def rows() -> Iterator[LipsyncClip]:
        models = [(name, with_settings(AudioToMotion.from_pretrained(name), args.set)) for name in args.model]
        clips = held_out_videos(args.videos, args.held_out_fraction, args.split_seed, args.training_clips)
        for path, language in clips:
            real = load_real_clip(path, language, args.max_seconds)
            if real is None:
                continue
            for name, model in models:
                yield evaluate_clip(
                    real,
                    model,
                    name,
                    seed=args.seed,
                    temperature=args.temperature,
                    max_seconds=args.max_seconds,
                )

    return run_and_report(rows(), summarise, args.output, rows_key="clips")


def run_and_report(
    rows: Iterable[Any],
    summarise: Callable[[list[Any]], dict[str, dict[str, float]]],
    output: Path | None,
    *,
    rows_key: str,
) -> int:
    """An evaluation command's end: log each row as it comes, print the summary (a line per group),
    write rows and summary to `output` as JSON when given; 0, or 2 after logging a PIRenderError."""
    done: list[Any] = []
    try:
        for row in rows:
            logger.info("%s", row)
            done.append(row)
    except PIRenderError as exc:
        logger.error("%s", exc)
        return 2
    summary = summarise(done)
    for key, values in summary.items():
        sys.stdout.write(key + ": " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()) + "\n")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps({rows_key: [asdict(r) for r in done], "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
