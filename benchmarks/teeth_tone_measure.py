"""Measure of docs/TEETH_TONE.md: how bright a photo's teeth are against its own brightest skin.

    OMP_NUM_THREADS=1 python benchmarks/teeth_tone_measure.py [--on] [NAMES...]

Per photo, on the 256 px crop: the reference is the 95th percentile of the luma under the fitted
mesh's vertices (the brightest skin; lips, brows and eyes are a small share); the photo's own
opening (between its inner lips) gives `own`, the 95th percentile of its luma over the reference
(the natural ratio, on photos that show teeth); the edit open_mouth 1 gives `painted`, the 95th
percentile of the luma over the painted gap (coverage >= 0.99) over the reference: the brightest of
the painted teeth. `--on` renders with `PreviewSettings.teeth_tone` on.
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

from core.images import LUMA  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from pipeline.teeth_tone import mouth_skin  # noqa: E402

IMAGES = REPO.parent / "shared" / "data" / "images"
FAULT = (
    "YadiraF__DECA__teaser_2.png",
    "xinntao__facexlib__test2.jpg",
    "YadiraF__PRNet__image02545.jpg",
    "timesler__facenet-pytorch__shea_whigham_1.jpg",
    "yzhou359__MakeItTalk__hound.jpg",
)
CLEAN = (
    "serengil__deepface__img1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "dchen236__FairFace__race_Black.jpg",
)


def skin_reference(source: np.ndarray, points: np.ndarray) -> float:
    """95th percentile of the luma under the mesh's vertices inside the crop (the brightest skin)."""
    xy = points[:, :2].round().astype(np.int64)
    h, w = source.shape[:2]
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    return float(np.percentile(source[xy[ok, 1], xy[ok, 0]].astype(np.float32) @ LUMA, 95))


def eye_white(source: np.ndarray, points: np.ndarray, eyes, irises) -> float:  # noqa: ANN001
    """90th percentile of the luma inside both eye openings, outside the irises (the eye whites)."""
    inside = np.zeros(source.shape[:2], np.uint8)
    for upper, lower in eyes:
        polygon = np.concatenate([points[upper, :2], points[lower, :2][::-1]])
        cv2.fillPoly(inside, [np.round(polygon * 4).astype(np.int32)], 1, shift=2)
    for iris in irises:
        if iris is not None:
            centre = tuple(int(round(v)) for v in iris.centre)
            cv2.circle(inside, centre, int(round(iris.radius * 1.1)), 0, -1)
    values = source[inside > 0].astype(np.float32) @ LUMA
    return float(np.percentile(values, 90)) if values.size >= 5 else float("nan")


def around_mouth(source: np.ndarray, points: np.ndarray, mouth, face_size: float) -> float:  # noqa: ANN001
    """95th percentile of the luma under the vertices within 0.25 face sizes of the mouth's centre:
    the skin (or beard) the mouth lies in (`pipeline.teeth_tone.mouth_skin`)."""
    return float(np.percentile(mouth_skin(source, points, mouth, face_size) @ LUMA, 95))


def measure(name: str, registry: EngineRegistry, on: bool = False) -> dict[str, float]:
    """`own` and `painted` ratios (see the module's docstring) of one photo."""
    state = prepare_photo(IMAGES / name, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    renderer.settings = dataclasses.replace(renderer.settings, teeth_tone=on)
    state._engine_states.clear()  # prepared again with the flag (per-photo work)
    prepared = state.engine_state(engine)
    ref = skin_reference(prepared.source, prepared.points)
    upper, lower = (prepared.points[lip, :2] for lip in renderer.projector.layout.mouth)
    polygon = np.round(np.concatenate([upper, lower[::-1]]) * 4).astype(np.int32)
    inside = np.zeros(prepared.source.shape[:2], np.uint8)
    cv2.fillPoly(inside, [polygon], 1, shift=2)
    opening = prepared.source[inside > 0].astype(np.float32) @ LUMA
    own = float(np.percentile(opening, 95)) / ref if opening.size >= 10 else float("nan")
    target = target_coefficients(state, EditRequest({"open_mouth": 1.0}, engine="preview"), registry=registry)
    frame = renderer.render_frame(prepared, target)
    gap = frame.overlay_alpha >= 0.99
    painted = (
        float(np.percentile(frame.crop[gap].astype(np.float32) @ LUMA, 95)) / ref
        if gap.sum() >= 10
        else float("nan")
    )
    eye = eye_white(prepared.source, prepared.points, renderer.projector.layout.eyes, prepared.irises)
    local = around_mouth(
        prepared.source, prepared.points, renderer.projector.layout.mouth, prepared.face_size
    )
    lum = {"p": painted * ref, "o": own * ref}
    return {
        "eye": eye,
        "local": local,
        "lum": lum,
        "ref": ref,
        "own": own,
        "painted": painted,
        "own_teeth": prepared.mouth.teeth is not None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--on", action="store_true")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.names or FAULT + CLEAN:
        try:
            m = measure(name, registry, args.on)
        except Exception as error:  # noqa: BLE001 (a photo without a usable face: skipped)
            print(f"{name[:48]:48s} skipped: {type(error).__name__}", flush=True)
            continue
        print(
            f"{name[:48]:48s} ref {m['ref']:6.1f} own {m['own']:5.2f} painted {m['painted']:5.2f} own_teeth {m['own_teeth']}"
            f" | eye {m['eye']:5.1f} local {m['local']:5.1f} | own/eye {m['lum']['o'] / m['eye']:4.2f} painted/eye {m['lum']['p'] / m['eye']:4.2f} own/local {m['lum']['o'] / m['local']:4.2f} painted/local {m['lum']['p'] / m['local']:4.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
