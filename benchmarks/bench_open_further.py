"""Added time of `PreviewSettings.open_further` per 768 px preview (paired, one process).

    OMP_NUM_THREADS=1 python benchmarks/bench_open_further.py [--repeats 30]

On photos whose mouth is already open (where the setting does work), open_mouth 1: each event is
render_frame + place_frame on the web page's ~768 px canvas, the setting off and on taking turns
on the same events. Prints the median ms of each and the added median per photo.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import photo_canvas, place_frame, target_coefficients  # noqa: E402

IMAGES = REPO.parent / "shared" / "data" / "images"
PHOTOS = ("YadiraF__DECA__teaser_1.jpg", "justadudewhohacks__face-api.js__surprised.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in PHOTOS:
        state = prepare_photo(IMAGES / name, registry=registry)
        engine = registry.geometric(state.backend)
        preview, canvas = state.engine_state(engine), photo_canvas(state, 768)
        target = target_coefficients(state, EditRequest(values={"open_mouth": 1.0}), registry=registry)
        settings = {
            on: dataclasses.replace(engine.renderer.settings, open_further=on) for on in (False, True)
        }
        times: dict[bool, list[float]] = {False: [], True: []}
        for k in range(2 * args.repeats + 2):
            on = bool(k % 2)
            engine.renderer.settings = settings[on]
            start = time.perf_counter()
            place_frame(canvas, engine.render_frame(preview, target))
            if k >= 2:  # the first pair warms up
                times[on].append(1e3 * (time.perf_counter() - start))
        engine.renderer.settings = settings[False]
        off, on = (float(np.median(times[v])) for v in (False, True))
        print(f"{name}: off {off:.2f} ms, on {on:.2f} ms, added {on - off:+.2f} ms")  # noqa: T201


if __name__ == "__main__":
    main()
