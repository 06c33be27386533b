"""Measures of docs/WHITE_LIDS.md (a shut eye that shows a pale bulge under its lash line, like an
eyeball rolled up): `open` reads that fault on main; `ring` and `band` (a shut lid paler than the
skin around it) do not (figures and why in the doc), kept to reproduce them and the survey.

    OMP_NUM_THREADS=1 python benchmarks/white_lids_measure.py [--photos NAME ...] [--flags FLAG ...] \
        [--edits close_eyes=1 ...] [--review DIR]

Per eye an edit shuts (closure > 0.3), on the output at the photo's resolution, printed
`open,ring,band`:
- `open`: how open the shut eye still looks to a face landmark network: MediaPipe face mesh's lid
  gap (upper and lower lid middle points over the corners' distance) on the output over the same
  on the input. A shut eye reads about 0.05-0.35 of its open gap; a pale oval under a high lash
  arc is read as an eye still open (docs/WHITE_LIDS.md);
- `ring`: the lid (output pixels in the inner 60 % of the eye's columns, from 0.1 eye widths above
  the photo's fitted upper lid down to its fitted lower lid, less pixels darker than 0.6 of the
  reference: lashes, a liner), its 75th percentile of luma, over the median luma of the input's
  skin ring 0.12-0.4 eye widths from the photo's opening (within the ring's 20th-95th percentiles);
- `band`: the lid from the fitted upper lid down, over the median luma of the input's upper lid skin
  0.05-0.25 eye widths above the fitted upper lid, same columns.
--review DIR writes each photo's eyes (input, then each edit, stacked; enlarged) as a PNG there
(the survey of docs/WHITE_LIDS.md).
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

from benchmarks.lid_faults_measure import _closes  # noqa: E402
from core.images import LUMA  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from reconstruction.detection import FaceDetector  # noqa: E402

__all__ = ["lid_gaps", "pale_lid", "photo_lids", "eyes_box", "FAULTS", "CLEAN", "SQUINTS", "EDITS"]

#: The fault photo (its image-left eye; docs/WHITE_LIDS.md).
FAULTS = ("justadudewhohacks__face-api.js__angry.jpg",)
#: Photos whose shut eyes look shut on main and `open` reads so (at most 0.35 on both eyes).
CLEAN = (
    "serengil__deepface__img3.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "justadudewhohacks__face-api.js__happy.jpg",
    "YadiraF__DECA__IMG_0392_inputs.jpg",
    "dchen236__FairFace__race_Asian.jpg",
    "yzhou359__MakeItTalk__morgan.jpg",
)
#: Squints `eyes._close_squint` shuts from below, like the fault photo's eyes.
SQUINTS = (
    "deepinsight__insightface__happy.png",
    "YadiraF__DECA__teaser_2.png",
    "serengil__deepface__img39.jpg",
)
EDITS = (("close_eyes", 1.0), ("close_eyes", 0.6), ("wink_left", 1.0), ("wink_right", 1.0))
#: MediaPipe face mesh points per eye, image-left first: upper lid, lower lid (middles), two corners.
_MESH_EYES = ((159, 145, 33, 133), (386, 374, 362, 263))
#: The ring around the opening, in eye widths, and its luma percentiles kept.
_RING = (0.12, 0.4)
_KEEP = (20.0, 95.0)
#: The photo's upper lid skin: this band above its fitted upper lid line, in eye widths.
_BAND = (0.05, 0.25)


def _curve(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1])


def lid_gaps(detector: FaceDetector, image: np.ndarray) -> list[float]:
    """Per eye (image-left first), MediaPipe face mesh's lid gap over its eye width in the (H, W, 3)
    uint8 RGB `image`."""
    mesh = detector.detect_one(image).face.landmarks[:, :2]
    return [
        float(np.linalg.norm(mesh[u] - mesh[lo]) / max(np.linalg.norm(mesh[a] - mesh[b]), 1e-6))
        for u, lo, a, b in _MESH_EYES
    ]


def pale_lid(
    source: np.ndarray, output: np.ndarray, upper: np.ndarray, lower: np.ndarray
) -> tuple[float, float]:
    """(`ring`, `band`) for one shut eye: the shut lid's 75th percentile of luma in the (H, W, 3)
    uint8 `output` over the median luma of the skin ring around the eye in `source`, and over the
    median luma of the photo's upper lid skin band; upper, lower: the photo's fitted lids (K, 2),
    photo pixels. NaN where a region has too few pixels."""
    h, w = source.shape[:2]
    width = float(np.hypot(*(upper[-1] - upper[0])))
    opening = np.zeros((h, w), np.uint8)
    cv2.fillPoly(opening, [np.concatenate([upper, lower[::-1]]).round().astype(np.int32)], 1)
    distance = cv2.distanceTransform(1 - opening, cv2.DIST_L2, 3)
    ring_luma = (
        source[(distance >= _RING[0] * width) & (distance <= _RING[1] * width)].astype(np.float64) @ LUMA
    )
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    xs = np.arange(int(np.ceil(left + 0.2 * width)), int(right - 0.2 * width) + 1)
    xs = xs[(xs >= 0) & (xs < w)]
    ys = np.arange(h, dtype=np.float64)[:, None]
    top, bottom = _curve(upper, xs.astype(np.float64))[None, :], _curve(lower, xs.astype(np.float64))[None, :]
    band = (ys >= top - _BAND[1] * width) & (ys <= top - _BAND[0] * width)
    band_luma = (source[:, xs].astype(np.float64) @ LUMA)[band]
    luma = output[:, xs].astype(np.float64) @ LUMA
    if ring_luma.size < 20 or band_luma.size < 6:
        return float("nan"), float("nan")
    low, high = np.percentile(ring_luma, _KEEP)
    ring = float(np.median(ring_luma[(ring_luma >= low) & (ring_luma <= high)]))
    figures = []
    for lid_top, level in ((top - 0.1 * width, ring), (top, float(np.median(band_luma)))):
        skin = luma[(ys >= lid_top) & (ys <= bottom) & (luma >= 0.6 * level)]
        figures.append(float(np.percentile(skin, 75.0)) / max(level, 1.0) if skin.size >= 6 else float("nan"))
    return figures[0], figures[1]


def measure(
    path: Path,
    registry: EngineRegistry,
    detector: FaceDetector,
    flags: dict[str, bool],
    edits: tuple,
    review: Path | None,
) -> list[tuple[str, list[tuple[float, ...]]]]:
    """[(edit, [(open, ring, band) per eye, NaNs for an eye the edit does not shut])] for one photo."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, **flags)
    try:
        state = prepare_photo(path, registry=registry)  # prepared with the flags
        prepared = engine.prepare_in_photo(
            state.crop, state.coefficients, state.crop_transform, hand_at_face=bool(state.hands)
        )
        lids = photo_lids(state, prepared, renderer)
        rows, shown = [], [state.image]
        opened = lid_gaps(detector, state.image)
        for name, value in edits:
            request = EditRequest({name: value}, engine="preview")
            target = target_coefficients(state, request, registry=registry)
            image = edit(state, request, registry=registry).full_image
            shown.append(image)
            gaps = lid_gaps(detector, image)
            rows.append(
                (
                    f"{name}={value:g}",
                    [
                        (gaps[k] / max(opened[k], 1e-6), *pale_lid(state.image, image, *lids[k]))
                        if _closes(prepared, renderer, target, k)
                        else (float("nan"),) * 3
                        for k in range(len(lids))
                    ],
                )
            )
        if review is not None:
            _write_review(review / f"{path.stem[-24:]}.png", shown, lids)
        return rows
    finally:
        renderer.settings = kept


