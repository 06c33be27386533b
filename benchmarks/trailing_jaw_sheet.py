"""The trailing side of a turn's jaw: main's default against `PreviewSettings.trailing_jaw`.

    python benchmarks/trailing_jaw_sheet.py [-o docs/trailing_jaw_sheet.jpg] [--crops DIR] [--photos ...]

Contact sheet: per photo, the input and, per edit (yaw -30, -15, +15, +30, open_mouth 0.6 + yaw 20),
main's default (top row) and the same with `trailing_jaw` (bottom row), each the whole head and neck
of the full-resolution result (at most `PANEL` pixels wide on the sheet). With `--crops`, the same
boxes at 100 % are also written there as PNG (input | main | new per edit). Prints one JSON record
with the figures of docs/TRAILING_JAW.md per photo and edit: the uncovered wedge's size, the share of
it the neck slides sideways (`slide`), its largest magnification, the face's PSNR new
vs main and the collar rows' displacement.
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

from benchmarks.jaw_edge_sheet import _det  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.neck_sheet import collar_motion, face_psnr  # noqa: E402
from benchmarks.timing import write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from pipeline.jaw_edge import JAW_MARGIN  # noqa: E402
from pipeline.neck import JAW_RISE  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402
from pipeline.renderer import RenderedFrame  # noqa: E402

FAULTS = (
    "sicxu__Deep3DFaceRecon_pytorch__vd025.png",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "ali-vilab__dreamtalk__f30.png",
    "jixinya__EAMM__7.png",
    "justadudewhohacks__face-api.js__angry.jpg",
)
OTHERS = (
    "dchen236__FairFace__race_Asian.jpg",  # a hand at the chin
    "serengil__deepface__img16.jpg",  # a full beard
    "justadudewhohacks__face-api.js__happy.jpg",  # long hair over the shoulders
    "OpenTalker__SadTalker__people_0.png",  # long hair over the shoulders
    "cmusatyalab__openface__lennon-1.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "serengil__deepface__img1.jpg",
)
EDITS = {
    "yaw -30": {"yaw": -30.0},
    "yaw -15": {"yaw": -15.0},
    "yaw +15": {"yaw": 15.0},
    "yaw +30": {"yaw": 30.0},
    "open 0.6 yaw 20": {"open_mouth": 0.6, "yaw": 20.0},
}
PANEL = 200  # panel width on the sheet, pixels
MIN_WEDGE = 0.002  # face sizes squared: a smaller uncovered wedge reads 0 (nothing to fill)


def renderers(registry: EngineRegistry) -> tuple[object, GeometricRenderer, GeometricRenderer]:
    """The default engine and its renderer without and with the trailing jaw."""
    engine = registry.geometric("default")
    base = engine.renderer
    ways = []
    for on in (False, True):
        renderer = GeometricRenderer.__new__(GeometricRenderer)
        renderer.__dict__.update(base.__dict__)
        renderer.settings = dataclasses.replace(base.settings, trailing_jaw=on)
        ways.append(renderer)
    return engine, ways[0], ways[1]


def shown(frame: RenderedFrame) -> np.ndarray:
    """The flow each crop pixel shows: the front's where its coverage is >= 0.5, else the back's."""
    if frame.back_flow is None or frame.front_alpha is None:
        return frame.flow
    return np.where((frame.front_alpha >= 0.5)[:, :, None], frame.flow, frame.back_flow)


def wedge(own: np.ndarray, mask: np.ndarray, chin: float, face_size: float) -> np.ndarray:
    """(c, c) bool: the photo's own face (`own` > 128) below the jaw's corners (`JAW_RISE` face sizes
    above the chin) that the moved face (`mask` > 128, grown by `JAW_MARGIN` face sizes) uncovers."""
    margin = max(1, round(JAW_MARGIN * face_size))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    grown = cv2.dilate((mask > 128).astype(np.uint8), kernel) > 0
    rows = np.arange(own.shape[0])[:, None]
    return (own > 128) & ~grown & (rows >= chin - JAW_RISE * face_size)


def slide(flow: np.ndarray, region: np.ndarray, face_size: float) -> float:
    """Median |horizontal flow| over the region, in face sizes (0 when it is empty): the neck carried
    sideways with the turned face under the jaw instead of staying, which lines the photo's neck
    side up with the cheek's outline into one long diagonal from the ear to the collar."""
    if region.sum() < MIN_WEDGE * face_size**2:
        return 0.0
    return float(np.median(np.abs(flow[..., 0][region]))) / face_size


def wedge_magnification(flow: np.ndarray, region: np.ndarray, face_size: float) -> float:
    """99th percentile of 1 / det(I + grad f) (clamped at 0.05) over the region (1 when it is empty)."""
    if region.sum() < MIN_WEDGE * face_size**2:
        return 1.0
    return float(np.percentile(1.0 / np.maximum(_det(flow)[region], 0.05), 99))


