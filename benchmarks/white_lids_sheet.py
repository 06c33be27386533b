"""Contact sheet of docs/WHITE_LIDS.md: per photo, the input's eyes, then per edit the default
renderer with `PreviewSettings.white_lids` off | on, both eyes at the photo's resolution.

    OMP_NUM_THREADS=1 python benchmarks/white_lids_sheet.py [-o docs/white_lids_sheet.jpg] [--review DIR]

Each tile shows both eyes (`white_lids_measure.eyes_box`), enlarged (nearest) or reduced to
`HEIGHT`. --review DIR also writes each (photo, edit)'s whole head at 100 % (off above on) as a PNG
there, and prints the largest pixel difference off / on per edit.
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

from benchmarks.contact_sheet import _head_box, _label  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.white_lids_measure import eyes_box, photo_lids  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "justadudewhohacks__face-api.js__angry.jpg",
    "deepinsight__insightface__happy.png",
    "YadiraF__DECA__teaser_2.png",
    "serengil__deepface__img39.jpg",
    "RenYurui__PIRender__id11248-QdBQTHX55yI-021933-022196_00274.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "ageitgey__face_recognition__biden2.jpg",
    "yzhou359__MakeItTalk__chris2.jpg",
    "serengil__deepface__img3.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "dchen236__FairFace__race_Black.jpg",
)
EDITS = (
    ("close_eyes", 1.0),
    ("close_eyes", 0.6),
    ("wink_left", 1.0),
    ("wink_right", 1.0),
    ("raise_brows", 1.0),
)
HEIGHT = 130


def photo_row(path: Path, registry: EngineRegistry, review: Path | None) -> np.ndarray:
    """The input's eyes, then each edit off | on, `HEIGHT` px high."""
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
    for name, value in EDITS:
        images = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(kept, white_lids=on)
            try:
                request = EditRequest({name: value}, engine="preview")
                images.append(edit(state, request, registry=registry).full_image)
            finally:
                renderer.settings = kept
        diff = int(np.abs(images[0].astype(np.int16) - images[1]).max())
        print(f"{path.name[:44]:44s} {name}={value:g} max diff off/on {diff}", flush=True)  # noqa: T201
        if review is not None:
            hx0, hy0, hx1, hy1 = _head_box(state, state.image.shape[:2])
            both = np.concatenate([image[hy0:hy1, hx0:hx1] for image in images], axis=0)
            out = review / f"{path.stem[-20:]}_{name}_{value:g}.png"
            cv2.imwrite(str(out), cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
        tiles += [_label(tile(images[0]), f"{name[:6]} {value:g} off"), _label(tile(images[1]), "on")]
    return np.concatenate(tiles, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "white_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--review", type=Path, default=None)
    args = parser.parse_args()
    if args.review is not None:
        args.review.mkdir(parents=True, exist_ok=True)
    registry = EngineRegistry(fast=False)
    rows = [photo_row(args.images / name, registry, args.review) for name in PHOTOS]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    write_sheet(rows, args.out, quality=85)


if __name__ == "__main__":
    main()
