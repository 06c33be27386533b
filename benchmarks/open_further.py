"""Does an already open mouth's lower lip move down with the jaw as one piece? (docs/OPEN_FURTHER.md)

    python benchmarks/open_further.py [--scan] [--images DIR]

For each listed photo (mouth open by at least `MIN_GAP` of its width) and edit, on the geometric
renderer's backward flow (`render_frame`, the crop's resolution; `warp_photo` carries it to the
photo's): the *band* is the lower lip with what the photo shows on it (from the photo's split,
`MouthInterior.split`, down to the mesh's outer lower lip, over the middle half of the mouth), the
output pixels of those columns whose source lies in it. M: median over the band of
d(source y) / d(output y) (1: rigid, 0.5: each photo row drawn over two); S: share of the band
where it is under 0.5 (streaks). `--scan` prints every photo's inner-lip gap over its width (the
test that chooses the photos); `--on` turns `PreviewSettings.open_further` on (off by default).
`BENCH_TREE` (env) measures another checkout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(os.environ.get("BENCH_TREE") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from reconstruction.controls import PRESETS, control_set_for  # noqa: E402

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"
#: The photos' inner-lip gap at the middle over the mouth's width, at least (the choosing test).
MIN_GAP = 0.29
PHOTOS = (
    "YadiraF__DECA__image02673.png",
    "justadudewhohacks__face-api.js__surprised.jpg",
    "ageitgey__face_recognition__32bit.png",
    "sicxu__Deep3DFaceRecon_pytorch__vd006.png",
    "YadiraF__DECA__id06692-Hlahj5abifM-002721_inputs_inputs.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015310.jpg",
    "justadudewhohacks__face-api.js__fearful.jpg",
    "YadiraF__PRNet__2.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "YadiraF__PRNet__image02283.jpg",
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "aaa": dict(PRESETS["aaa"]),
    "open_mouth -0.5": {"open_mouth": -0.5},
}
#: The mesh's outer lower lip, corner to corner (MediaPipe's 478-point indices).
OUTER_LOWER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291])


def gap_over_width(points: np.ndarray, layout) -> float:
    """The mesh's inner-lip gap at the middle of the mouth over its width."""
    upper, lower = points[layout.mouth[0], :2], points[layout.mouth[1], :2]
    middle = np.array([0.5 * (upper[0, 0] + upper[-1, 0])])
    gap = float(curve_y(lower, middle)[0] - curve_y(upper, middle)[0])
    return gap / float(np.hypot(*(upper[-1] - upper[0])))


def band_figures(flow: np.ndarray, preview, layout, painted: np.ndarray | None = None) -> dict:
    """M and S of the lower-lip band (see the module's docstring) for a (H, W, 2) backward flow;
    pixels the (H, W) coverage `painted` covers by half or more show no source point (not counted),
    and a derivative is only taken between two rows of the band."""
    upper, lower = preview.points[layout.mouth[0], :2], preview.points[layout.mouth[1], :2]
    outer = preview.points[OUTER_LOWER, :2]
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    interior = preview.mouth
    h, w = flow.shape[:2]
    sy = flow[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    sx = flow[..., 0] + np.arange(w, dtype=np.float32)[None, :]
    # Band limits at each output pixel's source column (the photo's own split and outer lip).
    a = np.clip((sx - left) / max(right - left, 1.0), 0.0, 1.0)
    top_s = curve_y(upper, sx.reshape(-1)).reshape(h, w)
    bot_s = curve_y(lower, sx.reshape(-1)).reshape(h, w)
    split = np.interp(a, interior.across, interior.split)
    band_top = top_s + split * np.maximum(bot_s - top_s, 0.0)
    band_bottom = curve_y(outer, sx.reshape(-1)).reshape(h, w)
    middle = np.abs(a - 0.5) < 0.25
    inside = middle & (sy >= band_top) & (sy <= band_bottom)
    if painted is not None:
        inside &= painted < 0.5
    pairs = inside[1:] & inside[:-1]  # rows y and y + 1 both in the band
    values = np.diff(sy, axis=0)[pairs]
    if values.size < 20:
        return {"pixels": int(values.size), "M": None, "S": None}
    return {
        "pixels": int(values.size),
        "M": round(float(np.median(values)), 3),
        "S": round(float(np.mean(values < 0.5)), 3),
    }


def edit_request(state, registry, values: dict) -> EditRequest:
    """The preview request for `values`; a negative `open_mouth` (closing, under the slider's range)
    as the same direction's raw expression offset."""
    amount = values.get("open_mouth", 0.0)
    if amount >= 0.0:
        return EditRequest(values=values, engine="preview")
    controls = control_set_for(registry.backend(state.backend).model)
    offset = amount * controls.expression_offset({"open_mouth": 1.0})
    return EditRequest(values={}, raw_expression_offset=offset, engine="preview")


def measure(images: Path, photos, edits, open_further: bool = False) -> list[dict]:
    registry = EngineRegistry(fast=False)
    rows = []
    for name in photos:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        if open_further:
            engine.renderer.settings = dataclasses.replace(engine.renderer.settings, open_further=True)
        preview = state.engine_state(engine)
        layout = engine.renderer.projector.layout
        for label, values in edits.items():
            target = target_coefficients(state, edit_request(state, registry, values), registry=registry)
            frame = engine.render_frame(preview, target)
            figures = band_figures(frame.flow, preview, layout, frame.overlay_alpha)
            row = {"photo": name, "edit": label, **figures}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def scan(images: Path) -> None:
    registry = EngineRegistry(fast=False)
    for path in sorted(images.iterdir()):
        try:
            state = prepare_photo(path, registry=registry)
        except Exception as error:  # noqa: BLE001 - a photo without a usable face is listed and skipped
            print(f"{path.name}\t-\t{type(error).__name__}")
            continue
        engine = registry.geometric(state.backend)
        gap = gap_over_width(state.engine_state(engine).points, engine.renderer.projector.layout)
        print(f"{path.name}\t{gap:.4f}\t{'listed' if gap >= MIN_GAP else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scan", action="store_true", help="print every photo's gap over width")
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--on", action="store_true", help="with PreviewSettings.open_further on")
    args = parser.parse_args()
    if args.scan:
        scan(args.images)
        return
    measure(args.images, args.photos, EDITS, args.on)


if __name__ == "__main__":
    main()
