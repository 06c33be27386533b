"""Measures of the two lid faults of docs/LID_FAULTS.md, per photo and edit, at the crop.

    OMP_NUM_THREADS=1 python benchmarks/lid_faults_measure.py [--photos NAME ...] [--flags FLAG ...]

- tears (printed per edit): over the skin above each eye that closes (closure > 0.3; its corners
  +- 0.3 eye widths, from 0.8 eye widths above the photo's upper lid line to 0.15 above it), the
  sum of the crop's luma steps between neighbouring crop pixels where the backward flow steps by
  more than `_TEAR` photo pixels per crop pixel, per eye width; the largest over those eyes. A lid
  band held in the eye's own frame under a brow the face's flow lowers (a wink) tears there, and
  the tear shows where it crosses the brow (docs/LID_FAULTS.md).
- specks (not discriminating, see the doc): the share of the photo's lid texture tile
  (`lid_shape.lid_detail`, 0 where none) whose luma departs from 1 by more than 5 robust sigmas
  (1.4826 MAD): hairs and highlights copied as dark and light blotches onto a painted lid.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.images import LUMA  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

__all__ = ["flow_seam", "tile_specks", "FAULTS", "CLEAN", "EDITS"]

FAULTS = (
    "RenYurui__PIRender__id11248-QdBQTHX55yI-021933-022196_00274.jpg",
    "YadiraF__DECA__IMG_0392_inputs.jpg",
)
CLEAN = (
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "dchen236__FairFace__race_Black.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",
)
#: A flow step (photo pixels per crop pixel) above this is a tear.
_TEAR = 1.0
EDITS = (("wink_left", 1.0), ("wink_right", 1.0), ("wink_left", 0.5), ("close_eyes", 1.0))


def flow_seam(flow: np.ndarray, crop: np.ndarray, upper: np.ndarray) -> float:
    """The tears' contrast over the skin above the eye whose photo upper lid is `upper` (K, 2) crop
    pixels: the sum of the (H, W, 3) uint8 `crop`'s luma steps between neighbouring pixels where
    the (H, W, 2) backward flow steps by more than `_TEAR` photo pixels, per eye width (levels)."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    h, w = flow.shape[:2]
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    x0, x1 = max(int(left - 0.3 * width), 1), min(int(right + 0.3 * width) + 1, w)
    y0 = max(int(upper[:, 1].min() - 0.8 * width), 1)
    xs = np.arange(x0, x1, dtype=np.float64)
    lid = np.interp(xs, *(upper[np.argsort(upper[:, 0])].T))  # flat beyond the corners
    y1 = min(int(lid.max()), h)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    region = ys < lid[None, :] - 0.15 * width
    f = flow[y0 - 1 : y1, x0 - 1 : x1].astype(np.float64)
    luma = crop[y0 - 1 : y1, x0 - 1 : x1].astype(np.float64) @ LUMA
    total = 0.0
    for a, b in (
        ((slice(1, None), slice(1, None)), (slice(None, -1), slice(1, None))),
        ((slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1))),
    ):
        tear = np.abs(f[a] - f[b]).max(-1) > _TEAR
        total += float(np.abs(luma[a] - luma[b])[tear & region].sum())
    return total / width


def tile_specks(tile: np.ndarray | None) -> float:
    """Share of the texture tile's pixels more than 5 robust sigmas from its median luma."""
    if tile is None:
        return 0.0
    luma = tile @ LUMA
    mad = 1.4826 * float(np.median(np.abs(luma - np.median(luma))))
    return float(np.mean(np.abs(luma - np.median(luma)) > 5.0 * max(mad, 1e-6)))


def measure(path: Path, registry: EngineRegistry, flags: list[str], on: bool) -> list[tuple[str, float]]:
    """[(edit, largest seam over the eyes that close)] and ("specks", share) for one photo, with
    the `flags` off or on (the photo prepared anew: a flag may change what is made per photo)."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, **dict.fromkeys(flags, on))
    try:
        prepared = engine.prepare_in_photo(
            state.crop, state.coefficients, state.crop_transform, hand_at_face=bool(state.hands)
        )
        rows = []
        for name, value in EDITS:
            target = target_coefficients(
                state, EditRequest({name: value}, engine="preview"), registry=registry
            )
            frame = renderer.render_frame(prepared, target)
            seams = [
                flow_seam(frame.flow, frame.crop, prepared.points[u, :2])
                for k, (u, _) in enumerate(renderer.projector.layout.eyes)
                if _closes(prepared, renderer, target, k)
            ]
            rows.append((f"{name}={value:g}", max(seams, default=0.0)))
        tile = None if prepared.lid_detail is None else prepared.lid_detail.tile
        rows.append(("specks", tile_specks(tile)))
        return rows
    finally:
        renderer.settings = kept


def _closes(prepared, renderer, target, k: int) -> bool:  # noqa: ANN001
    """Whether eye k's lids move down by a closure above 0.3 in the target."""
    from pipeline.eyes import _closing  # noqa: PLC0415

    u, lo = renderer.projector.layout.eyes[k]
    size = prepared.source.shape[:2]
    points = renderer.projector.project(target, target.identity, size)
    lids = (prepared.points[u, :2], prepared.points[lo, :2]), (points[u, :2], points[lo, :2])
    return _closing(*lids, prepared.wide[k])[3] > 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", default=list(FAULTS + CLEAN))
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--flags", nargs="*", default=[], help="PreviewSettings flags: measured off and on")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    for name in args.photos:
        for on in (False, True) if args.flags else (None,):
            rows = measure(args.images / name, registry, args.flags, bool(on))
            tag = "" if on is None else f" {'on ' if on else 'off'}"
            print(f"{name[:44]:44s}{tag} " + " ".join(f"{k} {v:.3f}" for k, v in rows), flush=True)


if __name__ == "__main__":
    main()
