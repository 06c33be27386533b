"""The jaw and the neck after a turn or a nod, the current default against the jaw's occlusion edge.

    python benchmarks/jaw_edge_sheet.py [-o docs/jaw_edge_sheet.jpg] [--repeats 20] [--crops DIR]

Contact sheet: per photo, the input and, per edit (yaw -30, -15, +15, +30, pitch -15, +15), the
renderer without the jaw edge (top) and with it (`PreviewSettings.jaw_edge`, `pipeline.jaw_edge`,
bottom), each a crop of the full-resolution result around the jaw and the neck (at most
`PANEL` pixels wide: the scale is printed on the input). With `--crops`, the same crops at 100 %
are also written there as PNG (input | current | new per edit). Prints one JSON record with the
figures of docs/JAW_EDGE.md: per photo and edit the neck band's largest magnification (with two
layers, of the shown layer's own flow; `magnification_blended`: of the two flows blended), the jaw
edge's sharpness against the photo's, the collar rows' displacement, the face's PSNR new vs
current; and the time of both ways taken in turns (015316 at yaw +30): `render_frame`, and
`render_frame` + `place_frame` (the edit laid on the full-resolution photo).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from functools import partial
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.neck_sheet import collar_motion, face_psnr  # noqa: E402
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from pipeline.neck import JAW_RISE, NECK_REACH  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402
from pipeline.renderer import RenderedFrame  # noqa: E402

NECKS = (
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "cmusatyalab__openface__lennon-1.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
)
COLLARS = ("cmusatyalab__openface__carell.jpg", "ageitgey__face_recognition__biden2.jpg")
EDITS = {
    "yaw -30": {"yaw": -30.0},
    "yaw -15": {"yaw": -15.0},
    "yaw +15": {"yaw": 15.0},
    "yaw +30": {"yaw": 30.0},
    "pitch -15": {"pitch": -15.0},
    "pitch +15": {"pitch": 15.0},
}
PANEL = 230  # panel width on the sheet, pixels (the sheet < 600 KB at JPEG quality 85)
WINDOW = 0.05  # face sizes either side of the jaw line where its edge is looked for


def renderers(registry: EngineRegistry) -> tuple[object, GeometricRenderer, GeometricRenderer]:
    """The default engine and its renderer without and with the jaw's edge."""
    engine = registry.geometric("default")
    base = engine.renderer
    ways = []
    for on in (False, True):
        renderer = GeometricRenderer.__new__(GeometricRenderer)
        renderer.__dict__.update(base.__dict__)
        renderer.settings = dataclasses.replace(base.settings, jaw_edge=on)
        ways.append(renderer)
    return engine, ways[0], ways[1]


