"""Closing the eyes behind glasses: sheet and the frame's rim (docs/GLASSES.md).

    python benchmarks/glasses_sheet.py [-o docs/glasses_sheet.jpg] [--images DIR]

Per edit (clapton, close_eyes 1 and wink_left 1): the eyes at 100 % and at 300 %, input | glasses
off (the default) | glasses on; and per eye how far (photo px) the frame's upper rim moved. Round 2
adds img24 (thick black frames) at 100 %: close_eyes 1, wink_left 1, gaze_x +-1, yaw 20, and dlib
2008_002506 (a small photo with glasses) at 300 %: close_eyes 1, wink_left 1. Round 3 adds the
brow edits (raise_brows +-1, frown 1) on all three, the brows' band included, with how far each
brow moved (`brow_moves`, off vs on) and the frame mask's share of its box. Round 3's own code
(lost, not in the tree) is at commit 1ddadf0; its sheet `docs/glasses_round3_sheet.jpg` was made
there with `-o docs/glasses_round3_sheet.jpg`.
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

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTO = "cmusatyalab__openface__clapton-1.jpg"
EDITS = ({"close_eyes": 1.0}, {"wink_left": 1.0})
#: Further photos with glasses: name, edits, the eyes' region (y0, y1, x0, x1), enlargement.
EXTRA = (
    (
        "serengil__deepface__img24.jpg",
        (*EDITS, {"gaze_x": 1.0}, {"gaze_x": -1.0}, {"yaw": 20.0}),
        (400, 600, 320, 890),
        1,
    ),
    ("davisking__dlib__2008_002506.jpg", EDITS, (60, 170, 320, 450), 3),
)
BROW_EDITS = ({"raise_brows": 1.0}, {"raise_brows": -1.0}, {"frown": 1.0})
#: Round 3: the brow edits per photo: the brows' and eyes' band (y0, y1, x0, x1), enlargement, and
#: per brow its box (x0, x1, y0, y1) above the frame (looked up in the photos).
BROWS = (
    (
        "serengil__deepface__img24.jpg",
        (360, 600, 320, 890),
        1,
        {"left": (400, 580, 395, 440), "right": (650, 830, 375, 428)},
    ),
    (PHOTO, (70, 165, 150, 390), 3, {"left": (165, 240, 80, 105), "right": (270, 375, 78, 103)}),
    (
        "davisking__dlib__2008_002506.jpg",
        (70, 170, 320, 450),
        3,
        {"left": (340, 375, 100, 113), "right": (385, 420, 86, 100)},
    ),
)
#: The eyes' region in the photo (y0, y1, x0, x1), and per eye the rim's columns and the rows
#: its upper edge lies in (looked up in the photo at 500 %).
EYES = (95, 160, 150, 380)
RIMS = {"left": (np.arange(170, 236, 2), (107, 118)), "right": (np.arange(280, 346, 2), (104, 120))}
_LUMA = np.array([0.299, 0.587, 0.114])


def rim_shifts(photo: np.ndarray, out: np.ndarray) -> dict[str, np.ndarray]:
    """Per eye, per rim column: the vertical shift (photo px, 0.1 px steps, at most 6) that best
    matches the photo's luma over its rim's upper edge (the strongest light-to-dark step going down
    in the rim's rows, +-4 rows) in `out`."""
    before, after = (im.astype(np.float64) @ _LUMA for im in (photo, out))
    result = {}
    for eye, (xs, (lo, hi)) in RIMS.items():
        step = before[lo - 1 : hi - 1] - before[lo + 1 : hi + 1]
        shifts = []
        for x, row in zip(xs, lo + np.argmax(step[:, xs], axis=0), strict=True):
            ys = np.arange(row - 4, row + 5)
            ref = before[ys, x]
            tries = np.arange(-6.0, 6.01, 0.1)
            costs = [
                np.sum((np.interp(ys + s, np.arange(len(after)), after[:, x]) - ref) ** 2) for s in tries
            ]
            shifts.append(tries[int(np.argmin(costs))])
        result[eye] = np.array(shifts)
    return result


def brow_moves(
    photo: np.ndarray, out: np.ndarray, boxes: dict[str, tuple[int, int, int, int]]
) -> dict[str, float]:
    """Per brow, its vertical motion photo -> `out` (photo px, up negative): the median Farneback
    flow over its box (x0, x1, y0, y1) at the pixels with texture (luma gradient in the top half)."""
    before, after = (cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in (photo, out))
    flow = cv2.calcOpticalFlowFarneback(before, after, None, 0.5, 4, 15, 5, 7, 1.5, 0)
    grad = np.hypot(cv2.Sobel(before, cv2.CV_32F, 1, 0), cv2.Sobel(before, cv2.CV_32F, 0, 1))
    result = {}
    for brow, (x0, x1, y0, y1) in boxes.items():
        g = grad[y0:y1, x0:x1]
        result[brow] = float(np.median(flow[y0:y1, x0:x1, 1][g >= np.median(g)]))
    return result


def mask_share(photo_path: Path) -> float | None:
    """The frame mask's share of its box (the soft mask's mean), glasses on; None: no frame."""
    registry = EngineRegistry()
    state = prepare_photo(photo_path, registry=registry)
    renderer = registry.geometric(state.backend).renderer
    default = renderer.settings
    renderer.settings = dataclasses.replace(default, glasses=True)
    glasses = state.engine_state(registry.geometric(state.backend)).glasses
    renderer.settings = default
    return None if glasses is None else float(glasses[1][1].mean())


def renders(
    photo_path: Path, edits: tuple[dict[str, float], ...] = EDITS
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The photo and, per edit, (glasses off, glasses on) full-resolution renders."""
    registry = EngineRegistry()
    state = prepare_photo(photo_path, registry=registry)
    renderer = registry.geometric(state.backend).renderer
    default = renderer.settings
    out = {}
    for glasses in (False, True):
        renderer.settings = dataclasses.replace(default, glasses=glasses)
        state = prepare_photo(photo_path, registry=registry)
        for values in edits:
            image = edit(state, EditRequest(values, engine="preview"), registry=registry).full_image
            name = " ".join(f"{k} {v:+g}" for k, v in values.items())
            out.setdefault(name, []).append(np.asarray(image))
    renderer.settings = default
    return np.asarray(state.image), {k: (v[0], v[1]) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default=str(REPO / "docs" / "glasses_sheet.jpg"))
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    parser.add_argument("--brows-only", action="store_true", help="only round 3's brow rows and figures")
    args = parser.parse_args()
    rows: list[np.ndarray] = []
    for name, (y0, y1, x0, x1), zoom, boxes in BROWS:
        photo, outs = renders(Path(args.images) / name, BROW_EDITS)
        print(f"{name}: frame mask share of its box {mask_share(Path(args.images) / name)}")
        for edit_name, (off, on) in outs.items():
            row = np.concatenate([im[y0:y1, x0:x1] for im in (photo, off, on)], axis=1)
            rows.append(cv2.resize(row, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LANCZOS4))
            moved = [brow_moves(photo, im, boxes) for im in (off, on)]
            for brow in boxes:
                a, b = moved[0][brow], moved[1][brow]
                ratio = b / a if abs(a) >= 1.0 else float("nan")
                print(f"  {edit_name:14s} {brow:5s} brow off {a:+.2f} px, on {b:+.2f} px, on/off {ratio:.2f}")
    if args.brows_only:
        _write(rows, args.out)
        return
    photo, outs = renders(Path(args.images) / PHOTO)
    y0, y1, x0, x1 = EYES
    for name, (off, on) in outs.items():
        row = np.concatenate([im[y0:y1, x0:x1] for im in (photo, off, on)], axis=1)
        rows.append(np.pad(row, ((0, 0), (0, 2 * row.shape[1]), (0, 0)), constant_values=255))
        rows.append(cv2.resize(row, None, fx=3, fy=3, interpolation=cv2.INTER_LANCZOS4))
        for label, im in (("glasses off", off), ("glasses on", on)):
            for eye, s in rim_shifts(photo, im).items():
                print(
                    f"{name:10s} {label:11s} {eye:5s} rim shift max {np.abs(s).max():.1f} px, mean {np.abs(s).mean():.2f}"
                )
    for name, edits, (y0, y1, x0, x1), zoom in EXTRA:
        photo, outs = renders(Path(args.images) / name, edits)
        for off, on in outs.values():
            row = np.concatenate([im[y0:y1, x0:x1] for im in (photo, off, on)], axis=1)
            rows.append(cv2.resize(row, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LANCZOS4))
    _write(rows, args.out)


def _write(rows: list[np.ndarray], out: str) -> None:
    """The rows stacked, padded white to the widest, as a JPEG (quality 85)."""
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    cv2.imwrite(
        out, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    print("wrote", out)


if __name__ == "__main__":
    main()
