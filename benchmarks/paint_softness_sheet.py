"""Painted layers softened to the photo's sharpness: sheet and edge-spread figures (docs/PAINT_SOFTNESS.md).

    python benchmarks/paint_softness_sheet.py [-o docs/paint_softness_sheet.jpg] [--images DIR]

Per photo (3 soft ones and a sharp one) and edit (open_mouth 1, aaa, close_eyes 1): input |
before (the paint laid as sharp as before: `Canvas.paint_blur` 0, the code path of main) | now,
the mouth and the eyes at 100 % and at 200 % (nearest; photo pixels, never smoothed). Printed per
photo: the photo's estimated blur, the 10-90 % edge spread of its own lips and eyes, and that of the
painted cavity's edge (open_mouth 1) and of the lash line (close_eyes 1), before and now.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402
from reconstruction.overlay import photo_alpha  # noqa: E402
from reconstruction.softness import LID_CONTOURS, closed_normals, edge_spread  # noqa: E402

SOFT = (
    "sczhou__CodeFormer__0143.png",  # 512 px, strongly blurred
    "TencentARC__GFPGAN__Justin_Timberlake_crop.png",  # 512 px, soft
    "deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg",  # 250 px
)
SHARP = (
    "serengil__deepface__img3.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
)
EDITS = {
    "open_mouth 1": {"open_mouth": 1.0},
    "aaa": dict(PRESETS["aaa"]),
    "close_eyes 1": {"close_eyes": 1.0},
}
#: MediaPipe face-mesh contour of the lips' outer edge.
LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
EYES = LID_CONTOURS
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ _LUMA


def photo_landmarks(state: SourceState) -> np.ndarray:
    return state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])


def widths(state: SourceState) -> tuple[float, float]:
    """(mouth width, eye width) in photo pixels."""
    lm = photo_landmarks(state)
    return float(np.linalg.norm(lm[61] - lm[291])), float(np.linalg.norm(lm[33] - lm[133]))


def photo_spreads(state: SourceState) -> tuple[float, float]:
    """Median 10-90 % spread (photo pixels) of the photo's own lips' outer edge and eyes' lids."""
    lm = photo_landmarks(state)
    mouth_w, eye_w = widths(state)
    image = luma(state.image)
    lips = lm[list(LIPS)]
    lip = edge_spread(image, lips, closed_normals(lips), 0.12 * mouth_w)
    eye = [edge_spread(image, lm[list(e)], closed_normals(lm[list(e)]), 0.2 * eye_w) for e in EYES]
    return float(np.nanmedian(lip)), float(np.nanmedian(np.concatenate(eye)))


def render(state: SourceState, values: dict[str, float], registry: EngineRegistry):
    """The preview engine's frame for `values` (its flow, overlay and coverage)."""
    engine = registry.select("preview", state.backend, state.face_model)
    coeffs = target_coefficients(state, EditRequest(values=values, engine="preview"), registry=registry)
    return engine.render_frame(state.engine_state(engine), coeffs)


def placed(state: SourceState, frame, blur: float) -> np.ndarray:
    return place_frame(Canvas(state.image, state.crop_transform, paint_blur=blur), frame)


