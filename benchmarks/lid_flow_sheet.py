"""Photo sheet and cost of the lid warping network (docs/LID_FLOW.md, rule items 2 and 3; LID_NET's
sheet, commit 15bb372, with the flag `lid_flow`).

    python benchmarks/lid_flow_sheet.py [-o docs/lid_flow_sheet.jpg] [--crops DIR] [--images DIR]
    OMP_NUM_THREADS=1 python benchmarks/lid_flow_sheet.py --bench [--repeats 20]

Sheet: per photo and edit (close_eyes 1, wink_left 1), the box around both eyes at the photo's
full resolution (100 %, never scaled), input | geometric (lid flow network off) | network on; the
repository's copy is 900 px wide, JPEG quality 85 (under 3 MB), the 100 % crops go to `--crops` as PNGs.
Bench: the geometric renderer's `render_frame` on the 256 px crop at close_eyes 1, network off
and on alternating in one run; median milliseconds per frame and the difference.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.eye_crops import values  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",  # made-up lids: a flat grey-taupe disc today
    "yzhou359__MakeItTalk__johnny.jpg",  # kohl under a red bandana: red lids
    "yzhou359__MakeItTalk__morgan.jpg",  # wrinkled skin: smooth lighter discs
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",  # half-tone print
    "KwaiVGI__LivePortrait__s2.jpg",  # handled well today
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "serengil__deepface__img3.jpg",
    "serengil__deepface__img1.jpg",
)
EDITS = ("close_eyes=1", "wink_left=1")
BENCH_PHOTOS = PHOTOS[:3]


def _label(image: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((22, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (3, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def _eyes_box(state, engine) -> tuple[slice, slice]:
    """Rows and columns of the photo around both eyes: 0.3 eye widths beside, 0.7 above, 0.35 below."""
    points = state.engine_state(engine).points
    lids = np.concatenate(
        [points[u, :2] for u, _ in engine.renderer.projector.layout.eyes]
        + [points[lo, :2] for _, lo in engine.renderer.projector.layout.eyes]
    )
    lids = state.crop_transform.inverse_points(lids)
    width = float(np.ptp(lids[:, 0])) / 2.6  # about one eye's width
    h, w = state.image.shape[:2]
    x0, y0 = lids.min(axis=0) - [0.3 * width, 0.7 * width]
    x1, y1 = lids.max(axis=0) + [0.3 * width, 0.35 * width]
    return slice(max(0, int(y0)), min(h, int(y1))), slice(max(0, int(x0)), min(w, int(x1)))


def _both(state, engine, request, registry) -> list[np.ndarray]:
    renderer = engine.renderer
    settings = renderer.settings
    try:
        outs = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(settings, lid_flow=on)
            outs.append(edit(state, request, registry=registry).full_image)
    finally:
        renderer.settings = settings
    return outs


def sheet(images: Path, out: Path, crops: Path) -> None:
    registry = EngineRegistry(fast=False)
    crops.mkdir(parents=True, exist_ok=True)
    tiles = []
    for name in PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        rows, cols = _eyes_box(state, engine)
        for text in EDITS:
            off, on = _both(state, engine, EditRequest(values(text), engine="preview"), registry)
            parts = [state.image[rows, cols], off[rows, cols], on[rows, cols]]
            gap = np.full((parts[0].shape[0], 6, 3), 255, np.uint8)
            row = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
            stem = f"{Path(name).stem}_{text}"
            cv2.imwrite(str(crops / f"{stem}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
            changed = np.any(off != on, axis=2)
            outside = int(changed.sum() - changed[rows, cols].sum())  # the rest of the head: none
            print(
                f"{stem}: {row.shape[1]}x{row.shape[0]} px, {int(changed.sum())} photo pixels changed, {outside} outside the box"
            )  # noqa: T201
            tiles.append((row, f"{stem}  input | geometric | lid flow network"))
    width = 900
    scaled = []
    for row, text in tiles:  # shrunk to the sheet's width where wider; small crops stay at 100 %
        if row.shape[1] > width:
            row = cv2.resize(
                row, (width, round(row.shape[0] * width / row.shape[1])), interpolation=cv2.INTER_AREA
            )
        scaled.append(
            _label(np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255), text)
        )
    board = np.concatenate(scaled, axis=0)
    quality = 85
    while True:
        cv2.imwrite(str(out), cv2.cvtColor(board, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if out.stat().st_size < 3_000_000 or quality <= 40:
            break
        quality -= 10
    print(
        f"{out}: {board.shape[1]}x{board.shape[0]}, {out.stat().st_size / 1e3:.0f} KB (100 % crops in {crops})"
    )  # noqa: T201


def bench(images: Path, repeats: int) -> None:
    registry = EngineRegistry(fast=False)
    for name in BENCH_PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        renderer, preview = engine.renderer, state.engine_state(engine)
        coeffs = target_coefficients(
            state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry
        )
        settings = renderer.settings
        times: dict[bool, list[float]] = {False: [], True: []}
        try:
            for i in range(repeats + 2):
                for on in (False, True):
                    renderer.settings = dataclasses.replace(settings, lid_flow=on)
                    start = time.perf_counter()
                    renderer.render_frame(preview, coeffs)
                    if i >= 2:  # the first frames load the network and warm caches
                        times[on].append(1e3 * (time.perf_counter() - start))
        finally:
            renderer.settings = settings
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(
            f"{name}: {preview.size[0]} px crop, off {off:.1f} ms, on {on:.1f} ms, added {on - off:+.1f} ms (median of {repeats})"
        )  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lid_flow_sheet.jpg")
    parser.add_argument("--crops", type=Path, default=Path("/tmp/lid_flow_crops"))
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if args.bench:
        bench(args.images, args.repeats)
    else:
        sheet(args.images, args.out, args.crops)


if __name__ == "__main__":
    main()
