"""Contact sheet of the smile: input | before (a base commit) | after (this tree), full resolution.

    python benchmarks/smile_sheet.py [-o docs/smile_sheet.jpg] [--base main] [--images DIR]

Smile 0.5 and 1 on eight photos of ../shared/data/images: the head scaled to 300 px high, then the
mouth and cheeks at 100 % (200 % nearest on photos under 700 px). "Before" is the base commit's
code, run in a subprocess on its `git archive` export. Look at the sheet at full size.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import before_after_sheet  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__s2.jpg",
    "cmusatyalab__openface__carell.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "YadiraF__DECA__teaser_2.png",
    "deepinsight__insightface__Tom_Hanks_54745.png",
)
EDITS = {"smile 0.5": {"smile": 0.5}, "smile 1": {"smile": 1.0}}

if __name__ == "__main__":
    before_after_sheet(__doc__.splitlines()[0], __file__, PHOTOS, "smile_sheet.jpg", quality=82, edits=EDITS)
