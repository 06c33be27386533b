"""Does the painted mouth match the photo's own degradation? Measures of docs/PAINT_MATCH.md.

    python benchmarks/paint_match_measure.py [NAMES ...] [--images DIR]

Per photo and mouth edit (open_mouth 1; smile 1 + open_mouth 0.5), on the edit at the photo's
resolution: `noise_gap`, the surrounding skin's grain minus the paint's (robust sigma of the luma's
fine residual, grey levels; the paint's interior against a ring just outside it) and `range_excess`,
how far the paint's black and white points (1st / 99th percentile, per channel) reach past the
face's own (1st / 99th percentile over the face-mesh hull of the input photo), summed over both
ends, over that channel's face span, the worst channel. The paint's fine-detail ratio is
paint / skin sigma: near 1 when it is as grainy and as sharp as the skin around it.
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
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402
from reconstruction.overlay import photo_alpha  # noqa: E402

__all__ = ["MOUTH_EDITS", "fine_sigma", "face_range", "paint_figures", "render", "placed"]

MOUTH_EDITS = {"open_mouth 1": {"open_mouth": 1.0}, "smile 1 + open 0.5": {"smile": 1.0, "open_mouth": 0.5}}
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def render(state: SourceState, values: dict[str, float], registry: EngineRegistry, match: bool):
    """The preview engine's frame for `values`, `PreviewSettings.paint_match` set to `match`."""
    engine = registry.select("preview", state.backend, state.face_model)
    coeffs = target_coefficients(state, EditRequest(values=values, engine="preview"), registry=registry)
    renderer = engine.renderer
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, paint_match=match)
    try:
        return engine.render_frame(state.engine_state(engine), coeffs)
    finally:
        renderer.settings = kept


def placed(state: SourceState, frame) -> np.ndarray:
    """The frame in the photo at full resolution (matched when the frame asks for it)."""
    canvas = Canvas(
        state.image, state.crop_transform, paint_blur=state.paint_blur, paint_match=state.paint_match
    )
    return place_frame(canvas, frame)


def fine_sigma(image: np.ndarray, mask: np.ndarray) -> float:
    """Robust sigma (grey levels) of the luma's residual finer than a pixel or two within `mask`."""
    luma = image.astype(np.float32) @ _LUMA
    residual = luma - cv2.GaussianBlur(luma, (0, 0), 1.0)
    values = residual[mask]
    return (
        float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size >= 20 else float("nan")
    )


def face_range(state: SourceState) -> tuple[np.ndarray, np.ndarray]:
    """Per channel 1st and 99th percentile of the input photo over its face-mesh hull."""
    lm = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])
    mask = np.zeros(state.image.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(lm).astype(np.int32)), 1)
    pixels = state.image[mask > 0].astype(np.float32)
    return np.percentile(pixels, 1, axis=0), np.percentile(pixels, 99, axis=0)


def paint_figures(state: SourceState, frame, image: np.ndarray) -> dict[str, float]:
    """noise_gap, skin / paint sigma, range_excess of the paint laid in `image` (module docstring)."""
    h, w = state.image.shape[:2]
    transform = state.crop_transform
    cover = photo_alpha(frame.overlay_alpha, transform.matrix, (w, h), 1.0 / transform.scale)
    inside = cv2.erode((cover >= 0.99).astype(np.uint8), None) > 0
    lm = transform.inverse_points(state.analysis.crop_landmarks[:, :2])
    mouth_w = float(np.linalg.norm(lm[61] - lm[291]))
    near = cv2.dilate((cover > 0).astype(np.uint8), None, iterations=2)
    far = cv2.dilate((cover > 0).astype(np.uint8), None, iterations=2 + max(3, round(0.2 * mouth_w)))
    ring = (far > 0) & (near == 0)
    skin, paint = fine_sigma(image, ring), fine_sigma(image, inside)
    lo, hi = face_range(state)
    pixels = image[inside].astype(np.float32)
    p_lo, p_hi = np.percentile(pixels, 1, axis=0), np.percentile(pixels, 99, axis=0)
    excess = (np.maximum(lo - p_lo, 0.0) + np.maximum(p_hi - hi, 0.0)) / np.maximum(hi - lo, 1.0)
    return {
        "skin": skin,
        "paint": paint,
        "noise_gap": skin - paint,
        "range_excess": float(excess.max()),
        "face_lo": float(lo.min()),
        "face_hi": float(hi.max()),
        "paint_lo": float(p_lo.min()),
        "paint_hi": float(p_hi.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.names:
        state = prepare_photo(Path(args.images) / name, registry=registry)
        for label, values in MOUTH_EDITS.items():
            for when, match in (("main", False), ("now", True)):
                frame = render(state, values, registry, match)
                if frame.overlay_alpha is None or frame.overlay_alpha.max() < 0.99:
                    print(f"{name[:44]:44s} {label:18s} no paint")
                    continue
                f = paint_figures(state, frame, placed(state, frame))
                print(
                    f"{name[:40]:40s} {label:18s} {when:4s} blur {state.paint_blur:.2f} skin {f['skin']:5.2f} paint {f['paint']:5.2f}"
                    f" ratio {f['paint'] / f['skin']:5.2f}  face {f['face_lo']:5.1f}-{f['face_hi']:5.1f}"
                    f" paint {f['paint_lo']:5.1f}-{f['paint_hi']:5.1f} excess/span {f['range_excess']:5.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
