"""Cost of the hidden-side fill per drag preview at 768 px, before and now in one run (interleaved).

    OMP_NUM_THREADS=1 python benchmarks/bench_hidden_side.py [--repeats 30] [--photo PATH] [--out results.json]

Both ways run the same renderer on the same prepared photo and the same drag targets
(`bench_fullres._drag`: yaw +-25, pitch, smile, open mouth, blinks); "before" has no mirrored reads
(the default, `PreviewSettings(hidden_side=False)`); "now" adds the mirrored reads to the
prepared state (as `hidden_side=True` does). Measured:
ms per drag preview (render + placing it on the ~768 px canvas), and the added ms paired per target,
over all targets and over those that draw the mirrored layer. Default photo: a three-quarter
view, where the fill works on most targets. Prints one JSON record.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_fullres import drag_scene  # noqa: E402
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import photo_canvas  # noqa: E402
from pipeline.hidden_side import hidden_side  # noqa: E402
from pipeline.photo import place_frame  # noqa: E402

PHOTO = REPO.parent / "shared" / "data" / "images" / "YadiraF__DECA__teaser_1.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    _, state, engine, before, targets = drag_scene(args.photo, args.repeats)
    layout = engine.renderer.projector.layout
    hidden = hidden_side(before.points, layout.triangles, layout.mirror, before.size, before.source)
    now = dataclasses.replace(before, hidden=hidden)
    display = photo_canvas(state, 768)
    layered = [engine.render_frame(now, t).front_alpha is not None for t in targets]
    times = interleaved_ms(
        {
            "before": lambda i: place_frame(display, engine.render_frame(before, targets[i])),
            "now": lambda i: place_frame(display, engine.render_frame(now, targets[i])),
        },
        args.repeats,
    )
    # Paired per target (the same target's before and now ran back to back): all targets, and only
    # those that draw the mirrored layer (a turn towards the camera).
    added = [n - b for n, b in zip(times["now"], times["before"], strict=True)]
    with_layer = [a for a, on in zip(added, layered, strict=True) if on]
    record: dict[str, object] = {
        "photo": args.photo.name,
        "repeats": args.repeats,
        "targets_with_mirrored_reads": sum(layered),
        "preview_768px": {name: summary_ms(t, minimum=False) for name, t in times.items()},
        "added_ms_median": round(statistics.median(times["now"]) - statistics.median(times["before"]), 2),
        "added_ms_paired_median": round(statistics.median(added), 2),
        "added_ms_paired_median_with_layer": round(statistics.median(with_layer), 2) if with_layer else 0.0,
        "goal_added_ms": 3.0,
    }
    write_record(record, args.out)


if __name__ == "__main__":
    main()
