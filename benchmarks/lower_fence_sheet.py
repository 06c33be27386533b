"""Sheet of docs/LOWER_FENCE.md: the lower row under a photo's own upper teeth (`lower_fence`).

    OMP_NUM_THREADS=1 python benchmarks/lower_fence_sheet.py [-o docs/lower_fence_sheet.jpg] [--keep DIR]

Every photo of `PHOTOS` at open_mouth 0.5, open_mouth 1 and open_mouth 0.6 + yaw 20, rendered by
this tree with `PreviewSettings.lower_fence` off ("before": main's pixels) and on ("after"); per
photo and edit the head input | before | after, then the mouth at 100 % (200 % nearest on small
photos) (`benchmarks.mouth_sheet.photo_rows`). Photos whose renders are pixel-identical at every
edit show only open_mouth 1 (the sheet stays under 3 MB). Prints, per photo and edit, whether off
and on are pixel-identical and the largest change. `--keep DIR` also writes the full-resolution
renders there (`<stem>__<edit>__off|on.png`) to look at the whole head at 100 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import compare_renders, photo_rows, render, write_sheet  # noqa: E402
from pipeline import EngineRegistry  # noqa: E402

PHOTOS = (
    "serengil__deepface__img39.jpg",  # the fault: a picket fence (glare 3)
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",  # the fault, a halftone print
    "serengil__deepface__img22.jpg",  # its upper teeth only: the same path ("a tall picket fence")
    "justadudewhohacks__face-api.js__happy.jpg",  # upper teeth only, small
    "deepinsight__insightface__happy.png",  # upper teeth only
    "ageitgey__face_recognition__alex-lacamoire.png",  # upper teeth only, small
    "dchen236__FairFace__race_Latino.jpg",  # upper teeth only
    "serengil__deepface__img3.jpg",  # closed lips: procedural rows (unchanged)
    "KwaiVGI__LivePortrait__s2.jpg",  # closed lips, black and white (unchanged)
    "serengil__deepface__img1.jpg",  # its own teeth, both rows (unchanged)
    "ageitgey__face_recognition__biden2.jpg",  # its own teeth, both rows (unchanged)
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "open 0.6 yaw 20": {"open_mouth": 0.6, "yaw": 20.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lower_fence_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--quality", type=int, default=85)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as off, tempfile.TemporaryDirectory() as on:
        render(args.images, Path(off), PHOTOS, EDITS, {"lower_fence": False})
        render(args.images, Path(on), PHOTOS, EDITS, {"lower_fence": True})
        changed = compare_renders(Path(off), Path(on), PHOTOS, EDITS, args.keep)
        registry = EngineRegistry(fast=False)
        rows = []
        for name in PHOTOS:
            made = photo_rows(name, args.images, Path(off), Path(on), registry, EDITS)
            rows.extend(made if changed[name] else made[1:2])
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
