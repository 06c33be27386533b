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
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import photo_rows, read_render, render, write_sheet  # noqa: E402
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
        changed = {}
        for name in PHOTOS:
            for k, label in enumerate(EDITS):
                a, b = (read_render(Path(d), name, k).astype(np.int16) for d in (off, on))
                change = int(np.abs(a - b).max())
                changed[name] = changed.get(name, False) or change > 0
                print(f"{name[:46]:46s} {label:15s} identical {change == 0}  max change {change}")  # noqa: T201
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for d, tag in ((off, "off"), (on, "on")):
                        src = Path(d) / f"{Path(name).stem}__{k}.png"
                        shutil.copy(src, args.keep / f"{Path(name).stem}__{k}__{tag}.png")
        registry = EngineRegistry(fast=False)
        rows = []
        for name in PHOTOS:
            made = photo_rows(name, args.images, Path(off), Path(on), registry, EDITS)
            rows.extend(made if changed[name] else made[1:2])
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
