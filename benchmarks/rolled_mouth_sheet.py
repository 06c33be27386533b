"""Contact sheet of the mouth on rolled heads: input | before (a base commit) | now (this tree).

    python benchmarks/rolled_mouth_sheet.py [-o docs/rolled_mouth_sheet.jpg] [--base main]

left_wryneck (rolled about 60 degrees as photographed), img1 (teeth) and img3 (closed lips) rotated
by 40 degrees (padded, nothing cut), at open_mouth 0.6, smile 1 and the eee preset: the head at
300 px high, then the mouth at 100 % (200 % on small photos). Look at it at full size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import mouth_sheet  # noqa: E402 - sets the code that renders (this tree or a base)
from reconstruction.controls import PRESETS  # noqa: E402

#: (photo, roll in degrees added to it).
PHOTOS = (
    ("deepinsight__insightface__left_wryneck.png", 0.0),
    ("serengil__deepface__img1.jpg", 40.0),
    ("serengil__deepface__img3.jpg", 40.0),
)
EDITS = {"open_mouth 0.6": {"open_mouth": 0.6}, "smile 1": {"smile": 1.0}, "eee": dict(PRESETS["eee"])}


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """The (H, W, 3) image padded to its diagonal (edge pixels repeated) and rotated by `degrees`
    (counter-clockwise, about its centre): nothing is cut."""
    h, w = image.shape[:2]
    d = int(np.ceil(np.hypot(h, w))) + 8
    top, left = (d - h) // 2, (d - w) // 2
    padded = cv2.copyMakeBorder(image, top, d - h - top, left, d - w - left, cv2.BORDER_REPLICATE)
    turn = cv2.getRotationMatrix2D((d / 2 - 0.5, d / 2 - 0.5), degrees, 1.0)
    return cv2.warpAffine(padded, turn, (d, d), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def photo_name(name: str, degrees: float) -> str:
    return name if degrees == 0.0 else f"{Path(name).stem}_roll{degrees:g}.png"


def write_inputs(images: Path, folder: Path) -> tuple[str, ...]:
    """The sheet's photos (rotated where asked) written into `folder`; their names there."""
    names = []
    for name, degrees in PHOTOS:
        image = cv2.imread(str(images / name))
        cv2.imwrite(str(folder / photo_name(name, degrees)), rotated(image, degrees) if degrees else image)
        names.append(photo_name(name, degrees))
    return tuple(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "rolled_mouth_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = tuple(photo_name(name, degrees) for name, degrees in PHOTOS)
    if args.render_into is not None:  # the base commit's subprocess: inputs already written
        mouth_sheet.render(args.images, args.render_into, names, EDITS)
        return
    with (
        tempfile.TemporaryDirectory() as inputs,
        tempfile.TemporaryDirectory() as before,
        tempfile.TemporaryDirectory() as now,
    ):
        write_inputs(args.images, Path(inputs))
        mouth_sheet.render_base(args.base, Path(inputs), Path(before), __file__)
        mouth_sheet.render(Path(inputs), Path(now), names, EDITS)
        registry = mouth_sheet.EngineRegistry(fast=False)
        rows = [
            row
            for name in names
            for row in mouth_sheet.photo_rows(name, Path(inputs), Path(before), Path(now), registry, EDITS)
        ]
    mouth_sheet.write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
