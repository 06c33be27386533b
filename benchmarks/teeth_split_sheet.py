"""Contact sheet of opened and widened mouths on photos that show their teeth: input | before | now.

    python benchmarks/teeth_split_sheet.py [-o docs/teeth_split_sheet.jpg] [--base COMMIT]

Where a photo shows its teeth, the renderer splits each column of the opening into what hangs from
the upper lip and what moves with the jaw. Per photo and edit (eee, smile with the mouth half open,
open_mouth 0.5): the head, then the mouth at 100 % (200 % under 700 px), as input | before | after
(`benchmarks.mouth_sheet.before_after_sheet`). "Before" is the base commit's code, run in a
subprocess. Look at the sheet at full size.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from benchmarks.mouth_sheet import before_after_sheet  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402

PHOTOS = (
    "sicxu__Deep3DFaceRecon_pytorch__000006.jpg",  # tilted smirk showing its upper teeth
    "serengil__deepface__img1.jpg",  # upper and lower teeth
    "ageitgey__face_recognition__biden2.jpg",  # upper teeth
    "dchen236__FairFace__race_Latino.jpg",  # a broad smile with teeth
    "deepinsight__insightface__Teresa_Williams_0001_1k.jpg",  # a smile with teeth
)
EDITS = {
    "eee": dict(PRESETS["eee"]),
    "smile 1 + open_mouth 0.5": {"smile": 1.0, "open_mouth": 0.5},
    "open_mouth 0.5": {"open_mouth": 0.5},
}

if __name__ == "__main__":
    before_after_sheet(
        __doc__.splitlines()[0], __file__, PHOTOS, "teeth_split_sheet.jpg", quality=85, edits=EDITS
    )
