"""Contact sheet of the crop box's lower edge after a turn: the photo, the edit, and the strip around
the box's edge at 100 %, where the crop's last row used to repeat as a line across the clothes.

    python benchmarks/crop_edge_sheet.py [-o docs/crop_edge_sheet.jpg]

Edit: yaw -20, open_mouth 0.7 (the default renderer) on three real photos of ../shared/data/images.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import run_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img1.jpg",
    "cmusatyalab__openface__carell.jpg",
)
WIDTH = 1600


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2, cv2.LINE_AA)
    return out


def rows_for(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    result = edit(state, EditRequest({"yaw": -20.0, "open_mouth": 0.7}), registry=registry).full_image
    photo = state.image
    h, w = photo.shape[:2]
    whole = np.concatenate([photo, result], axis=1)
    whole = cv2.resize(whole, (WIDTH, round(WIDTH * h / (2 * w))), interpolation=cv2.INTER_AREA)
    x0, _, x1, y1 = (int(v) for v in state.crop_transform.box)
    y1 = min(y1, h - 1)
    top, bottom = max(0, y1 - 60), min(h, y1 + 40)
    left = max(0, (x0 + x1) // 2 - WIDTH // 4)
    strip = [image[top:bottom, left : left + WIDTH // 2] for image in (photo, result)]
    strip = np.concatenate([np.pad(s, ((0, 0), (0, WIDTH // 2 - s.shape[1]), (0, 0))) for s in strip], axis=1)
    return [
        _label(whole, f"{path.name}: input | yaw -20, open mouth 0.7"),
        _label(strip, "box edge at 100 %"),
    ]


def main() -> None:
    run_sheet(__doc__.splitlines()[0], "crop_edge_sheet.jpg", PHOTOS, rows_for, quality=90)


if __name__ == "__main__":
    main()
