"""Contact sheet of the opened mouth on real photos: input | before (a base commit) | after (this tree).

    python benchmarks/mouth_sheet.py [-o docs/mouth_open_sheet.jpg] [--base main] [--images DIR]

Per photo and edit (open_mouth 0.5 and 1, and the presets aaa and ooo of
`reconstruction.controls.PRESETS`): the head scaled to 300 px high, input | before | after, then the
mouth at 100 % (photo pixels, never scaled; 200 % nearest on photos under 700 px), input | before |
after. "Before" is the base commit's own code, exported with `git archive` into a temporary folder
and run there in a subprocess; "after" is this tree. Look at the sheet at full size.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402

PHOTOS = (
    "serengil__deepface__img1.jpg",  # a wide smile showing both rows of teeth
    "serengil__deepface__img39.jpg",  # upper teeth down to the lower lip
    "ageitgey__face_recognition__biden2.jpg",  # upper teeth, a little of the lower
    "serengil__deepface__img3.jpg",  # closed lips
    "KwaiVGI__LivePortrait__s2.jpg",  # closed lips, black and white
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "aaa": dict(PRESETS["aaa"]),
    "ooo": dict(PRESETS["ooo"]),
}
WIDTH = 2400  # sheet width, pixels
HEAD = 300  # head thumbnails' height, pixels


def render(
    images: Path,
    folder: Path,
    photos: tuple[str, ...] = PHOTOS,
    edits: Mapping[str, dict] = EDITS,
    settings: Mapping[str, object] | None = None,
) -> None:
    """Write every edit of every photo as `folder`/<photo stem>__<edit index>.png (full resolution),
    with the geometric renderer's `PreviewSettings` fields in `settings` changed (a trial's flag)."""
    registry = EngineRegistry(fast=False)
    for name in photos:
        state = prepare_photo(images / name, registry=registry)
        if settings:
            renderer = registry.geometric(state.backend).renderer
            renderer.settings = dataclasses.replace(renderer.settings, **settings)
        for k, values in enumerate(edits.values()):
            out = edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
            cv2.imwrite(str(folder / f"{Path(name).stem}__{k}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))


def compare_renders(
    off: Path, on: Path, photos: tuple[str, ...], edits: Mapping[str, dict], keep: Path | None = None
) -> dict[str, bool]:
    """Per photo, whether any of its edits differs between the `render` folders `off` and `on`;
    prints each edit's largest change and, with `keep`, copies both renders there
    (`<stem>__<edit>__off|on.png`, to look at the whole head at 100 %)."""
    changed: dict[str, bool] = {}
    for name in photos:
        for k, label in enumerate(edits):
            a, b = (read_render(folder, name, k).astype(np.int16) for folder in (off, on))
            change = int(np.abs(a - b).max())
            changed[name] = changed.get(name, False) or change > 0
            print(f"{name[:46]:46s} {label:15s} identical {change == 0}  max change {change}")  # noqa: T201
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                for folder, tag in ((off, "off"), (on, "on")):
                    shutil.copy(
                        folder / f"{Path(name).stem}__{k}.png", keep / f"{Path(name).stem}__{k}__{tag}.png"
                    )
    return changed


def render_base(base: str, images: Path, folder: Path, script: str = __file__) -> None:
    """`render` with the code of commit `base` (exported, then `script --render-into` run on it in a
    subprocess)."""
    with tempfile.TemporaryDirectory() as code:
        archive = subprocess.run(["git", "archive", base], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        env = {**os.environ, "MOUTH_SHEET_CODE": code}
        command = [sys.executable, str(Path(script).resolve()), "--render-into", str(folder)]
        subprocess.run([*command, "--images", str(images)], cwd=code, env=env, check=True)


def target_lips(
    state, values: Mapping[str, float], registry: EngineRegistry
) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(K, 2) the target's inner upper and lower lip in photo pixels, for the edit `values`."""
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    target = target_coefficients(state, EditRequest(values=dict(values), engine="preview"), registry=registry)
    points = renderer.target_points(state.engine_state(engine), target)
    upper, lower = (
        state.crop_transform.inverse_points(points[lip, :2]) for lip in renderer.projector.layout.mouth
    )
    return upper, lower


