"""Contact sheet of the round lips ("ooo"): input | before (a base commit) | after (this tree).

    python benchmarks/round_lips_sheet.py [-o docs/round_lips_sheet.jpg] [--base main] [--images DIR]

round_lips 0.5 and 1 and the preset ooo on eight photos of ../shared/data/images (closed, parted
and smiling lips, a full beard, a 256-px photo): the head scaled to 300 px high, then the mouth at
100 % (200 % nearest on photos under 700 px). "Before" is the base commit's code, run in a
subprocess on its `git archive` export. Look at the sheet at full size.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import before_after_sheet  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",  # closed lips
    "KwaiVGI__LivePortrait__s2.jpg",  # parted lips, black and white
    "cmusatyalab__openface__carell.jpg",  # a closed smile, stubble
    "serengil__deepface__img1.jpg",  # a wide smile showing teeth
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",  # closed lips, low light
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img16.jpg",  # full beard
    "yzhou359__MakeItTalk__chris2.jpg",  # 256 px, grey beard
)
EDITS = {
    "round_lips 0.5": {"round_lips": 0.5},
    "round_lips 1": {"round_lips": 1.0},
    "ooo": dict(PRESETS["ooo"]),
}

if __name__ == "__main__":
    before_after_sheet(
        __doc__.splitlines()[0], __file__, PHOTOS, "round_lips_sheet.jpg", quality=82, edits=EDITS
    )
