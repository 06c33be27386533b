"""Corner smear of a smile (docs/SMILE_FROWN.md): how much of the photo's detail the preview's flow
magnifies beyond 3x around the mouth corners, `PreviewSettings.smile_corners` off and on.

    OMP_NUM_THREADS=1 python benchmarks/smile_frown_measure.py [--images DIR] [--smile 1]

On the renderer's full-resolution backward flow for the edit: in discs of 0.3 eye-corner distances
`e` around the target's mouth corners (mesh 61, 291), outside the mouth's opening, the sum over
pixels of max(0, 1 / det - 3) (det: the backward map's Jacobian; 1 / det the magnification) times
the photo's gradient magnitude read there (Sobel, over its median in the face's box), per e^2.
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

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

FAULT = (
    "justadudewhohacks__face-api.js__sad.jpg",
    "justadudewhohacks__face-api.js__disgusted.jpg",
    "justadudewhohacks__face-api.js__angry.jpg",
)
CLEAN = (
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__s2.jpg",
    "cmusatyalab__openface__carell.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "YadiraF__DECA__teaser_2.png",
    "deepinsight__insightface__Tom_Hanks_54745.png",
)
CORNERS = (61, 291)  # the 478-point mesh's outer mouth corners
EYE_CORNERS = (33, 263)
RADIUS = 0.3  # eye-corner distances around each corner
MAGNIFIED = 3.0  # magnification counted beyond this


def corner_smear(
    source: np.ndarray,
    flow: np.ndarray,
    source_points: np.ndarray,
    target_points: np.ndarray,
    opening: np.ndarray,
) -> float:
    """The corner smear of the (H, W, 2) backward `flow` over the (H, W, 3) crop `source`; points:
    the (N, 2+) meshes in crop pixels; opening: (K, 2) the target's inner-lip ring."""
    det = (np.gradient(flow[..., 0], axis=1) + 1.0) * (np.gradient(flow[..., 1], axis=0) + 1.0) - np.gradient(
        flow[..., 0], axis=0
    ) * np.gradient(flow[..., 1], axis=1)
    e = float(np.hypot(*(source_points[EYE_CORNERS[1], :2] - source_points[EYE_CORNERS[0], :2])))
    grey = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) / 8.0
    h, w = det.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    read = cv2.remap(grad, xx + flow[..., 0], yy + flow[..., 1], cv2.INTER_LINEAR)
    near = np.zeros((h, w), bool)
    for x, y in target_points[list(CORNERS), :2]:
        near |= np.hypot(xx - x, yy - y) < RADIUS * e
    hole = np.zeros((h, w), np.uint8)
    cv2.fillPoly(hole, [np.round(opening).astype(np.int32)], 1)
    near &= hole == 0
    (x0, y0), (x1, y1) = (
        source_points[:, :2].min(axis=0).astype(int),
        source_points[:, :2].max(axis=0).astype(int),
    )
    median = float(np.median(grad[max(y0, 0) : y1, max(x0, 0) : x1]))
    magnified = np.maximum(0.0, 1.0 / np.maximum(det, 0.02) - MAGNIFIED)
    return float((magnified * read / max(median, 1e-3))[near].sum() / e**2)


def smear_of(state, registry: EngineRegistry, values: dict, flag: bool) -> float:  # noqa: ANN001
    """The corner smear of the edit `values` on a prepared photo, `smile_corners` set to `flag`."""
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, smile_corners=flag)
    try:
        prepared = state.engine_state(engine)
        target = target_coefficients(
            state, EditRequest(values=dict(values), engine="preview"), registry=registry
        )
        points = renderer.target_points(prepared, target)
        flow = renderer.render_flow(prepared, target)
        upper, lower = renderer.projector.layout.mouth
        opening = np.concatenate([points[upper, :2], points[lower[::-1], :2]])
        return corner_smear(prepared.source, flow, prepared.points, points, opening)
    finally:
        renderer.settings = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--smile", type=float, default=1.0)
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    print(f"{'photo':48s} {'off':>7s} {'on':>7s}")
    for name in FAULT + CLEAN:
        state = prepare_photo(args.images / name, registry=registry)
        off, on = (smear_of(state, registry, {"smile": args.smile}, flag) for flag in (False, True))
        print(f"{name:48s} {off:7.3f} {on:7.3f}", flush=True)


if __name__ == "__main__":
    main()
