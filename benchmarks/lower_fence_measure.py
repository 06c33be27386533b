"""Measure of docs/LOWER_FENCE.md: how tall the lower row of teeth shows against the upper centrals.

    OMP_NUM_THREADS=1 python benchmarks/lower_fence_measure.py [--on] [--photo] NAMES

Per photo, between the inner lips (the edit's target lips; `--photo`: the photo itself, its own
lips, no edit) in the central columns (within 0.08 of the mouth's width of its midline), each
column's tooth pixels (luma >= 0.55 of the opening's 95th percentile, red - green < 0.25 of the
luma: teeth are yellow-white, lips and the cavity red),
searched from 10 % of the opening above the upper lip to 10 % below the lower one:

- **ratio** = median height of the lowest run of tooth pixels in the column's lower half (the
  lower row) / median height of the highest run in its upper half (the upper centrals); 0 when
  no lower row shows;
- **lines** = contrast of the lines between the lower teeth: along the lower row's middle row
  over the central half of the mouth, 1 - (5th percentile / median) of the luma (0 where no row).

`--on` renders with `PreviewSettings.lower_fence` on (off: main's pixels). Edit open_mouth 1 unless
`--edit KEY=VALUE`.
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

from benchmarks.mouth_sheet import target_lips  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402

__all__ = ["fence"]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True in a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True))


def fence(image: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[float, float, float]:
    """(ratio, lines, upper run px) of `image` (RGB) between the inner lips `upper`, `lower`
    ((K, 2) photo pixels each), as the module docstring says."""
    rgb = image.astype(np.float64)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    redness = rgb[:, :, 0] - rgb[:, :, 1]  # lips and the cavity are red; teeth yellow-white
    left, right = float(upper[:, 0].min()), float(upper[:, 0].max())
    mid, width = 0.5 * (left + right), right - left
    xs = np.arange(int(round(mid - 0.08 * width)), int(round(mid + 0.08 * width)) + 1)
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    span = np.maximum(bottom - top, 1.0)
    y0 = int(max(np.floor((top - 0.1 * span).min()), 0))
    y1 = int(min(np.ceil((bottom + 0.1 * span).max()) + 1, image.shape[0]))
    box = luma[y0:y1, xs]
    inside = (np.arange(y0, y1)[:, None] >= (top - 0.1 * span)[None, :]) & (
        np.arange(y0, y1)[:, None] <= (bottom + 0.1 * span)[None, :]
    )
    bright = float(np.percentile(box[inside], 95)) if inside.any() else 255.0
    tooth = inside & (box >= 0.55 * bright) & (redness[y0:y1, xs] < 0.25 * np.maximum(box, 1.0))
    ups, lows, middles = [], [], []
    for j in range(xs.size):
        half = 0.5 * (top[j] + bottom[j]) - y0
        runs = _runs(tooth[:, j])
        up = [b - a for a, b in runs if a < half]
        low = [(a, b) for a, b in runs if b > half]
        ups.append(up[0] if up else 0)
        if low:
            a, b = low[-1]
            lows.append(b - a)
            middles.append(y0 + 0.5 * (a + b))
        else:
            lows.append(0)
    upper_px = float(np.median(ups))
    ratio = float(np.median(lows)) / max(upper_px, 1.0)
    lines = 0.0
    if ratio > 0.0 and middles:
        row = int(round(float(np.median(middles))))
        cols = np.arange(int(round(mid - 0.25 * width)), int(round(mid + 0.25 * width)) + 1)
        profile = luma[row, cols]
        lines = float(1.0 - np.percentile(profile, 5) / max(float(np.median(profile)), 1.0))
    return ratio, lines, upper_px


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--on", action="store_true")
    parser.add_argument("--photo", action="store_true")
    parser.add_argument("--edit", default="open_mouth=1")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    args = parser.parse_args()
    values = {k: float(v) for k, v in (p.split("=") for p in args.edit.split(","))}
    registry = EngineRegistry(fast=False)
    for name in args.names:
        state = prepare_photo(args.images / name, registry=registry)
        renderer = registry.geometric(state.backend).renderer
        renderer.settings = dataclasses.replace(renderer.settings, lower_fence=args.on)
        if args.photo:
            image, lips = state.image, target_lips(state, {}, registry)
        else:
            image = edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
            lips = target_lips(state, values, registry)
        ratio, lines, up = fence(image, *lips)
        print(f"{name[:50]:50s} ratio {ratio:.2f}  lines {lines:.2f}  upper {up:.0f} px")  # noqa: T201


if __name__ == "__main__":
    main()
