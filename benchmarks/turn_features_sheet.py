"""Contact sheet of the eyes, the nose and the mouth at a turn, at the photo's resolution: the
photo, the renderer before three fixes, and now. Before, the side of the head could paint skin over
a far iris (the eyes' openings had no surface of their own), a turned nose drew a dark line along
its edge (the flow's upsampling read the strip of the far cheek the nose hides), and a turned smile
with teeth showed a painted black crescent (the photo's opening was scaled by the mouth's
foreshortened width).

    python benchmarks/turn_features_sheet.py [-o docs/turn_features_sheet.jpg]

Edits: yaw -30, -15, +15, +30 (the default renderer) on five real photos of ../shared/data/images.
"Before" is the same renderer with `pipeline.face_mesh.eye_surfaces` giving no surfaces, the
mouth's motion without the photo's lips in the target's pose, and no occlusion edges drawn
(`reconstruction.folds`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pipeline.face_mesh as face_mesh  # noqa: E402
import pipeline.geometric as geometric  # noqa: E402
import reconstruction.crop as crop  # noqa: E402
from benchmarks.mouth_sheet import run_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "fudan-generative-vision__hallo__6.jpg",
    "yzhou359__MakeItTalk__natalie.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img3.jpg",
    "jdh-algo__JoyVASA__joyvasa_005.png",
)
YAWS = (-30.0, -15.0, 15.0, 30.0)
TILE = 480


@contextmanager
def _before_the_fixes() -> Iterator[None]:
    surfaces, mouth = face_mesh.eye_surfaces, geometric.GeometricRenderer._mouth
    boxes, blend = geometric.fold_boxes, crop.blend_across_folds

    def no_surfaces(*_args: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros((0, 3, 2))

    def unposed(self, state, target_points):  # noqa: ANN001, ANN202
        return dataclasses.replace(mouth(self, state, target_points), posed_lips=None)

    face_mesh.eye_surfaces, geometric.GeometricRenderer._mouth = no_surfaces, unposed
    geometric.fold_boxes, crop.blend_across_folds = (lambda *_args: []), (lambda *_args: None)
    try:
        yield
    finally:
        face_mesh.eye_surfaces, geometric.GeometricRenderer._mouth = surfaces, mouth
        geometric.fold_boxes, crop.blend_across_folds = boxes, blend


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2, cv2.LINE_AA)
    return out


def rows_for(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    """One row per turn: the eyes' band of the photo, before and now, at the photo's resolution
    (scaled up to the tile when the photo is small)."""
    state = prepare_photo(path, registry=registry)
    lm = state.analysis.detection.face.landmarks[:, :2]
    h, w = state.image.shape[:2]
    boxes = []
    eyes, nose, mouth = (
        lm[[33, 133, 263, 362, 159, 386, 145, 374]],
        lm[[168, 6, 1, 98, 327]],
        lm[[61, 291, 0, 17]],
    )
    for points, (wide, tall) in ((eyes, (0.45, 0.3)), (nose, (1.3, 0.15)), (mouth, (0.45, 0.3))):
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        across, down = wide * (x1 - x0), tall * (x1 - x0)  # room for the features to move with the turn
        boxes.append(
            (
                max(0, int(x0 - across)),
                max(0, int(y0 - down)),
                min(w, int(x1 + across)),
                min(h, int(y1 + down)),
            )
        )

    def tile(image: np.ndarray) -> np.ndarray:
        parts = []
        for x0, y0, x1, y1 in boxes:
            part = image[y0:y1, x0:x1]
            parts.append(
                cv2.resize(
                    part, (TILE, round(part.shape[0] * TILE / part.shape[1])), interpolation=cv2.INTER_CUBIC
                )
            )
        return np.concatenate(parts, axis=0)

    rows = []
    for yaw in YAWS:
        request = EditRequest({"yaw": yaw})
        with _before_the_fixes():
            before = edit(state, request, registry=registry).full_image
        now = edit(state, request, registry=registry).full_image
        row = np.concatenate([tile(state.image), tile(before), tile(now)], axis=1)
        rows.append(_label(row, f"{path.name[:34]} yaw {yaw:+.0f}: input | before | now"))
    return rows


def main() -> None:
    run_sheet(__doc__.splitlines()[0], "turn_features_sheet.jpg", PHOTOS, rows_for, quality=88)


if __name__ == "__main__":
    main()
