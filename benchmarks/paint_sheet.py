"""Contact sheet of the painted mouth gap and the shut lids at the photo's own resolution.

    python benchmarks/paint_sheet.py [-o docs/paint_sheet.jpg] [--images DIR]

Per photo (3.7 to 12.4 photo pixels per crop pixel, and a 512 px one where a crop pixel is smaller
than a photo pixel): the head, input | edited, then per edit the mouth and one eye at 100 % (the
512 px photo at 200 %, nearest), input | edited. Look at it at full size.
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

from benchmarks.mouth_sheet import write_sheet  # noqa: E402 - its subprocess needs no other benchmark module
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = {
    "fudan-generative-vision__hallo__7.jpg": ("open_mouth=1", "aaa", "close_eyes=1", "wink_left=1"),
    "serengil__deepface__img1.jpg": ("open_mouth=0.5", "ooo", "smile=0.8", "close_eyes=1"),
    "KwaiVGI__LivePortrait__s2.jpg": ("open_mouth=1", "close_eyes=1"),
    "scikit-image__scikit-image__astronaut.png": ("open_mouth=1", "close_eyes=1"),
}
PRESETS = {"aaa": "open_mouth=0.8", "ooo": "round_lips=0.9,open_mouth=0.25"}
WIDTH = 2400  # sheet width, pixels


def _values(text: str) -> dict[str, float]:
    pairs = (part.split("=") for part in PRESETS.get(text, text).split(","))
    return {name: float(value) for name, value in pairs}


def _box(points: np.ndarray, pad: tuple[float, float], shape: tuple[int, ...]) -> tuple[slice, slice]:
    width = float(np.ptp(points[:, 0]))
    x0, y0 = points.min(axis=0) - [pad[0] * width, pad[1] * width]
    x1, y1 = points.max(axis=0) + [pad[0] * width, pad[1] * width]
    return slice(max(0, int(y0)), min(shape[0], int(y1))), slice(max(0, int(x0)), min(shape[1], int(x1)))


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """`image` under a white strip with `text`."""
    strip = np.full((26, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def _pair(before: np.ndarray, after: np.ndarray, zoom: int) -> np.ndarray:
    pair = np.concatenate([before, np.full((before.shape[0], 6, 3), 255, np.uint8), after], axis=1)
    return cv2.resize(pair, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST) if zoom > 1 else pair


def _rows(parts: list[np.ndarray]) -> list[np.ndarray]:
    """The parts side by side, as many per row as fit in WIDTH (never scaled: 100 % stays 100 %)."""
    rows: list[list[np.ndarray]] = [[]]
    for part in parts:
        part = part[:, :WIDTH]
        if rows[-1] and sum(p.shape[1] + 12 for p in rows[-1]) + part.shape[1] > WIDTH:
            rows.append([])
        rows[-1].append(part)
    out = []
    for row in rows:
        height = max(p.shape[0] for p in row)
        padded = [np.pad(p, ((0, height - p.shape[0]), (0, 12), (0, 0)), constant_values=255) for p in row]
        joined = np.concatenate(padded, axis=1)
        out.append(np.pad(joined, ((0, 10), (0, WIDTH - joined.shape[1]), (0, 0)), constant_values=255))
    return out


def photo_rows(path: Path, edits: tuple[str, ...], registry: EngineRegistry) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    points = state.engine_state(engine).points
    layout = engine.renderer.projector.layout
    transform = state.crop_transform
    per_crop = 1.0 / transform.scale
    zoom = 2 if per_crop < 1.5 else 1
    mouth = _box(
        transform.inverse_points(points[np.concatenate(layout.mouth), :2]), (0.35, 0.45), state.image.shape
    )
    eye = _box(
        transform.inverse_points(points[np.concatenate(layout.eyes[0]), :2]), (0.25, 0.35), state.image.shape
    )
    x0, y0, x1, y1 = (int(v) for v in transform.box)
    h, w = state.image.shape[:2]
    head = (slice(max(0, y0), min(h, y1)), slice(max(0, x0), min(w, x1)))
    rows = []
    for text in edits:
        out = edit(state, EditRequest(values=_values(text), engine="preview"), registry=registry).full_image
        size = 420 / (head[0].stop - head[0].start)
        thumbs = [
            cv2.resize(im[head], None, fx=size, fy=size, interpolation=cv2.INTER_AREA)
            for im in (state.image, out)
        ]
        title = f"{path.name[:28]} {w}x{h}, {per_crop:.1f} px/crop px: {text}"
        rows += _rows(
            [
                _label(_pair(*thumbs, 1), title),
                _label(_pair(state.image[mouth], out[mouth], zoom), f"mouth {100 * zoom} %"),
                _label(_pair(state.image[eye], out[eye], zoom), f"eye {100 * zoom} %"),
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "paint_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=80)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = [row for name, edits in PHOTOS.items() for row in photo_rows(args.images / name, edits, registry)]
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
