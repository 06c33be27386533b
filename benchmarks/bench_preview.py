"""Speed of the geometric preview through the `Renderer` contract: one 256 x 256 frame per slider
move, and a whole edit (render + paste-back) of a 12-megapixel photo.

    python benchmarks/bench_preview.py [--frames 200] [--out results.json]

Goals: preview < 25 ms per frame, 12-megapixel edit < 175 ms (render + paste-back < 150 ms), on
our 2-core CPU. Uses the astronaut portrait bundled with scikit-image (no data files needed).
Prints one JSON record.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import summary_ms, timed_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo, target_coefficients  # noqa: E402


def _drag(v: float) -> EditRequest:
    """A slider drag at position v in [0, 1]: each frame a different mix of head and expression controls."""
    return EditRequest(
        {
            "yaw": 25 * np.sin(2 * np.pi * v),
            "pitch": 10 * np.sin(4 * np.pi * v),
            "smile": float(np.sin(2 * np.pi * v)),
            "open_mouth": float(0.5 + 0.5 * np.sin(6 * np.pi * v)),
            "close_eyes": float(max(0.0, np.sin(8 * np.pi * v))),
            "raise_brows": float(0.5 * np.cos(2 * np.pi * v)),
        },
        engine="preview",
    )


def main() -> None:
    from skimage import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="slider positions to render")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()

    registry = EngineRegistry(fast=False)
    photo = data.astronaut()
    state = prepare_photo(photo, registry=registry)
    engine = registry.geometric(state.backend)
    prepare_ms = timed_ms(lambda: engine.prepare(state.crop, state.coefficients), 10)
    preview = engine.prepare(state.crop, state.coefficients)
    targets = [
        target_coefficients(state, _drag(v), registry=registry) for v in np.linspace(0.0, 1.0, args.frames)
    ]
    for target in targets[:10]:
        engine.render(preview, target)  # warm-up
    frames = iter(targets)
    render_ms = timed_ms(lambda: engine.render(preview, next(frames)), len(targets))
    flows = iter(targets)
    flow_ms = timed_ms(lambda: engine.renderer.render_flow(preview, next(flows)), len(targets))

    # A 12-megapixel photo (4000 x 3000) with the face as large as in the astronaut enlarged to 3000 px.
    big = np.zeros((3000, 4000, 3), np.uint8)
    big[:, 500:3500] = cv2.resize(photo, (3000, 3000), interpolation=cv2.INTER_CUBIC)
    big_state = prepare_photo(big, registry=registry)
    request = _drag(0.25)
    edit(big_state, request, registry=registry)  # prepares the engine for this photo
    edit_ms = timed_ms(lambda: edit(big_state, request, registry=registry), 10)

    box = big_state.crop_transform.box
    record = {
        "crop": list(state.crop.shape[:2]),
        "frames": len(targets),
        "prepare": summary_ms(prepare_ms),
        "render": summary_ms(render_ms),
        "render_flow": summary_ms(flow_ms),
        "edit_12mp": summary_ms(edit_ms),
        "paste_box_px": round(box[2] - box[0]),
        "goals_ms": {"render": 25, "edit_12mp": 175},
        "threads": cv2.getNumThreads(),
    }
    write_record(record, args.out)


if __name__ == "__main__":
    main()
