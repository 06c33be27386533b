"""Sheet of docs/THROUGH_FRONT.md: input | main | new, the whole head at the photo's resolution.

    OMP_NUM_THREADS=1 python benchmarks/through_front_sheet.py [-o docs/through_front_sheet.jpg] [--png DIR]

"main" turns as asked (`turn_limits(..., through_front=False)`), "new" as held with the flag
(`through_front=True`). Every edit of every photo is rendered at full resolution; renders the flag
leaves pixel-identical are listed, not drawn; the changed ones are rows of the sheet (scaled to a
common height) and, with `--png`, written as 100 % PNG triples to look at.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame  # noqa: E402
from pipeline.side_view import turn_limits  # noqa: E402
from reconstruction.controls import control_set_for  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "images"
PHOTOS = (
    "yzhou359__MakeItTalk__chris2.jpg",
    "dchen236__FairFace__race_Latino.jpg",
    "deepinsight__insightface__image_T1.jpeg",
    "YadiraF__DECA__teaser_1.jpg",
    "YadiraF__PRNet__image00516.jpg",
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "serengil__deepface__img1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
)
#: Each edit; "towards" is replaced by the yaw sign that turns the photo towards the camera.
EDITS = (
    {"yaw": -30.0},
    {"yaw": -15.0},
    {"yaw": 15.0},
    {"yaw": 30.0},
    {"pitch": 15.0},
    {"open_mouth": 0.6, "towards": 20.0},
)
ROW_HEIGHT = 520
SMALL = 360  # photos whose head box is shorter are magnified (nearest) to at least this


def _box(state: SourceState) -> tuple[int, int, int, int]:
    """The head with hair, chin and neck, in photo pixels (x0, y0, x1, y1)."""
    points = state.analysis.detection.face.landmarks[:, :2]
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    pad = 0.6 * (x1 - x0)
    h, w = state.image.shape[:2]
    return max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(x1 + pad)), min(h, int(y1 + pad))


def render(state: SourceState, registry: EngineRegistry, values: dict[str, float], on: bool) -> np.ndarray:
    """The edit at full resolution with the yaw held as the flag `on` holds it."""
    values = dict(values)
    limits = turn_limits(state.coefficients, through_front=on)
    if limits is not None and "yaw" in values:
        values["yaw"] = limits.clip(values["yaw"])
    target = control_set_for(registry.backend(state.backend).model).apply(state.coefficients, values)
    engine = registry.select("preview", state.backend, state.face_model)
    frame = engine.render_frame(state.engine_state(engine), target)
    canvas = Canvas(
        state.image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight()
    )
    return place_frame(canvas, frame)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = np.ascontiguousarray(tile)
    cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return tile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "through_front_sheet.jpg")
    parser.add_argument("--png", type=Path, default=None, help="write each changed triple here at 100 %")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for name in PHOTOS:
        state = prepare_photo(DATA / name, registry=registry)
        photo_yaw = float(state.coefficients.angles_degrees[1])
        x0, y0, x1, y1 = _box(state)
        for asked in EDITS:
            values = {k: v for k, v in asked.items() if k != "towards"}
            if "towards" in asked:
                values["yaw"] = asked["towards"] * (1.0 if photo_yaw < 0 else -1.0)
            label = ", ".join(f"{k} {v:g}" for k, v in values.items())
            main_image, new_image = (
                render(state, registry, values, on)[y0:y1, x0:x1] for on in (False, True)
            )
            if np.array_equal(main_image, new_image):
                print(f"{name[:40]:40s} {photo_yaw:+6.1f} {label:22s} identical")
                continue
            print(f"{name[:40]:40s} {photo_yaw:+6.1f} {label:22s} CHANGED")
            triple = [state.image[y0:y1, x0:x1], main_image, new_image]
            factor = max(1, int(np.ceil(SMALL / triple[0].shape[0])))
            if factor > 1:
                triple = [
                    cv2.resize(t, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST) for t in triple
                ]
            if args.png is not None:
                args.png.mkdir(parents=True, exist_ok=True)
                png = args.png / f"{name[:24]}_{label.replace(' ', '').replace(',', '_')}.png"
                cv2.imwrite(str(png), cv2.cvtColor(np.concatenate(triple, axis=1), cv2.COLOR_RGB2BGR))
            scale = ROW_HEIGHT / triple[0].shape[0]
            tiles = [
                _label(cv2.resize(t, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), text)
                for t, text in zip(triple, (name[:34], f"main: {label}", f"new: {label} (held)"), strict=True)
            ]
            rows.append(np.concatenate(tiles, axis=1))
    if not rows:
        print("no render changed")
        return
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    image = np.concatenate(rows, axis=0)
    cv2.imwrite(str(args.output), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.output} ({image.shape[1]}x{image.shape[0]}, {len(rows)} rows)")


if __name__ == "__main__":
    main()
