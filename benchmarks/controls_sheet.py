"""Contact sheet of the brow and round-lip controls: input | before (a base commit) | after (this tree).

    python benchmarks/controls_sheet.py [-o docs/controls_sheet.jpg] [--base main] [--images DIR]

raise_brows 1 and -1, frown 1, round_lips 1 and the preset ooo on six photos of
../shared/data/images: the head scaled to 300 px high, then the mouth at 100 % (200 % nearest on
photos under 700 px). "Before" is the base commit's code, run in a subprocess on its `git archive`
export. Look at the sheet at full size.
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
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__s2.jpg",
    "cmusatyalab__openface__carell.jpg",
    "serengil__deepface__img1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "dchen236__FairFace__race_Black.jpg",
)
EDITS = {
    "raise_brows 1": {"raise_brows": 1.0},
    "raise_brows -1": {"raise_brows": -1.0},
    "frown 1": {"frown": 1.0},
    "round_lips 1": {"round_lips": 1.0},
    "ooo": dict(PRESETS["ooo"]),
}

if __name__ == "__main__":
    before_after_sheet(
        __doc__.splitlines()[0], __file__, PHOTOS, "controls_sheet.jpg", quality=80, edits=EDITS
    )
