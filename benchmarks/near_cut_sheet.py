"""Contact sheet and figure of the near cheek's cut at a turn: input | main | new (docs/NEAR_CUT.md).

    python benchmarks/near_cut_sheet.py [-o docs/near_cut_sheet.jpg] [--measure] [--png DIR] [--photos ...]

Per photo, at yaw -30, -15, +15, +30, input | without `PreviewSettings.near_cut` (main's code
path) | with it: the whole head (the renderer's crop box) of the full-resolution edit as PNGs
(--png; photos under 600 px wide at 200 %, the others at 100 %), and in the JPEG (kept under 3 MB)
at 100 % the near side of the head (cheek and jaw), at yaw +-30 (--sheet-yaws). With
--measure, per case the over-magnified share of the near rim (`over_share`), main and new.
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
from benchmarks.rim_skin_sheet import magnification  # noqa: E402
from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

FAULT_PHOTOS = (
    "justadudewhohacks__face-api.js__surprised.jpg",
    "ali-vilab__dreamtalk__f30.png",
    "yzhou359__MakeItTalk__morgan.jpg",
    "jixinya__EAMM__7.png",
)
PHOTOS = (
    *FAULT_PHOTOS,
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "cmusatyalab__openface__carell.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
)
YAWS = (-30.0, -15.0, 15.0, 30.0)
#: The near band: this many face sizes inside the target face's edge, and this many outside.
BAND_IN, BAND_OUT = 0.12, 0.04
#: Magnified more than this along the rows: over-magnified.
OVER = 3.0


def near_band(renderer, prepared, target, yaw: float) -> np.ndarray:  # noqa: ANN001
    """(c, c) bool: the target face's near rim band (crop pixels) beyond the outer eye corners:
    image-right for yaw < 0, image-left for yaw > 0."""
    mask = renderer.face_mask(prepared, target) > 128
    points = renderer.target_points(prepared, target)
    lids = np.concatenate([np.concatenate(eye) for eye in renderer.projector.layout.eyes])
    size = prepared.face_size
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    band = (mask & (inside <= BAND_IN * size)) | (~mask & (outside <= BAND_OUT * size))
    columns = np.arange(mask.shape[1])[None, :]
    far = points[lids, 0].max() if yaw < 0 else points[lids, 0].min()
    return band & (columns > far if yaw < 0 else columns < far)


def over_share(flow: np.ndarray, band: np.ndarray) -> float:
    """Share of `band` that the crop `flow` magnifies more than `OVER`x along the rows."""
    return float(np.mean(magnification(flow)[band] > OVER))


def _with(renderer, on: bool):  # noqa: ANN001, ANN202
    """The renderer's settings with `near_cut` set to `on`."""
    return dataclasses.replace(renderer.settings, near_cut=on)


def measure_photo(
    state: SourceState, registry: EngineRegistry, yaw: float
) -> tuple[tuple[float, float], list[np.ndarray]]:
    """(over main, over new) and [main, new] full-resolution edits of one photo at `yaw`."""
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    target = target_coefficients(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry)
    band = near_band(renderer, prepared, target, yaw)
    base = renderer.settings
    shares, images = [], []
    try:
        for on in (False, True):
            renderer.settings = _with(renderer, on)
            shares.append(over_share(renderer.render_flow(prepared, target), band))
            images.append(
                edit(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry).full_image
            )
    finally:
        renderer.settings = base
    return (shares[0], shares[1]), images


def _head(state: SourceState, image: np.ndarray) -> np.ndarray:
    """The renderer's crop box of `image` (the whole head)."""
    x0, y0, x1, y1 = state.crop_transform.box
    h, w = image.shape[:2]
    return image[max(0, int(y0)) : min(h, int(y1)), max(0, int(x0)) : min(w, int(x1))]


def _near_side(head: np.ndarray, yaw: float) -> np.ndarray:
    """60 % of the head box on the side that turns towards the camera (image-right for yaw < 0; the
    turned face slides towards the other side), from a quarter to nine tenths of its height (the
    cheek and the jaw: what changes)."""
    height, width = head.shape[:2]
    head = head[height // 4 : 9 * height // 10]
    return head[:, 3 * width // 10 : 9 * width // 10] if yaw < 0 else head[:, width // 10 : 7 * width // 10]


def _triple(heads: list[np.ndarray], zoom: int) -> np.ndarray:
    """Input | main | new side by side, enlarged `zoom` times."""
    gap = np.full((heads[0].shape[0], 6, 3), 255, np.uint8)
    triple = np.concatenate([heads[0], gap, heads[1], gap, heads[2]], axis=1)
    return cv2.resize(triple, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC) if zoom > 1 else triple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "near_cut_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--measure", action="store_true", help="print the figures of the rule")
    parser.add_argument("--no-sheet", action="store_true")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--yaws", nargs="*", type=float, default=list(YAWS))
    parser.add_argument("--sheet-yaws", nargs="*", type=float, default=[30.0], help="|yaw| in the JPEG")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--png", type=Path, default=None, help="also write each triple as a PNG here")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for name in args.photos:
        state = prepare_photo(args.images / name, registry=registry)
        zoom = 2 if state.image.shape[1] < 600 else 1
        for yaw in args.yaws:
            (main_over, new_over), (main, new) = measure_photo(state, registry, yaw)
            if args.measure:
                print(f"{name[:44]:44s} yaw {yaw:+3.0f}: over main {main_over:.3f} new {new_over:.3f}")  # noqa: T201
            if args.no_sheet:
                continue
            heads = [_head(state, image) for image in (state.image, main, new)]
            if args.png is not None:
                args.png.mkdir(parents=True, exist_ok=True)
                path = args.png / f"{Path(name).stem[-20:]}_yaw{yaw:+.0f}.png"
                cv2.imwrite(str(path), cv2.cvtColor(_triple(heads, zoom), cv2.COLOR_RGB2BGR))
            if abs(yaw) in args.sheet_yaws:
                title = f"{name[:40]} yaw {yaw:+.0f}, near side: input | main | new (100 %)"
                rows.append(_label(_triple([_near_side(head, yaw) for head in heads], 1), title))
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
