"""The neck under a rolled head's turn (issue #16, docs/NECK_BEND.md): main | `neck_bend` renders
of chris2 and eight photos with upright necks, the neck magnification off/on, and the sheet.

    OMP_NUM_THREADS=1 python benchmarks/neck_bend_sheet.py [--png DIR] [--photos ...] [--measure-only]

M: docs/JAW_EDGE.md's neck magnification (`jaw_edge_sheet.neck_magnification`: the 99th percentile
of 1 / det(I + grad f) of each shown layer's flow over the jaw columns, from below the target face
down to the shoulder line). The sheet shows the whole head and neck at the photo's resolution (a
photo smaller than `SMALL` px magnified 2x), main above the flag for each edit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.jaw_edge_sheet import neck_magnification  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402

__all__ = ["EDITS", "FAULT", "NECKS", "head_box", "renderer_with"]

FAULT = "yzhou359__MakeItTalk__chris2.jpg"
NECKS = [
    "serengil__deepface__img1.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "dchen236__FairFace__race_Latino.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "cmusatyalab__openface__lennon-1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "cmusatyalab__openface__carell.jpg",
]
EDITS = {
    "yaw -30": {"yaw": -30.0},
    "yaw -15": {"yaw": -15.0},
    "yaw +15": {"yaw": 15.0},
    "yaw +30": {"yaw": 30.0},
    "pitch 15": {"pitch": 15.0},
    "roll 15": {"roll": 15.0},
}
MEASURED = ("yaw -30", "yaw -15", "yaw +15", "yaw +30")
SMALL = 400  # photos smaller than this (the box's width, px) are magnified 2x on the sheet
PANEL = 260  # a panel's width on the sheet (px)


def renderer_with(base: GeometricRenderer, **flags: bool) -> GeometricRenderer:
    """A copy of `base` with some `PreviewSettings` flags set."""
    renderer = GeometricRenderer.__new__(GeometricRenderer)
    renderer.__dict__.update(base.__dict__)
    renderer.settings = dataclasses.replace(base.settings, **flags)
    return renderer


def head_box(state: SourceState, points: np.ndarray, face_size: float) -> tuple[slice, slice]:
    """Photo rows and columns of the whole head and neck: 1.5 face sizes wide, from 0.9 face sizes
    above the chin to 0.45 below (`points`, `face_size`: the crop's)."""
    photo = state.crop_transform.inverse_points(points[:, :2])
    size = face_size / state.crop_transform.scale
    chin, centre = photo[:, 1].max(), photo[:, 0].mean()
    h, w = state.image.shape[:2]
    y0, y1 = int(max(0, chin - 0.9 * size)), int(min(h, chin + 0.45 * size))
    x0, x1 = int(max(0, centre - 0.75 * size)), int(min(w, centre + 0.75 * size))
    return slice(y0, y1), slice(x0, x1)


def _panel(image: np.ndarray, text: str, height: int) -> np.ndarray:
    """The image scaled to `height` rows, labelled."""
    out = cv2.resize(
        image, (max(1, round(image.shape[1] * height / image.shape[0])), height), interpolation=cv2.INTER_AREA
    )
    out = np.ascontiguousarray(out).copy()
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "neck_bend_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--png", type=Path, default=None, help="also write main | new crops here at 100 %%")
    parser.add_argument("--photos", nargs="*", default=None)
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    engine = registry.geometric("default")
    ways = [renderer_with(engine.renderer, neck_bend=on) for on in (False, True)]
    if args.png is not None:
        args.png.mkdir(parents=True, exist_ok=True)
    rows: list[np.ndarray] = []
    for name in args.photos or [FAULT, *NECKS]:
        state = prepare_photo(args.images / name, registry=registry)
        preview = state.engine_state(engine)
        chin, size = float(preview.points[:, 1].max()), preview.face_size
        canvas = Canvas(state.image, state.crop_transform)
        box = head_box(state, preview.points, size)
        figures: dict[str, object] = {}
        panels: list[list[np.ndarray]] = [[], []]
        for label, values in EDITS.items():
            if args.measure_only and label not in MEASURED:
                continue
            target = target_coefficients(state, EditRequest(values=values), registry=registry)
            frames = [way.render_frame(preview, target) for way in ways]
            if label in MEASURED:
                mask = ways[0].face_mask(preview, target)
                figures[label] = [round(neck_magnification(f, mask, chin, size), 3) for f in frames]
            if args.measure_only:
                continue
            outs = [place_frame(canvas, f)[box] for f in frames]
            figures[f"{label} changed px"] = int(np.any(outs[0] != outs[1], axis=2).sum())
            height = outs[0].shape[0] * (2 if outs[0].shape[1] < SMALL else 1)
            height = min(height, PANEL * outs[0].shape[0] // outs[0].shape[1])
            for k, out in enumerate(outs):
                panels[k].append(_panel(out, f"{label} {'new' if k else 'main'}", height))
            if args.png is not None:
                strip = np.concatenate([state.image[box], *outs], axis=1)
                path = args.png / f"{name[:24]}_{label.replace(' ', '')}.png"
                cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
        print(name, json.dumps(figures), flush=True)  # noqa: T201
        if not args.measure_only:
            rows.extend(np.concatenate(p, axis=1) for p in panels)
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows]
        write_sheet(rows, args.out, quality=85)


if __name__ == "__main__":
    main()
