"""Contact sheet of the brow controls: input | before (a base commit) | after (this tree).

    python benchmarks/controls_sheet.py [-o docs/controls_sheet] [--base main] [--images DIR]
    python benchmarks/controls_sheet.py --closure [--base main]

raise_brows 1 and -1 and frown 1 on eight photos of ../shared/data/images. Per photo one JPEG
(`OUT/<photo>.jpg`; a head at the photo's resolution is too large for one sheet of eight): per edit
the whole head at 100 % (photo pixels, never scaled), then both eyes and the mouth at 100 % (200 %
nearest on photos under 700 px), each input | before | after. "Before" is the base commit's code,
run in a subprocess on its `git archive` export. Look at the sheets at full size.

`--closure` prints, per photo, edit and eye, how far the renderer closes the eye (the closure the
lids' flow and the shut threshold read: `pipeline.eyes._closing`, the photo's lids against the
target's), before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from benchmarks.mouth_sheet import render, write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.eyes import SHUT_CLOSURE, _closing  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__s2.jpg",
    "cmusatyalab__openface__carell.jpg",
    "serengil__deepface__img1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "dchen236__FairFace__race_Asian.jpg",  # narrow eyes: a small lid change is a large closure
    "ageitgey__face_recognition__biden2.jpg",  # hooded lids, heavy brows
)
EDITS = {
    "raise_brows 1": {"raise_brows": 1.0},
    "raise_brows -1": {"raise_brows": -1.0},
    "frown 1": {"frown": 1.0},
}
GAP = 8  # pixels between tiles


def closures(images: Path) -> dict[str, list[list[float]]]:
    """Per "photo|edit": the renderer's closure of each eye (image-left first)."""
    registry = EngineRegistry(fast=False)
    found: dict[str, list[list[float]]] = {}
    for name in PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        renderer, preview = engine.renderer, state.engine_state(engine)
        for label, values in EDITS.items():
            coeffs = target_coefficients(state, EditRequest(values=values), registry=registry)
            target = renderer.target_points(preview, coeffs)
            found[f"{name}|{label}"] = [
                _closing((preview.points[u, :2], preview.points[lo, :2]), (target[u, :2], target[lo, :2]))[3]
                for u, lo in renderer.projector.layout.eyes
            ]
    return found


def _export(base: str, code: str) -> None:
    archive = subprocess.run(["git", "archive", base], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)


def _run_base(base: str, images: Path, *args: str) -> str:
    """Run this script with the code of commit `base` (its export) and `args`; its stdout."""
    with tempfile.TemporaryDirectory() as code:
        _export(base, code)
        env = {**os.environ, "MOUTH_SHEET_CODE": code}
        command = [sys.executable, str(Path(__file__).resolve()), *args, "--images", str(images)]
        return subprocess.run(command, cwd=code, env=env, check=True, capture_output=True, text=True).stdout


def _label(image: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((24, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def _triple(images: list[np.ndarray], title: str, zoom: float) -> np.ndarray:
    if zoom != 1.0:
        images = [cv2.resize(i, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST) for i in images]
    parts = [_label(i, t) for i, t in zip(images, (title, "before", "after"), strict=True)]
    gap = np.full((parts[0].shape[0], GAP, 3), 255, np.uint8)
    return np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)


def _stack(blocks: list[np.ndarray]) -> np.ndarray:
    width = max(b.shape[1] for b in blocks)
    padded = [np.pad(b, ((0, GAP), (0, width - b.shape[1]), (0, 0)), constant_values=255) for b in blocks]
    return np.concatenate(padded, axis=0)


def _box(
    points: np.ndarray, pad: tuple[float, float, float, float], size: tuple[int, int]
) -> tuple[slice, slice]:
    """Rows and columns around `points` (photo pixels), padded by fractions of their width
    (left, top, right, bottom)."""
    h, w = size
    width = float(np.ptp(points[:, 0]))
    x0, y0 = points.min(axis=0) - width * np.array(pad[:2])
    x1, y1 = points.max(axis=0) + width * np.array(pad[2:])
    return slice(max(0, int(y0)), min(h, int(y1))), slice(max(0, int(x0)), min(w, int(x1)))


def photo_blocks(
    name: str, images: Path, before: Path, after: Path, registry: EngineRegistry
) -> list[np.ndarray]:
    """Per edit: the head at 100 %, then the eyes and the mouth (200 % on photos under 700 px)."""
    state = prepare_photo(images / name, registry=registry)
    engine = registry.geometric(state.backend)
    layout = engine.renderer.projector.layout
    points = state.engine_state(engine).points
    to_photo = state.crop_transform.inverse_points
    size = state.image.shape[:2]
    eyes = to_photo(points[np.concatenate([i for pair in layout.eyes for i in pair]), :2])
    lips = to_photo(points[np.concatenate(layout.mouth), :2])
    regions = {
        "eyes": _box(eyes, (0.12, 0.6, 0.12, 0.25), size),
        "mouth": _box(lips, (0.35, 0.3, 0.35, 0.6), size),
    }
    bx0, by0, bx1, by1 = (int(v) for v in state.crop_transform.box)
    head = (slice(max(0, by0), min(size[0], by1)), slice(max(0, bx0), min(size[1], bx1)))
    zoom = 2.0 if max(size) < 700 else 1.0
    blocks = []
    for k, label in enumerate(EDITS):
        outs = [state.image] + [
            cv2.cvtColor(cv2.imread(str(folder / f"{Path(name).stem}__{k}.png")), cv2.COLOR_BGR2RGB)
            for folder in (before, after)
        ]
        blocks.append(
            _triple([o[head] for o in outs], f"{label}: {name} {size[1]}x{size[0]}, head 100 %", 1.0)
        )
        for region, (rows, cols) in regions.items():
            title = f"{label}: {region} {100 * zoom:.0f} %"
            blocks.append(_triple([o[rows, cols] for o in outs], title, zoom))
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "controls_sheet")
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--keep", type=Path, default=None, help="also keep each block as a PNG here")
    parser.add_argument("--closure", action="store_true", help="print the eyes' closures, before and after")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--closure-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_into is not None:
        render(args.images, args.render_into, PHOTOS, EDITS)
        return
    if args.closure_json:
        print(json.dumps(closures(args.images)))  # noqa: T201
        return
    if args.closure:
        before = json.loads(_run_base(args.base, args.images, "--closure-json").splitlines()[-1])
        after = closures(args.images)
        print(f"closure per eye (image-left, right); shut from {SHUT_CLOSURE}: before -> after")  # noqa: T201
        for key, now in after.items():
            was = " ".join(f"{c:.3f}" for c in before[key])
            print(f"{key:60s} {was} -> {' '.join(f'{c:.3f}' for c in now)}")  # noqa: T201
        return
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        _run_base(args.base, args.images, "--render-into", before)
        render(args.images, Path(after), PHOTOS, EDITS)
        registry = EngineRegistry(fast=False)
        for name in PHOTOS:
            blocks = photo_blocks(name, args.images, Path(before), Path(after), registry)
            write_sheet([_stack(blocks)], args.out / f"{Path(name).stem}.jpg", args.quality)
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                for k, block in enumerate(blocks):
                    path = args.keep / f"{Path(name).stem}_{k:02d}.png"
                    cv2.imwrite(str(path), cv2.cvtColor(block, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
