"""Contact sheet of docs/LID_FAULTS.md: per photo, the input, then per edit the default renderer with
`PreviewSettings.lid_follow` off | on, the head at the photo's resolution scaled to the row.

    OMP_NUM_THREADS=1 python benchmarks/lid_faults_sheet.py [-o docs/lid_faults_sheet.jpg] \
        [--review DIR]

--review DIR also writes each (photo, edit)'s head at 100 % (off above on) as a PNG there, and
prints the largest pixel difference flag off / on per edit.
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
from benchmarks.lid_faults_measure import CLEAN, FAULTS  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = FAULTS + CLEAN + ("yzhou359__MakeItTalk__natalie.jpg",)
EDITS = (("wink_left", 1.0), ("wink_right", 1.0), ("close_eyes", 1.0), ("raise_brows", 1.0), ("frown", 1.0))
HEIGHT = 200


def photo_row(
    path: Path,
    registry: EngineRegistry,
    review: Path | None,
    flag: str = "lid_follow",
    edits: tuple[tuple[str, float], ...] = EDITS,
) -> np.ndarray:
    """The input, then each of `edits` with the PreviewSettings `flag` off | on, scaled to `HEIGHT`;
    the head box is the crop's."""
    state = prepare_photo(path, registry=registry)
    renderer = registry.geometric(state.backend).renderer
    kept = renderer.settings
    x0, y0, x1, y1 = _head_box(state, state.image.shape[:2])
    scale = HEIGHT / (y1 - y0)

    def tile(image: np.ndarray) -> np.ndarray:
        part = image[y0:y1, x0:x1]
        return cv2.resize(part, (round(part.shape[1] * scale), HEIGHT), interpolation=cv2.INTER_AREA)

    tiles = [_label(tile(state.image), path.stem.split("__")[-1][:14])]
    for name, value in edits:
        tag = name if value == 1.0 else f"{name} {value:g}"
        images = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(kept, **{flag: on})
            try:
                images.append(
                    edit(state, EditRequest({name: value}, engine="preview"), registry=registry).full_image
                )
            finally:
                renderer.settings = kept
        diff = int(np.abs(images[0].astype(np.int16) - images[1]).max())
        print(f"{path.name[:44]:44s} {name}={value:g} max diff off/on {diff}", flush=True)  # noqa: T201
        if review is not None:
            both = np.concatenate([image[y0:y1, x0:x1] for image in images], axis=0)
            cv2.imwrite(
                str(review / f"{path.stem[-20:]}_{tag.replace(' ', '')}.png"),
                cv2.cvtColor(both, cv2.COLOR_RGB2BGR),
            )
        tiles += [_label(tile(images[0]), f"{tag} off"), _label(tile(images[1]), "on")]
    return np.concatenate(tiles, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lid_faults_sheet.jpg")
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
