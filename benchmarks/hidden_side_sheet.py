"""Contact sheet of the hidden-side fill: turned photos turned towards the camera, input | before
(the default, no mirrored reads) | now (`PreviewSettings(hidden_side=True)`), whole head and a
100 % crop of the far cheek, eye and nose, at the photo's resolution.

    OMP_NUM_THREADS=1 python benchmarks/hidden_side_sheet.py [-o docs/hidden_side_sheet.jpg]

Photos and yaws as docs/HIDDEN_SIDE.md's rule names them.
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

import pipeline.geometric as geometric  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

IMAGES = REPO.parent / "shared" / "data" / "images"
#: (photo, the sign of the yaw that turns it towards the camera)
PHOTOS = (
    ("YadiraF__DECA__teaser_1.jpg", -1.0),
    ("deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg", -1.0),
    ("YadiraF__DECA__image02246.jpg", 1.0),
    ("deepinsight__insightface__Nathalie_Baye_0002.jpg", 1.0),
)
HEAD = 300
TILE = 300
#: MediaPipe mesh landmarks: the face's two side edges, eyes (outer, inner corner), nose tip, nose wings.
EDGES = (234, 454)
EYES = ((33, 133), (263, 362))
NOSE_TIP = 1
WINGS = (129, 358)


def far_side(lm: np.ndarray) -> int:
    """0 or 1: the far side (index into EDGES) of a face from its (478, 2) landmarks: the side whose
    edge lies nearer the nose tip (the side the photo turns away)."""
    nose = lm[NOSE_TIP]
    return int(abs(lm[EDGES[1], 0] - nose[0]) < abs(lm[EDGES[0], 0] - nose[0]))


def regions(lm: np.ndarray, far: int) -> tuple[list[np.ndarray], float]:
    """Centres (photo pixels) of the far cheek, the far eye and the nose (between the tip and the far
    wing) from the (478, 2) landmarks of the turned face, and the side of a 100 % crop around
    them; far: the photo's far side (`far_side`). The cheek's crop holds the far silhouette."""
    nose = lm[NOSE_TIP]
    cheek = 0.8 * lm[EDGES[far]] + 0.2 * nose + [0.0, 0.1 * np.ptp(lm[:, 1])]
    eye = lm[list(EYES[far])].mean(axis=0)
    nose_box = 0.5 * (nose + lm[WINGS[far]])
    side = float(np.clip(0.6 * np.ptp(lm[:, 0]), 80, TILE))
    return [cheek, eye, nose_box], side


def crop_at(image: np.ndarray, centre: np.ndarray, side: float) -> np.ndarray:
    """A `side`-pixel square of the photo around `centre`, shown at TILE pixels (nearest: >= 100 %)."""
    h, w = image.shape[:2]
    half = int(side) // 2
    cx = int(np.clip(round(centre[0]), half, w - half))
    cy = int(np.clip(round(centre[1]), half, h - half))
    part = image[cy - half : cy + half, cx - half : cx + half]
    return cv2.resize(part, (TILE, TILE), interpolation=cv2.INTER_NEAREST)


def rows_for(name: str, sign: float, keep: Path | None) -> list[np.ndarray]:
    registry = EngineRegistry()
    rows = []
    state = prepare_photo(IMAGES / name, registry=registry)
    renderer = registry.geometric(state.backend).renderer
    renderer.settings = geometric.PreviewSettings(hidden_side=True)  # before the engine state is made
    layer = geometric.mirror_layer
    lm = state.analysis.detection.face.landmarks[:, :2]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    pad = 0.45 * (x1 - x0)
    h, w = state.image.shape[:2]
    box = (max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(x1 + pad)), min(h, int(y1 + 0.6 * pad)))
    for yaw in (15.0, 30.0):
        request = EditRequest({"yaw": sign * yaw})
        # The crops follow the turned face: the target mesh's landmarks, in photo pixels.
        engine = registry.select(request.engine, state.backend, state.face_model)
        target = target_coefficients(state, request, registry=registry)
        moved = renderer._target_points(state.engine_state(engine), target)[:, :2]
        centres, side = regions(state.crop_transform.inverse_points(moved), far_side(lm))
        outs = []
        for on in (False, True):  # before: the same state with no mirrored layer drawn
            geometric.mirror_layer = layer if on else (lambda *_args: None)
            outs.append(edit(state, request, registry=registry).full_image)
        geometric.mirror_layer = layer
        tiles = [state.image, *outs]
        head = [t[box[1] : box[3], box[0] : box[2]] for t in tiles]
        scale = HEAD / head[0].shape[0]
        head = [cv2.resize(t, (round(t.shape[1] * scale), HEAD), interpolation=cv2.INTER_AREA) for t in head]
        crops = [crop_at(t, c, side) for c in centres for t in tiles]  # cheek, eye, nose: in | before | now
        top = np.concatenate(head, axis=1)
        bottom = np.concatenate(crops, axis=1)
        top = np.pad(top, ((0, 0), (0, max(0, bottom.shape[1] - top.shape[1])), (0, 0)))
        row = np.concatenate([top, bottom], axis=0)
        label = f"{name[:28]} yaw {sign * yaw:+.0f}  100% crops ({side:.0f} px): far cheek, far eye, nose"
        cv2.putText(row, label, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
        if keep is not None:
            cv2.imwrite(
                str(keep / f"{name[:20]}_{sign * yaw:+.0f}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR)
            )
        rows.append(row)
    renderer.settings = geometric.PreviewSettings()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "hidden_side_sheet.jpg")
    parser.add_argument("--keep", type=Path, default=None, help="also write each row as a PNG here")
    parser.add_argument("--only", default="", help="only the photos whose name contains this")
    args = parser.parse_args()
    rows = [row for name, sign in PHOTOS if args.only in name for row in rows_for(name, sign, args.keep)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(args.out, sheet.shape, args.out.stat().st_size)


if __name__ == "__main__":
    main()
