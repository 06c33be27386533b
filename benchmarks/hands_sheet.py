"""Photos with a hand at the face: the edit with and without the hand held still.

    python benchmarks/hands_sheet.py [-o docs/hands_sheet.jpg] [--survey]

Contact sheet: per photo (largest face edited) and edit, the input, the current default without
the hand held (`Canvas(still=other faces only)`) and the new default (`pipeline.hands`), cropped
around the face and the hand at the photo's resolution (a view wider than `PANEL` pixels is
shrunk, its label says by how much). Prints one JSON record with the figures of docs/HANDS.md: per
photo and edit the PSNR of the hand's own pixels (the hull of its 21 points) against the photo
(before, now), and of the face outside the hand (its mesh hull minus where the weight is below 1)
now against before; and the time `covering_hands` took on each photo.

--survey: prepare every photo of --data instead and list those where a hand at the face was found
(with the time the search took); nothing else is rendered.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.other_faces_sheet import masked_psnr  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.hands import covering_hands  # noqa: E402
from pipeline.other_faces import still_weight  # noqa: E402
from pipeline.photo import Canvas  # noqa: E402

PHOTOS = ("YadiraF__DECA__alfw1.png", "dchen236__FairFace__race_Asian.jpg")
EDITS = {
    "yaw +30": {"yaw": 30.0},
    "yaw -30": {"yaw": -30.0},
    "pitch -15": {"pitch": -15.0},
    "roll 15": {"roll": 15.0},
    "open_mouth 1": {"open_mouth": 1.0},
}
PANEL = 400  # widest view shown at the photo's resolution


def hull_pixels(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the convex hull of (N, 2) photo-pixel points."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(np.round(points * 16).astype(np.int32))], 1, shift=4)
    return mask > 0


def _db(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    value = masked_psnr(a, b, mask)
    return None if value is None else round(value, 2)


def _view(state, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    face = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2].astype(np.float64))
    points = np.vstack([face, *state.hands])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.1 * float((face.max(axis=0) - face.min(axis=0)).max())
    x0, y0 = np.maximum(low - pad, 0).astype(int)
    x1, y1 = np.minimum(high + pad, [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _panel(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    part = image[y0:y1, x0:x1]
    if part.shape[1] <= PANEL:
        return part.copy()
    height = round(part.shape[0] * PANEL / part.shape[1])
    return cv2.resize(part, (PANEL, height), interpolation=cv2.INTER_AREA)


def survey(data: Path, registry: EngineRegistry) -> None:
    found = {}
    for path in sorted(data.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        try:
            state = prepare_photo(path, registry=registry)
        except Exception as error:  # noqa: BLE001 (a survey lists what it could not read)
            found[path.name] = f"not prepared: {type(error).__name__}"
            continue
        t0 = time.perf_counter()
        hands = covering_hands(state.analysis)
        seconds = time.perf_counter() - t0
        if hands or state.hands:
            found[path.name] = {"hands": len(hands), "search_s": round(seconds, 3)}
        print(f"{path.name}: {len(hands)} hand(s), {seconds:.3f} s", flush=True)  # noqa: T201
    print(json.dumps(found, indent=1))  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "hands_sheet.jpg")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=60)
    parser.add_argument("--survey", action="store_true", help="list the photos with a hand at the face")
    parser.add_argument("--tiles", type=Path, help="also write every panel as PNG into this folder")
    args = parser.parse_args()
    registry = EngineRegistry()
    if args.survey:
        survey(args.data, registry)
        return
    rows, record = [], {}
    for name in PHOTOS:
        state = prepare_photo(args.data / name, registry=registry)
        t0 = time.perf_counter()
        covering_hands(state.analysis)
        search = time.perf_counter() - t0
        shape = state.image.shape[:2]
        view = _view(state, shape)
        before_canvas = Canvas(
            state.image, state.crop_transform, paint_blur=state.paint_blur, still=still_weight(state.analysis)
        )
        hand = np.zeros(shape, bool)
        for points in state.hands:
            hand |= hull_pixels(points, shape)
        face = hull_pixels(
            state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2].astype(np.float64)), shape
        )
        weight = state.still_weight()
        full = np.ones(shape, np.float32)
        if weight is not None:
            full = cv2.warpAffine(
                weight,
                state.crop_transform.matrix[:2],
                (shape[1], shape[0]),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderValue=1.0,
            )
        outside = face & (full >= 1.0)
        record[name] = {
            "hands": len(state.hands),
            "search_s": round(search, 3),
            "hand_px": int(hand.sum()),
            "face_outside_px": int(outside.sum()),
        }
        for label, values in EDITS.items():
            request = EditRequest(values)
            before = edit(state, request, registry=registry, canvas=before_canvas).full_image
            now = edit(state, request, registry=registry).full_image
            record[name][label] = {
                "hand_before_db": _db(before, state.image, hand),
                "hand_now_db": _db(now, state.image, hand),
                "face_outside_now_vs_before_db": _db(now, before, outside),
            }
            tiles = [_panel(image, view) for image in (state.image, before, now)]
            if args.tiles:
                args.tiles.mkdir(parents=True, exist_ok=True)
                stem = f"{Path(name).stem}_{label.replace(' ', '')}"
                strip = cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(args.tiles / f"{stem}.png"), strip)
            row = np.concatenate(tiles, axis=1)
            shrink = (view[2] - view[0]) / tiles[0].shape[1]
            scale = "100 %" if shrink == 1 else f"1/{shrink:.1f}"
            cv2.putText(
                row,
                f"{name[:28]} {label} ({scale}): input | before | now",
                (8, 20),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                (255, 255, 0),
                1,
            )
            rows.append(row)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    write_sheet(rows, args.out, args.quality)
    print(json.dumps(record, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