def layer_magnification(frame: RenderedFrame, region: np.ndarray, face_size: float) -> float:
    """`wedge_magnification` of each shown layer's own flow (not of the two flows switched at the
    front's outline, whose step there reads the clamp): docs/TRAILING_JAW.md, beside item 2."""
    if region.sum() < MIN_WEDGE * face_size**2:
        return 1.0
    det = _det(frame.flow)
    if frame.back_flow is not None and frame.front_alpha is not None:
        det = np.where(frame.front_alpha >= 0.5, det, _det(frame.back_flow))
    return float(np.percentile(1.0 / np.maximum(det[region], 0.05), 99))


def head_box(state: SourceState, preview: object) -> tuple[slice, slice]:
    """Photo rows and columns of the whole head and neck: 1.8 face sizes wide, from 1.0 face sizes
    above the chin to 0.45 below."""
    points = state.crop_transform.inverse_points(preview.points[:, :2])
    size = preview.face_size / state.crop_transform.scale
    chin, centre = points[:, 1].max(), points[:, 0].mean()
    h, w = state.image.shape[:2]
    y0, y1 = int(max(0, chin - 1.0 * size)), int(min(h, chin + 0.45 * size))
    x0, x1 = int(max(0, centre - 0.9 * size)), int(min(w, centre + 0.9 * size))
    return slice(y0, y1), slice(x0, x1)


def _panel(image: np.ndarray, text: str) -> np.ndarray:
    scale = min(1.0, PANEL / image.shape[1])
    out = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    out = np.ascontiguousarray(out).copy()
    cv2.putText(out, text, (5, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def measure(
    name: str,
    state: SourceState,
    preview: object,
    ways: tuple[GeometricRenderer, GeometricRenderer],
    registry: EngineRegistry,
    crops: Path | None,
) -> tuple[dict, list[np.ndarray]]:
    """Figures and sheet panels (top row main, bottom row new) of one photo."""
    canvas = Canvas(state.image, state.crop_transform)
    rows, cols = head_box(state, preview)
    chin, size = float(preview.points[:, 1].max()), preview.face_size
    own = ways[0].face_mask(preview, preview.coeffs)
    record: dict[str, dict] = {}
    top = [_panel(state.image[rows, cols], "input")]
    bottom = [np.zeros_like(top[0])]
    for label, values in EDITS.items():
        target = target_coefficients(state, EditRequest(values=values), registry=registry)
        frames = [way.render_frame(preview, target) for way in ways]
        outs = [place_frame(canvas, frame) for frame in frames]
        mask = ways[1].face_mask(preview, target)
        region = wedge(own, mask, chin, size)
        record[label] = {
            "wedge_fs2": round(float(region.sum()) / size**2, 4),
            "slide": [round(slide(shown(f), region, size), 3) for f in frames],
            "magnification": [round(wedge_magnification(shown(f), region, size), 3) for f in frames],
            "magnification_layers": [round(layer_magnification(f, region, size), 3) for f in frames],
            "collar_px": [round(collar_motion(state, preview, shown(f)), 3) for f in frames],
            "face_psnr_db": face_psnr(state, mask, *outs),
        }
        top.append(_panel(outs[0][rows, cols], f"{label} main"))
        bottom.append(_panel(outs[1][rows, cols], f"{label} new"))
        if crops is not None:
            strip = np.concatenate(
                [state.image[rows, cols], outs[0][rows, cols], outs[1][rows, cols]], axis=1
            )
            path = (
                crops
                / f"{name.split('__')[0][:6]}_{Path(name).stem.split('__')[-1]}_{label.replace(' ', '')}.png"
            )
            cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    return record, [np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "trailing_jaw_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--crops", type=Path, default=None, help="also write 100 %% crops here (PNG)")
    parser.add_argument("--photos", nargs="*", default=None, help="only these photos (file names)")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    engine, old, new = renderers(registry)
    if args.crops is not None:
        args.crops.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"ways": "[main, trailing_jaw]"}
    panels: list[np.ndarray] = []
    for name in args.photos or FAULTS + OTHERS:
        state = prepare_photo(args.images / name, registry=registry)
        preview = state.engine_state(engine)
        record[name], rows = measure(name, state, preview, (old, new), registry, args.crops)
        panels.extend(rows)
    width = max(p.shape[1] for p in panels)
    panels = [np.pad(p, ((0, 2), (0, width - p.shape[1]), (0, 0))) for p in panels]
    write_sheet(panels, args.out, quality=85)
    write_record(record, None)


if __name__ == "__main__":
    main()
