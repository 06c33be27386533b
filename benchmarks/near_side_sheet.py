"""Contact sheet of the near side of a turn: the photo, the default renderer before the near side's
strip was kept near its width (`pipeline.near_side`), and now.

    python benchmarks/near_side_sheet.py [-o docs/near_side_sheet.jpg]

Edits: yaw -30, -15, +15, +30 on five near-frontal photos of ../shared/data/images. Per row: the
whole head (input | before | now, scaled to a tile) and a 100 % crop (0.7 of the face's width) of the near cheek and temple
(the side the turn shows more of: our left for a positive yaw). "Before" is the same renderer with
`pipeline.near_side.STRIP_MAGNIFICATION` set to 0 (the correction off).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pipeline.near_side as near_side  # noqa: E402
from benchmarks.mouth_sheet import run_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "KwaiVGI__LivePortrait__d38.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "sczhou__CodeFormer__0143.png",
    "cmusatyalab__openface__carell.jpg",
    "serengil__deepface__img1.jpg",
)
YAWS = (-30.0, -15.0, 15.0, 30.0)
HEAD = 240  # whole-head tile width
MAX_WIDTH = 3 * HEAD + 3 * 340  # every row padded to this width (the near crops: at most 340 px each)
NEAR = 0.7  # width of the 100 % crop of the near side, in face widths (landmarks)


@contextmanager
def before_the_change() -> Iterator[None]:
    """The default renderer without the near side's correction."""
    keep = near_side.STRIP_MAGNIFICATION
    near_side.STRIP_MAGNIFICATION = 0.0
    try:
        yield
    finally:
        near_side.STRIP_MAGNIFICATION = keep


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def _fit(image: np.ndarray, height: int) -> np.ndarray:
    """Pad (below, grey) or cut `image` to `height` rows."""
    if image.shape[0] >= height:
        return image[:height]
    pad = np.full((height - image.shape[0], *image.shape[1:]), 96, np.uint8)
    return np.concatenate([image, pad], axis=0)


def rows_for(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    """One row per turn: whole head input | before | now, then the near side's 100 % crops."""
    state = prepare_photo(path, registry=registry)
    lm = state.analysis.detection.face.landmarks[:, :2]
    h, w = state.image.shape[:2]
    (x0, y0), (x1, y1) = lm.min(axis=0), lm.max(axis=0)
    pad = 0.35 * (x1 - x0)
    head = (max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(x1 + pad)), min(h, int(y1 + 0.3 * pad)))
    wide = min(int(NEAR * (x1 - x0)), w, 340)
    tall = min(int(1.4 * wide), h)
    top = int(np.clip(y0 + 0.35 * (y1 - y0) - 0.5 * tall, 0, h - tall))

    def near_box(yaw: float) -> tuple[int, int, int, int]:
        # From the photo's face contour on the near side inwards: the turn moves the face's rim in.
        rim = x0 if yaw > 0 else x1
        left = int(np.clip(rim if yaw > 0 else rim - wide, 0, w - wide))
        return left, top, left + wide, top + tall

    def whole(image: np.ndarray) -> np.ndarray:
        part = image[head[1] : head[3], head[0] : head[2]]
        return cv2.resize(
            part, (HEAD, round(part.shape[0] * HEAD / part.shape[1])), interpolation=cv2.INTER_AREA
        )

    rows = []
    for yaw in YAWS:
        request = EditRequest({"yaw": yaw})
        with before_the_change():
            before = edit(state, request, registry=registry).full_image
        now = edit(state, request, registry=registry).full_image
        box = near_box(yaw)
        heads = [whole(image) for image in (state.image, before, now)]
        crops = [image[box[1] : box[3], box[0] : box[2]] for image in (state.image, before, now)]
        height = max(heads[0].shape[0], tall)
        row = np.concatenate([_fit(part, height) for part in heads + crops], axis=1)
        rows.append(_label(row, f"{path.name[:30]} yaw {yaw:+.0f}"))
    return rows


def _same_width(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Rows padded (right, grey) to the widest."""
    width = max(row.shape[1] for row in rows)
    return [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=96) for row in rows]


def main() -> None:
    def padded_rows(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
        rows = rows_for(path, registry)
        return _same_width(rows + [np.zeros((1, MAX_WIDTH, 3), np.uint8)])[:-1]

    run_sheet(__doc__.splitlines()[0], "near_side_sheet.jpg", PHOTOS, padded_rows, quality=85)


if __name__ == "__main__":
    main()
