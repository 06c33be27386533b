"""Contact sheet and figures of shut eyes on photos whose fitted upper lid lies below the real lid
edge (an eye looking up): input | main | new (docs/UPWARD_LIDS.md).

    python benchmarks/upward_lids_sheet.py [-o docs/upward_lids_sheet.jpg] [--images DIR] [--measure]
    OMP_NUM_THREADS=1 python benchmarks/upward_lids_sheet.py --time [--calls 40]

Per photo and edit (close_eyes 1, wink_left 1): the face scaled to 300 px high, then both eyes at
100 % (photo pixels; eyes under 100 px wide at 200-300 %, nearest), input | without
`PreviewSettings.upward_lids` | with it (the flag acts when a photo is prepared: each way prepares
its own). With --measure, per shut eye and way, `dark share` (docs/UPWARD_LIDS.md), and per edit the
largest pixel difference between the ways, on the whole photo and on the eye that stays open. With
--time, no sheet: the flag's cost per drag preview (`render_frame` + `place_frame` into the 768 px
canvas at close_eyes 1, the ways taking turns, paired: `benchmarks.timing.paired_toggle_ms`).
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
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from benchmarks.squint_shut_sheet import _triple, face_box  # noqa: E402
from benchmarks.timing import paired_toggle_ms, print_paired  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, photo_canvas, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.geometric import PreviewSettings  # noqa: E402
from pipeline.photo import place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "YadiraF__DECA__exp_3.jpg",  # looking up: the fault
    "cmusatyalab__openface__adams.jpg",  # survey: fitted lid on the iris under a dark band
    "yzhou359__MakeItTalk__natalie.jpg",
    "YadiraF__PRNet__image02545.jpg",
    "jdh-algo__JoyVASA__joyvasa_005.png",  # deep-set
    "deepinsight__insightface__happy.png",  # squints
    "YadiraF__DECA__teaser_2.png",
    "serengil__deepface__img3.jpg",  # clean: shut lids that look right
    "OpenTalker__SadTalker__people_0.png",
    "dchen236__FairFace__race_Black.jpg",
)
EDITS = ("close_eyes=1", "wink_left=1")
HEAD = 300
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def dark_share(source: np.ndarray, flow: np.ndarray, upper: np.ndarray, lower: np.ndarray, iris) -> float:
    """Of the crop pixels between an eye's fitted upper lid (K, 2) and the middle of its opening, in
    the inner 50 % of its width, the share whose backward flow (H, W, 2) reads inside the photo's
    iris disc or a pixel of `source` darker than 0.5 of the skin under the eye (the median luma
    0.1-0.3 eye widths under the fitted lower lid (K, 2))."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    middle = 0.5 * (upper[:, 0].min() + upper[:, 0].max())
    xs = np.arange(int(middle - 0.25 * width), int(middle + 0.25 * width) + 1, dtype=np.float64)
    luma = source.astype(np.float32) @ _LUMA
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    ys = np.arange(int(top.min()), int(bottom.max()) + 1, dtype=np.float64)
    px, py = np.meshgrid(xs, ys)
    inside = (py >= top) & (py <= 0.5 * (top + bottom))
    under = np.arange(int(bottom.min() + 0.1 * width), int(bottom.max() + 0.3 * width) + 1)
    skin = float(np.median(luma[under[:, None], xs.astype(int)[None, :]]))
    moved = flow[py.astype(int), px.astype(int)]
    sx, sy = px + moved[..., 0], py + moved[..., 1]
    iris_hit = (
        np.zeros_like(inside)
        if iris is None
        else np.hypot(*(np.stack([sx, sy]) - iris.centre[:, None, None])) <= iris.radius
    )
    read = cv2.remap(luma, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR)
    return float(((iris_hit | (read < 0.5 * skin)) & inside).sum() / max(inside.sum(), 1))


def _states(path: Path, registry: EngineRegistry) -> list:
    """The photo prepared without and with the flag."""
    states = []
    for on in (False, True):
        state = prepare_photo(path, registry=registry)
        engine = registry.geometric(state.backend)
        engine.renderer.settings = dataclasses.replace(engine.renderer.settings, upward_lids=on)
        state.engine_state(engine)
        states.append(state)
    engine.renderer.settings = dataclasses.replace(
        engine.renderer.settings, upward_lids=PreviewSettings().upward_lids
    )
    return states


