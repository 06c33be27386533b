"""The lower lip's fold judged by docs/JAW_DROP.md's rule (docs/LIP_SEAM.md round 2): its flow
measures and contact sheet, `PreviewSettings.lip_seam` off (main) | on (`pipeline.lip_fold`).

    OMP_NUM_THREADS=1 python benchmarks/lip_fold_sheet.py --measure [--only-main] [--clean]
    OMP_NUM_THREADS=1 python benchmarks/lip_fold_sheet.py [-o docs/lip_fold_sheet.jpg] [--keep DIR]
    OMP_NUM_THREADS=1 python benchmarks/flag_cost.py --flag lip_seam --edit open_mouth=1 \
        --photos OpenTalker__SadTalker__people_0.png --calls 20      (the cost criterion)

The measures and the sheet's layout are those of `benchmarks/jaw_drop_sheet.py` at commit 6be3e6e
(docs/JAW_DROP.md), taken over unchanged but for the switch (a render flag here, not the controls):
per photo and edit, on the renderer's backward flow (crop pixels) down seven columns of the
mouth's middle (30-70 % of the target's inner mouth width): `fold`, the largest number of photo
rows one output row reads past, from 2 px under the target's inner lower lip to the target's chin
(iBUG 8), where main folds the mesh under the dropped lip; `stretch`, the least (the skin drawn
out most); `neck`, the largest from the chin to half a mouth width under it (a fold, or the neck
squeezed, where the jaw meets the neck). `opening`: the mouth ratio (inner-lip gap / width) of the
MediaPipe mesh re-detected on the full-resolution output, minus the photo's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import _side_by_side, write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from reconstruction.detection import LANDMARKS68_INDICES  # noqa: E402
from reconstruction.tracking import FaceTracker  # noqa: E402
from training.evaluation.lipsync import mouth_ratio  # noqa: E402

FAULT = (
    "jixinya__EAMM__7.png",
    "davisking__dlib__John_Simm_000288_00470387.jpg",
    "ali-vilab__dreamtalk__f30.png",
    "KwaiVGI__LivePortrait__s2.jpg",
)
OTHERS = (
    "OpenTalker__SadTalker__people_0.png",
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img39.jpg",
    "ageitgey__face_recognition__biden2.jpg",
    "serengil__deepface__img3.jpg",
)
EDITS: dict[str, dict[str, float]] = {
    "open_mouth 0.25": {"open_mouth": 0.25},
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 0.75": {"open_mouth": 0.75},
    "open_mouth 1": {"open_mouth": 1.0},
    "yaw 20 + open_mouth 0.6": {"yaw": 20.0, "open_mouth": 0.6},
}
#: Edits that do not open the mouth: the measures must read clean there (their validation).
CLEAN: dict[str, dict[str, float]] = {"smile 0.6": {"smile": 0.6}, "yaw 20": {"yaw": 20.0}}
SHEET_EDITS = ("open_mouth 1", "yaw 20 + open_mouth 0.6")
VARIANTS = {"main": False, "lip_fold": True}
WIDTH = 2400
#: The mouth and chin crops' zoom (the brief of round 2: 300 %), less where the sheet is too narrow.
MOUTH_ZOOM = 3.0


@contextmanager
def lip_seam(registry: EngineRegistry, backend: str, on: bool) -> Iterator[None]:
    """The geometric renderer with `PreviewSettings.lip_seam` set to `on` for the block."""
    renderer = registry.geometric(backend).renderer
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, lip_seam=on)
    try:
        yield
    finally:
        renderer.settings = kept


def flow_figures(state, registry: EngineRegistry, values: Mapping[str, float]) -> dict[str, float]:  # noqa: ANN001
    """`fold`, `stretch` and `neck` (see the module's docstring) of the edit `values`."""
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    preview = state.engine_state(engine)
    coeffs = target_coefficients(state, EditRequest(values=dict(values), engine="preview"), registry=registry)
    flow = renderer.render_flow(preview, coeffs)
    points = renderer.target_points(preview, coeffs)
    upper, lower = (points[lip, :2] for lip in renderer.projector.layout.mouth)
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    width = right - left
    chin = float(points[LANDMARKS68_INDICES[8], 1])
    h = flow.shape[0]
    fold, stretch, neck = 0.0, np.inf, 0.0
    for x in np.round(np.linspace(left + 0.3 * width, right - 0.3 * width, 7)).astype(int):
        top = float(curve_y(lower, np.array([float(x)]))[0])
        under = np.arange(int(top) + 2, min(int(chin) + 1, h))
        below = np.arange(int(chin), min(int(chin + 0.5 * width) + 1, h))
        for ys, kind in ((under, "under"), (below, "below")):
            if len(ys) < 2:
                continue
            steps = np.diff(ys + flow[ys, x, 1])
            if kind == "under":
                fold, stretch = max(fold, float(steps.max())), min(stretch, float(steps.min()))
            else:
                neck = max(neck, float(steps.max()))
    return {"fold": fold, "stretch": stretch, "neck": neck}


def opening(image: np.ndarray) -> float:
    """The mouth ratio of the MediaPipe mesh re-detected on `image` (NaN: no face)."""
    with FaceTracker() as tracker:
        landmarks = tracker.track([image]).landmarks[0, :, :2]
    return float(mouth_ratio(landmarks))


def measure(images: Path, photos: tuple[str, ...], variants: tuple[str, ...], with_clean: bool) -> None:
    """Print the figures per photo, edit and variant."""
    registry = EngineRegistry(fast=False)
    edits = {**EDITS, **(CLEAN if with_clean else {})}
    for name in photos:
        state = prepare_photo(images / name, registry=registry)
        own = opening(state.image)
        for label, values in edits.items():
            cells = []
            for variant in variants:
                with lip_seam(registry, state.backend, VARIANTS[variant]):
                    figures = flow_figures(state, registry, values)
                    out = edit(
                        state, EditRequest(values=dict(values), engine="preview"), registry=registry
                    ).full_image
                figures["opening"] = opening(out) - own
                cells.append(
                    f"{variant}: fold {figures['fold']:5.2f} stretch {figures['stretch']:5.2f} "
                    f"neck {figures['neck']:5.2f} open {figures['opening']:+.3f}"
                )
            print(f"{name[:40]:40s} {label:24s} " + " | ".join(cells), flush=True)  # noqa: T201


def _box(
    points: np.ndarray, pad: tuple[float, float, float, float], shape: tuple[int, ...]
) -> tuple[slice, slice]:
    """The (rows, columns) box around `points` (K, 2) widened by `pad` (left, top, right, bottom)
    times their width, inside an image of `shape`."""
    width = float(np.ptp(points[:, 0]))
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    x0, y0, x1, y1 = x0 - pad[0] * width, y0 - pad[1] * width, x1 + pad[2] * width, y1 + pad[3] * width
    return slice(max(0, int(y0)), min(shape[0], int(y1))), slice(max(0, int(x0)), min(shape[1], int(x1)))


def _scaled(image: np.ndarray, f: float) -> np.ndarray:
    if f == 1.0:
        return image
    return cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST if f > 1 else cv2.INTER_AREA)


