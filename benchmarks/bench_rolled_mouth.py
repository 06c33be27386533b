"""Cost of the mouth's level frame per drag preview: paired timing in one run.

    OMP_NUM_THREADS=1 python benchmarks/bench_rolled_mouth.py [--repeats 15]

Per photo (img1, level; left_wryneck, rolled about 60 degrees) and edit (open_mouth 0.6, smile 1),
the preview edit alternately with the mouth model in the crop's columns (its level frame switched
off for the run: what main does) and in the mouth's level frame; median milliseconds of each and
their difference.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import cached_property
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.mouth import MouthMotion  # noqa: E402

PHOTOS = ("serengil__deepface__img1.jpg", "deepinsight__insightface__left_wryneck.png")
EDITS = ({"open_mouth": 0.6}, {"smile": 1.0})
LEVELLED = MouthMotion.__dict__["levelled"]
COLUMNS = cached_property(lambda self: None)  # the crop's own columns, as on main
COLUMNS.__set_name__(MouthMotion, "levelled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    args = parser.parse_args()
    registry = EngineRegistry()
    for name in PHOTOS:
        state = prepare_photo(args.images / name, registry=registry)
        for values in EDITS:
            request = EditRequest(values=values, engine="preview")
            edit(state, request, registry=registry)  # warm
            times: dict[str, list[float]] = {"columns": [], "level frame": []}
            pair = [("columns", COLUMNS), ("level frame", LEVELLED)]
            for k in range(args.repeats):
                for label, prop in pair[:: 1 - 2 * (k % 2)]:  # each first in every other pair
                    MouthMotion.levelled = prop
                    start = time.perf_counter()
                    edit(state, request, registry=registry)
                    times[label].append(1e3 * (time.perf_counter() - start))
            MouthMotion.levelled = LEVELLED
            cols, level = (float(np.median(t)) for t in times.values())
            diff = float(np.median(np.subtract(times["level frame"], times["columns"])))
            print(
                f"{name} {values}: columns {cols:.1f} ms, level frame {level:.1f} ms, paired diff {diff:+.2f} ms"
            )  # noqa: T201


if __name__ == "__main__":
    main()