def photo_lids(state, prepared, renderer) -> list[tuple[np.ndarray, np.ndarray]]:  # noqa: ANN001
    """[(upper, lower)] per eye: the photo's fitted lids (K, 2) in photo pixels."""
    inverse = state.crop_transform.inverse_points
    return [
        (inverse(prepared.points[u, :2]), inverse(prepared.points[lo, :2]))
        for u, lo in renderer.projector.layout.eyes
    ]


def eyes_box(lids: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): both eyes with half an eye width beside, 0.9 above (the brows' foot) and
    0.5 below, within the photo of `shape`."""
    points = np.concatenate([p for pair in lids for p in pair])
    width = max(float(np.hypot(*(u[-1] - u[0]))) for u, _ in lids)
    x0, y0 = np.maximum(points.min(0) - [0.5 * width, 0.9 * width], 0).astype(int)
    x1, y1 = np.minimum(points.max(0) + [0.5 * width, 0.5 * width], [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _write_review(out: Path, images: list[np.ndarray], lids: list) -> None:  # noqa: ANN401
    """Both eyes of each image, stacked, enlarged to about 600 px across (nearest)."""
    x0, y0, x1, y1 = eyes_box(lids, images[0].shape)
    stack = np.concatenate([image[y0:y1, x0:x1] for image in images], axis=0)
    scale = 600.0 / stack.shape[1]
    stack = cv2.resize(
        stack, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA
    )
    cv2.imwrite(str(out), cv2.cvtColor(stack, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", default=list(FAULTS + CLEAN + SQUINTS))
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--flags", nargs="*", default=[], help="PreviewSettings flags: measured off and on")
    parser.add_argument("--edits", nargs="*", default=None, help="NAME=VALUE (default: EDITS)")
    parser.add_argument("--review", type=Path, default=None)
    args = parser.parse_args()
    edits = (
        EDITS if args.edits is None else tuple((e.split("=")[0], float(e.split("=")[1])) for e in args.edits)
    )
    if args.review is not None:
        args.review.mkdir(parents=True, exist_ok=True)
    registry = EngineRegistry(fast=False)
    detector = FaceDetector()
    for name in args.photos:
        for on in (False, True) if args.flags else (None,):
            flags = dict.fromkeys(args.flags, bool(on))
            review = None if args.review is None else args.review / ("on" if on else "off")
            if review is not None:
                review.mkdir(exist_ok=True)
            rows = measure(args.images / name, registry, detector, flags, edits, review)
            tag = "" if on is None else f" {'on ' if on else 'off'}"
            text = " ".join(
                f"{k} " + "/".join(",".join(f"{v:.3f}" for v in eye) for eye in vs) for k, vs in rows
            )
            print(f"{name[:44]:44s}{tag} {text}", flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
