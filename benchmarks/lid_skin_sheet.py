"""Contact sheet and figures of shut lids' skin at the photo's resolution: input | main | new
(docs/SHUT_LIDS.md, "Skin without streaks").

    python benchmarks/lid_skin_sheet.py [-o docs/lid_skin_sheet.jpg] [--images DIR] [--measure] [--png DIR]

Per photo and edit (close_eyes 1, wink_left 1): both eyes at 100 % (photo pixels, never scaled),
input | without `PreviewSettings.smooth_lids` (main's code path) | with it. With --measure, per shut
eye: `streak` (`streak_ratio`): how much more the output's fine detail varies across than down
inside the shut lid above its lash line, against the photo's own skin above the lid (about 1: the
skin's own texture; large: vertical streaks). With --png: each triple also as a PNG in DIR.
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
from benchmarks.measures import detail_energies  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "YadiraF__DECA__teaser_1.jpg",  # a low lid crease: the streaks
    "fudan-generative-vision__hallo__7.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
)
#: The photos whose `streak` the rule reports.
MEASURED = (
    "YadiraF__DECA__teaser_1.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "fudan-generative-vision__hallo__7.jpg",
)
EDITS = ("close_eyes=1", "wink_left=1")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _detail_ratio(luma: np.ndarray, mask: np.ndarray) -> float:
    """E_x / E_y of `luma`'s detail over `mask` (`benchmarks.measures.detail_energies`)."""
    along_rows, down_columns = detail_energies(luma, mask)
    return along_rows / max(down_columns, 1e-6)


def streak_ratio(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """`streak` of one shut eye (docs/SHUT_LIDS.md): E_x / E_y of the output's detail in the shut lid
    above its lash line (inner 60 % across; rows upper lid - 0.15 to lower lid - 0.15 eye widths)
    over the same of the input's skin band (upper lid - 0.45 to - 0.2 eye widths). upper, lower:
    the photo's lid curves (K, 2), photo pixels."""
    order = np.argsort(upper[:, 0])
    up, lo = upper[order], lower[np.argsort(lower[:, 0])]
    width = float(np.ptp(up[:, 0]))
    middle = 0.5 * (up[0, 0] + up[-1, 0])
    x0, x1 = int(middle - 0.3 * width), int(middle + 0.3 * width) + 1
    y0, y1 = int(up[:, 1].min() - 0.5 * width), int(lo[:, 1].max()) + 2
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = np.interp(xs, up[:, 0], up[:, 1]), np.interp(xs, lo[:, 0], lo[:, 1])
    lid = (ys >= top - 0.15 * width) & (ys <= np.maximum(bottom - 0.15 * width, top - 0.15 * width + 3))
    skin = (ys >= top - 0.45 * width) & (ys <= top - 0.2 * width)
    luma_in = image[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    luma_out = out[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    return _detail_ratio(luma_out, lid) / _detail_ratio(luma_in, skin)


def photo_rows(
    path: Path, registry: EngineRegistry, figures: list[str] | None, png: Path | None
) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    points = state.engine_state(engine).points
    transform = state.crop_transform
    eyes = [
        (transform.inverse_points(points[u, :2]), transform.inverse_points(points[lo, :2]))
        for u, lo in renderer.projector.layout.eyes
    ]
    boxes = [eye_box(np.concatenate(lids), state.image.shape, above=0.55) for lids in eyes]
    h, w = state.image.shape[:2]
    settings = renderer.settings
    parts = []
    for text in EDITS:
        outs = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(renderer.settings, smooth_lids=on)
            outs.append(
                edit(state, EditRequest(values=values(text), engine="preview"), registry=registry).full_image
            )
        for k, box in enumerate(boxes):
            gap = np.full((box[0].stop - box[0].start, 6, 3), 255, np.uint8)
            triple = np.concatenate([state.image[box], gap, outs[0][box], gap, outs[1][box]], axis=1)
            if png is not None:
                name = f"{path.stem[:24]}_{text}_{k}.png"
                cv2.imwrite(str(png / name), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR))
            parts.append(_label(triple, f"{path.name[:26]} {w}x{h} {text} eye {k}: input | main | new"))
            shut = not (text.startswith("wink_left") and k == 1)  # a left wink shuts the image-left eye
            if figures is not None and shut and path.name in MEASURED:
                before, after = (streak_ratio(state.image, o, *eyes[k]) for o in outs)
                figures.append(f"| {path.name[:30]} | {text} | {k} | {before:.2f} -> {after:.2f} |")
    renderer.settings = settings
    return _rows(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lid_skin_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--measure", action="store_true", help="print the streak figures")
    parser.add_argument("--png", type=Path, default=None, help="also write each triple as a PNG here")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    figures: list[str] | None = [] if args.measure else None
    if args.png is not None:
        args.png.mkdir(parents=True, exist_ok=True)
    rows = [
        row for name in args.photos for row in photo_rows(args.images / name, registry, figures, args.png)
    ]
    write_sheet(rows, args.out, args.quality)
    if figures is not None:
        print("| photo | edit | eye | streak: main -> new |")  # noqa: T201
        print("|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
