"""Per-line time of chosen functions over a drag preview (render + place into the 768 px quick canvas).

    python benchmarks/line_timer.py [--photo PATH] [--repeats 30] MODULE.FUNCTION [MODULE.FUNCTION ...]

e.g. `reconstruction.crop.warp_photo pipeline.flow_spread.spread_flow`. A `sys.settrace` timer:
each line's time (to the next line event of the same call, callees included) summed over the
frames of `bench_fullres.drag_scene`, in ms a frame, lines over 0.02 ms. The tracing slows every
traced line alike (~1 us a line): read it as shares, and time cuts with `bench_fast_preview.py`.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import linecache
import sys
import time
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _code(name: str) -> CodeType:
    """The code object of `module.function` (or `module.Class.method`)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj.__code__
    raise SystemExit(f"not found: {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("functions", nargs="+")
    parser.add_argument("--photo", type=Path, default=None, help="a real photo (default: astronaut at 12 MP)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    from benchmarks.bench_fullres import drag_scene
    from pipeline import photo_canvas
    from pipeline.photo import place_frame

    codes = {_code(name): name for name in args.functions}
    scene = drag_scene(args.photo, args.repeats)
    canvas = photo_canvas(scene.state, 768, quick=True)
    spent: collections.Counter[tuple[CodeType, int]] = collections.Counter()
    last: dict[int, tuple[int, float]] = {}

    def local(frame: FrameType, event: str, arg: object) -> Any:
        now, key = time.perf_counter(), id(frame)
        if key in last:
            spent[(frame.f_code, last[key][0])] += now - last[key][1]
        if event == "return":
            last.pop(key, None)
        else:
            last[key] = (frame.f_lineno, time.perf_counter())
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local(frame, event, arg) if frame.f_code in codes else None

    def drag() -> None:
        for target in scene.targets:
            place_frame(canvas, scene.engine.render_frame(scene.prepared, target))

    drag()  # warm the caches
    sys.settrace(tracer)
    drag()
    sys.settrace(None)
    frames = len(scene.targets)
    for code, name in codes.items():
        lines = sorted((line, s) for (c, line), s in spent.items() if c is code)
        print(f"== {name}: {sum(s for _, s in lines) / frames * 1e3:.3f} ms a frame")
        for line, s in lines:
            if s / frames * 1e3 > 0.02:
                text = linecache.getline(code.co_filename, line).strip()[:100]
                print(f"{line:5d} {s / frames * 1e3:7.3f}  {text}")


if __name__ == "__main__":
    main()
