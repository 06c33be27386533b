"""Contact sheet of docs/WHITE_LIDS.md: main's shut eyes on the survey's photos, and close_eyes 1
with the lid paths of main switched off one at a time (where the pale bulge or disc comes from).

    OMP_NUM_THREADS=1 python benchmarks/white_lids_sheet.py [-o docs/white_lids_sheet.jpg]

Per photo one row: the input, then close_eyes 1, close_eyes 0.6, wink_left 1, wink_right 1 (main),
then close_eyes 1 with `squint_shut` off and with `smooth_lids` and `lid_shape` off; each tile both
eyes (`white_lids_measure.eyes_box`) at the photo's resolution, enlarged (nearest) or reduced to
`HEIGHT`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.contact_sheet import _label  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.white_lids_measure import eyes_box, photo_lids  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "justadudewhohacks__face-api.js__angry.jpg",
    "deepinsight__insightface__happy.png",
    "OpenTalker__SadTalker__people_0.png",
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",
    "justadudewhohacks__face-api.js__surprised.jpg",
    "yzhou359__MakeItTalk__natalie.jpg",
    "YadiraF__DECA__teaser_2.png",
    "serengil__deepface__img39.jpg",
    "serengil__deepface__img1.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "fudan-generative-vision__hallo__7.jpg",
)
#: (label, edit, flags switched off): main's edits, then close_eyes 1 without one of main's lid paths.
TILES = (
    ("close 1", ("close_eyes", 1.0), ()),
    ("close .6", ("close_eyes", 0.6), ()),
    ("wink_l", ("wink_left", 1.0), ()),
    ("wink_r", ("wink_right", 1.0), ()),
    ("close 1 no squint_shut", ("close_eyes", 1.0), ("squint_shut",)),
    ("close 1 no paint", ("close_eyes", 1.0), ("smooth_lids", "lid_shape")),
)
HEIGHT = 130


def photo_row(path: Path, registry: EngineRegistry) -> np.ndarray:
    """The input and each tile of `TILES`, both eyes, `HEIGHT` px high."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    prepared = engine.prepare_in_photo(
        state.crop, state.coefficients, state.crop_transform, hand_at_face=bool(state.hands)
    )
    x0, y0, x1, y1 = eyes_box(photo_lids(state, prepared, renderer), state.image.shape)
    scale = HEIGHT / (y1 - y0)

    def tile(image: np.ndarray) -> np.ndarray:
        part = image[y0:y1, x0:x1]
        size = (round(part.shape[1] * scale), HEIGHT)
        return cv2.resize(part, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)

    tiles = [_label(tile(state.image), path.stem.split("__")[-1][:12])]
    kept = renderer.settings
    for label, (name, value), off in TILES:
        renderer.settings = dataclasses.replace(kept, **dict.fromkeys(off, False))
        try:
            image = edit(state, EditRequest({name: value}, engine="preview"), registry=registry).full_image
        finally:
            renderer.settings = kept
        tiles.append(_label(tile(image), label))
    return np.concatenate(tiles, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "white_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = [photo_row(args.images / name, registry) for name in PHOTOS]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    write_sheet(rows, args.out, quality=85)


if __name__ == "__main__":
    main()