def paint_spread(state: SourceState, frame, image: np.ndarray, reach: float) -> float:
    """Median 10-90 % spread (photo pixels) across the painted layer's edge (its coverage's 0.5
    contour at the photo's resolution) in the placed `image`; NaN without paint."""
    if frame.overlay_alpha is None or frame.overlay_alpha.max() <= 0.5:
        return float("nan")
    h, w = state.image.shape[:2]
    transform = state.crop_transform
    cover = photo_alpha(frame.overlay_alpha, transform.matrix, (w, h), 1.0 / transform.scale)
    contours, _ = cv2.findContours((cover > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    spreads = []
    for contour in contours:
        points = contour[:, 0, :].astype(np.float64)
        if len(points) < 12:
            continue
        kernel = cv2.getGaussianKernel(9, 2.0)[:, 0]
        wrapped = np.pad(points, ((4, 4), (0, 0)), mode="wrap")
        smooth = np.stack([np.convolve(wrapped[:, i], kernel, mode="valid") for i in range(2)], axis=1)
        normals = closed_normals(smooth)
        keep = slice(None, None, max(len(points) // 60, 1))
        spreads.append(edge_spread(luma(image), smooth[keep], normals[keep], reach))
    return float(np.nanmedian(np.concatenate(spreads))) if spreads else float("nan")


def figures(state: SourceState, registry: EngineRegistry) -> dict[str, float]:
    """The photo's blur and spreads, and the painted cavity's and lash line's spreads, before and now."""
    lip, eye = photo_spreads(state)
    mouth_w, eye_w = widths(state)
    out = {"blur": state.paint_blur, "lips": lip, "eyes": eye}
    for name, values, reach in (
        ("cavity", {"open_mouth": 1.0}, 0.12 * mouth_w),
        ("lash", {"close_eyes": 1.0}, 0.2 * eye_w),
    ):
        frame = render(state, values, registry)
        for when, blur in (("before", 0.0), ("now", state.paint_blur)):
            out[f"{name}_{when}"] = paint_spread(state, frame, placed(state, frame, blur), reach)
    return out


def _boxes(state: SourceState) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) photo boxes of the mouth and of both eyes."""
    lm = photo_landmarks(state)
    mouth_w, _ = widths(state)
    h, w = state.image.shape[:2]
    boxes = []
    for indices, pad in ((LIPS, 0.35), (EYES[0] + EYES[1], 0.25)):
        part = lm[list(indices)]
        x0, y0 = np.floor(part.min(0) - pad * mouth_w).astype(int)
        x1, y1 = np.ceil(part.max(0) + pad * mouth_w).astype(int)
        boxes.append((max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)))
    return boxes


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = np.concatenate([np.full((18, tile.shape[1], 3), 255, np.uint8), tile], axis=0)
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _row(tiles: list[np.ndarray]) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 6), (0, 0)), constant_values=255) for t in tiles]
    return np.concatenate(padded, axis=1)


def _middle(crop: np.ndarray, width: int) -> np.ndarray:
    """The middle `width` columns of `crop` (all of it when narrower)."""
    x0 = max(crop.shape[1] // 2 - width // 2, 0)
    return crop[:, x0 : x0 + width]


def sheet_rows(state: SourceState, name: str, registry: EngineRegistry, max_width: int) -> list[np.ndarray]:
    """Per edit: the mouth (or the eyes), input | before | now at 100 %, then at 200 % (nearest);
    a box wider than a third of the sheet shows its middle."""
    rows = []
    tile = max_width // 3 - 8
    for label, values in EDITS.items():
        frame = render(state, values, registry)
        images = (state.image, placed(state, frame, 0.0), placed(state, frame, state.paint_blur))
        x0, y0, x1, y1 = _boxes(state)[1 if "eyes" in label else 0]
        crops = [im[y0:y1, x0:x1] for im in images]
        titles = (f"{name[:36]} {label}: input", "before", f"now (blur {state.paint_blur:.2f} px)")
        small = [_label(_middle(c, tile), t) for c, t in zip(crops, titles, strict=True)]
        big = [
            cv2.resize(_middle(c, tile // 2), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
            for c in crops
        ]
        big = [_label(b, f"200 % {t}") for b, t in zip(big, ("input", "before", "now"), strict=True)]
        if sum(t.shape[1] + 6 for t in small + big) <= max_width:  # a small photo: one row
            rows.append(_row(small + big))
        else:
            rows.extend([_row(small), _row(big)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(REPO / "docs" / "paint_softness_sheet.jpg"))
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    width = 2400
    for name in (*SOFT, SHARP[0]):
        state = prepare_photo(Path(args.images) / name, registry=registry)
        f = figures(state, registry)
        print(
            f"{name[:44]:44s} blur {f['blur']:.2f}  lips {f['lips']:.2f} eyes {f['eyes']:.2f}  "
            f"cavity {f['cavity_before']:.2f} -> {f['cavity_now']:.2f} ({f['cavity_now'] / f['lips']:.2f}x lips)  "
            f"lash {f['lash_before']:.2f} -> {f['lash_now']:.2f} ({f['lash_now'] / f['eyes']:.2f}x eyes)"
        )
        rows.extend(sheet_rows(state, name, registry, width))
    rows = [r[:, :width] for r in rows]
    sheet = np.concatenate(
        [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )
    cv2.imwrite(args.output, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(
        f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.2f} MB, {sheet.shape[1]}x{sheet.shape[0]})"
    )


if __name__ == "__main__":
    main()
