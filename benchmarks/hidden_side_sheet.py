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

IMAGES = REPO.parent / "shared" / "data" / "images"
#: (photo, the sign of the yaw that turns it towards the camera)
PHOTOS = (
    ("YadiraF__DECA__teaser_1.jpg", -1.0),
    ("deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg", -1.0),
    ("YadiraF__DECA__image02246.jpg", 1.0),
    ("deepinsight__insightface__Nathalie_Baye_0002.jpg", 1.0),
)
HEAD = 360
CROP = 360


def rows_for(name: str, sign: float) -> list[np.ndarray]:
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
    # The far cheek: beyond the face's far side (the side the photo turns away).
    cx = x1 if sign < 0 else x0
    cy = 0.5 * (y0 + y1)
    for yaw in (15.0, 30.0):
        outs = []
        for on in (False, True):  # before: the same state with no mirrored layer drawn
            geometric.mirror_layer = layer if on else (lambda *_args: None)
            outs.append(edit(state, EditRequest({"yaw": sign * yaw}), registry=registry).full_image)
        geometric.mirror_layer = layer
        tiles = [state.image, *outs]
        head = [t[box[1] : box[3], box[0] : box[2]] for t in tiles]
        scale = HEAD / head[0].shape[0]
        head = [cv2.resize(t, (round(t.shape[1] * scale), HEAD), interpolation=cv2.INTER_AREA) for t in head]
        half = CROP // 2
        px = int(np.clip(cx - (0.5 * sign + 0.0) * half, half, w - half))
        py = int(np.clip(cy, half, h - half))
        crops = [t[py - half : py + half, px - half : px + half] for t in tiles]
        crops = [
            cv2.resize(c, (HEAD, HEAD), interpolation=cv2.INTER_NEAREST)
            if c.shape[0] < HEAD
            else c[:HEAD, :HEAD]
            for c in crops
        ]
        row = np.concatenate(head + crops, axis=1)
        cv2.putText(
            row,
            f"{name[:28]} yaw {sign * yaw:+.0f}",
            (6, 22),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (255, 255, 0),
            2,
        )
        rows.append(row)
    renderer.settings = geometric.PreviewSettings()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "hidden_side_sheet.jpg")
    args = parser.parse_args()
    rows = [row for name, sign in PHOTOS for row in rows_for(name, sign)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(args.out, sheet.shape, args.out.stat().st_size)


if __name__ == "__main__":
    main()
