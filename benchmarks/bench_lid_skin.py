"""Cost of the painted shut lid (`PreviewSettings.smooth_lids`, docs/SHUT_LIDS.md "Skin without
streaks") per drag preview: `render_frame` + `place_frame` into the 768 px canvas at close_eyes 1,
with it on and off taking turns call by call on the same photo (paired, one run).

    OMP_NUM_THREADS=1 python benchmarks/bench_lid_skin.py [--calls 40] [--side 768] [--photos NAME ...]

Prints per photo the median ms off and on, and the median of the paired differences (each call
on minus the call off next to it: robust to a shared machine's load changing during the run); the
same for the thread's CPU time (`time.thread_time`: robust to other processes on the same cores,
which stretch the wall-clock time of both calls when the machine is loaded).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import paired_toggle_ms, print_paired  # noqa: E402
from pipeline import EditRequest, EngineRegistry, photo_canvas, prepare_photo  # noqa: E402
from pipeline.photo import place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "YadiraF__DECA__teaser_1.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "serengil__deepface__img3.jpg",
)


def paired(path: Path, registry: EngineRegistry, calls: int, side: int) -> list[tuple[float, float, float]]:
    """(median ms off, median ms on, median paired difference) of one drag preview at close_eyes 1:
    wall-clock time, then the thread's CPU time."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    canvas = photo_canvas(state, side)
    target = target_coefficients(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry)
    settings = {on: dataclasses.replace(renderer.settings, smooth_lids=on) for on in (False, True)}

    def toggle(on: bool) -> None:
        renderer.settings = settings[on]

    return paired_toggle_ms(
        toggle, lambda: place_frame(canvas, renderer.render_frame(prepared, target)), calls
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        print_paired(name, paired(args.images / name, registry, args.calls, args.side))


if __name__ == "__main__":
    main()
