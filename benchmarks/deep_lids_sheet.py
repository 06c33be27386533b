"""Contact sheet and figures of shut deep-set eyes: input | main | `PreviewSettings.deep_lids`
(docs/DEEP_LIDS.md).

    python benchmarks/deep_lids_sheet.py [-o docs/deep_lids_sheet.jpg] [--images DIR] [--measure]

Per photo and edit (close_eyes 1, wink_left 1): both eyes at 100 % (photo pixels, never scaled),
input | without `deep_lids` (main's code path) | with it. With --measure, per shut eye, on the
output at the photo's resolution: `dark` = the share of the photo's detected iris disc whose luma is
below 0.55 times the lid reference (the median luma of the eye's box, between its corners, from 0.25
eye widths above the fitted upper lid down to the fitted lower lid, outside the disc); `catch` = the
brightest luma in the disc / the reference region's 95th percentile. Also checks that what stays
open (the wink's open eye, open_mouth 1) is pixel-identical with and without `deep_lids`.
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
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402

PHOTOS = (
    "jdh-algo__JoyVASA__joyvasa_005.png",  # deep-set eyes in shadow: the fault
    "KwaiVGI__LivePortrait__s2.jpg",  # deep-set eyes, black and white
    "OpenTalker__SadTalker__people_0.png",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "serengil__deepface__img3.jpg",  # mascara
    "serengil__deepface__img24.jpg",  # glasses
    "dchen236__FairFace__race_Black.jpg",  # dark skin
    "yzhou359__MakeItTalk__chris2.jpg",  # 256 px, glasses
)
EDITS = ("close_eyes=1", "wink_left=1")
OPEN = "open_mouth=1"  # eyes open: must not change
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def measure(out: np.ndarray, upper: np.ndarray, lower: np.ndarray, centre: np.ndarray, radius: float):
    """(dark, catch) of one shut eye (module docstring); lids (K, 2), iris centre, radius: photo pixels."""
    width = float(np.ptp(upper[:, 0]))
    x0, x1 = int(upper[:, 0].min()), int(upper[:, 0].max()) + 1
    y0 = int(min(upper[:, 1].min() - 0.25 * width, centre[1] - radius)) - 1
    y1 = int(max(lower[:, 1].max(), centre[1] + radius)) + 2
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    luma = out[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    disc = np.hypot(xs - centre[0], ys - centre[1]) < radius
    disc = disc & (xs >= x0) & (xs < x1)
    ref = (ys > curve_y(upper, xs) - 0.25 * width) & (ys < curve_y(lower, xs)) & ~disc
    level = float(np.median(luma[ref]))
    return float(np.mean(luma[disc] < 0.55 * level)), float(luma[disc].max() / np.percentile(luma[ref], 95))


def photo_rows(path: Path, registry: EngineRegistry, figures: list[str] | None) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    transform = state.crop_transform
    layout = renderer.projector.layout
    outs: dict[bool, dict[str, np.ndarray]] = {}
    prepared = None
    for on in (False, True):
        renderer.settings = dataclasses.replace(renderer.settings, deep_lids=on)
        state._engine_states.pop(engine.name, None)  # prepared again: deep_lids is read in `prepare`
        prepared = state.engine_state(engine)
        outs[on] = {
            text: edit(
                state, EditRequest(values=values(text), engine="preview"), registry=registry
            ).full_image
            for text in (*EDITS, OPEN)
        }
    renderer.settings = dataclasses.replace(renderer.settings, deep_lids=False)
    state._engine_states.pop(engine.name, None)
    points = prepared.points
    eyes = [
        (transform.inverse_points(points[u, :2]), transform.inverse_points(points[lo, :2]))
        for u, lo in layout.eyes
    ]
    boxes = [eye_box(np.concatenate(lids), state.image.shape) for lids in eyes]
    h, w = state.image.shape[:2]
    same = bool(np.array_equal(outs[False][OPEN], outs[True][OPEN]))
    same = same and bool(
        np.array_equal(outs[False]["wink_left=1"][boxes[1]], outs[True]["wink_left=1"][boxes[1]])
    )
    if figures is not None:
        figures.append(f"| {path.name[:30]} | open eyes identical | {same} | |")
    rows = []
    for text in EDITS:
        parts = []
        for k, box in enumerate(boxes):
            gap = np.full((box[0].stop - box[0].start, 6, 3), 255, np.uint8)
            triple = np.concatenate(
                [state.image[box], gap, outs[False][text][box], gap, outs[True][text][box]], 1
            )
            parts.append(_label(triple, f"{path.name[:24]} {w}x{h} {text} eye {k}: input | main | deep"))
            shut = not (text.startswith("wink_left") and k == 1)  # a left wink shuts the image-left eye
            iris = prepared.irises[k]
            if figures is not None and shut and iris is not None:
                centre = transform.inverse_points(iris.centre[None])[0]
                radius = iris.radius / transform.scale
                before, after = (measure(outs[on][text], *eyes[k], centre, radius) for on in (False, True))
                figures.append(
                    f"| {path.name[:30]} | {text} eye {k} | {before[0]:.3f} -> {after[0]:.3f} "
                    f"| {before[1]:.2f} -> {after[1]:.2f} |"
                )
        rows += _rows(parts)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "deep_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--measure", action="store_true", help="print the dark share and catchlight figures")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    figures: list[str] | None = [] if args.measure else None
    rows = [row for name in args.photos for row in photo_rows(args.images / name, registry, figures)]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print("| photo | edit, eye | dark share: main -> deep | catchlight: main -> deep |")  # noqa: T201
        print("|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
