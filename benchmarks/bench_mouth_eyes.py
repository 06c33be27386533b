"""Speed of the mouth and eye parts of the geometric renderer: what they add per 256 x 256 frame,
and a 512 px video frame (render + placing it into the 512 px frame) through the same path.

    python benchmarks/bench_mouth_eyes.py [--frames 120] [--before /path/to/older/worktree]

Goals (2-core CPU): <= 30 ms added per 256 px frame; a 512 px video >= 25 frames/s. "Added" is
measured in this tree as the frame time with the full-resolution mouth/eye flow minus the time
without it (the painted gap, which older trees also drew, is in both); `--before` runs the plain
frame timing in another checkout (e.g. main at an older commit) for a like-for-like comparison.
Uses a smiling photo with teeth from ../shared/data/images when present, else the astronaut
portrait bundled with scikit-image. Prints one JSON record.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: The checkout to time: this one, or the one `--before` names (the child process is told by env).
REPO = Path(os.environ.get("BENCH_MOUTH_EYES_TREE") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(REPO))

from pipeline import EngineRegistry, photo_canvas, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from pipeline.photo import place_frame  # noqa: E402
from reconstruction.controls import SPECS_BY_NAME, control_set_for  # noqa: E402

SHARED_PHOTO = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "images" / "serengil__deepface__img1.jpg"
)


def _photo() -> object:
    if SHARED_PHOTO.is_file():
        return SHARED_PHOTO
    from skimage import data

    return data.astronaut()


def _values(v: float) -> dict[str, float]:
    """Frame v in [0, 1] of a talking, blinking, glancing face (controls this tree knows)."""
    values = {
        "open_mouth": float(0.5 + 0.5 * np.sin(6 * np.pi * v)),
        "smile": float(0.4 * np.sin(2 * np.pi * v)),
        "close_eyes": float(max(0.0, np.sin(8 * np.pi * v))),
        "gaze_x": float(np.sin(4 * np.pi * v)),
        "gaze_y": float(0.5 * np.cos(4 * np.pi * v)),
    }
    return {k: v for k, v in values.items() if k in SPECS_BY_NAME}


def _median_ms(fn, items: list) -> float:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(times), 2)


def measure(frames: int) -> dict[str, float]:
    registry = EngineRegistry()
    state = prepare_photo(_photo(), registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    renderer: GeometricRenderer = engine.renderer
    preview = state.engine_state(engine)
    controls = control_set_for(registry.backend(state.backend).model)
    targets = [controls.apply(state.coefficients, _values(i / frames)) for i in range(frames)]
    record = {"frame_256_ms": _median_ms(lambda t: renderer.render_frame(preview, t), targets)}
    refine = getattr(renderer, "_refine_openings", None)
    if refine is not None:
        renderer._refine_openings = lambda *args: None  # the same frame without the mouth/eye flow
        try:
            without = _median_ms(lambda t: renderer.render_frame(preview, t), targets)
        finally:
            del renderer._refine_openings
        record["frame_256_without_mouth_eyes_ms"] = without
        record["added_ms"] = round(record["frame_256_ms"] - without, 2)
    canvas = photo_canvas(state, 512, even=True)
    video_ms = _median_ms(lambda t: place_frame(canvas, renderer.render_frame(preview, t)), targets)
    record["video_512_ms"] = video_ms
    record["video_512_fps"] = round(1000.0 / video_ms, 1)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--before", type=Path, help="another checkout to time the same way")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    record = {"photo": SHARED_PHOTO.name if SHARED_PHOTO.is_file() else "astronaut", **measure(args.frames)}
    if args.before is not None:
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--frames", str(args.frames), "--json-only"],
            cwd=args.before,
            env={**os.environ, "BENCH_MOUTH_EYES_TREE": str(args.before.resolve())},
            capture_output=True,
            text=True,
            check=True,
        )
        record["before"] = json.loads(out.stdout.strip().splitlines()[-1])
    sys.stdout.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
