"""Speed of the project's own renderer (issue 8) against the geometric preview it refines.

    python benchmarks/bench_own_renderer.py [--model weights/files/renderer] [--frames 60] [--threads 2]

Both engines draw the same slider sweep (yaw, smile, open mouth) of the astronaut portrait at
256 x 256, interleaved in one run, so the ratio own / geometric is robust to a noisy machine.
A still edit (one frame) and a clip (batches of 4 frames, `render_sequence`) are timed.
Prints one JSON record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    import numpy as np
    import torch
    from skimage import data

    from pipeline.engines import GeometricEngine, GeometricPriorEngine
    from pirender.generator import PIRenderer
    from reconstruction.controls import control_set_for
    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.detection import FaceDetector
    from reconstruction.face_model import load_default_face_model
    from reconstruction.fitting import fit_landmarks
    from weights.registry import bundled_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=bundled_dir() / "renderer", help="own renderer folder")
    parser.add_argument("--frames", type=int, default=60, help="slider positions to render")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    photo = data.astronaut()
    with FaceDetector() as detector:
        face = detector.detect_one(photo).face
        crop = crop_face(photo, crop_transform_for_face(face, photo.shape[:2]))
        landmarks = detector.detect_one(crop).face.landmarks
    model = load_default_face_model()
    coeffs = fit_landmarks(model, landmarks, (crop.shape[1], crop.shape[0]))
    controls = control_set_for(model)
    t = np.linspace(0.0, 1.0, args.frames)
    targets = [
        controls.apply(coeffs, {"yaw": 20 * np.sin(6 * v), "smile": v, "open_mouth": 0.5 * (1 - v)}) for v in t
    ]

    geometric = GeometricEngine(model, face_model_name=coeffs.face_model)
    own = GeometricPriorEngine(PIRenderer.from_pretrained(args.model), geometric)
    geo_state, own_state = geometric.prepare(crop, coeffs), own.prepare(crop, coeffs)
    for target in targets[:3]:  # warm-up
        geometric.render(geo_state, target)
        own.render(own_state, target)
    geo_ms, own_ms = [], []
    for target in targets:
        geo_ms.append(_ms(lambda target=target: geometric.render(geo_state, target)))
        own_ms.append(_ms(lambda target=target: own.render(own_state, target)))

    from core.coefficients import MotionSequence

    clip = MotionSequence.from_frames(targets)
    geo_clip = _ms(lambda: list(geometric.render_sequence(geo_state, clip))) / len(clip)
    own_clip = _ms(lambda: list(own.render_sequence(own_state, clip, batch_size=4))) / len(clip)
    record = {
        "frames": args.frames,
        "threads": args.threads,
        "still_median_ms": {"geometric": round(statistics.median(geo_ms), 1), "own": round(statistics.median(own_ms), 1)},
        "still_ratio_own_over_geometric": round(statistics.median(own_ms) / statistics.median(geo_ms), 2),
        "clip_ms_per_frame": {"geometric": round(geo_clip, 1), "own": round(own_clip, 1)},
        "clip_fps": {"geometric": round(1000 / geo_clip, 1), "own": round(1000 / own_clip, 1)},
        "parameters_millions": round(sum(p.numel() for p in own.model.parameters()) / 1e6, 3),
    }
    text = json.dumps(record)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