def read_render(folder: Path, name: str, k: int) -> np.ndarray:
    """The RGB image `render` wrote for edit `k` of photo `name`."""
    return cv2.cvtColor(cv2.imread(str(folder / f"{Path(name).stem}__{k}.png")), cv2.COLOR_BGR2RGB)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((24, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def _side_by_side(images: list[np.ndarray], titles: tuple[str, ...]) -> np.ndarray:
    gap = np.full((images[0].shape[0] + 24, 6, 3), 255, np.uint8)
    parts = [_label(image, title) for image, title in zip(images, titles, strict=True)]
    return np.concatenate([p for part in parts for p in (part, gap)][:-1], axis=1)


def photo_rows(
    name: str,
    images: Path,
    before: Path,
    after: Path,
    registry: EngineRegistry,
    edits: Mapping[str, dict] = EDITS,
) -> list[np.ndarray]:
    """One row per edit: head input | before | after, then the mouth at 100 % (200 % on small photos,
    less where three would not fit the sheet)."""
    state = prepare_photo(images / name, registry=registry)
    engine = registry.geometric(state.backend)
    points = state.engine_state(engine).points
    lips = state.crop_transform.inverse_points(
        points[np.concatenate(engine.renderer.projector.layout.mouth), :2]
    )
    h, w = state.image.shape[:2]
    width = float(np.ptp(lips[:, 0]))
    (x0, y0), (x1, y1) = (
        lips.min(axis=0) - [0.35 * width, 0.3 * width],
        lips.max(axis=0) + [0.35 * width, 0.6 * width],
    )
    mouth = (slice(max(0, int(y0)), min(h, int(y1))), slice(max(0, int(x0)), min(w, int(x1))))
    bx0, by0, bx1, by1 = (int(v) for v in state.crop_transform.box)
    head = (slice(max(0, by0), min(h, by1)), slice(max(0, bx0), min(w, bx1)))
    zoom = 2.0 if max(h, w) < 700 else 1.0
    # Three mouths beside three heads must fit the sheet's width: scale large photos' mouths down.
    room = WIDTH - 3 * HEAD * (head[1].stop - head[1].start) / (head[0].stop - head[0].start) - 60
    zoom = min(zoom, room / (3 * (mouth[1].stop - mouth[1].start)))
    rows = []
    for k, label in enumerate(edits):
        outs = [state.image] + [
            cv2.cvtColor(cv2.imread(str(folder / f"{Path(name).stem}__{k}.png")), cv2.COLOR_BGR2RGB)
            for folder in (before, after)
        ]
        scale = HEAD / (head[0].stop - head[0].start)
        heads = [cv2.resize(o[head], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for o in outs]
        mouths = [
            o[mouth]
            if zoom == 1.0
            else cv2.resize(
                o[mouth],
                None,
                fx=zoom,
                fy=zoom,
                interpolation=cv2.INTER_NEAREST if zoom > 1 else cv2.INTER_AREA,
            )
            for o in outs
        ]
        parts = [
            _side_by_side(heads, (f"{label}: input", "before", "after")),
            _side_by_side(mouths, (f"{name} {w}x{h}, mouth {100 * zoom:.0f} %: input", "before", "after")),
        ]
        height = max(p.shape[0] for p in parts)
        parts = [np.pad(p, ((0, height - p.shape[0]), (0, 12), (0, 0)), constant_values=255) for p in parts]
        row = np.concatenate(parts, axis=1)[:, :WIDTH]
        rows.append(np.pad(row, ((0, 10), (0, WIDTH - row.shape[1]), (0, 0)), constant_values=255))
    return rows


def main() -> None:
    before_after_sheet(__doc__.splitlines()[0], __file__, PHOTOS, "mouth_open_sheet.jpg", quality=82)


def before_after_sheet(
    description: str,
    script: str,
    photos: tuple[str, ...],
    default_out: str,
    quality: int = 85,
    edits: Mapping[str, dict] = EDITS,
) -> None:
    """The command line of a before/after mouth sheet: `-o OUT`, `--base COMMIT` (rendered as
    "before" by `script` in a subprocess), `--images DIR`, `--keep DIR` (the rows as PNGs too)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / default_out)
    parser.add_argument("--base", default="main", help="the commit rendered as 'before'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--quality", type=int, default=quality)
    parser.add_argument("--keep", type=Path, default=None, help="also keep the rows as PNGs here")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_into is not None:
        render(args.images, args.render_into, photos, edits)
        return
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        render_base(args.base, args.images, Path(before), script)
        render(args.images, Path(after), photos, edits)
        registry = EngineRegistry(fast=False)
        rows = [
            row
            for name in photos
            for row in photo_rows(name, args.images, Path(before), Path(after), registry, edits)
        ]
    write_sheet(rows, args.out, args.quality)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for k, row in enumerate(rows):
            cv2.imwrite(str(args.keep / f"row{k:02d}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))


def run_sheet(
    description: str,
    default_out: str,
    photos: tuple[str, ...],
    rows_for: Callable[[Path, EngineRegistry], list[np.ndarray]],
    quality: int = 88,
) -> None:
    """The command line of a sheet script: `-o OUT` (default docs/`default_out`) and `--images DIR`;
    the rows of every photo, stacked into the sheet."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / default_out)
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    write_sheet([row for name in photos for row in rows_for(args.images / name, registry)], args.out, quality)


def write_sheet(rows: list[np.ndarray], out: Path, quality: int) -> None:
    """Stack RGB rows of equal width into one JPEG contact sheet and say how big it came out."""
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    print(f"{out}: {sheet.shape[1]}x{sheet.shape[0]}, {out.stat().st_size / 1e6:.2f} MB")  # noqa: T201


if __name__ == "__main__":
    main()
