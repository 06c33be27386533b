"""The opened mouth's rim (docs/MOUTH_RIM.md): the outline measure and the contact sheet, main | new.

    OMP_NUM_THREADS=1 python benchmarks/mouth_corridor_sheet.py [--measure-only] [--photos ...] \
        [-o docs/mouth_corridor_sheet.jpg] [--cache /tmp/mouth_corridor]

Per photo and edit, the photo at full resolution with `PreviewSettings.mouth_corridor` off (main's
pixels: the flag off is main) and on. `outline_share`: per point of the painted gap's rim (the 0.5
contour of its coverage at the photo's resolution), whether the outermost band of the paint (0.5-1.5
u inside, u = half a crop pixel, at least a photo pixel) is darker than both the lip just outside
(1-2 u out) and the inside 3-5 u in, by more than max(20 levels, a quarter of the darker of the
two): a cartoon's ink line; the share of such points among the rim's. The sheet: per photo, the
whole face (230 px high) input | main | new at open_mouth 1 and 0.6 + yaw 20, then per edit the
mouth at 100 % and 300 % (nearest), input | main | new.
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

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402
from reconstruction.overlay import photo_alpha  # noqa: E402

SURVEY = (
    "deepinsight__insightface__t1.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "serengil__deepface__img16.jpg",
    "serengil__deepface__img20.jpg",
    "serengil__deepface__img24.jpg",
    "justadudewhohacks__face-api.js__happy.jpg",
    "justadudewhohacks__face-api.js__sad.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "fudan-generative-vision__hallo__7.jpg",
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "aaa": dict(PRESETS["aaa"]),
    "eee": dict(PRESETS["eee"]),
    "ooo": dict(PRESETS["ooo"]),
    "open_mouth 0.6 + yaw 20": {"open_mouth": 0.6, "yaw": 20.0},
    "smile 1": {"smile": 1.0},
}
#: The edits the rule's measure reads (the others are on the sheet).
MEASURED = ("open_mouth 1", "open_mouth 0.6 + yaw 20")
_LUMA = np.array([0.299, 0.587, 0.114])


def outline_share(image: np.ndarray, cover: np.ndarray, scale: float) -> tuple[float, int]:
    """(share of outlined rim points, rim points read) of the (h, w, 3) uint8 `image` whose painted
    gap has the (h, w) coverage `cover` (photo pixels), `scale` photo pixels per crop pixel."""
    u = max(1.0, 0.5 * scale)
    mask = (cover >= 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    luma = (image.astype(np.float64) @ _LUMA).astype(np.float32)
    read, outlined = 0, 0
    for contour in contours:
        p = contour[:, 0, :].astype(np.float64)
        if len(p) < 12:
            continue
        tangent = np.roll(p, -2, axis=0) - np.roll(p, 2, axis=0)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
        # Inward: towards more coverage.
        probe = [
            cv2.remap(cover, *(p + k * normal).T.astype(np.float32)[:, None], cv2.INTER_LINEAR)
            for k in (2, -2)
        ]
        normal *= np.where(probe[0].reshape(-1) >= probe[1].reshape(-1), 1.0, -1.0)[:, None]
        offsets = np.array([-2.0, -1.5, -1.0, 0.5, 1.0, 1.5, 3.0, 4.0, 5.0]) * u
        pts = p[:, None, :] + offsets[None, :, None] * normal[:, None, :]  # (P, S, 2)
        x, y = (pts[..., k].astype(np.float32) for k in (0, 1))
        lum, cov = (
            cv2.remap(a, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for a in (luma, cover)
        )
        valid = (cov[:, :3] < 0.5).all(axis=1) & (cov[:, 3:] >= 0.5).all(axis=1)
        lip = np.median(lum[:, :3], axis=1)
        band = lum[:, 3:6].min(axis=1)
        inside = lum[:, 6:].mean(axis=1)
        lighter = np.minimum(lip, inside)
        dark = lighter - band > np.maximum(20.0, 0.25 * lighter)
        read += int(valid.sum())
        outlined += int((dark & valid).sum())
    return (outlined / read if read else 0.0), read


def render(name: str, images: Path, registry: EngineRegistry, edits: dict[str, dict]) -> dict:
    """{edit: {False / True: (region image, region coverage)}, "input": region, "scale": s, "face": box}"""
    state = prepare_photo(images / name, registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    canvas = Canvas(
        state.image, state.crop_transform, paint_blur=state.paint_blur, still=state.still_weight()
    )
    transform = state.crop_transform
    scale = 1.0 / transform.scale
    kept = renderer.settings
    out: dict = {"scale": scale}
    every = []  # all edits' inner lips (photo pixels): the box holds each edit's whole opening
    for label, values in edits.items():
        target = target_coefficients(state, EditRequest(values=values, engine="preview"), registry=registry)
        points = renderer.target_points(prepared, target)[np.concatenate(renderer.projector.layout.mouth), :2]
        every.append(transform.inverse_points(points))
        per = {}
        for on in (False, True):
            renderer.settings = dataclasses.replace(kept, mouth_corridor=on)
            frame = renderer.render_frame(prepared, target)
            per[on] = (place_frame(canvas, frame), frame.overlay_alpha)
        renderer.settings = kept
        out[label] = per
    lips = np.concatenate(every)
    (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
    pad = 0.45 * (x1 - x0)
    h, w = state.image.shape[:2]
    box = (max(int(x0 - pad), 0), max(int(y0 - pad), 0), min(int(x1 + pad) + 1, w), min(int(y1 + pad) + 1, h))
    out["box"], out["input"] = box, state.image
    face = transform.inverse_points(np.array([[0.0, 0.0], [transform.crop_size, transform.crop_size]]))
    out["face"] = tuple(int(v) for v in face.reshape(-1))
    to_crop = transform.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([box[0], box[1]], np.float64)
    size = (box[2] - box[0], box[3] - box[1])
    for label in edits:
        for on in (False, True):
            full, alpha = out[label][on]
            cover = (
                np.zeros((size[1], size[0]), np.float32)
                if alpha is None
                else photo_alpha(alpha, to_crop, size, scale)
            )
            out[label][on] = (full, cover)
    return out


def measure(result: dict, labels=MEASURED) -> dict[str, dict[bool, tuple[float, int]]]:
    x0, y0, x1, y1 = result["box"]
    return {
        label: {
            on: outline_share(result[label][on][0][y0:y1, x0:x1], result[label][on][1], result["scale"])
            for on in (False, True)
        }
        for label in labels
    }


CLEAN = (
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img24.jpg",
    "justadudewhohacks__face-api.js__happy.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img39.jpg",
)
FAULTS = tuple(name for name in SURVEY if name not in CLEAN)
#: Photos the fault survey (docs/FAULT_SURVEY.md, kind 5) saw the ring on since round 1's rule:
#: reported only (not in the rule's ten fault photos).
REPORTED = ("justadudewhohacks__face-api.js__raj1.png", "deepinsight__insightface__Nathalie_Baye_0002.jpg")


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = np.ascontiguousarray(tile)
    cv2.putText(tile, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3)
    cv2.putText(tile, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return tile


def _cut(image: np.ndarray, centre: tuple[int, int], size: tuple[int, int], zoom: int) -> np.ndarray:
    """`size` (w, h) photo pixels around `centre` (x, y) (padded grey past the photo), `zoom` x nearest."""
    w, h = size
    x0, y0 = centre[0] - w // 4, centre[1] - h // 2
    padded = cv2.copyMakeBorder(image, h, h, w, w, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    part = padded[y0 + h : y0 + 2 * h, x0 + w : x0 + 2 * w]
    return cv2.resize(part, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def _row(tiles: list[np.ndarray], width: int) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    row = np.hstack(
        [np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0)), constant_values=255) for t in tiles]
    )
    return np.pad(row, ((0, 6), (0, max(width - row.shape[1], 0)), (0, 0)), constant_values=255)[:, :width]


def photo_block(name: str, result: dict, width: int) -> np.ndarray:
    """The sheet's rows of one photo (see the module's docstring)."""
    x0, y0, x1, y1 = result["box"]

    def corner_of(label: str) -> tuple[int, int]:
        """The image-left end of the edit's painted gap (where main's line was strongest on t1)."""
        inside = np.argwhere(result[label][False][1] >= 0.5)
        if not len(inside):
            return (x0 + x1) // 2, (y0 + y1) // 2
        return x0 + int(inside[:, 1].min()), y0 + int(np.median(inside[:, 0]))

    corner = corner_of("open_mouth 1")
    fx0, fy0, fx1, fy1 = result["face"]
    h, w = result["input"].shape[:2]
    fx0, fy0, fx1, fy1 = max(fx0, 0), max(fy0, 0), min(fx1, w), min(fy1, h)

    def face(image: np.ndarray) -> np.ndarray:
        part = image[fy0:fy1, fx0:fx1]
        return cv2.resize(
            part, (max(int(230 * part.shape[1] / part.shape[0]), 1), 230), interpolation=cv2.INTER_AREA
        )

    short = Path(name).stem.split("__")[-1]
    rows = [
        _row(
            [_label(face(result["input"]), f"{short}: input")]
            + [
                _label(face(result[label][on][0]), f"{label} {'new' if on else 'main'}")
                for label in MEASURED
                for on in (False, True)
            ],
            width,
        )
    ]
    small = [_label(_cut(result["input"], corner, (130, 95), 1), "input 100%")]
    for label in EDITS:
        for on in (False, True):
            small.append(
                _label(
                    _cut(result[label][on][0], corner_of(label), (130, 95), 1),
                    f"{label[:14]} {'new' if on else 'main'}",
                )
            )
    rows.append(_row(small, width))
    big = []
    for label in MEASURED:
        big.append(_label(_cut(result["input"], corner_of(label), (100, 70), 3), "input 300%"))
        for on in (False, True):
            big.append(
                _label(
                    _cut(result[label][on][0], corner_of(label), (100, 70), 3),
                    f"{label} {'new' if on else 'main'}",
                )
            )
    rows.append(_row(big, width))
    return np.vstack(rows + [np.zeros((4, width, 3), np.uint8)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "mouth_corridor_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--photos", nargs="+", default=[*FAULTS, *CLEAN, *REPORTED])
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    width, blocks = 2000, []
    for name in args.photos:
        result = render(
            name, args.images, registry, {k: EDITS[k] for k in MEASURED} if args.measure_only else EDITS
        )
        shares = measure(result)
        print(
            Path(name).stem,
            " | ".join(
                f"{k}: {v[False][0]:.3f} -> {v[True][0]:.3f} ({v[False][1]}/{v[True][1]} read)"
                for k, v in shares.items()
            ),
            flush=True,
        )
        if not args.measure_only:
            blocks.append(photo_block(name, result, width))
    if blocks:
        sheet = np.vstack(blocks)
        cv2.imwrite(str(args.output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(args.output, sheet.shape, f"{args.output.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
