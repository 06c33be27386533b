"""The tongue of an opened mouth: figures (pink band, black share) and a before/after sheet.

    python benchmarks/tongue_sheet.py [--base main] [--keep DIR] [-o docs/tongue_sheet.jpg]

Per photo of `PHOTOS` and edit (open_mouth 0.5 and 1, the preset aaa, and two that keep the mouth
closed) the base commit (`benchmarks.mouth_sheet.render_base`, in a subprocess) and this tree render
the edit at the photo's resolution. Printed: docs/TONGUE.md's figures on `MEASURED`, before -> after,
and whether the closed-mouth edits are pixel-identical; then the sheet (head and mouth at 100 %).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import photo_rows, render, render_base, write_sheet  # noqa: E402
from benchmarks.open_look_sheet import opening  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img3.jpg",
    "cmusatyalab__openface__carell.jpg",
    "cmusatyalab__openface__adams.jpg",
    "timesler__facenet-pytorch__shea_whigham_1.jpg",
    "serengil__deepface__img1.jpg",
    "justadudewhohacks__face-api.js__surprised.jpg",
)
MEASURED = PHOTOS[:7]
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "aaa": dict(PRESETS["aaa"]),
}
CLOSED_EDITS = {"yaw 20": {"yaw": 20.0}, "close_eyes 1": {"close_eyes": 1.0}}
_LUMA = np.array([0.299, 0.587, 0.114])


def figures(image: np.ndarray, xs: np.ndarray, tops: np.ndarray, bottoms: np.ndarray) -> dict[str, float]:
    """docs/TONGUE.md's `pink` and `black` on an (H, W, 3) uint8 render between the inner lips."""
    luma = image.astype(np.float64) @ _LUMA
    chroma = image.max(axis=2).astype(np.float64) - image.min(axis=2)
    width = float(xs[-1] - xs[0])
    central = np.abs(2.0 * (xs - xs[0]) / max(width, 1.0) - 1.0) < 0.5
    lip = np.median(
        np.concatenate(
            [
                luma[int(b + 0.02 * width) : int(b + 0.06 * width) + 1, int(x)]
                for x, b in zip(xs, bottoms, strict=True)
            ]
        )
    )
    pink, black = [], []
    for x, t, b in zip(xs[central], tops[central], bottoms[central], strict=True):
        n = int(b - t)
        if n < 4:
            continue
        y = int(t) + np.arange(n)
        way = (y - t) / (b - t)
        column, tint = luma[y, int(x)], chroma[y, int(x)]
        black.append(column < 20.0)
        band = (way > 0.3) & (way < 0.8)
        pink.append(((column > 0.6 * lip) & (tint > 30.0))[band])
    return {"pink": float(np.mean(np.concatenate(pink))), "black": float(np.mean(np.concatenate(black)))}


def _read(folder: Path, name: str, k: int) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(folder / f"{Path(name).stem}__{k}.png")), cv2.COLOR_BGR2RGB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "tongue_sheet.jpg")
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
        before, after = root / "before", root / "after"
        for folder in (before, after):
            folder.mkdir(parents=True, exist_ok=True)
        render_base(args.base, args.images, before, __file__)
        render(args.images, after, PHOTOS, edits)
        for name in PHOTOS:
            state = prepare_photo(args.images / name, registry=registry)
            for k, (label, values) in enumerate(edits.items()):
                old, new = _read(before, name, k), _read(after, name, k)
                if label in CLOSED_EDITS or name not in MEASURED:
                    print(f"{name:46s} {label:15s} identical={np.array_equal(old, new)}")  # noqa: T201
                    continue
                xs, tops, bottoms = opening(state, values, registry)
                was, now = (figures(image, xs, tops, bottoms) for image in (old, new))
                cells = "  ".join(f"{key} {was[key]:.3f} -> {now[key]:.3f}" for key in was)
                print(f"{name:46s} {label:15s} {cells}")  # noqa: T201
        if args.measure_only:
            return
        rows = [
            row for name in PHOTOS for row in photo_rows(name, args.images, before, after, registry, EDITS)
        ]
    write_sheet(rows, args.out, 70)


if __name__ == "__main__":
    main()
