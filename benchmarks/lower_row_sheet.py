"""The lower row under the photo's upper teeth: which photos it is for, figures, and a sheet.

    python benchmarks/lower_row_sheet.py [--survey] [-o docs/lower_row_sheet.jpg] [--base main] [--images DIR]

`--survey` lists the photos of the images folder that the mouth analysis reads as showing upper
teeth but no lower teeth (`MouthInterior.upper_teeth_only`): the photos this change is for.
Otherwise, per photo of `PHOTOS` and edit (open_mouth 0.5 and 1, the preset aaa), the opened mouth
is rendered by the base commit (in a subprocess, `benchmarks.mouth_sheet.render_base`) and by this
tree with `PreviewSettings.lower_row` on (and off: it must then be the base's), the figures of
docs/TEETH.md ("Lower row under the photo's upper teeth") are printed for both, every photo of
`UNCHANGED` is compared pixel for pixel, and the sheet is written: per photo and edit the mouth
at 100 % (200 % nearest where the three would be under 700 px wide), input | before | after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from benchmarks.mouth_sheet import read_render, render, render_base, target_lips, write_sheet  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.mouth import corners_x  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402

#: Photos the analysis reads as showing upper teeth but no lower ones (`--survey`).
PHOTOS = (
    "serengil__deepface__img22.jpg",
    "justadudewhohacks__face-api.js__happy.jpg",
    "ageitgey__face_recognition__alex-lacamoire.png",
    "deepinsight__insightface__happy.png",
    "dchen236__FairFace__race_Latino.jpg",
    "ageitgey__face_recognition__biden2.jpg",
)
#: Closed lips, or both rows shown: must render pixel for pixel as before.
UNCHANGED = (
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img1.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "justadudewhohacks__face-api.js__fearful.jpg",
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "aaa": dict(PRESETS["aaa"]),
}
_LUMA = np.array([0.299, 0.587, 0.114])


def survey(images: Path, registry: EngineRegistry) -> list[str]:
    """Names of the photos in `images` whose mouth shows upper teeth but no lower teeth."""
    found = []
    for path in sorted(images.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        try:
            state = prepare_photo(path, registry=registry)
        except Exception:  # noqa: BLE001 - no usable face: not a candidate
            continue
        if state.engine_state(registry.geometric(state.backend)).mouth.upper_teeth_only:
            found.append(path.name)
    return found


def gap_profiles(state, values: dict, registry: EngineRegistry) -> list[tuple[int, int, int]]:  # noqa: ANN001
    """(x, top, bottom) photo pixels of the target's opening in the central half of the mouth."""
    upper, lower = target_lips(state, values, registry)
    left, right = corners_x(upper)
    xs = np.arange(int(np.ceil(left + 0.25 * (right - left))), int(left + 0.75 * (right - left)) + 1)
    tops, bottoms = curve_y(upper, xs.astype(np.float64)), curve_y(lower, xs.astype(np.float64))
    return [
        (int(x), int(np.ceil(t)) + 1, int(b) - 1)
        for x, t, b in zip(xs, tops, bottoms, strict=True)
        if b - t > 6
    ]


def figures(image: np.ndarray, profiles: list[tuple[int, int, int]], teeth_luma: float, width: float) -> dict:
    """The rule's figures on an (H, W, 3) uint8 render, in the opening's central half: share of pure
    black (luma < 20) and of near black (luma < 35) between the target's inner lips;
    share of bright (luma > 0.5 of the photo's teeth), low-chroma (< 60) pixels in the gap's lower
    third (0.6-0.95 of the way down); the step under the upper teeth: per column, at the steepest
    drop in 0.1-0.8 of the way down, 1 - (luma 0.03 mouth widths below it) / (luma just above it)."""
    black, dark, lower, steps = [], [], [], []
    below = max(int(round(0.03 * width)), 2)
    for x, top, bottom in profiles:
        column = image[top:bottom, x].astype(np.float64)
        luma, chroma = column @ _LUMA, column.max(axis=1) - column.min(axis=1)
        n = len(luma)
        black.append(luma < 20.0)
        dark.append(luma < 35.0)
        t = (np.arange(n) + 0.5) / n
        low = (t > 0.6) & (t < 0.95)
        lower.append(((luma > 0.5 * teeth_luma) & (chroma < 60.0))[low])
        smooth = np.convolve(luma, np.ones(3) / 3.0, mode="same")
        drop = smooth[:-2] - smooth[2:]  # fall over two rows
        inner = np.nonzero((t[1:-1] > 0.1) & (t[1:-1] < 0.8))[0]
        if inner.size == 0:
            continue
        k = inner[np.argmax(drop[inner])] + 1
        above = smooth[max(k - 2, 0)]
        steps.append(1.0 - smooth[min(k + below, n - 1)] / max(above, 1.0))
    return {
        "black": float(np.mean(np.concatenate(black))),
        "dark": float(np.mean(np.concatenate(dark))),
        "lower_row": float(np.mean(np.concatenate(lower))) if lower else 0.0,
        "step": float(np.median(steps)) if steps else float("nan"),
    }


