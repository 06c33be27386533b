"""Contact sheet and figures of shut lids against the skin around each eye: input | main | new
(docs/SHUT_LIDS.md, "Lids that match their skin").

    python benchmarks/lid_match_sheet.py [-o docs/lid_match_sheet.jpg] [--images DIR] [--measure]
        [--photos NAME ...] [--png DIR]

Per photo and edit (close_eyes 1, wink_left 1): both eyes at full resolution (photo pixels; photos
whose eye is under 60 px wide enlarged by a whole factor, nearest, so a photo pixel stays a block),
input | without `PreviewSettings.matched_lids` (main's code path) | with it. With --measure, per
shut eye (`lid_match`): `dE`, the CIEDE2000 difference between the shut lid's median colour and the
median colour of the photo's skin ring below and beside the eye, and `rough`, the shut lid's fine
detail against that ring's. With --png: each triple also as a PNG in DIR.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.eye_crops import eye_box, photo_eyes, values  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label, _rows  # noqa: E402
from pipeline import EditRequest, EngineRegistry, SourceState, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.lid_skin import lid_colours  # noqa: E402
from pipeline.photo import (  # noqa: E402
    Canvas,  # noqa: E402
    place_frame,
    target_coefficients,
)

PHOTOS = (
    "yzhou359__MakeItTalk__johnny.jpg",  # kohl under a red bandana
    "yzhou359__MakeItTalk__morgan.jpg",  # deeply wrinkled skin
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",  # a half-tone print
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",  # brows close above the eyes
    "TencentARC__GFPGAN__10045.png",  # a tiny, blurry face behind glasses
)
EDITS = ("close_eyes=1", "wink_left=1")
#: Below this eye width (photo pixels) the crops are enlarged (nearest) on the sheet.
_SMALL_EYE = 60.0
#: The skin ring: photo pixels this many eye widths from the eye's opening, below the line
#: through its corners (under the eye and beside it: never brow, hair or a hat).
_RING = (0.12, 0.4)
#: Ring pixels outside these percentiles of its lightness do not count (lashes, liner, shadows in
#: the corners; speculars).
_RING_LIGHTNESS = (20, 95)
#: The fine detail `rough` compares: luma minus its Gaussian blur of this sigma, photo pixels.
_DETAIL = 1.5


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _spread(values_: np.ndarray) -> float:
    """Robust standard deviation (1.4826 times the median absolute deviation)."""
    return 1.4826 * float(np.median(np.abs(values_ - np.median(values_))))


def lid_match(
    image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray
) -> tuple[float, float]:
    """(dE, rough) of one shut eye (docs/SHUT_LIDS.md "Lids that match their skin"); image, out:
    (H, W, 3) uint8 input and output photo; upper, lower: the photo's fitted lid curves (K, 2),
    photo pixels.

    The lid: output pixels in the inner 60 % of the eye's width, rows from the fitted upper lid
    - 0.2 eye widths to the fitted lower lid - 0.15 (at least 3 rows). The ring: input pixels
    `_RING` eye widths from the opening between the fitted lids, below the line through its
    corners, lightness within `_RING_LIGHTNESS` percentiles of the ring's. dE: CIEDE2000 between
    the median L*, a*, b* of the lid and of the ring. rough: robust spread of the luma's detail
    (luma minus its blur, sigma `_DETAIL` px) on the lid over the same on the ring."""
    up, lo = upper[np.argsort(upper[:, 0])], lower[np.argsort(lower[:, 0])]
    width = float(np.ptp(up[:, 0]))
    h, w = image.shape[:2]
    pad = int(_RING[1] * width) + 2
    x0, x1 = max(int(up[:, 0].min()) - pad, 0), min(int(up[:, 0].max()) + pad + 1, w)
    y0, y1 = max(int(up[:, 1].min()) - pad, 0), min(int(lo[:, 1].max()) + pad + 1, h)
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    outline = np.concatenate([up, lo[::-1]]) - [x0, y0]
    opening = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(opening, [np.round(outline * 4).astype(np.int32)], 1, cv2.LINE_8, shift=2)
    distance = cv2.distanceTransform(1 - opening, cv2.DIST_L2, 5) / width
    corners = 0.5 * (up[0, 1] + up[-1, 1])
    ring = (distance >= _RING[0]) & (distance <= _RING[1]) & (ys >= corners)
    middle = 0.5 * (up[0, 0] + up[-1, 0])
    top, bottom = curve_y(up, xs), curve_y(lo, xs)
    lid = (np.abs(xs - middle) <= 0.3 * width) & (ys >= top - 0.2 * width)
    lid &= ys <= np.maximum(bottom - 0.15 * width, top - 0.2 * width + 2)
    lab_in, lab_out = _lab(image[y0:y1, x0:x1]), _lab(out[y0:y1, x0:x1])
    lightness = lab_in[..., 0][ring]
    low, high = np.percentile(lightness, _RING_LIGHTNESS)
    ring &= (lab_in[..., 0] >= low) & (lab_in[..., 0] <= high)
    colour_ring = np.median(lab_in[ring], axis=0)
    colour_lid = np.median(lab_out[lid], axis=0)
    d_e = float(deltaE_ciede2000(colour_lid[None], colour_ring[None])[0])

    def detail(rgb: np.ndarray) -> np.ndarray:
        luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return luma - cv2.GaussianBlur(luma, (0, 0), _DETAIL)

    rough = _spread(detail(out[y0:y1, x0:x1])[lid]) / max(_spread(detail(image[y0:y1, x0:x1])[ring]), 1e-3)
    return d_e, rough


def render(state: SourceState, registry: EngineRegistry, text: str, matched: bool) -> np.ndarray:
    """The full-resolution photo edited by `text` with `PreviewSettings.matched_lids` = `matched`
    (the photo's lid colours prepared to match)."""
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    settings = renderer.settings
    renderer.settings = dataclasses.replace(settings, matched_lids=matched)
    prepared = state.engine_state(engine)
    layout = renderer.projector.layout
    colours = lid_colours(
        prepared.source,
        [prepared.points[u, :2] for u, _ in layout.eyes],
        [prepared.points[lo, :2] for _, lo in layout.eyes] if matched else None,
    )
    prepared = dataclasses.replace(prepared, lid_colours=colours)
    target = target_coefficients(state, EditRequest(values=values(text), engine="preview"), registry=registry)
    canvas = Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur)
    try:
        return place_frame(canvas, renderer.render_frame(prepared, target))
    finally:
        renderer.settings = settings


