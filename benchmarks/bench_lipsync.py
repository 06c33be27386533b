"""Speed of audio -> motion : features + motion for 10 s of speech, old vs new model, in one run.

For each model: decode once (not timed), then time `model.condition_features(wave)` (log-mel, plus
the pocketsphinx phones / visemes for phonetic models) and `generate_from_features` (both flows,
frame by frame, lips, blinks, smoothing) on the same 10 s of speech, `--repeats` times; the
median is reported, and the ratio new / old. Goal: new <= 1.5 s for 10 s of audio.

Usage:
    python benchmarks/bench_lipsync.py --old OLD_MODEL_DIR --new weights/files/audio2motion \
        [--audio SPEECH.wav] [--threads 1] [--repeats 5]

Without --audio, 10 s of ../shared/data/audio (or $PIRENDER_SHARED/data/audio) speech is used
when present, else espeak-ng speaking a paragraph.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audio2motion import AudioToMotion, load_audio  # noqa: E402
from core.coefficients import FaceCoefficients  # noqa: E402

SPEECH = "Fantasy-AMAP__fantasy-talking__woman.wav"
PARAGRAPH = (
    "Bob may move my map before the blue moon rises. We often wonder why people speak so quickly "
    "when they are nervous, but the answer is simple: they want the moment to pass."
)


def _speech(path: str | None) -> Path:
    if path:
        return Path(path)
    shared = Path(os.environ.get("PIRENDER_SHARED", REPO.parent / "shared")) / "data" / "audio" / SPEECH
    if shared.is_file():
        return shared
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("no speech: pass --audio, provide ../shared/data, or install espeak-ng")
    out = Path(tempfile.mkdtemp()) / "speech.wav"
    subprocess.run([exe, "-s", "120", "-w", str(out), PARAGRAPH], check=True, capture_output=True)
    return out


def _source(model: AudioToMotion) -> FaceCoefficients:
    pose = np.asarray(model.config.resolved_stats().reference_pose_stats()[0], np.float32)
    return FaceCoefficients(
        model.config.face_model, np.zeros(model.config.num_expression), pose[:3], pose[3:], np.zeros(3)
    )


def time_model(model: AudioToMotion, wave: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds of features, motion and both, over `repeats` runs (after one warm-up)."""
    source = _source(model)
    feats_t, motion_t = [], []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        feats = model.condition_features(wave)
        t1 = time.perf_counter()
        model.generate_from_features(source, feats, seed=i)
        t2 = time.perf_counter()
        if i:  # the first run warms up (decoder construction, allocations)
            feats_t.append(t1 - t0)
            motion_t.append(t2 - t1)
    total = [a + b for a, b in zip(feats_t, motion_t, strict=True)]
    return {
        "features_s": float(np.median(feats_t)),
        "motion_s": float(np.median(motion_t)),
        "total_s": float(np.median(total)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the current model folder")
    parser.add_argument("--new", default=str(REPO / "weights" / "files" / "audio2motion"))
    parser.add_argument("--audio", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    wave = load_audio(_speech(args.audio), sample_rate=16000, max_seconds=args.seconds, on_too_long="trim")
    seconds = wave.size / 16000
    result = {"audio_s": seconds, "threads": args.threads}
    for name, folder in (("old", args.old), ("new", args.new)):
        result[name] = time_model(AudioToMotion.from_pretrained(folder), wave, args.repeats)
        r = result[name]
        print(
            f"{name}: features {r['features_s']:.3f} s + motion {r['motion_s']:.3f} s = {r['total_s']:.3f} s "
            f"for {seconds:.1f} s of audio ({folder})"
        )
    ratio = result["new"]["total_s"] / result["old"]["total_s"]
    result["ratio_new_over_old"] = ratio
    print(
        f"new / old: {ratio:.2f}x; goal new <= 1.5 s per 10 s: {'met' if result['new']['total_s'] <= 1.5 * seconds / 10 else 'NOT met'}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
