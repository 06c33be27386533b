"""Closing the eyes behind glasses: sheet and the frame's rim (docs/GLASSES.md).

    python benchmarks/glasses_sheet.py [-o docs/glasses_sheet.jpg] [--images DIR]

Per edit (clapton, close_eyes 1 and wink_left 1): the eyes at 100 % and at 300 %, input | glasses
off (the default) | glasses on; and per eye how far (photo px) the frame's upper rim moved. Round 2
adds img24 (thick black frames) at 100 %: close_eyes 1, wink_left 1, gaze_x +-1, yaw 20, and dlib
2008_002506 (a small photo with glasses) at 300 %: close_eyes 1, wink_left 1.
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
    args = parser.parse_args()
    photo, outs = renders(Path(args.images) / PHOTO)
    y0, y1, x0, x1 = EYES
    rows = []
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
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    cv2.imwrite(
        args.out,
        cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, 85],
    )
    print("wrote", args.out)


if __name__ == "__main__":
    main()
