"""Contact sheet of docs/DARK_LIDS.md: per photo, the input, then per edit the default renderer with
`PreviewSettings.dark_lids` off | on, the head at the photo's resolution scaled to the row.

    OMP_NUM_THREADS=1 python benchmarks/dark_lids_sheet.py [-o docs/dark_lids_sheet.jpg] [--review DIR]

--review DIR also writes each (photo, edit)'s head at 100 % (off above on) as a PNG there, and
prints the largest pixel difference flag off / on per edit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.dark_lids_measure import CLEAN, FAULTS, OTHERS  # noqa: E402
from benchmarks.lid_faults_sheet import photo_row  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from pipeline import EngineRegistry  # noqa: E402

PHOTOS = FAULTS + CLEAN + OTHERS[:4]
EDITS = (("close_eyes", 1.0), ("close_eyes", 0.6), ("wink_left", 1.0), ("raise_brows", 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "dark_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--review", type=Path, default=None)
    args = parser.parse_args()
    if args.review is not None:
        args.review.mkdir(parents=True, exist_ok=True)
    registry = EngineRegistry(fast=False)
    rows = [photo_row(args.images / name, registry, args.review, "dark_lids", EDITS) for name in PHOTOS]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    write_sheet(rows, args.out, quality=85)


if __name__ == "__main__":
    main()
