"""Contact sheet of the painted teeth on closed-lip photos: input | current default | new.

    python benchmarks/teeth_sheet.py [-o docs/teeth_sheet.jpg] [--base main] [--images DIR]

Per photo and edit (open_mouth 0.5 and 1, the presets aaa and ooo): the head scaled to 300 px high,
then the mouth at 100 % (photo pixels, never scaled; 200 % nearest on photos under 700 px), each as
input | before | after (`benchmarks.mouth_sheet.photo_rows`). Four photos with closed lips, whose
opened mouth is all painted (teeth included), and one that shows its own teeth (kept as they are).
"Before" is the base commit's code, exported with `git archive` and run in a subprocess; "after"
is this tree. Look at the sheet at full size.
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

PHOTOS = (
    "serengil__deepface__img3.jpg",  # closed lips, 2048 px
    "KwaiVGI__LivePortrait__s2.jpg",  # closed lips, black and white
    "cmusatyalab__openface__carell.jpg",  # closed lips, 891 px
    "ageitgey__face_recognition__biden2.jpg",  # shows its upper teeth: must stay as it was
    "cmusatyalab__openface__adams.jpg",  # closed lips, neutral, 1061 px
    "serengil__deepface__img1.jpg",  # shows its own teeth: must stay as it was
)


if __name__ == "__main__":
    before_after_sheet(__doc__.splitlines()[0], __file__, PHOTOS, "teeth_sheet.jpg", quality=85)
