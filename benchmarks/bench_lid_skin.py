"""Cost of the painted shut lid (`PreviewSettings.smooth_lids`, docs/SHUT_LIDS.md "Skin without
streaks", or another flag with --flag) per drag preview: `render_frame` + `place_frame` into the
768 px canvas at close_eyes 1, with it on and off taking turns call by call on the same photo
(paired, one run; `benchmarks.flag_cost`).

    OMP_NUM_THREADS=1 python benchmarks/bench_lid_skin.py [--calls 40] [--side 768] [--flag NAME] [--photos NAME ...]

Prints per photo the median ms off and on, and the median of the paired differences (each call
on minus the call off next to it: robust to a shared machine's load changing during the run); the
same for the thread's CPU time (`time.thread_time`: robust to other processes on the same cores,
which stretch the wall-clock time of both calls when the machine is loaded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.flag_cost import flag_cost  # noqa: E402
from benchmarks.timing import print_paired  # noqa: E402
from pipeline import EngineRegistry  # noqa: E402

PHOTOS = (
    "YadiraF__DECA__teaser_1.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "serengil__deepface__img3.jpg",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--flag", default="smooth_lids", help="the PreviewSettings flag timed")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        results = flag_cost(
            args.images / name, registry, args.flag, {"close_eyes": 1.0}, args.calls, side=args.side
        )
        print_paired(name, results)


if __name__ == "__main__":
    main()
