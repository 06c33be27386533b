"""Does a mouth the target closes close in the picture? Target inner-lip gap -> re-detected opening.

    python benchmarks/bench_mouth_closing.py [--save DIR]

For real photos and video frames with an open mouth (teeth showing) and a few with closed lips, the
photo's expression is moved along the `open_mouth` direction (the jaw's, as the lip map's "aa" and
a driver closing the mouth move it) so that the target's inner-lip gap (the mesh's, at the middle
of the mouth, over the mouth's width: the units of `training.evaluation.lipsync.mouth_ratio`) goes
from the photo's own down to 0 and slightly below. Each target is rendered by the geometric
renderer at the photo's resolution and the opening is re-detected with MediaPipe the way the
lip-sync evaluation does (`FaceTracker`, `mouth_ratio`; a fresh detection per picture). Prints one
line per target and a JSON record; `--save DIR` also writes 100 % mouth crops (PNG) and the
record there (for `benchmarks/mouth_closing_sheet.py`). `BENCH_TREE` (env) times another checkout.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

#: The checkout to measure: this one, or the one `BENCH_TREE` names.
REPO = Path(os.environ.get("BENCH_TREE") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(REPO))

from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.photo import Canvas, place_frame  # noqa: E402
from reconstruction.controls import control_set_for  # noqa: E402
from reconstruction.tracking import FaceTracker  # noqa: E402
from training.evaluation.lipsync import mouth_ratio  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: (label, file under data/, frame index for videos, whether the photo's mouth is open).
PHOTOS = (
    ("aoc_f0", "videos/OpenTalker__SadTalker__WDA_AlexandriaOcasioCortez_000.mp4", 0, True),
    ("deepface_img1", "images/serengil__deepface__img1.jpg", None, True),
    ("fearful", "images/justadudewhohacks__face-api.js__fearful.jpg", None, True),
    ("d3dfr_015310", "images/sicxu__Deep3DFaceRecon_pytorch__015310.jpg", None, True),
    ("carell", "images/cmusatyalab__openface__carell.jpg", None, False),
    ("liveportrait_s2", "images/KwaiVGI__LivePortrait__s2.jpg", None, False),
)
#: Targets for an open photo, as fractions of its own gap (below 0: the lips pressed together).
FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.1, 0.0, -0.1)
#: Targets for a closed photo: its own lips, and slightly pressed.
CLOSED_GAPS = (None, 0.0, -0.02)


def load(path: Path, frame: int | None) -> np.ndarray:
    if frame is None:
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
    ok, image = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"could not read frame {frame} of {path.name}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def target_gap(points: np.ndarray, layout) -> float:
    """The mesh's inner-lip gap at the middle of the mouth over its width (signed: < 0 pressed)."""
    upper, lower = points[layout.mouth[0], :2], points[layout.mouth[1], :2]
    middle = np.array([0.5 * (upper[0, 0] + upper[-1, 0])])
    gap = float(curve_y(lower, middle)[0] - curve_y(upper, middle)[0])
    return gap / float(np.hypot(*(upper[-1] - upper[0])))


def mouth_box(points: np.ndarray, layout, transform, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box around the photo's mouth in photo pixels (a mouth width and a half wide)."""
    lips = np.concatenate([points[layout.mouth[0], :2], points[layout.mouth[1], :2]])
    lips = transform.inverse_points(lips)
    centre, width = lips.mean(axis=0), float(np.ptp(lips[:, 0]))
    half_w, half_h = 0.8 * width, 0.55 * width
    x0, y0 = max(int(centre[0] - half_w), 0), max(int(centre[1] - half_h), 0)
    return x0, y0, min(int(centre[0] + half_w), shape[1]), min(int(centre[1] + half_h), shape[0])


def _gap_at(renderer, preview, coeffs, direction: np.ndarray, amount: float) -> float:
    """The target's inner-lip gap with `amount` of the `open_mouth` direction added."""
    moved = coeffs.replace(expression=coeffs.expression + amount * direction)
    return target_gap(renderer.target_points(preview, moved), renderer.projector.layout)


def solve(gap_at, gap: float) -> float:
    """The amount of the `open_mouth` direction at which `gap_at` (increasing) reads `gap` (bisection)."""
    lo, hi = -4.0, 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gap_at(mid) < gap else (lo, mid)
    return 0.5 * (lo + hi)


def measure(save: Path | None) -> list[dict]:
    registry = EngineRegistry(fast=False)
    rows = []
    with FaceTracker() as tracker:
        for label, name, frame, opened in PHOTOS:
            path = DATA / name
            if not path.is_file():
                continue
            state = prepare_photo(load(path, frame), registry=registry)
            engine = registry.geometric(state.backend)
            renderer, preview = engine.renderer, state.engine_state(engine)
            layout = renderer.projector.layout
            controls = control_set_for(registry.backend(state.backend).model)
            direction = controls.expression_offset({"open_mouth": 1.0})
            coeffs = state.coefficients

            gap_at = functools.partial(_gap_at, renderer, preview, coeffs, direction)
            own = gap_at(0.0)
            gaps = [f * own for f in FRACTIONS] if opened else [own if g is None else g for g in CLOSED_GAPS]
            canvas = Canvas(state.image, state.crop_transform)
            tracker.reset()
            seen_photo = float(mouth_ratio(tracker.track([state.image]).landmarks[0]))
            for gap in gaps:
                target = coeffs.replace(expression=coeffs.expression + solve(gap_at, gap) * direction)
                image = place_frame(canvas, renderer.render_frame(preview, target))
                tracker.reset()
                seen = float(mouth_ratio(tracker.track([image]).landmarks[0]))
                row = {
                    "photo": label,
                    "open": opened,
                    "own_gap": round(own, 4),
                    "photo_reads": round(seen_photo, 4),
                }
                row |= {"target_gap": round(gap, 4), "reads": round(seen, 4)}
                rows.append(row)
                print(
                    f"{label:16s} target {gap:+.3f} -> re-detected {seen:.3f} (photo {own:+.3f} reads {seen_photo:.3f})"
                )
                if save is not None:
                    x0, y0, x1, y1 = mouth_box(preview.points, layout, state.crop_transform, image.shape[:2])
                    if not (save / f"{label}_input.png").exists():
                        cv2.imwrite(str(save / f"{label}_input.png"), state.image[y0:y1, x0:x1, ::-1])
                    row["crop"] = f"{label}_{gap:+.3f}.png"
                    cv2.imwrite(str(save / row["crop"]), image[y0:y1, x0:x1, ::-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", type=Path, help="folder for 100 %% mouth crops and the record")
    args = parser.parse_args()
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    rows = measure(args.save)
    closed = [r["reads"] for r in rows if r["target_gap"] <= 0.0]
    summary = {"rows": rows, "worst_closed_reads": max(closed) if closed else None}
    if args.save is not None:
        (args.save / "curve.json").write_text(json.dumps(summary, indent=1))
    sys.stdout.write(json.dumps({"worst_closed_reads": summary["worst_closed_reads"]}) + "\n")


if __name__ == "__main__":
    main()
