"""Contact sheet and figures of wide-open eyes shut: input | before | now (docs/WIDE_EYES.md).

    python benchmarks/wide_eyes_sheet.py --code ../main --dump /tmp/before   # main's outputs
    python benchmarks/wide_eyes_sheet.py --before /tmp/before [-o docs/wide_eyes_sheet.jpg] [--measure]

Per photo and edit (close_eyes 1, wink_left 1): both eyes at 100 % (photo pixels), 300 % (nearest
neighbour) on photos under 1000 px; input | before (the outputs of another checkout, `--code`,
saved with `--dump`) | now (`PreviewSettings.wide_eyes` on). With --measure, per shut eye:
`sclera` (`benchmarks.sclera.sclera_share`), the share of the photo's eye opening where the output
shows the eye's white, before -> now.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
# --code DIR: render with another checkout's packages (main's, for the "before" column)
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv else REPO
sys.path.insert(0, str(CODE))
if CODE != REPO:
    sys.path.insert(1, str(REPO))

from benchmarks.eye_crops import eye_box, values  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from benchmarks.sclera import sclera_share  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "justadudewhohacks__face-api.js__surprised.jpg",  # wide open: white above and below the irises
    "justadudewhohacks__face-api.js__fearful.jpg",
    "YadiraF__DECA__exp_3.jpg",  # looking up: white under the irises
    "deepinsight__insightface__Teresa_Williams_0001_1k.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "serengil__deepface__img3.jpg",
)
EDITS = ("close_eyes=1", "wink_left=1")


def photo_eyes(
    state, registry: EngineRegistry
) -> list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, float]]]:
    """Per eye: the photo's (upper, lower) fitted lid curves and its iris (centre, radius), photo pixels."""
    engine = registry.geometric(state.backend)
    preview = state.engine_state(engine)
    transform = state.crop_transform
    unit = transform.inverse_points(np.array([[0.0, 0.0], [1.0, 0.0]]))
    per_crop_pixel = float(np.hypot(*(unit[1] - unit[0])))  # photo pixels
    result = []
    for (u, lo), iris in zip(engine.renderer.projector.layout.eyes, preview.irises, strict=True):
        upper, lower = (transform.inverse_points(preview.points[i, :2]) for i in (u, lo))
        if iris is None:
            centre, radius = 0.5 * (upper[0] + upper[-1]), 0.0
        else:
            centre = transform.inverse_points(iris.centre[None, :])[0]
            radius = iris.radius * per_crop_pixel
        result.append((upper, lower, (centre, radius)))
    return result


def photo_rows(
    path: Path, registry: EngineRegistry, figures: list[str] | None, before: Path, dump: Path | None
) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    h, w = state.image.shape[:2]
    renderer = registry.geometric(state.backend).renderer
    settings = renderer.settings
    if hasattr(settings, "wide_eyes"):  # "now": the change on (main's code has no such setting)
        renderer.settings = dataclasses.replace(settings, wide_eyes=True)
    outs = {}
    try:
        for text in EDITS:
            request = EditRequest(values=values(text), engine="preview")
            outs[text] = edit(state, request, registry=registry).full_image
            if dump is not None:
                np.save(dump / f"{path.stem}_{text}.npy", outs[text])
    finally:
        renderer.settings = settings
    if dump is not None:
        return []
    found = photo_eyes(state, registry)
    boxes = [eye_box(np.concatenate([up, lo]), state.image.shape, 0.55) for up, lo, _ in found]
    zoom = 3 if max(h, w) < 1000 else 1
    parts = []
    for text in EDITS:
        pair = [np.load(before / f"{path.stem}_{text}.npy"), outs[text]]
        for k, box in enumerate(boxes):
            tiles = [state.image[box], pair[0][box], pair[1][box]]
            tiles = [cv2.resize(t, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST) for t in tiles]
            gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
            triple = np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1)
            label = f"{path.name[:30]} {w}x{h} {text} eye {k} ({zoom * 100} %): input | main | now"
            parts.append(_label(triple, label))
            shut = not (text.startswith("wink_left") and k == 1)  # a left wink shuts the image-left eye
            if figures is not None and shut:
                old, now = (sclera_share(state.image, o, *found[k][:2]) for o in pair)
                figures.append(
                    f"| {path.name[:34]} | {text} | {k} | {100 * old:.1f} % -> {100 * now:.1f} % |"
                )
    return _rows(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "wide_eyes_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=65)
    parser.add_argument("--measure", action="store_true", help="print the sclera figures")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--code", type=Path, default=REPO, help="render with this checkout's code")
    parser.add_argument("--dump", type=Path, default=None, help="only save the outputs here (.npy)")
    parser.add_argument("--before", type=Path, default=Path("/tmp/wide_eyes_before"))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    figures: list[str] | None = [] if args.measure else None
    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
    rows = [
        row
        for name in args.photos
        for row in photo_rows(args.images / name, registry, figures, args.before, args.dump)
    ]
    if args.dump is not None:
        return
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print("| photo | edit | eye | sclera: main -> now |")  # noqa: T201
        print("|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
