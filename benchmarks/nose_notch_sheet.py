"""The notch figure and contact sheet of a turned nose's edge (docs/NOSE_NOTCH.md): the default
renderer with `PreviewSettings.nose_notch` off (main's behaviour) and on, at the photo's resolution.

    python benchmarks/nose_notch_sheet.py --measure          # notch counts, off and on
    python benchmarks/nose_notch_sheet.py [-o docs/nose_notch_sheet.jpg]

Notch figure: along the occlusion edges of main's flow (crop pixels whose read steps by over
`FOLD_GAP` to a neighbour's: the same region with the flag off and on), the output pixels darker (luminance) by over `MARGIN` than the
medians of the three pixels on either side of them in their row two pixels away: a dark line one
or two pixels wide, the hidden strip squeezed into the edge, where a soft edge should be.
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

import reconstruction.crop as crop  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from reconstruction.folds import FOLD_GAP, node_grid  # noqa: E402

FAULT = ("davisking__dlib__John_Simm_000288_00470387.jpg", "justadudewhohacks__face-api.js__angry.jpg")
CLEAN = (
    "fudan-generative-vision__hallo__6.jpg",
    "yzhou359__MakeItTalk__natalie.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img3.jpg",
    "jdh-algo__JoyVASA__joyvasa_005.png",
    "davisking__dlib__John_Salley_000179_02159509.jpg",
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",
)
YAWS = (-30.0, -15.0, 15.0, 30.0)
MARGIN = 30.0
IMAGES = REPO.parent / "shared" / "data" / "images"


def notch_count(image: np.ndarray, region: np.ndarray) -> int:
    """Pixels of (H, W) bool `region` in RGB `image` darker by over `MARGIN` than the medians of
    the pixels 2-4 to their left and 2-4 to their right."""
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    pad = np.pad(lum, ((0, 0), (4, 4)), mode="edge")
    w = lum.shape[1]
    left = np.median(np.stack([pad[:, k : k + w] for k in (0, 1, 2)]), axis=0)
    right = np.median(np.stack([pad[:, k : k + w] for k in (6, 7, 8)]), axis=0)
    return int((region & (lum < np.minimum(left, right) - MARGIN)).sum())


def render(state, registry: EngineRegistry, yaw: float, on: bool) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The edit at `yaw` with the flag `on`, and the (H, W) bool region of its occlusion edges:
    photo pixels (grown by 1) on crop pixels (grown by 1) whose read steps by over `FOLD_GAP` crop
    pixels to a neighbour's, in the flow the renderer gives with the flag off (main's)."""
    renderer = registry.geometric(state.backend).renderer
    kept, found = renderer.settings, []
    blend = crop.blend_across_folds

    def spy(roi, original, faded, *args):  # noqa: ANN001, ANN002, ANN202
        found.append(faded.copy())
        return blend(roi, original, faded, *args)

    request = EditRequest(values={"yaw": yaw}, engine="preview")
    crop.blend_across_folds = spy
    try:
        renderer.settings = dataclasses.replace(kept, nose_notch=False)
        image = edit(state, request, registry=registry).full_image
        if on:
            renderer.settings = dataclasses.replace(kept, nose_notch=True)
            image = edit(state, request, registry=registry).full_image
    finally:
        renderer.settings, crop.blend_across_folds = kept, blend
    reads = node_grid(*found[0].shape[:2]) + found[0]
    steps = np.zeros(reads.shape[:2], bool)
    across = np.linalg.norm(np.diff(reads, axis=1), axis=-1) > FOLD_GAP
    down = np.linalg.norm(np.diff(reads, axis=0), axis=-1) > FOLD_GAP
    steps[:, 1:] |= across
    steps[:, :-1] |= across
    steps[1:] |= down
    steps[:-1] |= down
    steps = cv2.dilate(steps.astype(np.uint8), np.ones((3, 3), np.uint8)) * _reads_nose(state, reads)
    h, w = image.shape[:2]
    to_crop = state.crop_transform.matrix
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    cx = np.round(to_crop[0, 0] * xs + to_crop[0, 1] * ys + to_crop[0, 2]).astype(int)
    cy = np.round(to_crop[1, 0] * xs + to_crop[1, 1] * ys + to_crop[1, 2]).astype(int)
    c = steps.shape[0]
    inside = (cx >= 0) & (cx < c) & (cy >= 0) & (cy < c)
    region = np.zeros((h, w), np.uint8)
    region[inside] = steps[cy[inside], cx[inside]]
    return image, cv2.dilate(region, np.ones((3, 3), np.uint8)) > 0


