"""Contact sheet of the smile on down-turned and other mouths: input | main | new (docs/SMILE_FROWN.md).

    OMP_NUM_THREADS=1 python benchmarks/smile_frown_sheet.py [-o docs/smile_frown_sheet.jpg] [--images DIR]

"main" is this tree with `PreviewSettings.smile_corners` off (pixel-identical to main), "new" with it
on. Smile 0.5, smile 1 and smile 1 + open_mouth 0.5 on the three fault photos (face-api.js sad,
disgusted, angry) and the eight of docs/SMILE.md: the head scaled to 300 px high, then the mouth and
cheeks at 100 % (200 % nearest on photos under 700 px). Look at the sheet at full size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import photo_rows, render, write_sheet  # noqa: E402
from benchmarks.smile_frown_measure import CLEAN, FAULT  # noqa: E402
from pipeline import EngineRegistry  # noqa: E402

EDITS = {
    "smile 0.5": {"smile": 0.5},
    "smile 1": {"smile": 1.0},
    "smile 1 + open_mouth 0.5": {"smile": 1.0, "open_mouth": 0.5},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "smile_frown_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--photos", nargs="*", default=list(FAULT + CLEAN))
    args = parser.parse_args()
    photos = tuple(args.photos)
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        render(args.images, Path(before), photos, EDITS, {"smile_corners": False})
        render(args.images, Path(after), photos, EDITS, {"smile_corners": True})
        registry = EngineRegistry(fast=False)
        rows = [
            row
            for name in photos
            for row in photo_rows(name, args.images, Path(before), Path(after), registry, EDITS)
        ]
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
