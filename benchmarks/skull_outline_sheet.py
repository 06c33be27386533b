"""Contact sheet and measure of the skull's outline at a head turn: input | main | new
(docs/SKULL_OUTLINE.md).

    python benchmarks/skull_outline_sheet.py [-o docs/skull_outline_sheet.jpg] [--measure] [--no-sheet]
        [--png DIR] [--photos ...] [--edits yaw=-30 ...]

Per photo and edit, input | without `PreviewSettings.skull_outline` (main's code path) | with it: the
whole head (the renderer's crop box of the full-resolution edit) at 100 % (PNGs with --png; the JPEG
holds the sheet's edits, shrunk only to stay under 3 MB). With --measure, per case the outline error
above the ears (`outline_error`): the person segmenter's outline of the edit against the photo's,
along rays from the head's centre, main and new, and how much the face's pixels changed.
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
from benchmarks.paint_sheet import _label  # noqa: E402
from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from reconstruction.crop import crop_face  # noqa: E402
from reconstruction.segmentation import PersonSegmenter  # noqa: E402

FAULT_PHOTOS = ("serengil__deepface__img20.jpg",)
PHOTOS = (
    *FAULT_PHOTOS,
    "cmusatyalab__openface__adams.jpg",
    "cmusatyalab__openface__carell.jpg",
    "davisking__dlib__John_Salley_000179_02159509.jpg",
    "sczhou__CodeFormer__Einstein01.png",
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "justadudewhohacks__face-api.js__happy.jpg",
    "OpenTalker__SadTalker__people_0.png",
)
EDITS = ("yaw=-30", "yaw=-15", "yaw=15", "yaw=30", "pitch=-15", "pitch=15", "roll=15")
#: The rays of the measure: from the head's centre (the face's mean column, the eyes' row), at these
#: angles (degrees, 0 image-right, -90 up): the outline above the ears.
ARC = (-150.0, -30.0)
RAYS = 61


def outline_radii(person: np.ndarray, centre: np.ndarray, reach: float) -> np.ndarray:
    """(RAYS,) distance from `centre` (x, y) to where each ray first leaves the person (mask > 0.5),
    in pixels, NaN where it never leaves it within `reach` or leaves the image."""
    angles = np.radians(np.linspace(*ARC, RAYS))
    steps = np.arange(0.0, reach, 0.5)
    xs = centre[0] + np.cos(angles)[:, None] * steps[None, :]
    ys = centre[1] + np.sin(angles)[:, None] * steps[None, :]
    h, w = person.shape
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    values = cv2.remap(person, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR)
    out = (values < 0.5) & inside
    radii = np.where(out.any(axis=1), steps[np.argmax(out, axis=1)], np.nan)
    return np.where(out.any(axis=1) | ~inside.all(axis=1), radii, np.nan)


def outline_error(
    segmenter: PersonSegmenter, state: SourceState, image: np.ndarray, registry: EngineRegistry
) -> tuple[float, float]:
    """(p95, max) over the rays of |r_edit - r_photo| / face size: how far the edit's head outline
    above the ears lies from the photo's (person segmenter on the renderer's crop of each)."""
    engine = registry.geometric(state.backend)
    prepared = state.engine_state(engine)
    points = prepared.points
    eyes = np.concatenate([np.concatenate(eye) for eye in engine.renderer.projector.layout.eyes])
    centre = np.array([points[:, 0].mean(), points[eyes, 1].mean()])
    size = prepared.face_size
    radii = [
        outline_radii(segmenter.person_mask(crop_face(im, state.crop_transform)), centre, 1.5 * size)
        for im in (state.image, image)
    ]
    error = np.abs(radii[1] - radii[0]) / size
    error = error[np.isfinite(error)]
    if len(error) == 0:
        return float("nan"), float("nan")
    return float(np.percentile(error, 95)), float(error.max())


def face_change(
    state: SourceState, registry: EngineRegistry, values: dict[str, float], main: np.ndarray, new: np.ndarray
) -> tuple[float, float]:
    """(share of pixels changed by more than 2 levels, largest change) between `main` and `new` inside
    the target face's hull (`face_mask` > 128) eroded by 0.03 face sizes, in the photo."""
    engine = registry.geometric(state.backend)
    prepared = state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values, engine="preview"), registry=registry)
    face = (engine.renderer.face_mask(prepared, target) > 128).astype(np.uint8)
    k = max(1, int(round(0.03 * prepared.face_size)))
    face = cv2.erode(face, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    h, w = state.image.shape[:2]
    flags = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    inside = cv2.warpAffine(face, state.crop_transform.matrix, (w, h), flags=flags) > 0
    diff = np.abs(main.astype(np.int16) - new.astype(np.int16)).max(axis=2)[inside]
    return float(np.mean(diff > 2)), float(diff.max()) if diff.size else 0.0


def parse_edit(text: str) -> dict[str, float]:
    name, value = text.split("=")
    return {name: float(value)}


def render(
    state: SourceState, registry: EngineRegistry, values: dict[str, float], on: bool | None
) -> np.ndarray:
    """The full-resolution preview edit, with `skull_outline` set to `on` (None: the defaults)."""
    renderer = registry.geometric(state.backend).renderer
    base = renderer.settings
    try:
        if on is not None:
            renderer.settings = dataclasses.replace(base, skull_outline=on)
        return edit(state, EditRequest(values, engine="preview"), registry=registry).full_image.copy()
    finally:
        renderer.settings = base


def _head(state: SourceState, image: np.ndarray) -> np.ndarray:
    """The renderer's crop box of `image` (the whole head)."""
    x0, y0, x1, y1 = state.crop_transform.box
    h, w = image.shape[:2]
    return image[max(0, int(y0)) : min(h, int(y1)), max(0, int(x0)) : min(w, int(x1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "skull_outline_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--measure", action="store_true", help="print the figures of the rule")
    parser.add_argument("--no-sheet", action="store_true")
    parser.add_argument("--main-only", action="store_true", help="the defaults only (main, no flag)")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--edits", nargs="*", default=list(EDITS))
    parser.add_argument("--max-height", type=int, default=420, help="head box height in the JPEG")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--png", type=Path, default=None, help="also write each triple as a PNG here")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    segmenter = PersonSegmenter()
    rows = []
    if not args.main_only:  # the photo's outline is found at preparation, with the flag on
        renderer = registry.geometric().renderer
        renderer.settings = dataclasses.replace(renderer.settings, skull_outline=True)
    for name in args.photos:
        state = prepare_photo(args.images / name, registry=registry)
        state.engine_state(registry.geometric(state.backend))  # prepared now, with the flag as set above
        for text in args.edits:
            values = parse_edit(text)
            images = [state.image] + [
                render(state, registry, values, on) for on in ((None,) if args.main_only else (False, True))
            ]
            if args.measure:
                figures = [outline_error(segmenter, state, im, registry) for im in images[1:]]
                shown = "  ".join(f"p95 {p:.3f} max {m:.3f}" for p, m in figures)
                if len(images) == 3:
                    share, largest = face_change(state, registry, values, images[1], images[2])
                    shown += f"  face >2: {share:.4f} max {largest:.0f}"
                print(f"{name[:44]:44s} {text:9s}: main/new {shown}", flush=True)  # noqa: T201
            heads = [_head(state, im) for im in images]
            gap = np.full((heads[0].shape[0], 6, 3), 255, np.uint8)
            triple = np.concatenate([x for head in heads for x in (head, gap)][:-1], axis=1)
            if args.png is not None:
                args.png.mkdir(parents=True, exist_ok=True)
                path = args.png / f"{Path(name).stem[-20:]}_{text}.png"
                cv2.imwrite(str(path), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR))
            if not args.no_sheet:
                if triple.shape[0] > args.max_height:
                    f = args.max_height / triple.shape[0]
                    triple = cv2.resize(triple, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                rows.append(_label(triple, f"{name[:40]} {text}: input | main | new"))
    segmenter.close()
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