def jaw_line(mask: np.ndarray, chin: float, face_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The jaw columns of a (c, c) uint8 face mask (its lowest row no higher than `JAW_RISE` face
    sizes above the photo's `chin`, crop pixels) and the mask's lowest row per column (c,)."""
    face = mask > 128
    h = face.shape[0]
    bottom = h - 1 - np.argmax(face[::-1], axis=0)
    return face.any(axis=0) & (bottom >= chin - JAW_RISE * face_size), bottom


def _det(flow: np.ndarray) -> np.ndarray:
    """(c, c) det(I + grad f) of a (c, c, 2) backward flow: photo area per output area."""
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    return (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx


def shown_flow(frame: RenderedFrame) -> np.ndarray:
    """The frame's flow, with a layer behind it blended in by the front's coverage."""
    if frame.back_flow is None or frame.front_alpha is None:
        return frame.flow
    alpha = frame.front_alpha[:, :, None]
    return alpha * frame.flow + (1.0 - alpha) * frame.back_flow


def neck_magnification(
    frame: RenderedFrame, mask: np.ndarray, chin: float, face_size: float, blend: bool = False
) -> float:
    """99th percentile of 1 / det(I + grad f) (clamped at 0.05) over the neck band: in the jaw
    columns, from below the target face down to the shoulder line. With two layers, f is the shown
    layer's own flow (the front's where its coverage is >= 0.5), or with `blend` the two blended."""
    jaw, bottom = jaw_line(mask, chin, face_size)
    if blend or frame.back_flow is None or frame.front_alpha is None:
        det = _det(shown_flow(frame))
    else:
        det = np.where(frame.front_alpha >= 0.5, _det(frame.flow), _det(frame.back_flow))
    rows = np.arange(det.shape[0])[:, None]
    band = jaw[None, :] & (rows > bottom[None, :]) & (rows <= chin + NECK_REACH * face_size)
    if not band.any():
        return 1.0
    return float(np.percentile(1.0 / np.maximum(det[band], 0.05), 99))


def edge_sharpness(
    image: np.ndarray, state: SourceState, mask: np.ndarray, chin: float, face_size: float
) -> float:
    """Median over the middle 60 % of the jaw columns of the largest |d/dy| of the grey image
    (Gaussian sigma 1 photo pixel) within `WINDOW` face sizes of the mask's lowest row."""
    jaw, bottom = jaw_line(mask, chin, face_size)
    columns = np.flatnonzero(jaw)
    if len(columns) == 0:
        return 0.0
    lo, hi = columns.min(), columns.max()
    middle = columns[(columns >= lo + 0.2 * (hi - lo)) & (columns <= hi - 0.2 * (hi - lo))]
    points = state.crop_transform.inverse_points(
        np.stack([middle, bottom[middle]], axis=1).astype(np.float64)
    )
    reach = WINDOW * face_size / state.crop_transform.scale
    h, w = image.shape[:2]
    x0, x1 = max(int(points[:, 0].min()) - 4, 0), min(int(points[:, 0].max()) + 5, w)
    y0, y1 = max(int(points[:, 1].min() - reach) - 4, 0), min(int(points[:, 1].max() + reach) + 5, h)
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    slope = np.abs(np.gradient(grey, axis=0))
    found = []
    for x, y in points:
        cx, top, bottom_row = int(round(x)) - x0, int(round(y - reach)) - y0, int(round(y + reach)) - y0
        if 0 <= cx < slope.shape[1]:
            window = slope[max(top, 0) : max(min(bottom_row + 1, slope.shape[0]), 1), cx]
            if len(window):
                found.append(float(window.max()))
    return float(np.median(found)) if found else 0.0


def jaw_box(state: SourceState, preview: object) -> tuple[slice, slice]:
    """Photo rows and columns around the jaw and the neck: 1.2 face sizes wide, from 0.3 face sizes
    above the chin to 0.35 below."""
    points = state.crop_transform.inverse_points(preview.points[:, :2])
    size = preview.face_size / state.crop_transform.scale
    chin, centre = points[:, 1].max(), points[:, 0].mean()
    h, w = state.image.shape[:2]
    y0, y1 = int(max(0, chin - 0.3 * size)), int(min(h, chin + 0.35 * size))
    x0, x1 = int(max(0, centre - 0.6 * size)), int(min(w, centre + 0.6 * size))
    return slice(y0, y1), slice(x0, x1)


def _panel(image: np.ndarray, text: str) -> np.ndarray:
    scale = min(1.0, PANEL / image.shape[1])
    out = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    out = np.ascontiguousarray(out).copy()
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def _measure(
    name: str,
    state: SourceState,
    preview: object,
    ways: tuple[GeometricRenderer, GeometricRenderer],
    registry: EngineRegistry,
    crops: Path | None,
) -> tuple[dict, list[np.ndarray]]:
    """Figures and sheet panels (top row, bottom row) of one photo."""
    canvas = Canvas(state.image, state.crop_transform)
    rows, cols = jaw_box(state, preview)
    chin, size = float(preview.points[:, 1].max()), preview.face_size
    own = ways[0].face_mask(preview, preview.coeffs)
    photo_edge = edge_sharpness(state.image, state, own, chin, size)
    record: dict[str, dict] = {}
    scale = min(1.0, PANEL / (cols.stop - cols.start))
    top = [_panel(state.image[rows, cols], f"input ({scale:.0%})")]
    bottom = [np.zeros_like(top[0])]
    for label, values in EDITS.items():
        target = target_coefficients(state, EditRequest(values=values), registry=registry)
        frames = [way.render_frame(preview, target) for way in ways]
        outs = [place_frame(canvas, frame) for frame in frames]
        mask = ways[1].face_mask(preview, target)
        record[label] = {
            "magnification": [round(neck_magnification(f, mask, chin, size), 3) for f in frames],
            "magnification_blended": round(neck_magnification(frames[1], mask, chin, size, blend=True), 3),
            "edge_ratio": [
                round(edge_sharpness(o, state, mask, chin, size) / max(photo_edge, 1e-6), 3) for o in outs
            ],
            "collar_px": [round(collar_motion(state, preview, shown_flow(f)), 3) for f in frames],
            "face_psnr_db": face_psnr(state, mask, *outs),
        }
        top.append(_panel(outs[0][rows, cols], f"{label} current"))
        bottom.append(_panel(outs[1][rows, cols], f"{label} jaw edge"))
        if crops is not None:
            strip = np.concatenate(
                [state.image[rows, cols], outs[0][rows, cols], outs[1][rows, cols]], axis=1
            )
            path = crops / f"{name[:24]}_{label.replace(' ', '')}.png"
            cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    return record, [np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)]


