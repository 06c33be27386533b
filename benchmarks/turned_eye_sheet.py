"""Contact sheet of the eyes at a strong turn: the photo's eyes, the eyes before the openings had a
surface of their own (the side of the head could paint skin over a far iris), and now, at 100 %.

    python benchmarks/turned_eye_sheet.py [-o docs/turned_eye_sheet.jpg]

Edits: yaw -30, -15, +15, +30 (the default renderer) on four real photos of ../shared/data/images.
"Before" is the same renderer with `pipeline.geometric.eye_surfaces` giving no surfaces.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pipeline.geometric as geometric  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "fudan-generative-vision__hallo__6.jpg",
    "yzhou359__MakeItTalk__natalie.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img3.jpg",
)
YAWS = (-30.0, -15.0, 15.0, 30.0)
TILE = 480


@contextmanager
def _without_eye_surfaces() -> Iterator[None]:
    original = geometric.eye_surfaces

    def none(*_args: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros((0, 3, 2))

    geometric.eye_surfaces = none
    try:
        yield
    finally:
        geometric.eye_surfaces = original


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2, cv2.LINE_AA)
    return out


def rows_for(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    """One row per turn: the eyes' band of the photo, before and now, at the photo's resolution
    (scaled up to the tile when the photo is small)."""
    state = prepare_photo(path, registry=registry)
    lm = state.analysis.detection.face.landmarks[:, :2]
    eyes = lm[[33, 133, 263, 362, 159, 386, 145, 374]]
    (x0, y0), (x1, y1) = eyes.min(axis=0), eyes.max(axis=0)
    across, down = 0.45 * (x1 - x0), 0.3 * (x1 - x0)  # room for the eyes to move with the turn
    h, w = state.image.shape[:2]
    box = (max(0, int(x0 - across)), max(0, int(y0 - down)), min(w, int(x1 + across)), min(h, int(y1 + down)))

    def tile(image: np.ndarray) -> np.ndarray:
        part = image[box[1] : box[3], box[0] : box[2]]
        scale = TILE / part.shape[1]
        return cv2.resize(part, (TILE, round(part.shape[0] * scale)), interpolation=cv2.INTER_CUBIC)

    rows = []
    for yaw in YAWS:
        request = EditRequest({"yaw": yaw})
        with _without_eye_surfaces():
            before = edit(state, request, registry=registry).full_image
        now = edit(state, request, registry=registry).full_image
        row = np.concatenate([tile(state.image), tile(before), tile(now)], axis=1)
        rows.append(_label(row, f"{path.name[:34]} yaw {yaw:+.0f}: input | before | now"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "turned_eye_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = [row for name in PHOTOS for row in rows_for(args.images / name, registry)]
    write_sheet(rows, args.out, quality=88)


if __name__ == "__main__":
    main()
