"""Contact sheet of winks: the photo, the wink before its direction held the lips shut (the lips
parted a sliver, painted as a dark gap), and now, the face at the photo's resolution.

    python benchmarks/wink_sheet.py [-o docs/wink_sheet.jpg]

Edits: wink_left 1 and wink_right 1 (the default renderer) on three real photos of
../shared/data/images. "Before" derives the winks with `DerivationSettings(wink_lips=0)`.
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
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, place_frame  # noqa: E402
from reconstruction.control_directions import DerivationSettings, geometry_of  # noqa: E402
from reconstruction.controls import ControlSet  # noqa: E402

PHOTOS = (
    "fudan-generative-vision__hallo__7.jpg",
    "serengil__deepface__img3.jpg",
    "cmusatyalab__openface__carell.jpg",
)
TILE = 600


def rows_for(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    prepared = state.engine_state(engine)
    model = engine.renderer.projector.model
    controls = {
        "before": ControlSet(geometry_of(model), DerivationSettings(wink_lips=0.0)),
        "now": ControlSet(geometry_of(model), DerivationSettings()),
    }
    lm = state.analysis.detection.face.landmarks[:, :2]
    (x0, y0), (x1, y1) = lm.min(axis=0), lm.max(axis=0)
    h, w = state.image.shape[:2]
    box = (max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1)))

    def tile(image: np.ndarray) -> np.ndarray:
        part = image[box[1] : box[3], box[0] : box[2]]
        return cv2.resize(
            part, (TILE, round(part.shape[0] * TILE / part.shape[1])), interpolation=cv2.INTER_AREA
        )

    rows = []
    for name in ("wink_left", "wink_right"):
        tiles = [tile(state.image)]
        for way in ("before", "now"):
            target = controls[way].apply(state.coefficients, {name: 1.0})
            frame = engine.render_frame(prepared, target)
            tiles.append(tile(place_frame(Canvas(state.image, state.crop_transform), frame)))
        row = np.concatenate(tiles, axis=1)
        cv2.putText(
            row,
            f"{path.name[:36]} {name}: input | before | now",
            (8, 28),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8,
            (255, 255, 0),
            2,
        )
        rows.append(row)
    return rows


def main() -> None:
    run_sheet(__doc__.splitlines()[0], "wink_sheet.jpg", PHOTOS, rows_for, quality=88)


if __name__ == "__main__":
    main()
