"""Contact sheet of already open mouths opened further and closed: input | before | after.

    python benchmarks/open_further_sheet.py [-o docs/open_further_sheet.jpg] [--base main] [--keep DIR]

The photos of `benchmarks/open_further.py` (mouths open by at least 0.29 of their width), at
open_mouth 1 and -0.5 (closing: the same direction's raw expression offset, under the slider's
range). Per photo and edit one row: the mouth and chin at 100 % (photo pixels, 200 % nearest under
700 px), input | before | after. "Before" is the base commit's own code, exported and run in a
subprocess (`benchmarks.mouth_sheet.render_base`); "after" is this tree with
`PreviewSettings.open_further` on (off by default: docs/OPEN_FURTHER.md). `--keep DIR` also writes the rows as PNGs
(look at those at full size; the JPEG is compressed to stay small).
"""

from __future__ import annotations

import argparse
import dataclasses
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

from benchmarks.mouth_sheet import _side_by_side, render_base, write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from reconstruction.controls import control_set_for  # noqa: E402

PHOTOS = (
    "YadiraF__DECA__image02673.png",
    "justadudewhohacks__face-api.js__surprised.jpg",
    "ageitgey__face_recognition__32bit.png",
    "sicxu__Deep3DFaceRecon_pytorch__vd006.png",
    "YadiraF__DECA__id06692-Hlahj5abifM-002721_inputs_inputs.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015310.jpg",
    "justadudewhohacks__face-api.js__fearful.jpg",
    "YadiraF__PRNet__2.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "YadiraF__PRNet__image02283.jpg",
)
AMOUNTS = (1.0, -0.5)  # open_mouth
WIDTH = 2000  # sheet width, pixels


def request(state, registry, amount: float) -> EditRequest:
    """open_mouth `amount`; below 0 as the same direction's raw expression offset."""
    if amount >= 0.0:
        return EditRequest(values={"open_mouth": amount}, engine="preview")
    controls = control_set_for(registry.backend(state.backend).model)
    offset = amount * controls.expression_offset({"open_mouth": 1.0})
    return EditRequest(values={}, raw_expression_offset=offset, engine="preview")


def render(images: Path, folder: Path, open_further: bool = False) -> None:
    """Every photo at every amount as `folder`/<stem>__<k>.png (full resolution), with
    `PreviewSettings.open_further` on when `open_further`."""
    registry = EngineRegistry(fast=False)
    for name in PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        if open_further:
            renderer = registry.geometric(state.backend).renderer
            renderer.settings = dataclasses.replace(renderer.settings, open_further=True)
        for k, amount in enumerate(AMOUNTS):
            out = edit(state, request(state, registry, amount), registry=registry).full_image
            cv2.imwrite(str(folder / f"{Path(name).stem}__{k}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))


def rows_for(
    name: str, images: Path, before: Path, after: Path, registry: EngineRegistry
) -> list[np.ndarray]:
    state = prepare_photo(images / name, registry=registry)
    engine = registry.geometric(state.backend)
    points = state.engine_state(engine).points
    lips = state.crop_transform.inverse_points(
        points[np.concatenate(engine.renderer.projector.layout.mouth), :2]
    )
    h, w = state.image.shape[:2]
    width = float(np.ptp(lips[:, 0]))
    (x0, y0), (x1, y1) = (
        lips.min(axis=0) - [0.3 * width, 0.25 * width],
        lips.max(axis=0) + [0.3 * width, 0.8 * width],
    )
    box = (slice(max(0, int(y0)), min(h, int(y1))), slice(max(0, int(x0)), min(w, int(x1))))
    zoom = 2.0 if max(h, w) < 700 else 1.0
    zoom = min(zoom, (WIDTH - 20) / (3 * (box[1].stop - box[1].start)))
    rows = []
    for k, amount in enumerate(AMOUNTS):
        outs = [state.image] + [
            cv2.cvtColor(cv2.imread(str(folder / f"{Path(name).stem}__{k}.png")), cv2.COLOR_BGR2RGB)
            for folder in (before, after)
        ]
        crops = [
            o[box]
            if zoom == 1.0
            else cv2.resize(
                o[box],
                None,
                fx=zoom,
                fy=zoom,
                interpolation=cv2.INTER_NEAREST if zoom > 1 else cv2.INTER_AREA,
            )
            for o in outs
        ]
        title = f"{name} {w}x{h}, open_mouth {amount:+.1f}, {100 * zoom:.0f} %: input"
        row = _side_by_side(crops, (title, "before", "after"))[:, :WIDTH]
        rows.append(np.pad(row, ((0, 10), (0, WIDTH - row.shape[1]), (0, 0)), constant_values=255))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "open_further_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=60)
    parser.add_argument("--keep", type=Path, default=None, help="also keep the rows as PNGs here")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_into is not None:
        render(args.images, args.render_into)
        return
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        render_base(args.base, args.images, Path(before), __file__)
        render(args.images, Path(after), open_further=True)
        registry = EngineRegistry(fast=False)
        rows = [
            row for name in PHOTOS for row in rows_for(name, args.images, Path(before), Path(after), registry)
        ]
    write_sheet(rows, args.out, args.quality)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for k, row in enumerate(rows):
            cv2.imwrite(str(args.keep / f"row{k:02d}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