def mouth_rows(
    name: str, images: Path, before: Path, after: Path, registry: EngineRegistry
) -> list[np.ndarray]:
    """One row per edit: the mouth of input | before | after at the photo's resolution, labelled."""
    state = prepare_photo(images / name, registry=registry)
    rows = []
    for k, (label, values) in enumerate(EDITS.items()):
        profiles = gap_profiles(state, values, registry)
        x0, x1 = profiles[0][0], profiles[-1][0]
        width = x1 - x0  # half the mouth
        y0 = max(int(min(p[1] for p in profiles) - 0.6 * width), 0)
        y1 = int(max(p[2] for p in profiles) + 0.5 * width)
        box = (slice(y0, y1), slice(max(int(x0 - 0.9 * width), 0), int(x1 + 0.9 * width)))
        tiles = [state.image[box], read_render(before, name, k)[box], read_render(after, name, k)[box]]
        gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
        row = np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1)
        if row.shape[1] < 700:
            row = cv2.resize(row, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        row = np.pad(
            row, ((0, 0), (0, max(700 - row.shape[1], 0)), (0, 0)), constant_values=255
        )  # room for the label
        strip = np.full((22, row.shape[1], 3), 255, np.uint8)
        text = f"{name} {label}: input | before | after"
        cv2.putText(strip, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([strip, row], axis=0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lower_row_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--survey", action="store_true", help="only list the photos this change is for")
    parser.add_argument("--keep", type=Path, default=None, help="keep the renders (before/, after/) here")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    everything = PHOTOS + UNCHANGED
    if args.render_into is not None:
        render(args.images, args.render_into, everything, EDITS)
        return
    registry = EngineRegistry(fast=False)
    if args.survey:
        print("\n".join(survey(args.images, registry)))  # noqa: T201
        return
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        before, after, default = root / "before", root / "after", root / "default"
        for folder in (before, after, default):
            folder.mkdir(parents=True, exist_ok=True)
        render_base(args.base, args.images, before, __file__)
        render(args.images, after, everything, EDITS, {"lower_row": True})
        render(args.images, default, PHOTOS, EDITS, {"lower_row": False})
        for name in everything:
            state = prepare_photo(args.images / name, registry=registry)
            mouth = state.engine_state(registry.geometric(state.backend)).mouth
            teeth_luma = float(mouth.teeth @ _LUMA) if mouth.teeth is not None else 200.0
            for k, (label, values) in enumerate(EDITS.items()):
                old, new = read_render(before, name, k), read_render(after, name, k)
                if name in PHOTOS:
                    off = np.array_equal(old, read_render(default, name, k))
                    print(f"{name:48s} {label:15s} lower_row off: identical={off}")  # noqa: T201
                if name in UNCHANGED:
                    print(f"{name:48s} {label:15s} identical={np.array_equal(old, new)}")  # noqa: T201
                    continue
                profiles = gap_profiles(state, values, registry)
                width = 2.0 * len(profiles)
                was, now = (figures(image, profiles, teeth_luma, width) for image in (old, new))
                cells = "  ".join(f"{key} {was[key]:.3f} -> {now[key]:.3f}" for key in was)
                print(f"{name:48s} {label:15s} {cells}")  # noqa: T201
        rows = [row for name in PHOTOS for row in mouth_rows(name, args.images, before, after, registry)]
        width = max(row.shape[1] for row in rows)
        rows = [np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    # docs/ holds sheets under 600 KB: the lowest JPEG quality that is needed.
    for quality in (80, 70, 60, 50, 40):
        write_sheet(rows, args.out, quality)
        if args.out.stat().st_size < 600_000:
            break


if __name__ == "__main__":
    main()
