"""Contact sheet of the background beside a moved head: input | before | now.

    python benchmarks/still_background_sheet.py [-o docs/still_background_sheet.jpg] [--images DIR]

Per photo and edit (yaw +-30, pitch 15, roll 15): the head with the background beside it (the
face's box grown by 0.9 face sizes, at the photo's resolution, scaled to 420 px high), input |
before (`PreviewSettings.still_background` off: the flow faded over a distance from the face's rim)
| now (faded just beyond the person's silhouette, `pipeline.still_background`).
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "tanshuai0219__EDTalk__uncrop_face.jpg",  # a blue logo at the upper left
    "KwaiVGI__LivePortrait__d38.jpg",  # a building's columns behind the head
    "serengil__deepface__img1.jpg",  # lettering on a wall beside the head
    "yzhou359__MakeItTalk__natalie.jpg",  # edges of a room behind the head
)
EDITS = ("yaw=30", "yaw=-30", "pitch=15", "roll=15")
HEIGHT = 420


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def photo_rows(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    """One row per edit: input | before | now, the head and the background beside it."""
    state = prepare_photo(str(path), registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    renderer = copy.copy(engine.renderer)
    renderer.settings = replace(renderer.settings, still_background=True)
    now = renderer.prepare(state.crop, state.coefficients, transform=state.crop_transform)
    before = replace(now, person=None)
    landmarks = state.analysis.detection.face.landmarks[:, :2]
    (x0, y0), (x1, y1) = landmarks.min(0), landmarks.max(0)
    pad = 0.9 * max(x1 - x0, y1 - y0)
    h, w = state.image.shape[:2]
    bx0, by0, bx1, by1 = (
        max(0, int(x0 - pad)),
        max(0, int(y0 - pad)),
        min(w, int(x1 + pad)),
        min(h, int(y1 + pad)),
    )
    canvas = Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur)

    def box(image: np.ndarray) -> np.ndarray:
        part = image[by0:by1, bx0:bx1]
        size = (round(part.shape[1] * HEIGHT / part.shape[0]), HEIGHT)
        return cv2.resize(
            part, size, interpolation=cv2.INTER_AREA if part.shape[0] > HEIGHT else cv2.INTER_CUBIC
        )

    rows = []
    for text in EDITS:
        key, value = text.split("=")
        target = target_coefficients(state, EditRequest({key: float(value)}), registry=registry)
        tiles = [_label(box(state.image), f"{path.name[:24]} input")]
        for name, engine_state in (("before", before), ("now", now)):
            frame = engine.render_frame(engine_state, target)
            tiles.append(_label(box(place_frame(canvas, frame)), f"{text} {name}"))
        rows.append(np.concatenate(tiles, axis=1))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(REPO / "docs" / "still_background_sheet.jpg"))
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    args = parser.parse_args()
    registry = EngineRegistry()
    rows = [row for name in PHOTOS for row in photo_rows(Path(args.images) / name, registry)]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(args.output, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(
        f"{args.output}: {sheet.shape[1]}x{sheet.shape[0]}, {Path(args.output).stat().st_size / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()
