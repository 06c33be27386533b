"""Known-answer check of the photo's sharpness estimate under grain (docs/PAINT_SOFTNESS.md, round 2).

Clean sharp photos are blurred by a known Gaussian and given Gaussian grain; `sharpest_blur` should
read sqrt(s^2 + b0^2) (b0: its reading on the original). Prints main's (setting off) and the
grain-robust reading (setting on) side by side, and the clean photos' `photo_blur` both ways.

    OMP_NUM_THREADS=1 python benchmarks/grain_softness_measure.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from reconstruction import softness  # noqa: E402

IMAGES = Path("/work/shared/data/images")
KNOWN = ("serengil__deepface__img3.jpg", "YadiraF__DECA__teaser_1.jpg", "KwaiVGI__LivePortrait__s2.jpg")
CLEAN = (*KNOWN[:1], "fudan-generative-vision__hallo__7.jpg", *KNOWN[1:])
GRAINY = (
    "TencentARC__GFPGAN__10045.png",
    "ageitgey__face_recognition__obama-240p.jpg",
    "davisking__dlib__John_Salley_000179_02159509.jpg",
    "deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg",
    "davisking__dlib__2008_002506.jpg",
)


def degraded(image: np.ndarray, sigma: float, grain: float, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 `image` blurred by `sigma` px, Gaussian grain of `grain` levels per channel."""
    out = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma) if sigma > 0 else image.astype(np.float32)
    if grain > 0:
        out = out + np.random.default_rng(seed).normal(0.0, grain, out.shape).astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def reading(image: np.ndarray, landmarks: np.ndarray, robust: bool, blur: bool = False) -> float:
    """`sharpest_blur` (or `photo_blur`) with the grain-robust setting on or off (main has none)."""
    old = getattr(softness, "GRAIN_ROBUST", None)
    if old is not None:
        softness.GRAIN_ROBUST = robust
    try:
        return (softness.photo_blur if blur else softness.sharpest_blur)(image, landmarks)
    finally:
        if old is not None:
            softness.GRAIN_ROBUST = old


def _ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grain", type=float, nargs="+", default=[4.0, 8.0])
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    states = {name: prepare_photo(IMAGES / name, registry=registry) for name in (*CLEAN, *GRAINY)}
    marks = {n: s.crop_transform.inverse_points(s.analysis.crop_landmarks[:, :2]) for n, s in states.items()}
    print("photo s grain | expected | main | robust")
    for name in KNOWN:
        image, lm = states[name].image, marks[name]
        b0 = reading(image, lm, False)
        for s in (1.0, 2.0, 3.0):
            expected = float(np.hypot(s, b0))
            for grain in (0.0, *args.grain):
                test = degraded(image, s, grain)
                old, new = reading(test, lm, False), reading(test, lm, True)
                print(f"{name[:28]:28s} {s:.0f} {grain:.0f} | {expected:.2f} | {old:.2f} | {new:.2f}")
    print("photo | sharpest main, robust | photo_blur main, robust | ms main, robust")
    for name in (*CLEAN, *GRAINY):
        image, lm = states[name].image, marks[name]
        cells = [reading(image, lm, r) for r in (False, True)] + [
            reading(image, lm, r, True) for r in (False, True)
        ]
        ms = [_ms(lambda r=r, i=image, m=lm: reading(i, m, r)) for r in (False, True)]
        print(
            f"{name[:34]:34s} | {cells[0]:.2f} {cells[1]:.2f} | {cells[2]:.2f} {cells[3]:.2f} | {ms[0]:.1f} {ms[1]:.1f}"
        )


if __name__ == "__main__":
    main()