def photo_rows(
    path: Path, registry: EngineRegistry, figures: list[str] | None, png: Path | None
) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    eyes = photo_eyes(state, registry)
    boxes = [eye_box(np.concatenate(lids), state.image.shape, above=0.6) for lids in eyes]
    width = float(np.ptp(eyes[0][0][:, 0]))
    zoom = int(np.ceil(_SMALL_EYE * 2 / width)) if width < _SMALL_EYE else 1
    h, w = state.image.shape[:2]
    parts = []
    for text in EDITS:
        outs = [render(state, registry, text, matched) for matched in (False, True)]
        for k, box in enumerate(boxes):
            gap = np.full((box[0].stop - box[0].start, max(6 // zoom, 2), 3), 255, np.uint8)
            triple = np.concatenate([state.image[box], gap, outs[0][box], gap, outs[1][box]], axis=1)
            triple = cv2.resize(triple, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
            if png is not None:
                cv2.imwrite(
                    str(png / f"{path.stem[:24]}_{text}_{k}.png"), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR)
                )
            parts.append(
                _label(triple, f"{path.name[:24]} {w}x{h} x{zoom} {text} eye {k}: input | main | new")
            )
            shut = not (text.startswith("wink_left") and k == 1)  # a left wink shuts the image-left eye
            if figures is not None and shut:
                (de0, r0), (de1, r1) = (lid_match(state.image, o, *eyes[k]) for o in outs)
                figures.append(
                    f"| {path.name[:30]} | {text} | {k} | {de0:.2f} -> {de1:.2f} | {r0:.3f} -> {r1:.3f} |"
                )
    return _rows(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lid_match_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--measure", action="store_true", help="print the dE and rough figures")
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
        print("| photo | edit | eye | dE: main -> new | rough: main -> new |")  # noqa: T201
        print("|---|---|---|---|---|")  # noqa: T201
        print("\n".join(figures))  # noqa: T201


if __name__ == "__main__":
    main()
