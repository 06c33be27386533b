"""Cost of shutting wide-open eyes (`PreviewSettings.wide_eyes`, docs/WIDE_EYES.md) per drag
preview: `render_frame` + `place_frame` into the 768 px canvas at close_eyes 1, with it on and off
taking turns call by call on the same photo (paired, one run; each setting with the photo prepared
under it, as the lashes and lid colours are found once per photo).

    OMP_NUM_THREADS=1 python benchmarks/bench_wide_eyes.py [--calls 40] [--side 768] [--photos NAME ...]

Prints per photo the median ms off and on and the median of the paired differences, for the
wall-clock time and the thread's CPU time (as `bench_lid_skin.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, photo_canvas, prepare_photo  # noqa: E402
from pipeline.photo import place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "justadudewhohacks__face-api.js__surprised.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "serengil__deepface__img3.jpg",
    "fudan-generative-vision__hallo__7.jpg",
)


def paired(path: Path, registry: EngineRegistry, calls: int, side: int) -> list[tuple[float, float, float]]:
    """(median ms off, median ms on, median paired difference) of one drag preview at close_eyes 1:
    wall-clock time, then the thread's CPU time."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    base = renderer.settings
    settings, prepared = {}, {}
    for on in (False, True):
        settings[on] = dataclasses.replace(base, wide_eyes=on)
        renderer.settings = settings[on]
        prepared[on] = prepare_photo(path, registry=registry).engine_state(engine)
    canvas = photo_canvas(state, side)
    target = target_coefficients(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry)
    clocks = (time.perf_counter, time.thread_time)
    times: list[dict[bool, list[float]]] = [{False: [], True: []} for _ in clocks]
    try:
        for i in range(calls + 2):
            for on in (False, True) if i % 2 else (True, False):
                renderer.settings = settings[on]
                start = [clock() for clock in clocks]
                place_frame(canvas, renderer.render_frame(prepared[on], target))
                if i >= 2:  # the first calls warm caches
                    for k, clock in enumerate(clocks):
                        times[k][on].append(1e3 * (clock() - start[k]))
    finally:
        renderer.settings = base
    results = []
    for kept in times:
        differences = [b - a for a, b in zip(kept[False], kept[True], strict=True)]
        results.append(
            (statistics.median(kept[False]), statistics.median(kept[True]), statistics.median(differences))
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        for clock, (off, on, difference) in zip(
            ("wall", "cpu"), paired(args.images / name, registry, args.calls, args.side), strict=True
        ):
            print(
                f"{name[:34]:34s} {clock:4s} off {off:6.2f} ms  on {on:6.2f} ms  paired {difference:+.2f} ms"
            )  # noqa: T201


if __name__ == "__main__":
    main()
