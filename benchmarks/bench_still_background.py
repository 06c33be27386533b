"""Cost of the still background (`pipeline.still_background`): drag previews at 768 px, paired in
one run (off | on, alternating), and the segmentation at prepare time on a 12 MP photo.

    OMP_NUM_THREADS=1 python benchmarks/bench_still_background.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import (  # noqa: E402
    photo_canvas,
    place_frame,  # noqa: E402
    target_coefficients,
)

PHOTO = "tanshuai0219__EDTalk__uncrop_face.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    args = parser.parse_args()
    registry = EngineRegistry()
    state = prepare_photo(str(Path(args.images) / PHOTO), registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    renderer = copy.copy(engine.renderer)
    renderer.settings = replace(renderer.settings, still_background=True)
    on = renderer.prepare(state.crop, state.coefficients, transform=state.crop_transform)
    off = replace(on, person=None)
    canvas = photo_canvas(state, 768)
    times: dict[str, list[float]] = {"off": [], "on": []}
    for k in range(args.repeats):
        target = target_coefficients(state, EditRequest({"yaw": 30.0 - 6.0 * (k % 10)}), registry=registry)
        for name, engine_state in (("off", off), ("on", on)):
            start = time.perf_counter()
            place_frame(canvas, engine.render_frame(engine_state, target))
            times[name].append(1000 * (time.perf_counter() - start))
    diff = np.array(times["on"]) - np.array(times["off"])
    print(
        f"drag preview 768 px: off {np.median(times['off']):.1f} ms, on {np.median(times['on']):.1f} ms, "
        f"paired difference median {np.median(diff):+.2f} ms"
    )
    big = cv2.resize(state.image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    state12 = prepare_photo(big, registry=registry)
    plain = copy.copy(engine.renderer)
    plain.settings = replace(plain.settings, still_background=False)
    prepares = {"off": [], "on": []}
    for _ in range(3):
        for name, r in (("off", plain), ("on", renderer)):
            start = time.perf_counter()
            r.prepare(state12.crop, state12.coefficients, transform=state12.crop_transform)
            prepares[name].append(1000 * (time.perf_counter() - start))
    print(
        f"prepare on a 12 MP photo: off {np.median(prepares['off']):.0f} ms, on {np.median(prepares['on']):.0f} ms "
        f"(segmentation + mask {np.median(prepares['on']) - np.median(prepares['off']):+.0f} ms)"
    )


if __name__ == "__main__":
    main()
