"""What keeping the near side's strip near its width costs per drag preview: the default renderer
without it and with it, taking turns in one run.

    OMP_NUM_THREADS=2 python benchmarks/bench_near_side.py [--repeats 20] [--photo PATH]

Per frame of a drag (`benchmarks.bench_fullres.drag_scene`: yaw +-25, pitch, smile, open mouth,
closed eyes): render + place at display size (768 px); medians, their difference and ratio. The
photo's skin map (`pipeline.near_side.skin_map`) is made once per photo, not per frame, and is not
timed here. Default photo: tanshuai0219__EDTalk__uncrop_face.jpg from ../shared/data/images.
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
from benchmarks.near_side_sheet import before_the_change  # noqa: E402
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import photo_canvas  # noqa: E402
from pipeline.photo import place_frame  # noqa: E402

PHOTO = REPO.parent / "shared" / "data" / "images" / "tanshuai0219__EDTalk__uncrop_face.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    photo, state, engine, prepared, targets = drag_scene(args.photo, args.repeats)
    canvas = photo_canvas(state, 768)

    def now(i: int) -> None:
        place_frame(canvas, engine.render_frame(prepared, targets[i]))

    def before(i: int) -> None:
        with before_the_change():
            now(i)

    now(0)  # warm-up
    times = interleaved_ms({"before": before, "now": now}, args.repeats)
    record: dict[str, object] = {"photo": list(photo.shape[:2]), "repeats": args.repeats}
    record["preview_768px"] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    record["preview_768px"]["now_minus_before_ms"] = round(median["now"] - median["before"], 2)
    record["preview_768px"]["ratio_now_over_before"] = round(median["now"] / median["before"], 3)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
