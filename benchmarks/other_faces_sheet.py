"""Group photos: the edited face's motion with and without other faces held still.

    python benchmarks/other_faces_sheet.py [-o docs/other_faces_sheet.jpg]

Contact sheet: per photo (largest face edited) and edit, the input, the edit without the hold
(`Canvas(still=None)`, what the renderer did before) and the default (`pipeline.other_faces`), each
cropped around the edited face and its nearest neighbour (edits where the two are pixel-identical
are left out of the sheet and marked "identical" in the record). Prints one JSON record with the figures
of docs/OTHER_FACES.md: per photo and edit the PSNR of every other face's own pixels (the hull of
its mesh minus the other faces' hulls, within the crop) against the photo (before, now) and of the
edited face's own pixels now against before.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import hull_mask  # noqa: E402
from pipeline.photo import Canvas  # noqa: E402

PHOTOS = (
    "deepinsight__insightface__7242.jpg",
    "davisking__dlib__2008_002506.jpg",
    "serengil__deepface__selfie-many-people.jpg",
    "serengil__deepface__couple.jpg",
    "cmusatyalab__openface__longoria-cooper.jpg",
)
EDITS = {
    "yaw +30": {"yaw": 30.0},
    "yaw -30": {"yaw": -30.0},
    "pitch -15": {"pitch": -15.0},
    "roll 15": {"roll": 15.0},
}
PANEL = 400  # width of one panel of the sheet


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def own_pixels(faces: list, k: int, shape: tuple[int, int], crop: np.ndarray) -> np.ndarray:
    """(H, W) bool: the hull of face k's mesh minus the other faces' hulls, within `crop`."""
    hulls = [hull_mask(face.landmarks[:, :2], shape) > 0 for face in faces]
    others = np.zeros(shape, bool)
    for j, hull in enumerate(hulls):
        if j != k:
            others |= hull
    return hulls[k] & ~others & crop


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    if not mask.any():
        return None
    return psnr(a[mask], b[mask])


def _db(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    value = masked_psnr(a, b, mask)
    return None if value is None else round(value, 2)


def _panel(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    part = image[y0:y1, x0:x1]
    height = round(part.shape[0] * PANEL / part.shape[1])
    interpolation = cv2.INTER_AREA if part.shape[1] > PANEL else cv2.INTER_CUBIC
    return cv2.resize(part, (PANEL, height), interpolation=interpolation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "other_faces_sheet.jpg")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=75)
    args = parser.parse_args()
    registry = EngineRegistry()
    rows, record = [], {}
    for name in PHOTOS:
        state = prepare_photo(args.data / name, registry=registry)
        detection = state.analysis.detection
        own = detection.face
        others = [f for f in detection.faces if f.index != own.index]
        nearest = min(others, key=lambda f: float(np.hypot(*(f.centre - own.centre))))
        h, w = state.image.shape[:2]
        x0 = min(own.bbox[0], nearest.bbox[0])
        y0 = min(own.bbox[1], nearest.bbox[1])
        x1 = max(own.bbox[2], nearest.bbox[2])
        y1 = max(own.bbox[3], nearest.bbox[3])
        pad = 0.25 * own.size
        view = (max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(x1 + pad)), min(h, int(y1 + pad)))
        plain = Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur)
        faces = list(detection.faces)
        c = state.crop_transform.crop_size
        corners = state.crop_transform.inverse_points(np.array([[0, 0], [c, 0], [c, c], [0, c]], np.float64))
        in_crop = np.zeros((h, w), np.uint8)
        cv2.fillPoly(in_crop, [np.round(corners).astype(np.int32)], 1)
        in_crop = in_crop > 0
        owns = [own_pixels(faces, k, (h, w), in_crop) for k in range(len(faces))]
        mine = next(k for k, f in enumerate(faces) if f.index == own.index)
        record[name] = {}
        for label, values in EDITS.items():
            request = EditRequest(values)
            before = edit(state, request, registry=registry, canvas=plain).full_image
            now = edit(state, request, registry=registry).full_image
            record[name][label] = {
                "others_before_db": [_db(before, state.image, m) for k, m in enumerate(owns) if k != mine],
                "others_now_db": [_db(now, state.image, m) for k, m in enumerate(owns) if k != mine],
                "own_now_vs_before_db": _db(now, before, owns[mine]),
                "identical": bool(np.array_equal(now, before)),
            }
            if record[name][label]["identical"]:
                continue  # nothing to look at: the hold did not change a pixel
            tiles = [_panel(image, view) for image in (state.image, before, now)]
            row = np.concatenate(tiles, axis=1)
            cv2.putText(
                row,
                f"{name[:40]} {label}: input | before | now",
                (8, 22),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.6,
                (255, 255, 0),
                2,
            )
            rows.append(row)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    write_sheet(rows, args.out, args.quality)
    print(json.dumps(record, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
