"""What the turn fixes cost: the default renderer before them and now, taking turns in one run.

    OMP_NUM_THREADS=2 python benchmarks/bench_turn_features.py [--repeats 20] [--photo PATH]

The fixes (see benchmarks/turn_features_sheet.py): the eyes' openings rasterised as surfaces, the
mouth's gap measured in the target's pose, and the flow resampled across occlusion edges
(`reconstruction.folds`: the coarse raster's upsampling, exact rasterisation around the edges and
the anti-aliased edge at the photo's resolution). Per frame of a drag through yaw +-25, pitch,
smile, open mouth and closed eyes: render + place at display size (768 px), at the photo's full
resolution (12 MP by default) and at 512 px (video); medians and their ratio now / before.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_fullres import drag_scene  # noqa: E402
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from benchmarks.turn_features_sheet import _before_the_fixes  # noqa: E402
from pipeline import photo_canvas  # noqa: E402
from pipeline.photo import Canvas, place_frame  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--photo", type=Path, default=None, help="a real photo (default: astronaut at 12 MP)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    photo, state, engine, prepared, targets = drag_scene(args.photo, args.repeats)

    def now(canvas: Canvas, i: int) -> None:
        place_frame(canvas, engine.render_frame(prepared, targets[i]))

    def before(canvas: Canvas, i: int) -> None:
        with _before_the_fixes():
            now(canvas, i)

    record: dict[str, object] = {"photo": list(photo.shape[:2]), "repeats": args.repeats}
    for label, canvas in (
        ("preview_768px", photo_canvas(state, 768)),
        ("edit_full_resolution", Canvas(state.image, state.crop_transform)),
        ("video_512px_frame", photo_canvas(state, 512, even=True)),
    ):
        now(canvas, 0)  # warm-up
        times = interleaved_ms(
            {"before": lambda i, c=canvas: before(c, i), "now": lambda i, c=canvas: now(c, i)}, args.repeats
        )
        record[label] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
        record[label]["ratio_now_over_before"] = round(
            statistics.median(times["now"]) / statistics.median(times["before"]), 3
        )
    write_record(record, args.out)


if __name__ == "__main__":
    main()
