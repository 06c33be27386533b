"""Neck and collar after a turn, the current fade against the neck's fade to still shoulders.

    python benchmarks/neck_sheet.py [-o docs/neck_sheet.jpg] [--repeats 20]

Contact sheet: per photo and edit (yaw -20, yaw +30), the input, the current default (the flow
faded alike in every direction) and the new one (`PreviewSettings.neck`, `pipeline.neck`), each a
100 % crop of the photo around the neck and the collar. Prints one JSON record with the figures of
docs/NECK.md: per photo and edit the mean displacement (photo pixels) of the crop rows from the
chin + 0.2 face sizes down, old and new, the face's PSNR of new against old, and the render time
of both ways taken in turns.
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
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from pipeline.neck import NECK_REACH  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402
from reconstruction.crop import crop_mask  # noqa: E402

PHOTOS = (
    "cmusatyalab__openface__carell.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img1.jpg",
    "ageitgey__face_recognition__biden2.jpg",
)
EDITS = {
    "yaw -30": {"yaw": -30.0},
    "yaw -20": {"yaw": -20.0},
    "yaw +20": {"yaw": 20.0},
    "yaw +30": {"yaw": 30.0},
    "pitch -15": {"pitch": -15.0},
    "pitch +15": {"pitch": 15.0},
    "roll 15": {"roll": 15.0},
}
SHEET_EDITS = ("yaw -20", "yaw +30")
PANEL = 640  # widest 100 % panel, photo pixels


def renderers(registry: EngineRegistry) -> tuple[object, GeometricRenderer, GeometricRenderer]:
    """The default engine and its renderer without and with the neck's fade."""
    engine = registry.geometric("default")
    base = engine.renderer
    ways = []
    for neck in (False, True):
        renderer = GeometricRenderer.__new__(GeometricRenderer)
        renderer.__dict__.update(base.__dict__)
        renderer.settings = dataclasses.replace(base.settings, neck=neck)
        ways.append(renderer)
    return engine, ways[0], ways[1]


def collar_motion(state: SourceState, preview: object, flow: np.ndarray) -> float:
    """Mean |L^-1 f| (photo pixels) of the flow `warp_photo` applies, over the crop rows from the photo's
    chin + `NECK_REACH` face sizes down (whole width)."""
    c = flow.shape[0]
    faded = flow * crop_mask(c, feather=0.1, margin=0.0)[:, :, None]
    shift = faded.reshape(-1, 2) @ np.linalg.inv(state.crop_transform.matrix[:, :2]).T
    shift = np.linalg.norm(shift, axis=1).reshape(c, c)
    top = int(np.ceil(preview.points[:, 1].max() + NECK_REACH * preview.face_size))
    return float(shift[top:].mean()) if top < c else 0.0


def face_psnr(state: SourceState, mask: np.ndarray, old: np.ndarray, new: np.ndarray) -> float:
    h, w = state.image.shape[:2]
    inverse = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    inside = cv2.warpAffine(mask, state.crop_transform.matrix, (w, h), flags=inverse) > 128
    mse = float(np.mean((old[inside].astype(float) - new[inside].astype(float)) ** 2))
    return 99.0 if mse == 0 else round(10 * np.log10(255**2 / mse), 2)


def neck_box(state: SourceState, preview: object) -> tuple[slice, slice]:
    """Photo rows and columns around the neck and the collar (at most `PANEL` wide)."""
    points = state.crop_transform.inverse_points(preview.points[:, :2])
    size = preview.face_size / state.crop_transform.scale
    chin, centre = points[:, 1].max(), points[:, 0].mean()
    h, w = state.image.shape[:2]
    half = min(0.75 * size, PANEL / 2)
    y0, y1 = int(max(0, chin - 0.4 * size)), int(min(h, chin + 0.45 * size))
    x0, x1 = int(max(0, centre - half)), int(min(w, centre + half))
    return slice(y0, y1), slice(x0, x1)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(image).copy()
    cv2.putText(out, text, (8, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "neck_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    engine, old, new = renderers(registry)
    record: dict[str, object] = {}
    panels: list[np.ndarray] = []
    timing_case = None
    for name in PHOTOS:
        state = prepare_photo(args.images / name, registry=registry)
        preview = state.engine_state(engine)
        canvas = Canvas(state.image, state.crop_transform)
        rows, cols = neck_box(state, preview)
        for label, values in EDITS.items():
            target = target_coefficients(state, EditRequest(values=values), registry=registry)
            frames = [way.render_frame(preview, target) for way in (old, new)]
            outs = [place_frame(canvas, frame) for frame in frames]
            mask = new.face_mask(preview, target)
            record[f"{name} {label}"] = {
                "collar_px_old": round(collar_motion(state, preview, frames[0].flow), 3),
                "collar_px_new": round(collar_motion(state, preview, frames[1].flow), 3),
                "face_psnr_db": face_psnr(state, mask, *outs),
            }
            if label in SHEET_EDITS:
                strip = [state.image[rows, cols], outs[0][rows, cols], outs[1][rows, cols]]
                titles = (f"{name.split('__')[-1]}: input", f"{label}: current", f"{label}: neck fade")
                panels.append(
                    np.concatenate([_label(s, t) for s, t in zip(strip, titles, strict=True)], axis=1)
                )
            if timing_case is None and label == "yaw -20":
                timing_case = (preview, target)
    preview, target = timing_case
    times = interleaved_ms(
        {
            "current": lambda _: old.render_frame(preview, target),
            "neck": lambda _: new.render_frame(preview, target),
        },
        args.repeats,
    )
    record["render_frame_ms"] = {way: summary_ms(t) for way, t in times.items()}
    record["cost_ratio_median"] = round(
        record["render_frame_ms"]["neck"]["median_ms"] / record["render_frame_ms"]["current"]["median_ms"], 3
    )
    width = max(p.shape[1] for p in panels)
    panels = [np.pad(p, ((0, 4), (0, width - p.shape[1]), (0, 0))) for p in panels]
    write_sheet(panels, args.out, quality=90)
    write_record(record, None)


if __name__ == "__main__":
    main()
