"""Benchmark of pipeline stage 1 (reconstruction): photo and per-frame video cost of the default backend.

    python benchmarks/bench_reconstruction.py [--repeats 10] [--video PATH] [--seconds 4]

Photo: detection + renderer crop + default-model fit on a 1024-px photo (skimage's astronaut,
upscaled), per stage and end to end (`DefaultBackend.analyze_photo`). Video: `analyze_video` on a
real clip from ../shared/data/videos (or the astronaut sliding across 1024-px frames when the
data is absent), split into tracking, cropping and fitting. Goal: under 60 ms per video frame.

numpy's OpenBLAS threads are printed: on a busy 2-core machine multithreaded BLAS makes the
small matrix products of the fit ~100x slower (run with OPENBLAS_NUM_THREADS=1 to compare).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_CLIPS = (
    "OpenTalker__SadTalker__WDA_AlexandriaOcasioCortez_000.mp4",  # 512x512, 25 fps
    "ajay-sainy__Wav2Lip-GFPGAN__kim_7s_raw.mp4",  # 1920x1080, 30 fps
)


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def bench_photo(backend, repeats: int) -> list[tuple[str, str]]:
    from skimage import data

    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.fitting import fit_landmarks

    photo = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    backend.analyze_photo(photo)  # warm-up (graph building, caches)
    detection = backend.detector.detect_one(photo)
    transform = crop_transform_for_face(detection.face, photo.shape[:2])
    landmarks = transform.apply_points(detection.face.landmarks)
    rows = [
        ("photo 1024 px: detection", _median_ms(lambda: backend.detector.detect_one(photo), repeats)),
        (
            "photo 1024 px: crop",
            _median_ms(
                lambda: crop_face(photo, crop_transform_for_face(detection.face, (1024, 1024))), repeats
            ),
        ),
        (
            "photo 1024 px: default fit",
            _median_ms(lambda: fit_landmarks(backend.model, landmarks, (256, 256)), repeats),
        ),
        ("photo 1024 px: analyze_photo (all)", _median_ms(lambda: backend.analyze_photo(photo), repeats)),
    ]
    return [(name, f"{ms:8.1f} ms") for name, ms in rows]


def bench_video(backend, source, label: str, seconds: float) -> list[tuple[str, str]]:
    marks: list[tuple[str, float]] = []

    def progress(_fraction: float, message: str) -> None:
        phase = message.split(" (")[0]
        if not marks or marks[-1][0] != phase:
            marks.append((phase, time.perf_counter()))

    start = time.perf_counter()
    analysis = backend.analyze_video(
        source, fps=None if isinstance(source, Path) else 25, max_seconds=seconds, progress=progress
    )
    total = time.perf_counter() - start
    n = analysis.num_frames
    phases: dict[str, float] = {}
    stamps = marks + [("end", start + total)]
    phases["startup (probe, first detection)"] = stamps[0][1] - start
    for (name, t0), (_, t1) in zip(stamps[:-1], stamps[1:], strict=True):
        phases[name] = phases.get(name, 0.0) + (t1 - t0)
    rows = [(f"video {label}: {n} frames", f"{1000 * total / n:8.1f} ms/frame  ({total:.2f} s)")]
    for name, sec in phases.items():
        if name not in ("done",):
            rows.append((f"  {name}", f"{1000 * sec / n:8.1f} ms/frame"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=4.0, help="video seconds per clip")
    parser.add_argument(
        "--video", type=Path, action="append", help="clip(s) to time (default: two shared clips)"
    )
    args = parser.parse_args(argv)

    from reconstruction.backends import DefaultBackend

    rows: list[tuple[str, str]] = []
    with DefaultBackend() as backend:
        rows += bench_photo(backend, args.repeats)
        videos = args.video or [
            p for p in (REPO.parent / "shared" / "data" / "videos" / c for c in DEFAULT_CLIPS) if p.is_file()
        ]
        if videos:
            for path in videos:
                size = "x".join(map(str, _frame_size(path)))
                rows += bench_video(backend, path, f"{path.name[:28]} {size}", args.seconds)
        else:
            from skimage import data

            big = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
            frames = np.stack([np.roll(big, 4 * i, axis=1) for i in range(int(args.seconds * 25))])
            rows += bench_video(backend, frames, "synthetic 1024x1024", args.seconds)

    width = max(len(name) for name, _ in rows)
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'step':{width}s}  time")
    print("-" * (width + 24))
    for name, value in rows:
        print(f"{name:{width}s}  {value}")
    return 0


def _frame_size(path: Path) -> tuple[int, int]:
    from reconstruction.video import VideoReader

    return VideoReader(path, max_seconds=1.0).info.size


if __name__ == "__main__":
    sys.exit(main())
