"""Speed of the geometric preview (issue 4): one 256 x 256 frame per slider move, and paste-back
of the edited crop into a 12-megapixel photo (crop.py's paste_back, measured here only).

    python benchmarks/bench_preview.py [--frames 200] [--out results.json]

Goals: preview < 25 ms per frame, paste-back < 150 ms, on our 2-core CPU. Uses the astronaut
portrait bundled with scikit-image (no data files needed). Prints one JSON record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "min_ms": round(ordered[0], 2),
    }


def main() -> None:
    from skimage import data

    from pipeline.geometric import GeometricRenderer
    from reconstruction.controls import control_set_for
    from reconstruction.crop import crop_face, crop_transform_for_face, paste_back
    from reconstruction.detection import FaceDetector
    from reconstruction.face_model import load_default_face_model
    from reconstruction.fitting import fit_landmarks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="slider positions to render")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()

    photo = data.astronaut()
    with FaceDetector() as detector:
        face = detector.detect_one(photo).face
        crop = crop_face(photo, crop_transform_for_face(face, photo.shape[:2]))
        landmarks = detector.detect_one(crop).face.landmarks
    model = load_default_face_model()
    coeffs = fit_landmarks(model, landmarks, (crop.shape[1], crop.shape[0]))
    controls = control_set_for(model)
    renderer = GeometricRenderer(model)

    prepare_ms = _timed(lambda: renderer.prepare(crop, coeffs), 10)
    state = renderer.prepare(crop, coeffs)
    # A slider drag: each frame a different mix of head and expression controls.
    t = np.linspace(0.0, 1.0, args.frames)
    targets = [
        controls.apply(
            coeffs,
            {
                "yaw": 25 * np.sin(2 * np.pi * v),
                "pitch": 10 * np.sin(4 * np.pi * v),
                "smile": float(np.sin(2 * np.pi * v)),
                "open_mouth": float(0.5 + 0.5 * np.sin(6 * np.pi * v)),
                "close_eyes": float(max(0.0, np.sin(8 * np.pi * v))),
                "raise_brows": float(0.5 * np.cos(2 * np.pi * v)),
            },
        )
        for v in t
    ]
    for target in targets[:10]:
        renderer.render(state, target)  # warm-up
    frames = iter(targets)
    render_ms = _timed(lambda: renderer.render(state, next(frames)), len(targets))
    flows = iter(targets)
    flow_ms = _timed(lambda: renderer.render_flow(state, next(flows)), len(targets))

    # Paste-back into a 12-megapixel photo (4000 x 3000) with the face as large as in the astronaut.
    big = cv2.resize(photo, (3000, 3000), interpolation=cv2.INTER_CUBIC)
    canvas = np.zeros((3000, 4000, 3), np.uint8)
    canvas[:, 500:3500] = big
    scale = 3000 / photo.shape[0]
    big_landmarks = face.landmarks.astype(np.float64).copy()
    big_landmarks[:, :2] = (big_landmarks[:, :2] + 0.5) * scale - 0.5 + np.array([500.0, 0.0])
    transform = crop_transform_for_face(big_landmarks, canvas.shape[:2])
    edited = renderer.render(state, targets[len(targets) // 4])
    paste_ms = _timed(lambda: paste_back(canvas, edited, transform), 10)

    record = {
        "crop": list(crop.shape[:2]),
        "frames": len(targets),
        "prepare": _summary(prepare_ms),
        "render": _summary(render_ms),
        "render_flow": _summary(flow_ms),
        "paste_back_12mp": _summary(paste_ms),
        "paste_box_px": round(transform.box[2] - transform.box[0]),
        "goals_ms": {"render": 25, "paste_back_12mp": 150},
        "threads": cv2.getNumThreads(),
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