def photo_rows(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    """Per sheet edit: the whole head and neck input | main | lip_fold (100 %; at most 700 px high),
    then the mouth and chin (`MOUTH_ZOOM`, nearest)."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    h, w = state.image.shape[:2]
    bx0, by0, bx1, by1 = (float(v) for v in state.crop_transform.box)
    head = (
        slice(max(0, int(by0)), min(h, int(by1 + 0.15 * (by1 - by0)))),
        slice(max(0, int(bx0)), min(w, int(bx1))),
    )
    head_zoom = min(1.0, 700 / (head[0].stop - head[0].start), WIDTH / 3.2 / (head[1].stop - head[1].start))
    rows = []
    for label in SHEET_EDITS:
        values = EDITS[label]
        request = EditRequest(values=dict(values), engine="preview")
        outs = [state.image]
        for on in VARIANTS.values():
            with lip_seam(registry, state.backend, on):
                outs.append(edit(state, request, registry=registry).full_image)
        coeffs = target_coefficients(state, request, registry=registry)
        points = engine.renderer.target_points(state.engine_state(engine), coeffs)
        lips = state.crop_transform.inverse_points(
            points[np.concatenate(engine.renderer.projector.layout.mouth), :2]
        )
        chin = state.crop_transform.inverse_points(points[[LANDMARKS68_INDICES[8]], :2])
        mouth = _box(np.concatenate([lips, chin]), (0.5, 0.3, 0.5, 0.35), (h, w))
        mzoom = min(MOUTH_ZOOM, WIDTH / 3.2 / (mouth[1].stop - mouth[1].start))
        parts = [
            _side_by_side(
                [_scaled(o[head], head_zoom) for o in outs], (f"{label}: input", "main", "lip_fold")
            ),
            _side_by_side(
                [_scaled(o[mouth], mzoom) for o in outs],
                (
                    f"{path.name} {w}x{h}, head {100 * head_zoom:.0f} %, mouth {100 * mzoom:.0f} %",
                    "main",
                    "lip_fold",
                ),
            ),
        ]
        for part in parts:
            part = part[:, :WIDTH]
            rows.append(np.pad(part, ((0, 10), (0, WIDTH - part.shape[1]), (0, 0)), constant_values=255))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "lip_fold_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--measure", action="store_true", help="print the measures instead")
    parser.add_argument("--only-main", action="store_true", help="measure main (flag off) only (validation)")
    parser.add_argument("--clean", action="store_true", help="also measure edits that do not open the mouth")
    parser.add_argument("--photos", nargs="*", default=list(FAULT + OTHERS))
    parser.add_argument("--keep", type=Path, default=None, help="also keep the rows as PNGs here")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the JPEG by this factor")
    parser.add_argument("--edits", nargs="*", default=None, help="measure only these edits (labels)")
    args = parser.parse_args()
    if args.edits:
        for label in list(EDITS):
            if label not in args.edits:
                del EDITS[label]
    if args.measure:
        variants = ("main",) if args.only_main else tuple(VARIANTS)
        measure(args.images, tuple(args.photos), variants, args.clean)
        return
    registry = EngineRegistry(fast=False)
    rows = [row for name in args.photos for row in photo_rows(args.images / name, registry)]
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for k, row in enumerate(rows):
            cv2.imwrite(str(args.keep / f"row{k:02d}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
    if args.scale != 1.0:
        rows = [cv2.resize(r, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_AREA) for r in rows]
    write_sheet(rows, args.out, 85)


if __name__ == "__main__":
    main()
