"""Painted mouth and lids matched to the photo's degradation: sheet and figures (docs/PAINT_MATCH.md).

    python benchmarks/paint_match_sheet.py [-o docs/paint_match_sheet.jpg] [--images DIR]

Per photo and edit (open_mouth 1; smile 1 + open_mouth 0.5; close_eyes 1), one row: the head at
100 % (input | main: `PreviewSettings.paint_match` off | now: on), then the mouth (or the eyes)
enlarged (nearest) to about `ZOOM_SIDE` px, input | main | now. A head wider than `HEAD_SIDE`
photo pixels shows its middle at 100 %. Printed per photo and mouth edit: the measures of
`paint_match_measure` (fine-detail ratio paint / skin, range excess over the face's span), main
and now; per photo and edit: whether main and now are pixel-identical over the face.
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

from benchmarks.paint_match_measure import MOUTH_EDITS, paint_figures, placed, render  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import SourceState  # noqa: E402
from reconstruction.softness import LID_CONTOURS, LIP_CONTOUR  # noqa: E402

PHOTOS = (
    "TencentARC__GFPGAN__10045.png",  # the fault: small, grainy, faded, green cast
    "ageitgey__face_recognition__obama-240p.jpg",
    "davisking__dlib__John_Salley_000179_02159509.jpg",
    "davisking__dlib__2008_002506.jpg",
    "deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg",
    "sczhou__CodeFormer__0934.png",
    "sczhou__CodeFormer__0717.png",
    "deepinsight__insightface__happy.png",  # clean
)
EDITS = {**MOUTH_EDITS, "close_eyes 1": {"close_eyes": 1.0}}
HEAD_SIDE = 420
ZOOM_SIDE = 260


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = np.concatenate([np.full((18, max(tile.shape[1], 60), 3), 255, np.uint8)[:, : tile.shape[1]], tile])
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _row(tiles: list[np.ndarray]) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 6), (0, 0)), constant_values=255) for t in tiles]
    return np.concatenate(padded, axis=1)


def _box(points: np.ndarray, pad: float, shape: tuple[int, ...], most: int | None = None) -> tuple[int, ...]:
    """(x0, y0, x1, y1) around (N, 2) points, padded by `pad` of their size, at most `most` wide/high."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * (1 + pad)
    if most is not None:
        half = np.minimum(half, most / 2)
    x0, y0 = np.maximum(np.floor(centre - half), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(centre + half), [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def sheet_row(state: SourceState, name: str, label: str, images: list[np.ndarray]) -> np.ndarray:
    """The head at 100 % and the mouth (or eyes) enlarged: input | main | now."""
    lm = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])
    head = _box(lm, 0.15, state.image.shape, HEAD_SIDE)
    part = lm[list(LID_CONTOURS[0] + LID_CONTOURS[1])] if "eyes" in label else lm[list(LIP_CONTOUR)]
    x0, y0, x1, y1 = _box(part, 0.6, state.image.shape)
    if "eyes" in label:  # the eyes' box as tall as a third of its width (their brows and cheeks)
        middle, half = (y0 + y1) // 2, max((x1 - x0) // 6, (y1 - y0) // 2)
        y0, y1 = max(middle - half, 0), min(middle + half, state.image.shape[0])
    zoom = max(1, round(ZOOM_SIDE / max(x1 - x0, y1 - y0)))
    tiles = []
    for image, title in zip(images, ("input", "main", "now"), strict=True):
        hx0, hy0, hx1, hy1 = head
        tiles.append(
            _label(image[hy0:hy1, hx0:hx1], f"{name[:28]} {label}: {title}" if title == "input" else title)
        )
    for image, title in zip(images, ("input", "main", "now"), strict=True):
        crop = cv2.resize(image[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        tiles.append(_label(crop, f"{zoom * 100} % {title}"))
    return _row(tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(REPO / "docs" / "paint_match_sheet.jpg"))
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for name in PHOTOS:
        state = prepare_photo(Path(args.images) / name, registry=registry)
        for label, values in EDITS.items():
            frames = [render(state, values, registry, match) for match in (False, True)]
            images = [state.image, *(placed(state, frame) for frame in frames)]
            line = f"{name[:40]:40s} {label:18s} identical {np.array_equal(images[1], images[2])}"
            if label in MOUTH_EDITS and frames[0].overlay_alpha is not None:
                for when, frame, image in zip(("main", "now"), frames, images[1:], strict=True):
                    f = paint_figures(state, frame, image)
                    line += (
                        f"  {when} ratio {f['paint'] / f['skin']:5.2f} excess/span {f['range_excess']:4.2f}"
                    )
            print(line, flush=True)
            rows.append(sheet_row(state, name, label, images))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate(
        [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )
    cv2.imwrite(args.output, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(
        f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]}, {Path(args.output).stat().st_size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
