"""Time the mouth/eye refiner adds per 256 px geometric frame (goal: <= 30 ms on a 2-core CPU).

    python benchmarks/bench_mouth_refiner.py [--frames 60] [--threads 1] [--json runs/bench_mouth_refiner.json]
    python benchmarks/bench_mouth_refiner.py --sheet docs/mouth_refiner_sheet.jpg [--photos PHOTO ...]

The same photo and targets (talking, blinking) are rendered by the geometric renderer with and
without the refiner, the two ways taking turns; "added" is the difference of the medians. Uses a
photo from ../shared/data/images when present, else scikit-image's astronaut. Needs the bundled
weights (`weights/files/mouth_refiner`).

`--sheet` writes a contact sheet instead (look at it before trusting any figure): per photo and
edit, the head (input | geometric without the refiner | with it), then at 100 % of the photo's
pixels the mouth without | with and the eyes without (top) | with (bottom); everything is placed
into the photo at its full resolution as the app places it (`pipeline.photo.place_frame`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer  # noqa: E402
from pipeline.mouth_refiner import EYE, MOUTH  # noqa: E402
from pipeline.photo import Canvas, EditRequest, place_frame, request_from_preset, target_coefficients  # noqa: E402
from reconstruction.controls import SPECS_BY_NAME, control_set_for  # noqa: E402

SHARED_IMAGES = REPO.parents[0] / "shared" / "data" / "images"
SHARED_PHOTO = SHARED_IMAGES / "serengil__deepface__img1.jpg"
SHEET_PHOTOS = (
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "fudan-generative-vision__hallo__7.jpg",
)
#: A photo this much larger than the crop shows only its first rows (its 100 % crops are huge).
HUGE_SCALE, HUGE_ROWS = 8.0, 2
#: (label, preset or None, control values): the edits of the sheet.
SHEET_EDITS = (
    ("open_mouth 1", None, {"open_mouth": 1.0}),
    ("close_eyes 1", None, {"close_eyes": 1.0}),
    ("open_mouth 0.5", None, {"open_mouth": 0.5}),
    ("aaa", "aaa", {}),
    ("eee", "eee", {}),
    ("ooo", "ooo", {}),
    ("smile", "smile", {}),
    ("wink_left 1", None, {"wink_left": 1.0}),
)


def _photo() -> object:
    if SHARED_PHOTO.is_file():
        return SHARED_PHOTO
    from skimage import data

    return data.astronaut()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (the app's default is 1 per request)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--sheet", type=Path, default=None, help="write the contact sheet here (.jpg) instead"
    )
    parser.add_argument("--photos", nargs="+", type=Path, default=[SHARED_IMAGES / p for p in SHEET_PHOTOS])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.sheet is not None:
        write_sheet(args.photos, args.sheet)
        return
    registry = EngineRegistry()
    state = prepare_photo(_photo(), registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    model = registry.backend(state.backend).model
    plain: GeometricRenderer = engine.renderer
    renderer = GeometricRenderer(model, dataclasses.replace(plain.settings, refine=True))
    plain = GeometricRenderer(model, dataclasses.replace(plain.settings, refine=False))
    if renderer.refiner is None:
        raise SystemExit("no mouth refiner is installed for this face model (weights/files/mouth_refiner)")
    preview = state.engine_state(engine)
    controls = control_set_for(model)

    def values(v: float) -> dict[str, float]:
        out = {
            "open_mouth": float(0.5 + 0.5 * np.sin(6 * np.pi * v)),
            "close_eyes": float(max(0.0, np.sin(8 * np.pi * v))),
        }
        return {k: x for k, x in out.items() if k in SPECS_BY_NAME}

    targets = [controls.apply(state.coefficients, values(i / args.frames)) for i in range(args.frames)]
    times = interleaved_ms(
        {
            "with_refiner": lambda i: renderer.render_frame(preview, targets[i]),
            "without_refiner": lambda i: plain.render_frame(preview, targets[i]),
        },
        args.frames,
    )
    with_ms, without_ms = summary_ms(times["with_refiner"]), summary_ms(times["without_refiner"])
    record = {
        "photo": SHARED_PHOTO.name if SHARED_PHOTO.is_file() else "astronaut",
        "frames": args.frames,
        "torch_threads": args.threads,
        "with_refiner": with_ms,
        "without_refiner": without_ms,
        "added_ms": round(with_ms["median_ms"] - without_ms["median_ms"], 2),
        "goal_ms": 30.0,
    }
    write_record(record, args.json)


def _renderers(registry: EngineRegistry, state: object) -> list[GeometricRenderer]:
    """The geometric renderer without the refiner and with it (the mouth gap and the shut lids)."""
    engine = registry.select("preview", state.backend, state.face_model)
    model = registry.backend(state.backend).model
    settings = engine.renderer.settings
    renderers = [
        GeometricRenderer(model, dataclasses.replace(settings, refine=False)),
        GeometricRenderer(model, dataclasses.replace(settings, refine=True, refine_regions=(MOUTH, EYE))),
    ]
    if renderers[1].refiner is None:
        raise SystemExit("no mouth refiner is installed for this face model (weights/files/mouth_refiner)")
    return renderers


def _window(image: np.ndarray, centre: np.ndarray, size: tuple[float, float]) -> np.ndarray:
    """The part of `image` of `size` (w, h) pixels around `centre`, at 100 %."""
    h, w = image.shape[:2]
    x0, y0 = (int(max(0, round(c - s / 2))) for c, s in zip(centre, size, strict=True))
    return image[y0 : min(h, y0 + int(size[1])), x0 : min(w, x0 + int(size[0]))]


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(image)
    for colour, thick in (((0, 0, 0), 4), ((255, 255, 0), 2)):
        cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, thick, cv2.LINE_AA)
    return out


def _hstack(parts: list[np.ndarray], height: int, gap: int = 6) -> np.ndarray:
    tiles = []
    for part in parts:
        tile = np.zeros((height, part.shape[1], 3), np.uint8)
        tile[: min(height, part.shape[0])] = part[:height]
        tiles += [tile, np.full((height, gap, 3), 255, np.uint8)]
    return np.concatenate(tiles[:-1], axis=1)


def sheet_rows(photo: Path, registry: EngineRegistry, height: int = 360) -> list[np.ndarray]:
    """One row per edit of `photo`: heads (input | without | with), mouths and eyes at 100 %."""
    state = prepare_photo(photo, registry=registry)
    renderers = _renderers(registry, state)
    preview = renderers[0].prepare(state.crop, state.coefficients)
    canvas = Canvas(state.image, state.crop_transform)
    lm = state.analysis.detection.face.landmarks[:, :2].astype(np.float64)
    mouth_w = float(lm[291, 0] - lm[61, 0])
    eyes_w = float(lm[263, 0] - lm[33, 0])
    mouth = (lm[13] + lm[14]) / 2.0 + [0.0, 0.15 * mouth_w]
    eyes = (lm[33] + lm[263]) / 2.0
    x0, y0, x1, y1 = (int(v) for v in state.crop_transform.box)
    x0, y0 = max(0, x0), max(0, y0)
    scale = height / (y1 - y0)

    def head(image: np.ndarray) -> np.ndarray:
        part = image[y0:y1, x0:x1]
        return cv2.resize(part, (round(part.shape[1] * scale), height), interpolation=cv2.INTER_AREA)

    rows = []
    edits = SHEET_EDITS[:HUGE_ROWS] if state.crop_transform.scale * HUGE_SCALE < 1.0 else SHEET_EDITS
    for label, preset, values in edits:
        if preset:
            request = request_from_preset(preset, values, engine="preview")
        else:
            request = EditRequest(values=values, engine="preview")
        target = target_coefficients(state, request, registry=registry)
        outs = [place_frame(canvas, r.render_frame(preview, target)) for r in renderers]
        mouths = [_window(o, mouth, (1.6 * mouth_w, 1.1 * mouth_w)) for o in outs]
        eye_parts = [_window(o, eyes, (1.5 * eyes_w, 0.45 * eyes_w)) for o in outs]
        eye_parts = np.concatenate([eye_parts[0], np.full_like(eye_parts[0][:6], 255), eye_parts[1]])
        tall = max(height, *(m.shape[0] for m in mouths), eye_parts.shape[0])
        parts = [head(state.image), head(outs[0]), head(outs[1]), *mouths, eye_parts]
        rows.append(_label(_hstack(parts, tall), f"{photo.name[:36]}  {label}"))
    return rows


def write_sheet(photos: list[Path], out: Path) -> None:
    registry = EngineRegistry(fast=False)
    rows = [row for photo in photos for row in sheet_rows(photo, registry)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    sheet = cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 80])
    sys.stdout.write(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]})\n")


if __name__ == "__main__":
    main()
