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

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from benchmarks.mouth_sheet import EDITS, photo_rows, write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "serengil__deepface__img3.jpg",  # closed lips, 2048 px
    "KwaiVGI__LivePortrait__s2.jpg",  # closed lips, black and white
    "cmusatyalab__openface__carell.jpg",  # closed lips, 891 px
    "ageitgey__face_recognition__biden2.jpg",  # shows its upper teeth: must stay as it was
    "cmusatyalab__openface__adams.jpg",  # closed lips, neutral, 1061 px
    "serengil__deepface__img1.jpg",  # shows its own teeth: must stay as it was
)


def render(images: Path, folder: Path) -> None:
    """Write every edit of every photo as `folder`/<photo stem>__<edit index>.png (full resolution)."""
    registry = EngineRegistry(fast=False)
    for name in PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        for k, values in enumerate(EDITS.values()):
            out = edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
            cv2.imwrite(str(folder / f"{Path(name).stem}__{k}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))


def render_base(base: str, images: Path, folder: Path) -> None:
    """`render` with the code of commit `base` (exported, then run in a subprocess)."""
    with tempfile.TemporaryDirectory() as code:
        archive = subprocess.run(["git", "archive", base], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        env = {**os.environ, "MOUTH_SHEET_CODE": code}
        script = [sys.executable, str(Path(__file__).resolve()), "--render-into", str(folder)]
        subprocess.run([*script, "--images", str(images)], cwd=code, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "teeth_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--keep", type=Path, default=None, help="also keep the rendered PNGs here")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_into is not None:
        render(args.images, args.render_into)
        return
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        render_base(args.base, args.images, Path(before))
        render(args.images, Path(after))
        registry = EngineRegistry(fast=False)
        rows = [
            row
            for name in PHOTOS
            for row in photo_rows(name, args.images, Path(before), Path(after), registry)
        ]
    write_sheet(rows, args.out, args.quality)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for k, row in enumerate(rows):
            cv2.imwrite(str(args.keep / f"row{k:02d}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
