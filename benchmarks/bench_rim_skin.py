"""Cost of the magnified rim's outline and fine detail (`PreviewSettings.rim_skin`, docs/RIM_SKIN.md)
per drag preview: `render_frame` + `place_frame` into the 768 px drag canvas (`photo_canvas(...,
quick=True)`, as the web app makes it) at yaw 30, with it on and off taking turns call by call on
the same photo (paired, one run; `benchmarks.flag_cost`). With --final, the same into the photo at
full resolution (what a saved image, a clip frame or, at display size, a released slider pays; not
in the rule).

    OMP_NUM_THREADS=1 python benchmarks/bench_rim_skin.py [--calls 40] [--side 768] [--final] [--photos NAME ...]

Prints per photo the median ms off and on, and the median of the paired differences, for the wall
clock and the thread's CPU time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.flag_cost import flag_cost  # noqa: E402
from benchmarks.rim_skin_sheet import PHOTOS  # noqa: E402
from benchmarks.timing import print_paired  # noqa: E402
from pipeline import EngineRegistry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--final", action="store_true", help="into the photo at full resolution")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS[:4]))  # the rule's four
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        results = flag_cost(
            args.images / name,
            registry,
            "rim_skin",
            {"yaw": 30.0},
            args.calls,
            side=args.side,
            quick=True,
            final=args.final,
        )
        print_paired(name, results)


if __name__ == "__main__":
    main()
