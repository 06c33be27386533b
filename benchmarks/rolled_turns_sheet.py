"""Contact sheet of turns of a rolled head: input | main | new (docs/ROLLED_TURNS.md).

    OMP_NUM_THREADS=1 python benchmarks/rolled_turns_sheet.py [-o docs/rolled_turns_sheet.jpg]
        [--png DIR] [--max-height 560]

Rows: the fault photos (chris2, image00430) at yaw +-30; upright photos rotated by +-20 degrees
(`rolled_turns_measure.rotated`) at yaw +-30; img3 (roll 4.4: the change runs) at yaw +-30, pitch
15, open_mouth 0.6. The upright photos with rolls under `LEVEL_ROLL` are checked pixel-identical
(printed), not drawn. Each cell: the renderer's crop box (the whole head) of the full-resolution
edit, photos under 600 px at 200 %; as PNGs at that size (--png), in the JPEG no taller than
`--max-height` (kept under 3 MB). "main": `PreviewSettings.rolled_turns` off (main's code path).
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
from benchmarks.rolled_turns_measure import padded, rotated  # noqa: E402
from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo  # noqa: E402

#: (photo, rotation in degrees, edits): the sheet's rows.
CASES: tuple[tuple[str, float, tuple[dict[str, float], ...]], ...] = (
    ("yzhou359__MakeItTalk__chris2.jpg", 0.0, ({"yaw": 30.0}, {"yaw": -30.0})),
    ("YadiraF__PRNet__image00430.jpg", 0.0, ({"yaw": 30.0}, {"yaw": -30.0})),
    ("serengil__deepface__img1.jpg", 20.0, ({"yaw": 30.0},)),
    ("KwaiVGI__LivePortrait__s2.jpg", -20.0, ({"yaw": -30.0},)),
    ("timesler__facenet-pytorch__kate_siegel_1.jpg", -20.0, ({"yaw": -30.0},)),
    (
        "serengil__deepface__img3.jpg",
        0.0,
        ({"yaw": 30.0}, {"yaw": -30.0}, {"pitch": 15.0}, {"open_mouth": 0.6}),
    ),
)
#: Upright photos (rolls under `LEVEL_ROLL`): checked pixel-identical at the same four edits.
IDENTICAL = (
    "serengil__deepface__img1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
)
EDITS = ({"yaw": 30.0}, {"yaw": -30.0}, {"pitch": 15.0}, {"open_mouth": 0.6})


def both(state: SourceState, registry: EngineRegistry, values: dict[str, float]) -> list[np.ndarray]:
    """[main, new] full-resolution edits of `state` (prepared with the flag on)."""
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    base = renderer.settings
    state.engine_state(engine)  # prepared with the flag on (the level frame made) before it is toggled
    out = []
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(base, rolled_turns=on)
            out.append(edit(state, EditRequest(dict(values), engine="preview"), registry=registry).full_image)
    finally:
        renderer.settings = base
    return out


def head(state: SourceState, image: np.ndarray) -> np.ndarray:
    """The renderer's crop box of `image` (the whole head)."""
    x0, y0, x1, y1 = state.crop_transform.box
    h, w = image.shape[:2]
    return image[max(0, int(y0)) : min(h, int(y1)), max(0, int(x0)) : min(w, int(x1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "rolled_turns_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--png", type=Path, default=None, help="also write each triple as a PNG here")
    parser.add_argument("--max-height", type=int, default=560)
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--no-identical", action="store_true", help="skip the pixel-identity check")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    renderer = registry.geometric("default").renderer
    renderer.settings = dataclasses.replace(renderer.settings, rolled_turns=True)  # the level frame prepared
    if not args.no_identical:
        for name in IDENTICAL:
            state = prepare_photo(args.images / name, registry=registry)
            for values in EDITS:
                main_image, new_image = both(state, registry, values)
                same = np.array_equal(main_image, new_image)
                print(f"{name} {values}: {'identical' if same else 'DIFFERS'}", flush=True)  # noqa: T201
    rows, width = [], 0
    for name, angle, edits in CASES:
        photo = cv2.cvtColor(cv2.imread(str(args.images / name)), cv2.COLOR_BGR2RGB)
        if angle:
            image, _ = padded(photo)
            first = prepare_photo(image, registry=registry)
            x0, y0, x1, y1 = first.crop_transform.box
            image = rotated(image, (0.5 * (x0 + x1), 0.5 * (y0 + y1)), angle)
        else:
            image = photo
        state = prepare_photo(image, registry=registry)
        zoom = 2 if photo.shape[1] < 600 else 1
        for values in edits:
            heads = [head(state, x) for x in (state.image, *both(state, registry, values))]
            gap = np.full((heads[0].shape[0], 6, 3), 255, np.uint8)
            triple = np.concatenate([heads[0], gap, heads[1], gap, heads[2]], axis=1)
            if zoom > 1:
                triple = cv2.resize(triple, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            what = ", ".join(f"{k} {v:+g}" for k, v in values.items())
            tag = f"{name.split('__')[-1]} rotated {angle:+g}" if angle else name.split("__")[-1]
            label = f"{tag}, {what}: input | main | rolled_turns"
            if args.png is not None:
                args.png.mkdir(parents=True, exist_ok=True)
                stem = f"{Path(name).stem}_{angle:+g}_{'_'.join(f'{k}{v:+g}' for k, v in values.items())}"
                cv2.imwrite(str(args.png / f"{stem}.png"), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR))
            if triple.shape[0] > args.max_height:
                f = args.max_height / triple.shape[0]
                triple = cv2.resize(triple, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            rows.append(_label(triple, label))
            width = max(width, triple.shape[1])
            print(label, flush=True)  # noqa: T201
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
