"""The gaze's iris: sheet (docs/GAZE_IRIS.md, the rule's (d)).

    OMP_NUM_THREADS=1 python benchmarks/gaze_iris_sheet.py [-o docs/gaze_iris_sheet.jpg] [--photos ...]

Per photo and edit, one row: input | main (`rigid_iris` off) | new (on), both eyes at 100 %, then
both irises (2.4 radii around each) at 300 % (nearest neighbour; 200 % for irises over 24 px wide,
100 % over 36 px, so the sheet stays under 3 MB), full-resolution `edit(...).full_image`.
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

from benchmarks.gaze_iris_measure import PHOTOS, photo_eyes  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

EDITS = (
    {"gaze_x": 1.0},
    {"gaze_x": -1.0},
    {"gaze_y": 1.0},
    {"gaze_y": -1.0},
    {"gaze_x": 0.6, "gaze_y": 0.5},
    {"yaw": 20.0, "gaze_x": -0.8},
)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((16, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, image], axis=0)


def photo_rows(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    """The sheet's rows for one photo."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    default = engine.renderer.settings
    photo = np.asarray(state.image)
    eyes = photo_eyes(state, registry)
    if not eyes:
        return []
    pts = np.concatenate([np.concatenate([e.upper, e.lower]) for e in eyes])
    pad = 0.35 * max(e.width for e in eyes)
    h, w = photo.shape[:2]
    x0, y0 = (int(max(v - pad, 0)) for v in pts.min(axis=0))
    x1, y1 = int(min(pts[:, 0].max() + pad, w)), int(min(pts[:, 1].max() + pad, h))
    boxes = []
    for e in eyes:
        half = 2.4 * e.radius
        cx, cy = e.centre
        boxes.append(
            (int(max(cy - half, 0)), int(min(cy + half, h)), int(max(cx - half, 0)), int(min(cx + half, w)))
        )
    diameter = 2 * max(e.radius for e in eyes)
    zoom = 3 if diameter <= 24 else 2 if diameter <= 36 else 1  # the sheet stays under 3 MB
    rows = []
    for values in EDITS:
        images = [photo]
        for on in (False, True):
            engine.renderer.settings = dataclasses.replace(default, rigid_iris=on)
            images.append(
                np.asarray(edit(state, EditRequest(values, engine="preview"), registry=registry).full_image)
            )
        engine.renderer.settings = default
        name = " ".join(f"{k} {v:+g}" for k, v in values.items())
        gap = np.full((y1 - y0, 6, 3), 255, np.uint8)
        eyes_row = np.concatenate(sum(([im[y0:y1, x0:x1], gap] for im in images), [])[:-1], axis=1)
        rows.append(_label(eyes_row, f"{path.stem[:40]}  {name}  input | main | new  100 %"))
        zoomed = []
        for im in images:
            parts = [im[a:b, c:d] for a, b, c, d in boxes]
            height = max(p.shape[0] for p in parts)
            parts = [
                np.pad(p, ((0, height - p.shape[0]), (0, 2), (0, 0)), constant_values=255) for p in parts
            ]
            panel = np.concatenate(parts, axis=1)
            zoomed.append(cv2.resize(panel, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST))
            zoomed.append(np.full((zoomed[-1].shape[0], 6, 3), 255, np.uint8))
        rows.append(_label(np.concatenate(zoomed[:-1], axis=1), f"irises {zoom}00 % (nearest)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default=str(REPO / "docs" / "gaze_iris_sheet.jpg"))
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--png", help="also write each photo's rows to this folder as PNG")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for name in args.photos:
        mine = photo_rows(Path(args.images) / name, registry)
        if args.png and mine:
            width = max(r.shape[1] for r in mine)
            block = np.concatenate(
                [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in mine]
            )
            cv2.imwrite(
                str(Path(args.png) / f"{Path(name).stem}.png"), cv2.cvtColor(block, cv2.COLOR_RGB2BGR)
            )
        rows += mine
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(args.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print("wrote", args.out, sheet.shape)


if __name__ == "__main__":
    main()
