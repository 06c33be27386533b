"""Cost of one `PreviewSettings` flag per drag preview: `render_frame` + `place_frame` for one edit,
the flag off and on taking turns call by call on the same photo (paired, one run:
`benchmarks.timing.paired_toggle_ms`), printed as wall-clock and thread CPU medians.

    OMP_NUM_THREADS=1 python benchmarks/flag_cost.py --flag squint_shut --edit close_eyes=1 \
        --photos deepinsight__insightface__happy.png [--calls 40] [--side 768] [--quick] [--final]

The cost scripts of single trials (`bench_rim_skin.py`, `bench_lid_skin.py`, `squint_shut_sheet.py
--time`) call `flag_cost` with their own flag, edit and photos.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import paired_toggle_ms, print_paired  # noqa: E402
from pipeline import EditRequest, EngineRegistry, photo_canvas, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402

__all__ = ["flag_cost", "parse_edit"]


def flag_cost(
    path: Path,
    registry: EngineRegistry,
    flag: str,
    values: Mapping[str, float],
    calls: int,
    *,
    side: int = 768,
    quick: bool = False,
    final: bool = False,
    prepare_both: bool = False,
) -> list[tuple[float, float, float]]:
    """`paired_toggle_ms` of the geometric renderer's `flag` for the edit `values` on the photo at
    `path`: into a `side` px canvas (`quick`: the web app's drag canvas), or with `final` into the
    photo at full resolution (a saved image); `prepare_both`: the per-photo state is prepared with the
    flag off and on too (a flag whose per-photo work decides what a frame does)."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    canvas = (
        Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight())
        if final
        else photo_canvas(state, side, quick=quick)
    )
    target = target_coefficients(state, EditRequest(dict(values), engine="preview"), registry=registry)
    settings = {on: dataclasses.replace(renderer.settings, **{flag: on}) for on in (False, True)}
    kept = renderer.settings
    states = {False: prepared, True: prepared}
    if prepare_both:
        for on in (False, True):
            renderer.settings = settings[on]
            states[on] = engine.prepare_in_photo(
                state.crop, state.coefficients, state.crop_transform, hand_at_face=bool(state.hands)
            )
    chosen = [states[False]]

    def toggle(on: bool) -> None:
        renderer.settings = settings[on]
        chosen[0] = states[on]

    try:
        return paired_toggle_ms(
            toggle, lambda: place_frame(canvas, renderer.render_frame(chosen[0], target)), calls
        )
    finally:
        renderer.settings = kept


def parse_edit(text: str) -> dict[str, float]:
    """ "close_eyes=1,yaw=30" -> {"close_eyes": 1.0, "yaw": 30.0}."""
    return {name: float(value) for name, value in (part.split("=") for part in text.split(","))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flag", required=True, help="a boolean field of PreviewSettings")
    parser.add_argument("--edit", required=True, type=parse_edit, help='e.g. "close_eyes=1" or "yaw=30"')
    parser.add_argument("--photos", nargs="+", required=True)
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--quick", action="store_true", help="the web app's drag canvas")
    parser.add_argument("--final", action="store_true", help="into the photo at full resolution")
    parser.add_argument(
        "--prepared-on", action="store_true", help="prepare the photo with the flag off/on too"
    )
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        results = flag_cost(
            args.images / name,
            registry,
            args.flag,
            args.edit,
            args.calls,
            side=args.side,
            quick=args.quick,
            final=args.final,
            prepare_both=args.prepared_on,
        )
        print_paired(name, results)


if __name__ == "__main__":
    main()
