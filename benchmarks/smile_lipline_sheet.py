"""Contact sheet of the smile's upper lip line: input | before (a base commit) | after (this tree).

    OMP_NUM_THREADS=1 python benchmarks/smile_lipline_sheet.py [-o docs/smile_lipline_sheet.jpg] [--base main]

docs/SMILE_LIPLINE.md: smile 0.5, smile 1 and smile 1 + open_mouth 0.5 on face-api.js angry (the
"W" under a moustache), disgusted, sad, deepface img16 (beard) and the eight photos of
docs/SMILE.md: the head scaled to 300 px high, then the mouth and cheeks at 100 % (200 % nearest
on photos under 700 px). "Before" is the base commit's code, run in a subprocess on its
`git archive` export. Look at the sheet at full size.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import before_after_sheet  # noqa: E402
from benchmarks.smile_frown_measure import CLEAN  # noqa: E402

PHOTOS = (
    "justadudewhohacks__face-api.js__angry.jpg",
    "justadudewhohacks__face-api.js__disgusted.jpg",
    "justadudewhohacks__face-api.js__sad.jpg",
    "serengil__deepface__img16.jpg",
    *CLEAN,
)
EDITS = {
    "smile 0.5": {"smile": 0.5},
    "smile 1": {"smile": 1.0},
    "smile 1 + open_mouth 0.5": {"smile": 1.0, "open_mouth": 0.5},
}

if __name__ == "__main__":
    before_after_sheet(
        __doc__.splitlines()[0], __file__, PHOTOS, "smile_lipline_sheet.jpg", quality=85, edits=EDITS
    )
