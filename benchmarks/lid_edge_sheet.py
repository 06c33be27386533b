"""Sheet and figures of a shut lid's edge at the photo's resolution (docs/SHUT_LIDS.md, "The lid's
edge"), run as `python benchmarks/shut_lids_sheet.py --edge [--measure]`.

Flow only (the painted lash line switched off, so the edge itself shows). Per photo and edit
(close_eyes 1, wink_left 1) and per eye the edit shuts: input | main | new at 100 % (photo pixels),
then the middle of the lid's lower edge at 300 % (nearest neighbour). "main" is the edge split
(`reconstruction.overlay.lid_edges`) switched off: the code path of the current default. With
--measure: per photo column of the eye's inner 60 %, the lid's edge `y` = the row (between the
fitted upper lid - 0.1 eye widths and the fitted lower lid + 0.1 eye widths) where the output's
luma changes most from the row above to the row below (after a median over 3 columns); a degree-4
polynomial fitted to it; `resid` = the 95th percentile absolute residual, `steps` = the 95th
percentile |y(col + 1) - y(col)|, photo px.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import median_filter

import pipeline.geometric as geometric
import reconstruction.crop as crop
from benchmarks.paint_sheet import _label, _rows
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.face_paint import curve_y

PHOTOS = (
    "fudan-generative-vision__hallo__7.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "cmusatyalab__openface__carell.jpg",
)
EDITS = ({"close_eyes": 1.0}, {"wink_left": 1.0})
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@contextlib.contextmanager
def _flow_only(split: bool) -> Iterator[None]:
    """No painted lash line; the lid's edge split on (new) or off (main)."""
    line, edges = geometric.paint_lash_line, crop.lid_edges
    geometric.paint_lash_line = lambda *args, **kwargs: None
    if not split:
        crop.lid_edges = lambda *args, **kwargs: None
    try:
        yield
    finally:
        geometric.paint_lash_line, crop.lid_edges = line, edges


def edge_figures(out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[float, float]:
    """(resid, steps) of one shut eye (module docstring); upper, lower: the photo's lids (K, 2)."""
    width = float(np.ptp(upper[:, 0]))
    middle = 0.5 * (upper[:, 0].min() + upper[:, 0].max())
    x0, x1 = int(middle - 0.3 * width), int(middle + 0.3 * width)
    y0, y1 = int(upper[:, 1].min() - 0.1 * width), int(lower[:, 1].max() + 0.1 * width) + 2
    xs = np.arange(x0, x1, dtype=np.float64)
    luma = median_filter(out[y0:y1, x0:x1].astype(np.float32) @ _LUMA, size=(1, 3))
    change = np.abs(luma[2:] - luma[:-2])  # row i + 1: from the row above to the row below
    rows = np.arange(y0 + 1, y1 - 1, dtype=np.float64)[:, None]
    band = (rows >= curve_y(upper, xs)[None, :] - 0.1 * width) & (
        rows <= curve_y(lower, xs)[None, :] + 0.1 * width
    )
    y = rows[np.argmax(np.where(band, change, -1.0), axis=0), 0]
    fit = np.polyval(np.polyfit(xs - middle, y, 4), xs - middle)
    return float(np.percentile(np.abs(y - fit), 95)), float(np.percentile(np.abs(np.diff(y)), 95))


def edge_rows(path: Path, registry: EngineRegistry, figures: list[str] | None) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    renderer.settings = dataclasses.replace(renderer.settings)
    points, transform = state.engine_state(engine).points, state.crop_transform
    eyes = [
        (transform.inverse_points(points[u, :2]), transform.inverse_points(points[lo, :2]))
        for u, lo in renderer.projector.layout.eyes
    ]
    h, w = state.image.shape[:2]
    rows = []
    for values in EDITS:
        outs = []
        for split in (False, True):
            with _flow_only(split):
                outs.append(
                    edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
                )
        text = ",".join(f"{k}={v:g}" for k, v in values.items())
        shut = [0, 1] if "close_eyes" in values else [0]  # a left wink shuts the image-left eye
        pooled = []
        for k in shut:
            upper, lower = eyes[k]
            width = float(np.ptp(upper[:, 0]))
            lo, hi = (
                upper.min(axis=0) - [0.25 * width, 0.4 * width],
                lower.max(axis=0) + [0.25 * width, 0.25 * width],
            )
            box = slice(max(0, int(lo[1])), min(h, int(hi[1]))), slice(max(0, int(lo[0])), min(w, int(hi[0])))
            gap = np.full((box[0].stop - box[0].start, 6, 3), 255, np.uint8)
            triple = np.concatenate([state.image[box], gap, outs[0][box], gap, outs[1][box]], axis=1)
            rows += _rows(
                [_label(triple, f"{path.name[:24]} {w}x{h} {text} eye {k}: input | main | new, 100 %")]
            )
            middle = 0.5 * (upper[:, 0].min() + upper[:, 0].max())
            cx0, cx1 = int(middle - 0.22 * width), int(middle + 0.22 * width)
            cy = int(curve_y(lower, np.array([middle]))[0])  # the lid's edge lies on the lower lid
            zoom = slice(max(0, cy - int(0.05 * width)), cy + int(0.12 * width)), slice(cx0, cx1)
            parts = [
                cv2.resize(o[zoom], None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
                for o in (state.image, *outs)
            ]
            gap = np.full((parts[0].shape[0], 6, 3), 255, np.uint8)
            triple = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
            rows += _rows([_label(triple, f"{text} eye {k}: input | main | new, 300 %")])
            pooled.append([edge_figures(o, upper, lower) for o in outs])
        if figures is not None:
            (r0, s0), (r1, s1) = np.mean(pooled, axis=0)
            figures.append(f"| {path.name[:30]} | {text} | {r0:.1f} -> {r1:.1f} | {s0:.1f} -> {s1:.1f} |")
    return rows


def print_figures(figures: list[str]) -> None:
    print("lid's edge, flow only; mean over the shut eyes; photo px: main -> new")  # noqa: T201
    print("| photo | edit | resid p95 | steps p95 |\n|---|---|---|---|")  # noqa: T201
    print("\n".join(figures))  # noqa: T201
