"""The upper lip line of a smile (docs/SMILE_LIPLINE.md): does the smile raise the upper lip
monotonically from its middle to the corners, or does the middle dip / the line kink into a "W"?

    OMP_NUM_THREADS=1 python benchmarks/smile_lipline_measure.py [--images DIR] [--smile 1]

On each photo: the target mesh's upper outer and inner lip vertices (corner to corner) minus the
source mesh's, y up, in eye-corner distances `e`. The lip line's "W" is the sum of (a) the middle's
dip below zero (the lip's middle moving down while the corners rise) and (b) every step from the
middle outwards that goes down instead of up (a kink), over both rings and both halves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.smile_frown_measure import CLEAN, EYE_CORNERS, FAULT  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

#: The 478-point mesh's upper lip, corner (61) to corner (291): outer edge and inner (the lip line).
UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
UPPER_INNER = (61, 78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 291)
W_PHOTOS = FAULT[1:] + ("KwaiVGI__LivePortrait__s2.jpg", "serengil__deepface__img16.jpg")


def w_score(rise: np.ndarray) -> float:
    """The "W" of one ring's (K,) upward motion, corner to corner (K odd, the middle at K // 2)."""
    mid = len(rise) // 2
    dip = max(0.0, -float(rise[mid]))
    halves = (rise[mid:], rise[mid::-1])  # middle outwards, each side
    kink = sum(float(np.maximum(0.0, -np.diff(h)).sum()) for h in halves)
    return dip + kink


def lipline(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(W score summed over both rings, outer rise, inner rise) from (N, 2+) meshes in pixels, y down."""
    e = float(np.hypot(*(source[EYE_CORNERS[1], :2] - source[EYE_CORNERS[0], :2])))
    rises = [(source[list(r), 1] - target[list(r), 1]) / e for r in (UPPER_OUTER, UPPER_INNER)]
    return sum(w_score(r) for r in rises), rises[0], rises[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--smile", type=float, nargs="+", default=[0.5, 1.0])
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    names = list(dict.fromkeys(W_PHOTOS + FAULT + CLEAN))
    for name in names:
        state = prepare_photo(args.images / name, registry=registry)
        engine = registry.geometric(state.backend)
        prepared = state.engine_state(engine)
        for smile in args.smile:
            target = target_coefficients(
                state, EditRequest(values={"smile": smile}, engine="preview"), registry=registry
            )
            points = engine.renderer.target_points(prepared, target)
            score, outer, inner = lipline(prepared.points, points)
            print(
                f"{name[-34:]:34s} smile {smile:.1f} W {score:.4f} outer {np.round(outer, 3)} inner {np.round(inner, 3)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
