"""Time the mouth/eye refiner adds per 256 px geometric frame (goal: <= 30 ms on a 2-core CPU).

    python benchmarks/bench_mouth_refiner.py [--frames 60] [--threads 1] [--json runs/bench_mouth_refiner.json]

The same photo and targets (talking, blinking) are rendered by the geometric renderer with and
without the refiner, the two ways taking turns; "added" is the difference of the medians. Uses a
photo from ../shared/data/images when present, else scikit-image's astronaut. Needs the bundled
weights (`weights/files/mouth_refiner`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from reconstruction.controls import SPECS_BY_NAME, control_set_for  # noqa: E402

SHARED_PHOTO = REPO.parents[0] / "shared" / "data" / "images" / "serengil__deepface__img1.jpg"


def _photo() -> object:
    if SHARED_PHOTO.is_file():
        return SHARED_PHOTO
    from skimage import data

    return data.astronaut()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (the app's default is 1 per request)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    registry = EngineRegistry()
    state = prepare_photo(_photo(), registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    model = registry.backend(state.backend).model
    plain: GeometricRenderer = engine.renderer
    renderer = GeometricRenderer(model, dataclasses.replace(plain.settings, refine=True))
    plain = GeometricRenderer(model, dataclasses.replace(plain.settings, refine=False))
    if renderer.refiner is None:
        raise SystemExit("no mouth refiner is installed for this face model (weights/files/mouth_refiner)")
    preview = state.engine_state(engine)
    controls = control_set_for(model)

    def values(v: float) -> dict[str, float]:
        out = {
            "open_mouth": float(0.5 + 0.5 * np.sin(6 * np.pi * v)),
            "close_eyes": float(max(0.0, np.sin(8 * np.pi * v))),
        }
        return {k: x for k, x in out.items() if k in SPECS_BY_NAME}

    targets = [controls.apply(state.coefficients, values(i / args.frames)) for i in range(args.frames)]
    times = interleaved_ms(
        {
            "with_refiner": lambda i: renderer.render_frame(preview, targets[i]),
            "without_refiner": lambda i: plain.render_frame(preview, targets[i]),
        },
        args.frames,
    )
    with_ms, without_ms = summary_ms(times["with_refiner"]), summary_ms(times["without_refiner"])
    record = {
        "photo": SHARED_PHOTO.name if SHARED_PHOTO.is_file() else "astronaut",
        "frames": args.frames,
        "torch_threads": args.threads,
        "with_refiner": with_ms,
        "without_refiner": without_ms,
        "added_ms": round(with_ms["median_ms"] - without_ms["median_ms"], 2),
        "goal_ms": 30.0,
    }
    write_record(record, args.json)


if __name__ == "__main__":
    main()
