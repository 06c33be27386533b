"""The near cheek's shape at a turn (docs/NEAR_BALLOON.md): where the near outline goes, measured on
still photos (photo vs its edit) and on real turns in the shared videos (frame A turned by the
renderer vs the real frame B of the same person).

    python benchmarks/near_balloon_measure.py --stills [PHOTO ...]
    python benchmarks/near_balloon_measure.py --turns [VIDEO:A:B ...]

Per case, in the renderer's crop, with "near" the side that turns towards the camera:
- mesh widening: the target mesh's near band (outer eye corner -> the mesh's hull edge, rows from
  the eyes to the mouth) over the photo mesh's, median over rows;
- width: the near outer eye corner -> the person mask's outline, rows from the eyes to the mouth, in
  eye-to-mouth heights (a yaw-free unit), median over rows;
- bulge: the outline's largest outward step beyond its chord (eye row -> 1.25 eye-to-mouth heights
  below it), in eye-to-mouth heights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from reconstruction.segmentation import PersonSegmenter  # noqa: E402

DATA = REPO.parent / "shared" / "data"
FAULT_PHOTOS = (
    "dchen236__FairFace__race_Latino.jpg",
    "serengil__deepface__img18.jpg",
    "YadiraF__DECA__IMG_0392_inputs.jpg",
    "justadudewhohacks__face-api.js__raj1.png",
    "justadudewhohacks__face-api.js__sad.jpg",
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",
    "serengil__deepface__img24.jpg",
    "xinntao__facexlib__test2.jpg",
    "justadudewhohacks__face-api.js__disgusted.jpg",
)
CLEAN_PHOTOS = (
    "KwaiVGI__LivePortrait__s11.jpg",
    "ageitgey__face_recognition__obama-240p.jpg",
    "davisking__dlib__John_Shimkus_000373_03228153.jpg",
    "ipazc__mtcnn__ivan.jpg",
    "YadiraF__DECA__teaser_2.png",
    "sczhou__CodeFormer__0717.png",
    "sczhou__CodeFormer__089_Miley_Cyrus_00.png",
    "sicxu__Deep3DFaceRecon_pytorch__000126.jpg",
    "cmusatyalab__openface__carell.jpg",
)
#: Real turns (video, frame A, frame B): A is turned by the renderer to B's yaw.
TURNS = (
    "Hangz-nju-cuhk__Talking-Face_PC-AVS__00104.mp4:212:254",
    "Hangz-nju-cuhk__Talking-Face_PC-AVS__00098.mp4:0:140",
    "Hangz-nju-cuhk__Talking-Face_PC-AVS__00086.mp4:92:55",
    "Hangz-nju-cuhk__Talking-Face_PC-AVS__741400163.mp4:49:295",
    "tanshuai0219__EDTalk__expression_source.mp4:277:388",
)


def _rows(points: np.ndarray, layout) -> tuple[np.ndarray, float, np.ndarray]:  # noqa: ANN001
    """(eye vertices, eye row, eye-to-mouth height)."""
    eyes = np.concatenate([np.concatenate(e) for e in layout.eyes])
    mouth = np.concatenate(layout.mouth)
    top = float(points[eyes, 1].mean())
    return eyes, top, float(points[mouth, 1].mean()) - top


def near_outline(mask: np.ndarray, points: np.ndarray, layout, side: int) -> tuple[float, float]:  # noqa: ANN001
    """(width, bulge) of the near outline of `mask` (H, W) bool, in eye-to-mouth heights; side -1:
    image-left, +1: image-right."""
    eyes, top, height = _rows(points, layout)
    corner = points[eyes, 0].min() if side < 0 else points[eyes, 0].max()
    rows = np.arange(int(top), int(top + 1.25 * height)).clip(0, mask.shape[0] - 1)
    out = []
    for r in rows:
        cols = np.flatnonzero(mask[r])
        out.append(side * ((cols.min() if side < 0 else cols.max()) - corner) if len(cols) else np.nan)
    x = np.asarray(out, float) / height
    chord = np.linspace(x[0], x[-1], len(x))
    return float(np.nanmedian(x[: int(len(x) / 1.25)])), float(np.nanmax(x - chord))


def mesh_widening(source: np.ndarray, target: np.ndarray, layout, size: tuple[int, int], side: int) -> float:  # noqa: ANN001
    """Median over the eye-to-mouth rows of the target mesh's near band width over the photo's."""

    def widths(points: np.ndarray) -> np.ndarray:
        hull = np.zeros(size, np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points[:, :2] * 4).astype(np.int32)), 1, shift=2)
        eyes = np.concatenate([np.concatenate(e) for e in layout.eyes])
        corner = points[eyes, 0].min() if side < 0 else points[eyes, 0].max()
        out = []
        for r in rows:
            cols = np.flatnonzero(hull[r])
            out.append(side * ((cols.min() if side < 0 else cols.max()) - corner) if len(cols) else np.nan)
        return np.asarray(out, float)

    _, top, height = _rows(source, layout)
    rows = np.arange(int(top), int(top + height))
    return float(np.nanmedian(widths(target) / np.maximum(widths(source), 1.0)))


def _turned(state, registry: EngineRegistry, yaw: float):  # noqa: ANN001, ANN202
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    target = target_coefficients(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry)
    points = renderer.target_points(prepared, target)
    side = -1 if points[1, 0] > prepared.points[1, 0] else 1  # the nose tip moves away from the near side
    return renderer, prepared, target, points, side


def stills(names: list[str], registry: EngineRegistry, segmenter: PersonSegmenter) -> None:
    for name in names:
        state = prepare_photo(DATA / "images" / name, registry=registry)
        line = f"{name.split('__')[-1][:24]:24s} yaw0 {np.degrees(state.coefficients.angles[1]):+5.1f}"
        for yaw in (30.0, -30.0):
            renderer, prepared, target, points, side = _turned(state, registry, yaw)
            layout = renderer.projector.layout
            widen = mesh_widening(prepared.points, points, layout, prepared.size, side)
            before = near_outline(segmenter.person_mask(prepared.source) > 0.5, prepared.points, layout, side)
            after = near_outline(
                segmenter.person_mask(renderer.render(prepared, target)) > 0.5, points, layout, side
            )
            line += (
                f" | {yaw:+.0f}: mesh x{widen:.2f} width {before[0]:.2f}->{after[0]:.2f}"
                f" bulge {before[1]:+.2f}->{after[1]:+.2f}"
            )
        print(line, flush=True)  # noqa: T201


def _frame(video: Path, index: int, registry: EngineRegistry):  # noqa: ANN202
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    if not ok:
        raise SystemExit(f"{video.name}: no frame {index}")
    path = Path("/tmp") / f"near_balloon_{video.stem[-12:]}_{index}.png"
    cv2.imwrite(str(path), frame)
    return prepare_photo(path, registry=registry)


def turns(specs: list[str], registry: EngineRegistry, segmenter: PersonSegmenter) -> None:
    for spec in specs:
        name, a, b = spec.split(":")
        first, second = (_frame(DATA / "videos" / name, int(i), registry) for i in (a, b))
        engine = registry.geometric(first.backend)
        layout = engine.renderer.projector.layout
        real = second.engine_state(registry.geometric(second.backend))

        def nose(points: np.ndarray, layout=layout) -> float:  # noqa: ANN001
            eyes, _, height = _rows(points, layout)
            return float(points[1, 0] - points[eyes, 0].mean()) / height

        change = abs(float(np.degrees(second.coefficients.angles[1] - first.coefficients.angles[1])))
        # The yaw slider's sign that moves the nose tip as the real turn did.
        best = min(
            (_turned(first, registry, float(np.clip(s * change, -30, 30))) for s in (1.0, -1.0)),
            key=lambda t: abs(nose(t[3]) - nose(real.points)),
        )
        renderer, prepared, target, points, side = best
        photo = near_outline(segmenter.person_mask(prepared.source) > 0.5, prepared.points, layout, side)
        shown = near_outline(segmenter.person_mask(real.source) > 0.5, real.points, layout, side)
        drawn = near_outline(
            segmenter.person_mask(renderer.render(prepared, target)) > 0.5, points, layout, side
        )
        print(  # noqa: T201
            f"{name.split('__')[-1]} {a}->{b} turn {change:.1f} deg: width A {photo[0]:.2f}"
            f" real B {shown[0]:.2f} rendered {drawn[0]:.2f} (rendered / real {drawn[0] / shown[0]:.2f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stills", nargs="*", default=None)
    parser.add_argument("--turns", nargs="*", default=None)
    args = parser.parse_args()
    registry, segmenter = EngineRegistry(fast=False), PersonSegmenter()
    if args.stills is not None:
        stills(args.stills or [*FAULT_PHOTOS, *CLEAN_PHOTOS], registry, segmenter)
    if args.turns is not None:
        turns(args.turns or list(TURNS), registry, segmenter)


if __name__ == "__main__":
    main()
