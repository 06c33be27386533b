"""Contact sheet and figures of shut lids on real photos: input | current default | lid skin (docs/LIDS.md).

    python benchmarks/lids_sheet.py [-o docs/lids_sheet.jpg] [--images DIR] [--measure]

Per photo and edit (close_eyes 1, close_eyes 0.6, wink_left 1): both eyes at 100 % (photo pixels,
never scaled), input | the default without `PreviewSettings.lid_skin` | with it. With --measure, per
shut eye (closure >= `pipeline.eyes.SHUT_CLOSURE`) and way: inside the shut lid (the photo's eye
opening between its fitted lids, its inner 80 % across, the lower 35 % left out for the lash line),
the darkest 5 % luma over the median luma of the lid skin above the opening in the input (0.1 to 0.4
eye widths above the upper lid), and the count of catchlight pixels (brighter than that skin's 99th
percentile). Look at the sheet at full size.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import write_sheet  # noqa: E402 - its subprocess needs no other benchmark module
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402

PHOTOS = (
    "KwaiVGI__LivePortrait__s2.jpg",  # deep-set eyes, black and white: the fitted lid lies in the iris
    "serengil__deepface__img3.jpg",
    "cmusatyalab__openface__carell.jpg",
    "serengil__deepface__img1.jpg",
    "ageitgey__face_recognition__biden2.jpg",
)
EDITS = ("close_eyes=1", "close_eyes=0.6", "wink_left=1")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _values(text: str) -> dict[str, float]:
    return {name: float(value) for name, value in (part.split("=") for part in text.split(","))}


def _eye_box(lids: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    width = float(np.ptp(lids[:, 0]))
    x0, y0 = lids.min(axis=0) - [0.25 * width, 0.5 * width]
    x1, y1 = lids.max(axis=0) + [0.25 * width, 0.3 * width]
    return slice(max(0, int(y0)), min(shape[0], int(y1))), slice(max(0, int(x0)), min(shape[1], int(x1)))


def measure(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[float, int]:
    """(darkest 5 % luma / lid skin median, catchlight pixel count) inside the shut lid of one eye;
    upper, lower: the photo's lid curves (K, 2) in photo pixels."""
    width = float(np.ptp(upper[:, 0]))
    x0, x1 = int(upper[:, 0].min()), int(upper[:, 0].max()) + 1
    y0, y1 = int(upper[:, 1].min() - 0.45 * width), int(lower[:, 1].max()) + 1
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    inner = np.abs(xs - 0.5 * (x0 + x1)) < 0.4 * width
    shut = (ys > top) & (ys < bottom - 0.35 * (bottom - top)) & inner
    skin = (ys > top - 0.4 * width) & (ys < top - 0.1 * width) & inner
    luma_in = image[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    luma_out = out[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    level = float(np.median(luma_in[skin]))
    dark = float(np.percentile(luma_out[shut], 5)) / max(level, 1.0)
    return dark, int((luma_out[shut] > np.percentile(luma_in[skin], 99)).sum())


def photo_rows(path: Path, registry: EngineRegistry, figures: list[str] | None) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    points = state.engine_state(engine).points
    transform = state.crop_transform
    eyes = [
        (transform.inverse_points(points[u, :2]), transform.inverse_points(points[lo, :2]))
        for u, lo in renderer.projector.layout.eyes
    ]
    boxes = [_eye_box(np.concatenate(lids), state.image.shape) for lids in eyes]
    h, w = state.image.shape[:2]
    rows = []
    for text in EDITS:
        outs = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(renderer.settings, lid_skin=on)
            request = EditRequest(values=_values(text), engine="preview")
            outs.append(edit(state, request, registry=registry).full_image)
        parts = []
        for k, box in enumerate(boxes):
            gap = np.full((box[0].stop - box[0].start, 6, 3), 255, np.uint8)
            triple = np.concatenate([state.image[box], gap, outs[0][box], gap, outs[1][box]], axis=1)
            parts.append(
                _label(triple, f"{path.name[:24]} {w}x{h} {text} eye {k}: input | default | lid skin")
            )
            if figures is not None:
                before, after = (measure(state.image, o, *eyes[k]) for o in outs)
                figures.append(
                    f"| {path.name[:30]} | {text} | {k} | {before[0]:.3f} -> {after[0]:.3f} | {before[1]} -> {after[1]} |"
                )
        rows += _rows(parts)
    renderer.settings = dataclasses.replace(renderer.settings, lid_skin=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--measure", action="store_true", help="print the dark ratio and catchlight figures")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    figures: list[str] | None = [] if args.measure else None
    rows = [row for name in PHOTOS for row in photo_rows(args.images / name, registry, figures)]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print("| photo | edit | eye | dark 5 % / lid skin: default -> lid skin | catchlight pixels |")  # noqa: T201
        print("|---|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
