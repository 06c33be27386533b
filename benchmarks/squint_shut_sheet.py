"""Contact sheet and figures of shut eyes on photos whose eyes are squinted: input | main | new
(docs/SQUINT_SHUT.md).

    python benchmarks/squint_shut_sheet.py [-o docs/squint_shut_sheet.jpg] [--images DIR] [--measure]
    OMP_NUM_THREADS=1 python benchmarks/squint_shut_sheet.py --time [--calls 40]

Per photo and edit (close_eyes 1, wink_left 1): the face scaled to 300 px high, then both eyes at
100 % (photo pixels; photos whose eyes are under 100 px wide at 200-300 %, nearest), input | without
`PreviewSettings.squint_shut` | with it. With --measure, per shut eye and way, `runs` (dark runs per column, docs/SQUINT_SHUT.md), and
per edit the largest pixel difference between the two ways, on the whole photo and on the eye that
stays open. With --time, no sheet: the cost of the flag per drag preview (`render_frame` +
`place_frame` into the 768 px canvas at close_eyes 1, on and off taking turns, paired:
`benchmarks.flag_cost`) on happy.png, teaser_2 and img3.
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

from benchmarks.eye_crops import eye_box, values  # noqa: E402
from benchmarks.flag_cost import flag_cost  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from benchmarks.timing import print_paired  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.geometric import PreviewSettings  # noqa: E402

PHOTOS = (
    "deepinsight__insightface__happy.png",  # a laughing squint: the fault
    "YadiraF__DECA__teaser_2.png",  # smiling eyes, narrowed (survey)
    "serengil__deepface__img39.jpg",  # smiling eyes, narrowed (survey)
    "serengil__deepface__img3.jpg",  # clean: shut lids that look right
    "OpenTalker__SadTalker__people_0.png",
    "dchen236__FairFace__race_Black.jpg",
)
EDITS = ("close_eyes=1", "wink_left=1")
HEAD = 300
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def runs(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """Per column of the inner 50 % of an eye (its photo's lid curves (K, 2), photo pixels), the
    number of separate runs of dark pixels of `out` from the upper lid line down to the lower lid +
    0.25 eye widths (dark: luma below 0.6 of the input's median skin luma 0.1-0.3 eye widths under
    the lower lid); median over columns."""
    width = float(np.ptp(upper[:, 0]))
    middle = 0.5 * (upper[:, 0].min() + upper[:, 0].max())
    x0, x1 = int(middle - 0.25 * width), int(middle + 0.25 * width) + 1
    y0, y1 = int(upper[:, 1].min()) - 1, int(lower[:, 1].max() + 0.35 * width) + 2
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    skin_rows = (ys > bottom + 0.1 * width) & (ys < bottom + 0.3 * width)
    skin = float(np.median((image[y0:y1, x0:x1].astype(np.float32) @ _LUMA)[skin_rows]))
    window = (ys >= top) & (ys <= bottom + 0.25 * width)
    dark = ((out[y0:y1, x0:x1].astype(np.float32) @ _LUMA) < 0.6 * skin) & window
    starts = dark[0] + np.sum(dark[1:] & ~dark[:-1], axis=0)  # (X,) runs per column
    return float(np.median(starts))


def face_box(lids: list[np.ndarray], shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The face around the eyes: 0.9 eye spans to the sides, 0.8 up, 1.6 down."""
    points = np.concatenate(lids)
    span = float(np.ptp(points[:, 0]))
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return (
        slice(max(0, int(y0 - 0.8 * span)), min(shape[0], int(y1 + 1.6 * span))),
        slice(max(0, int(x0 - 0.6 * span)), min(shape[1], int(x1 + 0.6 * span))),
    )


def _triple(parts: list[np.ndarray], zoom: int) -> np.ndarray:
    gap = np.full((parts[0].shape[0], 6, 3), 255, np.uint8)
    joined = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
    return cv2.resize(joined, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST) if zoom > 1 else joined


def photo_rows(path: Path, registry: EngineRegistry, figures: list[str] | None, folder: Path | None) -> list:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    points = state.engine_state(engine).points
    transform = state.crop_transform
    eyes = [
        (transform.inverse_points(points[u, :2]), transform.inverse_points(points[lo, :2]))
        for u, lo in renderer.projector.layout.eyes
    ]
    boxes = [eye_box(np.concatenate(lids), state.image.shape) for lids in eyes]
    face = face_box([np.concatenate(lids) for lids in eyes], state.image.shape)
    width = float(np.ptp(eyes[0][0][:, 0]))
    zoom = int(np.clip(round(100.0 / width), 1, 3))
    h, w = state.image.shape[:2]
    rows = []
    for text in EDITS:
        outs = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(renderer.settings, squint_shut=on)
            request = EditRequest(values=values(text), engine="preview")
            outs.append(edit(state, request, registry=registry).full_image)
            if folder is not None:
                name = f"{path.stem}_{text}_{'new' if on else 'main'}.png"
                cv2.imwrite(str(folder / name), cv2.cvtColor(outs[-1], cv2.COLOR_RGB2BGR))
        heads = [image[face] for image in (state.image, *outs)]
        scale = HEAD / heads[0].shape[0]
        heads = [cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for image in heads]
        parts = [_label(_triple(heads, 1), f"{path.name[:26]} {w}x{h} {text}: input | main | new")]
        for k, box in enumerate(boxes):
            crops = [image[box] for image in (state.image, *outs)]
            parts.append(_label(_triple(crops, zoom), f"eye {k} at {100 * zoom} %"))
        rows += _rows(parts)
        if figures is not None:
            open_eye = 1 if text.startswith("wink_left") else None  # a left wink shuts the image-left eye
            for k in range(len(eyes)):
                if k == open_eye:
                    continue
                before, after = (runs(state.image, o, *eyes[k]) for o in outs)
                figures.append(f"| {path.name[:32]} | {text} | {k} | {before:.1f} -> {after:.1f} |")
            whole = int(np.abs(outs[0].astype(int) - outs[1]).max())
            kept = (
                "-"
                if open_eye is None
                else str(int(np.abs(outs[0][boxes[open_eye]].astype(int) - outs[1][boxes[open_eye]]).max()))
            )
            figures.append(f"| {path.name[:32]} | {text} | max diff whole {whole}, open eye {kept} | |")
    renderer.settings = dataclasses.replace(renderer.settings, squint_shut=PreviewSettings().squint_shut)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "squint_shut_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--measure", action="store_true", help="print the runs figures and differences")
    parser.add_argument("--save", type=Path, default=None, help="also write every output here (PNG)")
    parser.add_argument("--time", action="store_true", help="time the flag instead (no sheet)")
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    if args.time:
        for name in PHOTOS[:2] + PHOTOS[3:4]:
            print_paired(
                name, flag_cost(args.images / name, registry, "squint_shut", {"close_eyes": 1.0}, args.calls)
            )
        return
    figures: list[str] | None = [] if args.measure else None
    rows = [row for name in PHOTOS for row in photo_rows(args.images / name, registry, figures, args.save)]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print("| photo | edit | eye | runs: main -> new |")  # noqa: T201
        print("|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