def _reads_nose(state, reads: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """(c, c) uint8: crop pixels whose reads lie beside the photo's nose, below its bridge's middle
    (landmark 195: the eyes are above) and above the mouth (subnasale 2 + 0.03 face widths), within
    0.12 face widths of its sides (the alae 129, 358 and the tip 1)."""
    marks = state.analysis.crop_landmarks[:, :2]
    width = float(np.linalg.norm(marks[454] - marks[234]))
    x0 = min(marks[[129, 358, 1], 0]) - 0.12 * width
    x1 = max(marks[[129, 358, 1], 0]) + 0.12 * width
    y0, y1 = marks[195, 1], marks[2, 1] + 0.03 * width
    x, y = reads[..., 0], reads[..., 1]
    return ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).astype(np.uint8)


def measure(registry: EngineRegistry, photos: tuple[str, ...]) -> None:
    print("photo\tyaw\toff\ton")
    for name in photos:
        state = prepare_photo(IMAGES / name, registry=registry)
        for yaw in YAWS:
            counts = [notch_count(*render(state, registry, yaw, on)) for on in (False, True)]
            print(f"{name}\t{yaw:+.0f}\t{counts[0]}\t{counts[1]}", flush=True)


def _nose_box(state, region: np.ndarray, fallback: np.ndarray) -> tuple[int, int, int]:  # noqa: ANN001
    """Centre (x, y) and half side of the nose crop: the fold region's centre, else the photo's
    nose tip; half side 0.2 of the face's width, at most 32 px."""
    marks = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])
    half = int(min(32, max(8, 0.2 * abs(marks[454, 0] - marks[234, 0]))))
    ys, xs = np.nonzero(region)
    cx, cy = (xs.mean(), ys.mean()) if len(xs) else fallback
    return int(cx), int(cy), half


def _crop(image: np.ndarray, cx: int, cy: int, half: int, zoom: int) -> np.ndarray:
    pad = cv2.copyMakeBorder(image, half, half, half, half, cv2.BORDER_CONSTANT)
    part = pad[cy : cy + 2 * half, cx : cx + 2 * half]
    return cv2.resize(part, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def _fit(tile: np.ndarray, height: int) -> np.ndarray:
    scale = min(1.0, height / tile.shape[0])
    tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else tile
    canvas = np.full((height, tile.shape[1], 3), 255, np.uint8)
    canvas[: tile.shape[0]] = tile
    return canvas


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return tile


def _row(tiles: list[np.ndarray], width: int) -> np.ndarray:
    row = np.concatenate(
        [cv2.copyMakeBorder(t, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255)) for t in tiles], 1
    )
    return cv2.copyMakeBorder(row, 0, 0, 0, width - row.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))


def sheet(registry: EngineRegistry, photos: tuple[str, ...], out: Path) -> None:
    """Per photo three rows: the whole head at yaw -30 and +30, off and on (at most 100 %, 256 px
    high); the nose at 400 % at yaw -30 and +30 (photo, off, on); the same at yaw -15 and +15."""
    rows = []
    for name in photos:
        state = prepare_photo(IMAGES / name, registry=registry)
        marks = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])
        heads, noses = [], {}
        for yaw in YAWS:
            (off, region), (on, _) = (render(state, registry, yaw, flag) for flag in (False, True))
            cx, cy, half = _nose_box(state, region, marks[1])
            px, py = (int(v) for v in marks[1])  # the photo at its own nose tip
            tiles = [_crop(state.image, px, py, half, 4)] + [_crop(im, cx, cy, half, 4) for im in (off, on)]
            noses[yaw] = [
                _label(t, f"{lab} {yaw:+.0f}")
                for t, lab in zip(tiles, ("photo", "main", "flag"), strict=True)
            ]
            if abs(yaw) == 30:
                x0, x1 = int(marks[:, 0].min()), int(marks[:, 0].max())
                y0, y1 = int(marks[:, 1].min()), int(marks[:, 1].max())
                m = (x1 - x0) // 3
                box = (slice(max(y0 - m, 0), y1 + m), slice(max(x0 - m, 0), x1 + m))
                heads += [
                    _label(_fit(off[box], 256), f"main {yaw:+.0f}"),
                    _label(_fit(on[box], 256), f"flag {yaw:+.0f}"),
                ]
        rows.append([_label(h, name[:40]) if k == 0 else h for k, h in enumerate(heads)])
        rows.append(noses[-30.0] + noses[30.0])
        rows.append(noses[-15.0] + noses[15.0])
    width = max(sum(t.shape[1] + 4 for t in r) for r in rows)
    grid = np.concatenate([_row([_fit(t, 256) for t in r], width) for r in rows], axis=0)
    cv2.imwrite(str(out), grid[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out} {grid.shape[1]}x{grid.shape[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--photos", nargs="+", default=[*FAULT, *CLEAN])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "nose_notch_sheet.jpg")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    if args.measure:
        measure(registry, tuple(args.photos))
    else:
        sheet(registry, tuple(args.photos), args.out)


if __name__ == "__main__":
    main()
