"""Cost of the painted teeth per drag preview: the base commit's mouth painter against this tree's, in one run.

    python benchmarks/bench_teeth.py [--base main] [--repeats 40] [--photos PATH ...] [--lower-row] [--open-look] [--out results.json]

Per photo (closed lips by default, so the opened mouth is all painted), the same drag events (open
mouth from 0.3 to 1 and back, with a little yaw) are rendered by `GeometricRenderer.render_frame`
and placed into the display-size canvas (768 px, `place_frame`) and into the full-resolution photo,
the two ways taking turns: "old" with the base commit's `pipeline/mouth.py::paint_mouth` and
`pipeline/teeth.py` (read from git; a painter that returns nothing makes no finer paint), "new" with this tree's (procedural teeth
at the crop's resolution, and again at `fine_teeth` times it for the overlay). Prints one JSON record.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import (  # noqa: E402
    EditRequest,
    EngineRegistry,
    geometric,  # noqa: E402
    photo_canvas,
    prepare_photo,
)
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402

IMAGES = REPO.parent / "shared" / "data" / "images"
PHOTOS = (IMAGES / "serengil__deepface__img3.jpg", IMAGES / "KwaiVGI__LivePortrait__s2.jpg")


def _base_module(base: str, path: str, name: str):  # noqa: ANN202
    """The base commit's `path`, loaded from git as the module `name`."""
    result = subprocess.run(["git", "show", f"{base}:{path}"], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(result.stdout)
    spec = importlib.util.spec_from_file_location(name, handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _base_painter(base: str):  # noqa: ANN202
    """The base commit's (`paint_mouth`, `fine_paint`), with its teeth (`pipeline/teeth.py`) when it has them."""
    module = _base_module(base, "pipeline/mouth_paint.py", "base_mouth_paint")  # the painter's own file
    module = module or _base_module(base, "pipeline/mouth.py", "base_mouth")  # before it had one
    teeth = _base_module(base, "pipeline/teeth.py", "base_teeth")
    if teeth is not None and hasattr(module, "draw_teeth"):
        module.draw_teeth, module.TOOTH_COLOUR = teeth.draw_teeth, teeth.TOOTH_COLOUR
    return module.paint_mouth, getattr(module, "fine_paint", geometric.fine_paint)


def _time_photo(
    path: Path,
    painters: dict,
    registry: EngineRegistry,
    repeats: int,
    fine: int | None,
    lower_row: bool = False,
    open_look: bool = False,
) -> dict[str, object]:
    """Paired timings of the two painters on one photo, per canvas: {label: {old, new, added_ms}}."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    if fine is not None:
        engine.renderer.settings = dataclasses.replace(engine.renderer.settings, fine_teeth=fine)
    # The lower row under a photo's own upper teeth (a base painter without it ignores the setting).
    engine.renderer.settings = dataclasses.replace(
        engine.renderer.settings, lower_row=lower_row, open_look=open_look
    )
    es = state.engine_state(engine)
    drag = np.concatenate(
        [np.linspace(0.3, 1.0, repeats // 2), np.linspace(1.0, 0.3, repeats - repeats // 2)]
    )
    targets = [
        target_coefficients(
            state, EditRequest({"open_mouth": float(v), "yaw": 5.0 * float(v)}), registry=registry
        )
        for v in drag
    ]
    canvases = {
        "preview_768px": photo_canvas(state, 768),
        "full_resolution": Canvas(state.image, state.crop_transform),
    }
    record: dict[str, object] = {}
    for label, canvas in canvases.items():

        def way(name: str, c: Canvas = canvas):  # noqa: ANN202
            def run(i: int) -> object:
                geometric.paint_mouth, geometric.fine_paint = painters[name]
                return place_frame(c, engine.render_frame(es, targets[i]))

            return run

        way("new")(0), way("old")(0)  # warm-up
        times = interleaved_ms({name: way(name) for name in painters}, repeats)
        entry: dict[str, object] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
        entry["added_ms"] = round(statistics.median(times["new"]) - statistics.median(times["old"]), 2)
        record[label] = entry
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--photos", type=Path, nargs="+", default=list(PHOTOS))
    parser.add_argument("--fine-teeth", type=int, default=None, help="override the renderer's fine_teeth")
    parser.add_argument("--lower-row", action="store_true", help="turn PreviewSettings.lower_row on")
    parser.add_argument("--open-look", action="store_true", help="turn PreviewSettings.open_look on")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    painters = {"old": _base_painter(args.base), "new": (geometric.paint_mouth, geometric.fine_paint)}
    registry = EngineRegistry(fast=False)
    record: dict[str, object] = {"repeats": args.repeats, "base": args.base, "fine_teeth": args.fine_teeth}
    try:
        for path in args.photos:
            record[path.stem] = _time_photo(
                path, painters, registry, args.repeats, args.fine_teeth, args.lower_row, args.open_look
            )
    finally:
        geometric.paint_mouth, geometric.fine_paint = painters["new"]
    write_record(record, args.out)


if __name__ == "__main__":
    main()
