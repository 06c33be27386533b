"""Cost of softening painted layers to the photo's sharpness, per drag preview (docs/PAINT_SOFTNESS.md).

    OMP_NUM_THREADS=1 python benchmarks/bench_paint_softness.py [--repeats 30] [-o out.json]

Per photo (a soft one, a sharp one) and edit (open_mouth 1, close_eyes 1), the frame is rendered
once and placed into the drag preview's canvas (`photo_canvas(state, drag_max_side)`) many times,
with the paint laid as before (`Canvas.paint_blur` 0) and as now, the two taking turns
(`timing.interleaved_ms`); prints each way's times and `extra_ms`, the median of the paired
differences (call i now - call i before), and the per-photo measure's own cost (once per photo,
at prepare time). A loaded machine moves single calls by milliseconds: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, photo_canvas, prepare_photo  # noqa: E402
from pipeline.photo import place_frame, target_coefficients  # noqa: E402
from reconstruction.softness import photo_blur  # noqa: E402
from webui.config import ServerConfig  # noqa: E402

PHOTOS = ("sczhou__CodeFormer__0143.png", "serengil__deepface__img3.jpg")
EDITS = {"open_mouth 1": {"open_mouth": 1.0}, "close_eyes 1": {"close_eyes": 1.0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    side = ServerConfig().drag_max_side
    record: dict = {"drag_max_side": side, "repeats": args.repeats, "photos": {}}
    for name in PHOTOS:
        state = prepare_photo(Path(args.images) / name, registry=registry)
        landmarks = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])
        start = time.perf_counter()
        photo_blur(state.image, landmarks)
        measure_ms = 1000.0 * (time.perf_counter() - start)
        canvas = photo_canvas(state, side)
        before = replace(canvas, paint_blur=0.0)
        engine = registry.select("preview", state.backend, state.face_model)
        entry: dict = {"paint_blur_px": round(state.paint_blur, 2), "measure_once_ms": round(measure_ms, 1)}
        for label, values in EDITS.items():
            coeffs = target_coefficients(
                state, EditRequest(values=values, engine="preview"), registry=registry
            )
            frame = engine.render_frame(state.engine_state(engine), coeffs)
            ways = {
                "before": lambda i, f=frame, c=before: place_frame(c, f),
                "now": lambda i, f=frame, c=canvas: place_frame(c, f),
            }
            interleaved_ms(ways, 3)  # warm-up
            times = interleaved_ms(ways, args.repeats)
            summary = {way: summary_ms(t) for way, t in times.items()}
            pairs = sorted(n - b for n, b in zip(times["now"], times["before"], strict=True))
            summary["extra_ms"] = round(pairs[len(pairs) // 2], 2)  # median of the paired differences
            entry[label] = summary
        record["photos"][name] = entry
    write_record(record, args.output)


if __name__ == "__main__":
    main()