def _render(
    renderer: GeometricRenderer, preview: object, target: object, canvas: Canvas | None, _: int
) -> object:
    """One frame, laid on the photo when a canvas is given (the timed call)."""
    frame = renderer.render_frame(preview, target)
    return frame if canvas is None else place_frame(canvas, frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "jaw_edge_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--crops", type=Path, default=None, help="also write 100 %% crops here (PNG)")
    parser.add_argument("--photos", nargs="*", default=None, help="only these photos (file names)")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    engine, old, new = renderers(registry)
    if args.crops is not None:
        args.crops.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"ways": "[current, jaw edge]"}
    panels: list[np.ndarray] = []
    timing_case = None
    for name in args.photos or NECKS + COLLARS:
        state = prepare_photo(args.images / name, registry=registry)
        preview = state.engine_state(engine)
        figures, rows = _measure(name, state, preview, (old, new), registry, args.crops)
        record[name] = figures
        panels.extend(rows)
        if timing_case is None:
            target = target_coefficients(state, EditRequest(values=EDITS["yaw +30"]), registry=registry)
            timing_case = (preview, target, Canvas(state.image, state.crop_transform))
    preview, target, canvas = timing_case
    ways = {"current": old, "jaw_edge": new}
    frame_ms = interleaved_ms(
        {k: partial(_render, r, preview, target, None) for k, r in ways.items()}, args.repeats
    )
    record["render_frame_ms"] = {way: summary_ms(t) for way, t in frame_ms.items()}
    # The whole edit at the photo's resolution: render and lay the frame on the photo.
    edit_ms = interleaved_ms(
        {k: partial(_render, r, preview, target, canvas) for k, r in ways.items()}, args.repeats
    )
    record["render_and_place_ms"] = {way: summary_ms(t) for way, t in edit_ms.items()}
    for key in ("render_frame_ms", "render_and_place_ms"):
        ratio = record[key]["jaw_edge"]["median_ms"] / record[key]["current"]["median_ms"]
        record[key]["ratio_median"] = round(ratio, 3)
    width = max(p.shape[1] for p in panels)
    panels = [np.pad(p, ((0, 2), (0, width - p.shape[1]), (0, 0))) for p in panels]
    write_sheet(panels, args.out, quality=85)
    write_record(record, None)


if __name__ == "__main__":
    main()