def photo_rows(path: Path, registry: EngineRegistry, figures: list[str] | None, folder: Path | None) -> list:
    states = _states(path, registry)
    state = states[0]
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    transform = state.crop_transform
    layout = renderer.projector.layout
    crop_points = [s.engine_state(engine).points for s in states]
    eyes = [
        (transform.inverse_points(crop_points[0][u, :2]), transform.inverse_points(crop_points[0][lo, :2]))
        for u, lo in layout.eyes
    ]
    boxes = [eye_box(np.concatenate(lids), state.image.shape) for lids in eyes]
    face = face_box([np.concatenate(lids) for lids in eyes], state.image.shape)
    zoom = int(np.clip(round(100.0 / float(np.ptp(eyes[0][0][:, 0]))), 1, 3))
    h, w = state.image.shape[:2]
    rows = []
    for text in EDITS:
        request = EditRequest(values=values(text), engine="preview")
        outs = [edit(s, request, registry=registry).full_image for s in states]
        if folder is not None:
            for way, out in zip(("main", "new"), outs, strict=True):
                cv2.imwrite(
                    str(folder / f"{path.stem}_{text}_{way}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
                )
        heads = [image[face] for image in (state.image, *outs)]
        scale = HEAD / heads[0].shape[0]
        heads = [cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for image in heads]
        parts = [_label(_triple(heads, 1), f"{path.name[:26]} {w}x{h} {text}: input | main | new")]
        for k, box in enumerate(boxes):
            crops = [image[box] for image in (state.image, *outs)]
            parts.append(_label(_triple(crops, zoom), f"eye {k} at {100 * zoom} %"))
        rows += _rows(parts)
        if figures is None:
            continue
        open_eye = 1 if text.startswith("wink_left") else None  # a left wink shuts the image-left eye
        target = target_coefficients(state, request, registry=registry)
        shares = []
        for s in states:
            prepared = s.engine_state(engine)
            flow = renderer.render_frame(prepared, target).flow
            shares.append(
                [
                    dark_share(
                        prepared.source,
                        flow,
                        prepared.points[u, :2],
                        prepared.points[lo, :2],
                        prepared.irises[k],
                    )
                    for k, (u, lo) in enumerate(layout.eyes)
                ]
            )
        for k in range(len(layout.eyes)):
            if k != open_eye:
                figures.append(
                    f"| {path.name[:34]} | {text} | {k} | {shares[0][k]:.3f} -> {shares[1][k]:.3f} |"
                )
        whole = int(np.abs(outs[0].astype(int) - outs[1]).max())
        kept = (
            "-"
            if open_eye is None
            else str(int(np.abs(outs[0][boxes[open_eye]].astype(int) - outs[1][boxes[open_eye]]).max()))
        )
        figures.append(f"| {path.name[:34]} | {text} | max diff whole {whole}, open eye {kept} | |")
    return rows


def paired_cost(path: Path, registry: EngineRegistry, calls: int) -> list[tuple[float, float, float]]:
    """(median ms off, median ms on, median paired difference) of one 768 px drag preview at
    close_eyes 1: wall-clock time, then the thread's CPU time."""
    states = _states(path, registry)
    engine = registry.geometric(states[0].backend)
    renderer = engine.renderer
    prepared = [s.engine_state(engine) for s in states]
    canvas = photo_canvas(states[0], 768)
    target = target_coefficients(
        states[0], EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry
    )
    chosen = [prepared[0]]

    def toggle(on: bool) -> None:
        chosen[0] = prepared[int(on)]

    return paired_toggle_ms(
        toggle, lambda: place_frame(canvas, renderer.render_frame(chosen[0], target)), calls
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "upward_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--measure", action="store_true", help="print the dark share figures and differences")
    parser.add_argument("--save", type=Path, default=None, help="also write every output here (PNG)")
    parser.add_argument("--only", nargs="*", default=None, help="only these photos (file names)")
    parser.add_argument("--time", action="store_true", help="time the flag instead (no sheet)")
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    photos = args.only or PHOTOS
    if args.time:
        timed = (*photos[:2], "jdh-algo__JoyVASA__joyvasa_005.png", "serengil__deepface__img3.jpg")
        for name in timed if args.only is None else photos:
            print_paired(name, paired_cost(args.images / name, registry, args.calls))
        return
    figures: list[str] | None = [] if args.measure else None
    rows = [row for name in photos for row in photo_rows(args.images / name, registry, figures, args.save)]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print("| photo | edit | eye | dark share: main -> new |")  # noqa: T201
        print("|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
