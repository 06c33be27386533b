"""Sheet of docs/TEETH_TONE.md: the procedural teeth capped by the photo's skin (`teeth_tone`).

    OMP_NUM_THREADS=1 python benchmarks/teeth_tone_sheet.py [-o docs/teeth_tone_sheet.jpg] [--keep DIR]

Every photo of `PHOTOS` at open_mouth 0.5, open_mouth 1 and smile 1, rendered by this tree with
`PreviewSettings.teeth_tone` off ("before": main's pixels) and on ("after"); per photo and edit
the head (300 px high) input | before | after, then the mouth at 100 % (200 % nearest on small
photos) (`benchmarks.mouth_sheet.photo_rows`); smile 1 only on the photos with their own teeth. Prints, per photo and edit, whether off and on are
pixel-identical (rule 2: photos that show their own teeth) and the largest change. `--keep DIR`
also writes the full-resolution renders there (`<stem>__<edit>__off|on.png`) to look at the whole
head at 100 %.
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
    "YadiraF__DECA__teaser_2.png",  # the fault: bearded, squinting
    "xinntao__facexlib__test2.jpg",  # elderly
    "YadiraF__PRNet__image02545.jpg",  # low-key, dark
    "timesler__facenet-pytorch__shea_whigham_1.jpg",  # stubble, thin lip
    "yzhou359__MakeItTalk__hound.jpg",  # dark beard
    "YadiraF__DECA__IMG_0392_inputs.jpg",  # survey: "too clean for the photo"
    "serengil__deepface__img3.jpg",  # closed lips, warm light
    "KwaiVGI__LivePortrait__s2.jpg",  # teeth that look right (black and white)
    "OpenTalker__SadTalker__people_0.png",  # teeth that look right, bright photo
    "serengil__deepface__img1.jpg",  # its own teeth (unchanged)
    "dchen236__FairFace__race_Black.jpg",  # its own teeth (unchanged)
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "smile 1": {"smile": 1.0},
}


#: Photos that show their own teeth: the sheet shows their smile 1 too (the others' changes by at most
#: a few levels in the thin smile strip are printed, not shown: the sheet stays under 3 MB).
OWN_TEETH = ("serengil__deepface__img1.jpg", "dchen236__FairFace__race_Black.jpg")


def _shown(name: str) -> dict[str, dict]:
    """The edits of `name` on the sheet (in `EDITS`' order, so their render indices match)."""
    return EDITS if name in OWN_TEETH else dict(list(EDITS.items())[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "teeth_tone_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--quality", type=int, default=85)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as off, tempfile.TemporaryDirectory() as on:
        render(args.images, Path(off), PHOTOS, EDITS, {"teeth_tone": False})
        render(args.images, Path(on), PHOTOS, EDITS, {"teeth_tone": True})
        compare_renders(Path(off), Path(on), PHOTOS, EDITS, args.keep)
        registry = EngineRegistry(fast=False)
        rows = [
            row
            for name in PHOTOS
            for row in photo_rows(name, args.images, Path(off), Path(on), registry, _shown(name))
        ]
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
