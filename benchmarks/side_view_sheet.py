"""Side views turned: the photo, main (the turn as asked) and now (the turn held within what renders
without tearing, `pipeline.side_view.turn_limits`), at the photo's resolution (small faces
magnified by a whole factor); and the tear figure
(`pipeline.side_view.tear_share`) of every survey edit, as asked and as rendered now.

    python benchmarks/side_view_sheet.py [-o docs/side_view_sheet.jpg] [--figures]

Photos: the shared photos fitted beyond 30 degrees of yaw (docs/SIDE_VIEW.md); edits: yaw +-15,
+-30, pitch +-15, open_mouth 1 (default renderer). The sheet shows the edits the limit changes;
the others are the same pixels as main.
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

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_mesh import projector_for  # noqa: E402
from pipeline.photo import Canvas, SourceState, place_frame, target_coefficients  # noqa: E402
from pipeline.side_view import TEAR_SHARE, photo_depth, tear_share  # noqa: E402
from reconstruction.controls import control_set_for  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "images"
PHOTOS = (
    "YadiraF__PRNet__3.jpg",
    "YadiraF__PRNet__image00251.jpg",
    "deepinsight__insightface__left_face.jpeg",
    "scikit-image__scikit-image__camera.png",
    "YadiraF__PRNet__2.jpg",
)
EDITS = (
    {"yaw": 15.0},
    {"yaw": -15.0},
    {"yaw": 30.0},
    {"yaw": -30.0},
    {"pitch": 15.0},
    {"pitch": -15.0},
    {"open_mouth": 1.0},
)
LABEL_HEIGHT = 22
#: Tiles narrower than this are magnified by a whole factor (nearest), never shrunk.
MIN_TILE = 240


def _box(state: SourceState) -> tuple[int, int, int, int]:
    """The face with hair and chin, in photo pixels (x0, y0, x1, y1)."""
    points = state.analysis.detection.face.landmarks[:, :2]
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    pad = 0.45 * (x1 - x0)
    h, w = state.image.shape[:2]
    return max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(x1 + pad)), min(h, int(y1 + 0.6 * pad))


def _as_asked(state: SourceState, values: dict[str, float], registry: EngineRegistry) -> np.ndarray:
    """The edit as main renders it: the controls applied without the side view's limit."""
    coeffs = control_set_for(registry.backend(state.backend).model).apply(state.coefficients, values)
    engine = registry.select("preview", state.backend, state.face_model)
    frame = engine.render_frame(state.engine_state(engine), coeffs)
    canvas = Canvas(
        state.image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight()
    )
    return place_frame(canvas, frame)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    factor = max(1, MIN_TILE // tile.shape[1])
    tile = cv2.resize(tile, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    band = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, tile], axis=0)


def figures(registry: EngineRegistry) -> None:
    """The tear figure of every survey edit, as asked (main) and as rendered now."""
    for name in PHOTOS:
        state = prepare_photo(DATA / name, registry=registry)
        model = registry.backend(state.backend).model
        projector, controls = projector_for(model), control_set_for(model)
        size = state.crop.shape[:2]
        coeffs = state.coefficients
        source = projector.project(coeffs, coeffs.identity, size)
        depth = photo_depth(source, projector.layout.triangles, size)
        for values in EDITS:
            shares = []
            for target in (
                controls.apply(coeffs, values),
                target_coefficients(state, EditRequest(values), registry=registry),
            ):
                points = projector.project(target, coeffs.identity, size)
                shares.append(tear_share(source, points, projector.layout.triangles, size, depth))
            edit_name = ", ".join(f"{k} {v:g}" for k, v in values.items())
            flags = ["TORN" if s > TEAR_SHARE else "clean" for s in shares]
            print(
                f"{name:45s} {edit_name:14s} main {shares[0]:.3f} {flags[0]:5s}  now {shares[1]:.3f} {flags[1]}"
            )


def sheet(registry: EngineRegistry, output: Path) -> None:
    rows = []
    for name in PHOTOS:
        state = prepare_photo(DATA / name, registry=registry)
        x0, y0, x1, y1 = _box(state)
        photo = state.image[y0:y1, x0:x1]
        for values in EDITS:
            now = edit(state, EditRequest(values, engine="preview"), registry=registry).full_image[
                y0:y1, x0:x1
            ]
            main = _as_asked(state, values, registry)[y0:y1, x0:x1]
            if np.array_equal(now, main):
                continue
            edit_name = ", ".join(f"{k} {v:g}" for k, v in values.items())
            tiles = [
                _label(photo, f"{name[:34]}"),
                _label(main, f"main: {edit_name}"),
                _label(now, f"now: {edit_name} (limited)"),
            ]
            rows.append(np.concatenate(tiles, axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    image = np.concatenate(rows, axis=0)
    cv2.imwrite(str(output), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"wrote {output} ({image.shape[1]}x{image.shape[0]}, {len(rows)} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "side_view_sheet.jpg")
    parser.add_argument("--figures", action="store_true", help="print the tear figures instead")
    args = parser.parse_args()
    registry = EngineRegistry()
    if args.figures:
        figures(registry)
    else:
        sheet(registry, args.output)


if __name__ == "__main__":
    main()
