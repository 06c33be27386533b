"""Contact sheet of the near band flattening trial: input | main | trial (docs/NEAR_BALLOON.md).

    python benchmarks/near_balloon_sheet.py [-o docs/near_balloon_sheet.jpg] [--png DIR] [--measure]

Per photo and edit (yaw -30, -15, +15, +30, open_mouth 0.6 + yaw 20), the whole head (the renderer's
crop box) of the full-resolution edit without and with `PreviewSettings.near_balloon`; in the JPEG
each row scaled to `--height` (kept under 3 MB), with --png each triple at 100 % as a PNG (the
heads to judge). With --measure, the rasterised mesh's near band widening at yaw +30, off and on.
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

from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.near_balloon_measure import mesh_widening  # noqa: E402
from benchmarks.near_cut_sheet import _head  # noqa: E402
from benchmarks.paint_sheet import _label  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.near_balloon import flatten_near_band  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

PHOTOS = (
    "dchen236__FairFace__race_Latino.jpg",
    "serengil__deepface__img18.jpg",
    "YadiraF__DECA__IMG_0392_inputs.jpg",
    "justadudewhohacks__face-api.js__raj1.png",
    "justadudewhohacks__face-api.js__sad.jpg",
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",
    "serengil__deepface__img24.jpg",
    "xinntao__facexlib__test2.jpg",
    "cmusatyalab__openface__carell.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "KwaiVGI__LivePortrait__s11.jpg",
    "ageitgey__face_recognition__obama-240p.jpg",
    "ipazc__mtcnn__ivan.jpg",
)
EDITS = ({"yaw": -30.0}, {"yaw": -15.0}, {"yaw": 15.0}, {"yaw": 30.0}, {"open_mouth": 0.6, "yaw": 20.0})


def widening(state, registry: EngineRegistry, yaw: float = 30.0) -> tuple[float, float]:  # noqa: ANN001
    """The near band widening of the mesh the renderer rasterises at `yaw`: (main, trial)."""
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    target = target_coefficients(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry)
    points = renderer.target_points(prepared, target)
    layout = renderer.projector.layout
    flat = flatten_near_band(prepared.points, points, layout.eyes, prepared.face_size)
    side = -1 if points[1, 0] > prepared.points[1, 0] else 1
    return tuple(mesh_widening(prepared.points, p, layout, prepared.size, side) for p in (points, flat))


def triples(state, registry: EngineRegistry, values: dict[str, float]) -> list[np.ndarray]:  # noqa: ANN001
    """[input, main, trial] whole heads of one edit."""
    renderer = registry.geometric(state.backend).renderer
    base, heads = renderer.settings, [_head(state, state.image)]
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(base, near_balloon=on)
            heads.append(
                _head(state, edit(state, EditRequest(values, engine="preview"), registry=registry).full_image)
            )
    finally:
        renderer.settings = base
    return heads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "near_balloon_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--height", type=int, default=260, help="pixels per row in the JPEG")
    parser.add_argument("--png", type=Path, default=None, help="also write each triple at 100 % here")
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--quality", type=int, default=85)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for name in args.photos:
        state = prepare_photo(args.images / name, registry=registry)
        if args.measure:
            print(
                f"{name}: near band widening at yaw +30, main / trial %.2f / %.2f" % widening(state, registry)
            )  # noqa: T201
            continue
        for values in EDITS:
            heads = triples(state, registry, values)
            gap = np.full((heads[0].shape[0], 6, 3), 255, np.uint8)
            triple = np.concatenate([heads[0], gap, heads[1], gap, heads[2]], axis=1)
            text = ",".join(f"{k}={v:g}" for k, v in values.items())
            if args.png is not None:
                args.png.mkdir(parents=True, exist_ok=True)
                path = args.png / f"{name.split('__')[-1].rsplit('.', 1)[0]}_{text}.png"
                cv2.imwrite(str(path), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR))
            scale = args.height / triple.shape[0]
            row = cv2.resize(triple, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            rows.append(_label(row, f"{name[:44]}  {text}   input | main | near_balloon"))
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
