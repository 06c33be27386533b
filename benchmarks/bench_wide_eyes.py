"""Cost of shutting wide-open eyes (`PreviewSettings.wide_eyes`, docs/WIDE_EYES.md) per drag
preview: `render_frame` + `place_frame` into the 768 px canvas at close_eyes 1, with it on and off
taking turns call by call on the same photo (paired, one run: `benchmarks.timing.paired_toggle_ms`;
each setting with the photo prepared under it, as which eyes are wide open, their lashes and lid
colours are found once per photo, so `flag_cost.py` would not see it).

    OMP_NUM_THREADS=1 python benchmarks/bench_wide_eyes.py [--calls 40] [--side 768] [--photos NAME ...]

Prints per photo the median ms off and on and the median of the paired differences, for the
wall-clock time and the thread's CPU time.
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
    "justadudewhohacks__face-api.js__surprised.jpg",
    "justadudewhohacks__face-api.js__fearful.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "serengil__deepface__img3.jpg",
    "fudan-generative-vision__hallo__7.jpg",
)


def paired(path: Path, registry: EngineRegistry, calls: int, side: int) -> list[tuple[float, float, float]]:
    """`paired_toggle_ms` of one drag preview at close_eyes 1, the setting off and on."""
    state = prepare_photo(path, registry=registry)
    renderer = registry.geometric(state.backend).renderer
    base = renderer.settings
    settings, prepared = {}, {}
    try:
        for on in (False, True):
            settings[on] = renderer.settings = dataclasses.replace(base, wide_eyes=on)
            prepared[on] = prepare_photo(path, registry=registry).engine_state(
                registry.geometric(state.backend)
            )
        canvas = photo_canvas(state, side)
        target = target_coefficients(
            state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry
        )
        current = [False]

        def toggle(on: bool) -> None:
            renderer.settings, current[0] = settings[on], on

        return paired_toggle_ms(
            toggle, lambda: place_frame(canvas, renderer.render_frame(prepared[current[0]], target)), calls
        )
    finally:
        renderer.settings = base


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
