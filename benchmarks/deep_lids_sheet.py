"""Contact sheet, figures and cost of shut deep-set eyes: input | main | `PreviewSettings.deep_lids`
(docs/DEEP_LIDS.md, rounds 2 and 3).

    python benchmarks/deep_lids_sheet.py [-o docs/deep_lids_sheet.jpg] [--images DIR] [--measure]
        [--faces DIR] [--time [--calls 20]]

Per photo and edit (close_eyes 1, wink_left 1): both eyes at 100 % (photo pixels, never scaled),
input | without `deep_lids` (main's code path) | with it, and the whole face (shrunk to fit; with
--faces DIR also written at 100 % there). With --measure, per shut eye, following the flow: the
photo's visible iris (the iris disc's pixels darker than 0.5 times the under-eye level, the median
luma 0.1 to 0.3 eye widths below the fitted lower lid over the eye's middle half) and its
catchlight (brighter than 1.3 times that level) are painted pure green and magenta into a copy of
the photo, the same frame is placed on that copy, and the output pixels within 0.6 eye widths of
the iris centre that show them are counted: `iris` = those showing the iris / the visible iris's
area, `catch` = those showing the catchlight. Also checks that what stays open (the wink's open
eye, open_mouth 1) is pixel-identical with and without `deep_lids`. With --time: `render_frame` +
`place_frame` into the 768 px drag-preview canvas at close_eyes 1, off and on taking turns, the
median of the paired differences in thread CPU time.
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

from benchmarks.eye_crops import eye_box, values  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import WIDTH, _label, _rows  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, photo_canvas, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "jdh-algo__JoyVASA__joyvasa_005.png",  # deep-set eyes in shadow: the fault
    "KwaiVGI__LivePortrait__s2.jpg",  # deep-set eyes, black and white
    "OpenTalker__SadTalker__people_0.png",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "serengil__deepface__img3.jpg",  # mascara
    "serengil__deepface__img24.jpg",  # glasses
    "dchen236__FairFace__race_Black.jpg",  # dark skin
    "yzhou359__MakeItTalk__chris2.jpg",  # 256 px, glasses
    "timesler__facenet-pytorch__shea_whigham_1.jpg",  # deep-set eyes, 2048 px
    "yzhou359__MakeItTalk__morgan.jpg",  # hooded, older, 256 px
    "sczhou__CodeFormer__Einstein01.png",  # hooded, grey, 512 px
)
EDITS = ("close_eyes=1", "wink_left=1")
OPEN = "open_mouth=1"  # eyes open: must not change
TIMED = PHOTOS[:2] + PHOTOS[4:5]
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_IRIS, _CATCH = (0, 255, 0), (255, 0, 255)


def prepared_states(path: Path, registry: EngineRegistry):
    """(source state, engine, {False: main's PreviewState, True: with `deep_lids`}); the renderer's
    settings are left as they were (`deep_lids` is read in `prepare`)."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer, settings = engine.renderer, engine.renderer.settings
    states = {}
    for on in (False, True):
        renderer.settings = dataclasses.replace(settings, deep_lids=on)
        state._engine_states.pop(engine.name, None)
        states[on] = state.engine_state(engine)
    renderer.settings = settings
    return state, engine, states


def render(state, engine, prepared, text: str, registry: EngineRegistry, canvas: Canvas | None = None):
    """The full-resolution edit `text` of `prepared` (one setting's PreviewState) on `canvas`."""
    state._engine_states[engine.name] = (engine, prepared)
    return edit(state, EditRequest(values=values(text), engine="preview"), registry=registry, canvas=canvas)


def marked_photo(state, prepared, eyes) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The photo with each eye's visible iris and catchlight in marker colours, and their areas."""
    image, transform = state.image, state.crop_transform
    luma = image.astype(np.float32) @ _LUMA
    h, w = luma.shape
    ys, xs = np.mgrid[0:h, 0:w]
    marked, areas = image.copy(), []
    for (upper, lower), iris in zip(eyes, prepared.irises, strict=True):
        if iris is None:
            areas.append((0, 0))
            continue
        centre, radius = transform.inverse_points(iris.centre[None])[0], iris.radius / transform.scale
        width = float(np.ptp(upper[:, 0]))
        low = curve_y(lower, np.arange(w, dtype=np.float64))[None, :]
        middle = (xs > upper[:, 0].min() + 0.25 * width) & (xs < upper[:, 0].max() - 0.25 * width)
        level = float(np.median(luma[middle & (ys > low + 0.1 * width) & (ys < low + 0.3 * width)]))
        disc = np.hypot(xs - centre[0], ys - centre[1]) < radius
        seen, catch = disc & (luma < 0.5 * level), disc & (luma > 1.3 * level)
        marked[seen], marked[catch] = _IRIS, _CATCH
        areas.append((int(seen.sum()), int(catch.sum())))
    return marked, areas


def shown(out: np.ndarray, centre: np.ndarray, width: float) -> tuple[int, int]:
    """(pixels showing the iris marker, pixels showing the catchlight marker) near an eye."""
    y0, x0 = (int(max(v - 0.6 * width, 0)) for v in centre[::-1])
    region = out[y0 : int(centre[1] + 0.6 * width) + 1, x0 : int(centre[0] + 0.6 * width) + 1].astype(int)
    ys, xs = np.mgrid[0 : region.shape[0], 0 : region.shape[1]]
    near = np.hypot(xs + x0 - centre[0], ys + y0 - centre[1]) < 0.6 * width
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    iris = near & (g - np.maximum(r, b) > 60)
    catch = near & (np.minimum(r, b) - g > 60)
    return int(iris.sum()), int(catch.sum())


def photo_rows(path: Path, registry: EngineRegistry, figures: list[str] | None, faces: Path | None):
    state, engine, states = prepared_states(path, registry)
    transform = state.crop_transform
    layout = engine.renderer.projector.layout
    outs = {
        on: {text: render(state, engine, states[on], text, registry).full_image for text in (*EDITS, OPEN)}
        for on in (False, True)
    }
    points = states[False].points
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
        marked, areas = marked_photo(state, states[False], eyes)
        canvas = Canvas(marked, transform, paint_blur=state.paint_blur, still=state.still_weight())
    rows = []
    for text in EDITS:
        parts = []
        for k, box in enumerate(boxes):
            gap = np.full((box[0].stop - box[0].start, 6, 3), 255, np.uint8)
            triple = np.concatenate(
                [state.image[box], gap, outs[False][text][box], gap, outs[True][text][box]], 1
            )
            parts.append(_label(triple, f"{path.name[:24]} {w}x{h} {text} eye {k}: input | main | deep"))
        rows += _rows(parts)
        if figures is not None:
            for k, iris in enumerate(states[False].irises):
                if iris is None or (text.startswith("wink_left") and k == 1):  # the wink shuts eye 0
                    continue
                centre = transform.inverse_points(iris.centre[None])[0]
                width = float(np.ptp(eyes[k][0][:, 0]))
                seen, catch = areas[k]
                figs = [
                    shown(render(state, engine, states[on], text, registry, canvas).full_image, centre, width)
                    for on in (False, True)
                ]
                figures.append(
                    f"| {path.name[:30]} | {text} eye {k} | {seen} / {catch} "
                    f"| {figs[0][0] / max(seen, 1):.3f} -> {figs[1][0] / max(seen, 1):.3f} "
                    f"| {figs[0][1]} -> {figs[1][1]} |"
                )
    rows += face_rows(state, eyes, outs, path.name, faces)
    state._engine_states.pop(engine.name, None)
    return rows


def face_rows(state, eyes, outs, name: str, faces: Path | None) -> list[np.ndarray]:
    """The whole face at close_eyes 1: input | main | deep, shrunk to the sheet's width (and written
    at 100 % into `faces`)."""
    lids = np.concatenate([np.concatenate(pair) for pair in eyes])
    width = float(np.ptp(lids[:, 0]))
    h, w = state.image.shape[:2]
    x0, x1 = max(int(lids[:, 0].min() - 0.45 * width), 0), min(int(lids[:, 0].max() + 0.45 * width), w)
    y0, y1 = max(int(lids[:, 1].min() - 0.6 * width), 0), min(int(lids[:, 1].max() + 1.3 * width), h)
    tiles = [
        state.image[y0:y1, x0:x1],
        outs[False][EDITS[0]][y0:y1, x0:x1],
        outs[True][EDITS[0]][y0:y1, x0:x1],
    ]
    gap = np.full((y1 - y0, 6, 3), 255, np.uint8)
    triple = np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], 1)
    if faces is not None:
        faces.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(faces / f"{Path(name).stem}.png"), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR))
    scale = min(1.0, WIDTH / triple.shape[1], 420 / triple.shape[0])
    small = cv2.resize(triple, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return _rows(
        [_label(small, f"{name[:24]} close_eyes=1 whole face ({100 * scale:.0f} %): input | main | deep")]
    )


def timing(path: Path, registry: EngineRegistry, calls: int) -> tuple[float, float, float]:
    """(median ms off, median ms on, median paired difference), thread CPU time, of one drag preview
    at close_eyes 1 into the 768 px canvas."""
    state, engine, states = prepared_states(path, registry)
    canvas = photo_canvas(state, 768, quick=True)
    target = target_coefficients(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry)
    renderer = engine.renderer
    kept: dict[bool, list[float]] = {False: [], True: []}
    for i in range(calls + 2):
        for on in (False, True) if i % 2 else (True, False):
            start = time.thread_time()
            place_frame(canvas, renderer.render_frame(states[on], target))
            if i >= 2:  # the first calls warm caches
                kept[on].append(1e3 * (time.thread_time() - start))
    differences = [b - a for a, b in zip(kept[False], kept[True], strict=True)]
    return statistics.median(kept[False]), statistics.median(kept[True]), statistics.median(differences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "deep_lids_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--quality", type=int, default=82)
    parser.add_argument("--measure", action="store_true", help="print the iris and catchlight figures")
    parser.add_argument("--faces", type=Path, help="also write the whole faces at 100 % here")
    parser.add_argument("--time", action="store_true", help="only time the drag preview (paired)")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    if args.time:
        for name in args.photos if args.photos != list(PHOTOS) else TIMED:
            off, on, difference = timing(args.images / name, registry, args.calls)
            print(f"{name[:34]:34s} cpu off {off:6.2f} ms  on {on:6.2f} ms  paired {difference:+.2f} ms")  # noqa: T201
        return
    figures: list[str] | None = [] if args.measure else None
    rows = [
        row for name in args.photos for row in photo_rows(args.images / name, registry, figures, args.faces)
    ]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print(
            "| photo | edit, eye | visible iris / catchlight (px) | iris shown: main -> deep | catchlight shown (px): main -> deep |"
        )  # noqa: T201,E501
        print("|---|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
