"""Cost of the magnified rim's outline and fine detail (`PreviewSettings.rim_skin`, docs/RIM_SKIN.md)
per drag preview: `render_frame` + `place_frame` into the 768 px drag canvas (`photo_canvas(...,
quick=True)`, as the web app makes it) at yaw 30, with it on and off taking turns call by call on
the same photo (paired, one run). With --final, the same into the photo at full resolution (what a
saved image, a clip frame or, at display size, a released slider pays; not in the rule).

    OMP_NUM_THREADS=1 python benchmarks/bench_rim_skin.py [--calls 40] [--side 768] [--final] [--photos NAME ...]

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
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "dchen236__FairFace__race_Middle_Eastern.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "serengil__deepface__img1.jpg",
)


def paired(
    path: Path, registry: EngineRegistry, calls: int, side: int, final: bool = False
) -> list[tuple[float, float, float]]:
    """(median ms off, median ms on, median paired difference) of one drag preview at yaw 30 (with
    `final`, of the edit at full resolution): wall-clock time, then the thread's CPU time."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    canvas = (
        Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight())
        if final
        else photo_canvas(state, side, quick=True)
    )
    target = target_coefficients(state, EditRequest({"yaw": 30.0}, engine="preview"), registry=registry)
    settings = {on: dataclasses.replace(renderer.settings, rim_skin=on) for on in (False, True)}

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
    parser.add_argument("--final", action="store_true", help="into the photo at full resolution")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        print_paired(name, paired(args.images / name, registry, args.calls, args.side, args.final))


if __name__ == "__main__":
    main()
