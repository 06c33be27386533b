"""Contact sheet and figures of shut eyes with dark lashes: input | current default | lash fringe
(docs/SHUT_LIDS.md).

    python benchmarks/shut_lids_sheet.py [-o docs/shut_lids_sheet.jpg] [--images DIR] [--measure] [--edge]

With --edge: the shut lid's edge at the photo's resolution instead (`benchmarks/lid_edge_sheet.py`,
docs/lid_edge_sheet.jpg).

Per photo and edit (close_eyes 1, close_eyes 0.6, wink_left 1): both eyes at 100 % (photo pixels,
never scaled), input | without `PreviewSettings.lash_fringe` | with it. With --measure, per shut eye
(closure >= `pipeline.eyes.SHUT_CLOSURE`) and way, inside the shut lid (the photo's opening between
its fitted lids plus 0.1 eye widths above, inner 80 % across): `lash` = the input's 10th percentile
luma in the 0.1 eye widths above its fitted upper lid; `dark` = the fraction of output pixels at or
below `lash`; `band` = per column (inner 60 %), the output pixels darker than the midpoint of `lash`
and the input's lid skin median (0.1-0.4 eye widths above the upper lid), median over columns.
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

from benchmarks.eye_crops import eye_box, values  # noqa: E402
from benchmarks.lid_edge_sheet import PHOTOS as EDGE_PHOTOS  # noqa: E402
from benchmarks.lid_edge_sheet import edge_rows, print_figures  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402 - its subprocess needs no other benchmark module
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.eyes import SHUT_CLOSURE  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402

PHOTOS = (
    "serengil__deepface__img3.jpg",  # mascara: the black crescent
    "fudan-generative-vision__hallo__7.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",  # deep-set eyes
    "serengil__deepface__img1.jpg",
    "cmusatyalab__openface__carell.jpg",
    "ageitgey__face_recognition__biden2.jpg",
)
EDITS = ("close_eyes=1", "close_eyes=0.6", "wink_left=1")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def measure(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[float, float]:
    """(dark, band) of one shut eye (module docstring); upper, lower: the photo's lid curves (K, 2),
    photo pixels."""
    width = float(np.ptp(upper[:, 0]))
    x0, x1 = int(upper[:, 0].min()), int(upper[:, 0].max()) + 1
    y0, y1 = int(upper[:, 1].min() - 0.45 * width), int(lower[:, 1].max()) + 1
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    off = np.abs(xs - 0.5 * (x0 + x1))
    lid = (ys > top - 0.1 * width) & (ys < bottom)
    luma_in = image[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    luma_out = out[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    lash = float(np.percentile(luma_in[(ys > top - 0.1 * width) & (ys <= top) & (off < 0.4 * width)], 10))
    skin = float(
        np.median(luma_in[(ys > top - 0.4 * width) & (ys < top - 0.1 * width) & (off < 0.4 * width)])
    )
    dark = float(np.mean(luma_out[lid & (off < 0.4 * width)] <= lash))
    columns = (off < 0.3 * width)[0]
    darker = (luma_out < 0.5 * (lash + skin)) & lid
    return dark, float(np.median(darker[:, columns].sum(axis=0)))


def photo_rows(path: Path, registry: EngineRegistry, figures: list[str] | None) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    prepared = state.engine_state(engine)
    points = prepared.points
    transform = state.crop_transform
    layout = renderer.projector.layout
    eyes = [
        (transform.inverse_points(points[u, :2]), transform.inverse_points(points[lo, :2]))
        for u, lo in layout.eyes
    ]
    boxes = [eye_box(np.concatenate(lids), state.image.shape) for lids in eyes]
    h, w = state.image.shape[:2]
    rows = []
    for text in EDITS:
        outs = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(renderer.settings, lash_fringe=on)
            request = EditRequest(values=values(text), engine="preview")
            outs.append(edit(state, request, registry=registry).full_image)
        parts = []
        for k, box in enumerate(boxes):
            gap = np.full((box[0].stop - box[0].start, 6, 3), 255, np.uint8)
            triple = np.concatenate([state.image[box], gap, outs[0][box], gap, outs[1][box]], axis=1)
            parts.append(_label(triple, f"{path.name[:24]} {w}x{h} {text} eye {k}: input | main | fringe"))
            shut = not (text.startswith("wink_left") and k == 1)  # a left wink shuts the image-left eye
            if figures is not None and shut:
                before, after = (measure(state.image, o, *eyes[k]) for o in outs)
                figures.append(
                    f"| {path.name[:30]} | {text} | {k} | {before[0]:.3f} -> {after[0]:.3f} "
                    f"| {before[1]:.0f} -> {after[1]:.0f} |"
                )
        rows += _rows(parts)
    renderer.settings = dataclasses.replace(renderer.settings, lash_fringe=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "shut_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--measure", action="store_true", help="print the dark fraction and band figures")
    parser.add_argument("--edge", action="store_true", help="the lid's edge, flow only (lid_edge_sheet)")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    figures: list[str] | None = [] if args.measure else None
    if args.edge:
        out = (
            args.out
            if args.out != REPO / "docs" / "shut_lids_sheet.jpg"
            else REPO / "docs" / "lid_edge_sheet.jpg"
        )
        write_sheet(
            [row for name in EDGE_PHOTOS for row in edge_rows(args.images / name, registry, figures)],
            out,
            args.quality,
        )
        if figures is not None:
            print_figures(figures)
        return
    rows = [row for name in PHOTOS for row in photo_rows(args.images / name, registry, figures)]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print(f"shut eyes (closure >= {SHUT_CLOSURE}); dark fraction, band (photo px): main -> fringe")  # noqa: T201
        print("| photo | edit | eye | dark: main -> fringe | band px: main -> fringe |")  # noqa: T201
        print("|---|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
