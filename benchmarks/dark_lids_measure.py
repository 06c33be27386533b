"""Measure of docs/DARK_LIDS.md: how far a shut lid departs from the skin around the eye, at the crop.

    OMP_NUM_THREADS=1 python benchmarks/dark_lids_measure.py [--photos NAME ...] [--flags FLAG ...]

Per eye a `close_eyes` edit shuts, on the rendered crop: the shut lid is the photo's eye opening
(`RenderedFrame.hidden`) in the inner 70 % of the eye's columns, less the painted lash line
(coverage >= 0.3); its reference R is the photo's lid skin, the 75th percentile of luma of the
band the shut lid reads (0.4 eye widths above the fitted upper lid, same columns). Printed per eye:
- dark: the share of the shut lid's pixels darker than 0.6 R (the photo's lashes or liner
  stretched over the lid: a black lower half); a fault from 0.3;
- wedge: over the lower half of the shut lid's rows, the largest departure of a column's median
  luma from a parabola fitted across the eye, over R (a pale wedge between dark sides where the
  lid reads skin on some columns and lashes on others: a disc with a dark outline, blotches);
  a fault from 0.2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.images import LUMA  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

__all__ = ["lid_departure", "FAULTS", "CLEAN", "DARK", "WEDGE"]

FAULTS = ("yzhou359__MakeItTalk__natalie.jpg", "YadiraF__DECA__IMG_0392_inputs.jpg")
CLEAN = (
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "dchen236__FairFace__race_Black.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",
)
OTHERS = (
    "KwaiVGI__LivePortrait__s2.jpg",
    "jdh-algo__JoyVASA__joyvasa_005.png",
    "YadiraF__DECA__exp_3.jpg",
    "cmusatyalab__openface__adams.jpg",
    "RenYurui__PIRender__id11248-QdBQTHX55yI-021933-022196_00274.jpg",
)
#: The band the shut lid reads (eye widths above the fitted upper lid) and its skin's percentile.
_BAND = 0.4
_SKIN = 75.0
#: Faults from these: `dark` (share of the lid below `_DARKER` R) and `wedge`.
_DARKER = 0.6
DARK = 0.3
WEDGE = 0.2


def lid_departure(
    source: np.ndarray, crop: np.ndarray, hidden: np.ndarray, lashes: np.ndarray, upper: np.ndarray
) -> dict[str, float] | None:
    """{dark, wedge} of the shut lid over the photo's opening under the upper lid `upper` (K, 2)
    crop pixels; source, crop: (H, W, 3) uint8 photo crop and rendered crop; hidden: (H, W) the
    shut openings; lashes: (H, W) the painted lash line's coverage. None if too few pixels."""
    width = float(np.ptp(upper[:, 0]))
    left, right = float(upper[:, 0].min()), float(upper[:, 0].max())
    h, w = hidden.shape
    xs = np.arange(w)[None, :]
    ys = np.arange(h)[:, None]
    inner = (xs > left + 0.15 * width) & (xs < right - 0.15 * width)
    lid = (hidden > 0.5) & inner & (lashes < 0.3)
    rows = np.flatnonzero(lid.any(axis=1))
    if lid.sum() < 8 or len(rows) < 2:
        return None
    order = np.argsort(upper[:, 0])
    line = np.interp(np.arange(w), upper[order, 0], upper[order, 1])[None, :]
    band = inner & (ys < line - 0.5) & (ys >= line - _BAND * width)
    ref = float(np.percentile(source.astype(np.float32)[band] @ LUMA, _SKIN))
    out = crop.astype(np.float32) @ LUMA
    low = lid & (ys >= rows[len(rows) // 2])
    cols = np.flatnonzero(low.any(axis=0))
    medians = np.array([np.median(out[low[:, x], x]) for x in cols])
    fit = np.polyval(np.polyfit(cols, medians, 2), cols) if len(cols) >= 3 else medians
    return {
        "dark": float(np.mean(out[lid] < _DARKER * ref)),
        "wedge": float(np.abs(medians - fit).max()) / ref,
    }


def measure(path: Path, registry: EngineRegistry, flags: list[str], on: bool, value: float) -> list[dict]:
    """Per shut eye of `close_eyes value`, its `lid_departure`, with the `flags` off or on."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, **dict.fromkeys(flags, on))
    try:
        prepared = engine.prepare_in_photo(
            state.crop, state.coefficients, state.crop_transform, hand_at_face=bool(state.hands)
        )
        target = target_coefficients(
            state, EditRequest({"close_eyes": value}, engine="preview"), registry=registry
        )
        frame = renderer.render_frame(prepared, target)
        if frame.hidden is None:
            return []
        cover = (
            frame.overlay_alpha
            if frame.overlay_alpha is not None
            else np.zeros(frame.hidden.shape, np.float32)
        )
        lashes = cover - (frame.skin if frame.skin is not None else 0.0)
        rows = []
        for u, _ in renderer.projector.layout.eyes:
            found = lid_departure(prepared.source, frame.crop, frame.hidden, lashes, prepared.points[u, :2])
            rows.append(found or {})
        return rows
    finally:
        renderer.settings = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", default=list(FAULTS + CLEAN + OTHERS))
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--flags", nargs="*", default=[], help="PreviewSettings flags: measured off and on")
    parser.add_argument("--value", type=float, default=1.0, help="close_eyes")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        for on in (False, True) if args.flags else (None,):
            eyes = measure(args.images / name, registry, args.flags, bool(on), args.value)
            tag = "" if on is None else f" {'on ' if on else 'off'}"
            text = " | ".join(" ".join(f"{k} {v:.3f}" for k, v in eye.items()) or "-" for eye in eyes)
            print(f"{name[:44]:44s}{tag} {text}", flush=True)


if __name__ == "__main__":
    main()
