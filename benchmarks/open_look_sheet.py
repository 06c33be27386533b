"""An opened mouth that looks photographed: figures on the fault photos, pixel checks and a sheet.

    python benchmarks/open_look_sheet.py [--base main] [--keep DIR] [-o docs/open_look_sheet.jpg]

Per photo of `PHOTOS` and edit (open_mouth 0.5 and 1, the presets aaa and ooo) the opened mouth is
rendered at the photo's resolution by the base commit (in a subprocess,
`benchmarks.mouth_sheet.render_base`) and by this tree with `PreviewSettings.open_look` on (and
off: it must then be the base's, pixel for pixel). Printed: the figures of docs/TEETH.md ("An
opened mouth that looks photographed") on the closed-lip photos of `MEASURED`, before -> after;
whether edits that leave the mouth closed (`CLOSED_EDITS`) are pixel-identical; then the sheet is
written (`benchmarks.mouth_sheet.photo_rows`: head and mouth at 100 %, input | before | after).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from benchmarks.mouth_sheet import (  # noqa: E402
    EDITS,
    photo_rows,
    read_render,
    render,
    render_base,
    target_lips,
    write_sheet,
)
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.mouth import corners_x  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",  # closed lips (the fault)
    "KwaiVGI__LivePortrait__s2.jpg",  # closed lips, black and white (the fault)
    "serengil__deepface__img3.jpg",  # closed lips, 2048 px
    "cmusatyalab__openface__carell.jpg",  # closed lips
    "cmusatyalab__openface__adams.jpg",  # small, soft
    "timesler__facenet-pytorch__shea_whigham_1.jpg",  # bearded
    "serengil__deepface__img1.jpg",  # a smile with both rows of teeth
    "ageitgey__face_recognition__biden2.jpg",  # upper teeth
    "TencentARC__GFPGAN__Justin_Timberlake_crop.png",  # a baby's two lower teeth
    "justadudewhohacks__face-api.js__surprised.jpg",  # already open
    "dchen236__FairFace__race_Black.jpg",  # dark skin
)
#: Closed lips opened by the painter's procedural teeth: the figures are measured on these.
MEASURED = PHOTOS[:6]
#: Edits that leave the mouth closed: the output must be the base's, pixel for pixel.
CLOSED_EDITS = {"yaw 20": {"yaw": 20.0}, "close_eyes 1": {"close_eyes": 1.0}}
_LUMA = np.array([0.299, 0.587, 0.114])


def opening(state, values: dict, registry: EngineRegistry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """(X,) columns (photo pixels) between the target's inner corners and (X,) y of its inner upper
    and lower lip there."""
    upper, lower = target_lips(state, values, registry)
    left, right = corners_x(upper)
    xs = np.arange(int(np.ceil(left)), int(right) + 1).astype(np.float64)
    return xs, curve_y(upper, xs), curve_y(lower, xs)


def figures(image: np.ndarray, xs: np.ndarray, tops: np.ndarray, bottoms: np.ndarray) -> dict[str, float]:
    """The figures on an (H, W, 3) uint8 render between the target's inner lips (docs/TEETH.md):

    lit_span: share of the columns from 0.15 to 1.0 of the half-width from the midline (laterals,
    canines, premolars, the corners) whose upper band (the first 0.2 of the midline's opening under
    the upper lip) is at least half as bright (its 90th percentile of luma) as the centrals' (within
    0.15 of the midline): how far out the upper row stays tooth-coloured;
    lower_row: share of bright (luma > 0.5 of the centrals'), low-chroma (< 60) pixels in the
    opening's lowest part (0.75-1.0 of the way down) over the central half;
    black: share of near-black pixels (luma < 20: a flat black cavity) between the lips over the
    central half; floor: the median luma of the opening's lower part (0.45-0.75 of the way down, the floor above
    the lower row) over the central half, as a share of the lower lip's luma (0.02-0.06 mouth widths
    under its inner edge)."""
    luma = image.astype(np.float64) @ _LUMA
    chroma = image.max(axis=2).astype(np.float64) - image.min(axis=2)
    side = np.abs(2.0 * (xs - xs[0]) / max(xs[-1] - xs[0], 1.0) - 1.0)
    width = float(xs[-1] - xs[0])
    mid = side < 0.15
    height = float(np.median(bottoms[mid] - tops[mid]))
    band = []
    for x, t in zip(xs, tops, strict=True):
        rows = luma[int(np.ceil(t)) + 1 : int(np.ceil(t + 0.2 * height)) + 1, int(x)]
        band.append(np.percentile(rows, 90) if rows.size else 0.0)
    band = np.array(band)
    centrals = float(np.median(band[mid]))
    lower, floor, lip, black = [], [], [], []
    for x, t, b in zip(xs[side < 0.5], tops[side < 0.5], bottoms[side < 0.5], strict=True):
        n = int(b - t)
        if n < 6:
            continue
        y = int(t) + np.arange(n)
        way = (y - t) / (b - t)
        column, tint = luma[y, int(x)], chroma[y, int(x)]
        black.append(column < 20.0)
        lower.append(((column > 0.5 * centrals) & (tint < 60.0))[way > 0.75])
        floor.append(column[(way > 0.45) & (way < 0.75)])
        lip.append(luma[int(b + 0.02 * width) : int(b + 0.06 * width) + 1, int(x)])
    return {
        "lit_span": float(np.mean(band[side > 0.15] >= 0.5 * centrals)),
        "lower_row": float(np.mean(np.concatenate(lower))),
        "black": float(np.mean(np.concatenate(black))),
        "floor": float(np.median(np.concatenate(floor)) / max(np.median(np.concatenate(lip)), 1.0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "open_look_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--keep", type=Path, default=None, help="keep the renders (before/, after/) here")
    parser.add_argument("--measure-only", action="store_true", help="figures only: no sheet")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    edits = {**EDITS, **CLOSED_EDITS}
    if args.render_into is not None:
        render(args.images, args.render_into, PHOTOS, edits)
        return
    registry = EngineRegistry(fast=False)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        before, after, off = root / "before", root / "after", root / "off"
        for folder in (before, after, off):
            folder.mkdir(parents=True, exist_ok=True)
        if not any(before.iterdir()):  # a kept "before" is rendered once
            render_base(args.base, args.images, before, __file__)
        render(args.images, after, PHOTOS, edits, {"open_look": True})
        render(args.images, off, PHOTOS, edits, {"open_look": False})
        for name in PHOTOS:
            state = prepare_photo(args.images / name, registry=registry)
            for k, (label, values) in enumerate(edits.items()):
                old, new = read_render(before, name, k), read_render(after, name, k)
                same = np.array_equal(old, read_render(off, name, k))
                print(f"{name:48s} {label:15s} open_look off: identical={same}")  # noqa: T201
                if label in CLOSED_EDITS:
                    print(f"{name:48s} {label:15s} identical={np.array_equal(old, new)}")  # noqa: T201
                    continue
                if name not in MEASURED or label == "ooo":
                    continue
                xs, tops, bottoms = opening(state, values, registry)
                was, now = (figures(image, xs, tops, bottoms) for image in (old, new))
                cells = "  ".join(f"{key} {was[key]:.3f} -> {now[key]:.3f}" for key in was)
                print(f"{name:48s} {label:15s} {cells}")  # noqa: T201
        if args.measure_only:
            return
        rows = [
            row for name in PHOTOS for row in photo_rows(name, args.images, before, after, registry, EDITS)
        ]
    for quality in (80, 70, 60, 50, 40):  # docs/ holds sheets under 600 KB where it can
        write_sheet(rows, args.out, quality)
        if args.out.stat().st_size < 600_000:
            break


if __name__ == "__main__":
    main()
