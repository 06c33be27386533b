"""Contact sheet and figures of a turn's magnified near rim at the photo's resolution: input | main |
new (docs/RIM_SKIN.md).

    python benchmarks/rim_skin_sheet.py [-o docs/rim_skin_sheet.jpg] [--images DIR] [--measure] [--png DIR]
        [--with rim_untiled]

Per photo, at yaw +30 and -30 (people_0, added in round 2: +30 only): a crop of the magnified band on the side it is widest, at 100 %
(photos under 600 px wide at 200 %), input | without `PreviewSettings.rim_skin` (main's code path)
| with it. With --measure, per case: `streak` (`streak_ratio`: how much more the output's fine
detail varies down than across in the band, against the photo's own cheeks; streaks: far above 1),
main and new; the PSNR of new vs main outside the band; and the PSNR of new vs main over the whole
photo for single-expression edits.
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

from benchmarks.measures import detail_energies  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label  # noqa: E402
from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

PHOTOS = (
    "dchen236__FairFace__race_Middle_Eastern.jpg",
    "KwaiVGI__LivePortrait__d38.jpg",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "serengil__deepface__img1.jpg",
    "OpenTalker__SadTalker__people_0.png",
)
YAWS = (30.0, -30.0)
#: Photos looked at on one side only (added in round 2: where the fault was seen).
ONE_YAW = {"OpenTalker__SadTalker__people_0.png": (30.0,)}
EXPRESSIONS = ("open_mouth", "smile", "close_eyes")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: MediaPipe points: outer eye corners and mouth corners (image-left side first).
_CHEEK_POINTS = ((33, 61), (263, 291))
#: Panels are at most this big (photo pixels, before enlarging).
_PANEL = (260, 380)


def magnification(flow: np.ndarray) -> np.ndarray:
    """(c, c) float32: output columns per photo column along the rows of the (c, c, 2) backward
    `flow` (smoothed by 1 crop pixel); 0 where the read does not advance."""
    fx = cv2.GaussianBlur(flow[..., 0], (0, 0), 1.0)
    advance = 1.0 + np.gradient(fx, axis=1)
    return np.where(advance > 0.0, 1.0 / np.maximum(advance, 1e-3), 0.0).astype(np.float32)


def _detail_ratio(luma: np.ndarray, mask: np.ndarray) -> float:
    """E_y / E_x of `luma`'s detail over `mask` (`benchmarks.measures.detail_energies`)."""
    along_rows, down_columns = detail_energies(luma, mask)
    return down_columns / max(along_rows, 1e-6)


def cheek_mask(state: SourceState) -> np.ndarray:
    """(H, W) bool: the photo's own cheeks, two squares of 0.12 face widths halfway between each
    outer eye corner and the mouth corner on that side."""
    points = state.analysis.detection.face.landmarks[:, :2]
    side = 0.12 * float(np.ptp(points[:, 0]))
    mask = np.zeros(state.image.shape[:2], bool)
    for eye, mouth in _CHEEK_POINTS:
        cx, cy = 0.5 * (points[eye] + points[mouth])
        y0, x0 = max(int(cy - side / 2), 0), max(int(cx - side / 2), 0)
        mask[y0 : int(cy + side / 2), x0 : int(cx + side / 2)] = True
    return mask


def band_mask(state: SourceState, flow: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) bool: the photo pixels whose crop position `flow` magnifies at least `threshold`x."""
    h, w = state.image.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    magnified = cv2.warpAffine(magnification(flow), state.crop_transform.matrix, (w, h), flags=flags)
    return magnified >= threshold


def streak_ratio(output: np.ndarray, photo: np.ndarray, band: np.ndarray, cheeks: np.ndarray) -> float:
    """`streak`: E_y / E_x of the output's fine detail over `band`, over the same of the photo's
    own `cheeks` (about 1: the skin's own texture; far above 1: horizontal streaks)."""
    luma = output.astype(np.float32) @ _LUMA
    return _detail_ratio(luma, band) / _detail_ratio(photo.astype(np.float32) @ _LUMA, cheeks)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR (dB) of two uint8 images over `mask` (everything if None); inf when identical."""
    diff = a.astype(np.float32) - b.astype(np.float32)
    err = float(np.mean((diff if mask is None else diff[mask]) ** 2))
    return float("inf") if err == 0.0 else 10.0 * np.log10(255.0**2 / err)


def _renders(
    state: SourceState, registry: EngineRegistry, values: dict[str, float], extra: tuple[str, ...] = ()
) -> list[np.ndarray]:
    """[main, new]: the full-resolution edit without and with `PreviewSettings.rim_skin` (and with
    the flags `extra` on, round 3's `rim_untiled`)."""
    renderer = registry.geometric(state.backend).renderer
    base = renderer.settings
    outs = []
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(base, rim_skin=on, **dict.fromkeys(extra, on))
            outs.append(edit(state, EditRequest(values, engine="preview"), registry=registry).full_image)
    finally:
        renderer.settings = base
    return outs


def _panel_box(band: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the band on the side of the photo where it has more pixels."""
    ys, xs = np.nonzero(band)
    middle = 0.5 * (xs.min() + xs.max())
    side = xs < middle if np.sum(xs < middle) >= np.sum(xs >= middle) else xs >= middle
    xs, ys = xs[side], ys[side]
    cx, cy = int(np.median(xs)), int(np.median(ys))
    h, w = band.shape
    x0, y0 = max(cx - _PANEL[0] // 2, 0), max(cy - _PANEL[1] // 2, 0)
    return x0, y0, min(x0 + _PANEL[0], w), min(y0 + _PANEL[1], h)


def measure_photo(
    path: Path, registry: EngineRegistry, png: Path | None = None, extra: tuple[str, ...] = ()
) -> tuple[list[str], list[np.ndarray]]:
    """The figures (lines) and the sheet's panels (one per yaw) of one photo; each panel also as a
    PNG in `png` if given; `extra`: flags on with `rim_skin` in "new"."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    prepared = engine.renderer, state.engine_state(engine)
    cheeks = cheek_mask(state)
    lines, panels = [], []
    zoom = 2 if state.image.shape[1] < 600 else 1
    for yaw in ONE_YAW.get(path.name, YAWS):
        target = target_coefficients(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry)
        flow = prepared[0].render_frame(prepared[1], target).flow
        band = band_mask(state, flow, 2.0)
        main, new = _renders(state, registry, {"yaw": yaw}, extra)
        # outside the band dilated by 4 crop pixels, and outside where it magnifies 1.5x, in the crop's box
        near = band_mask(state, flow, 1.5) | band
        reach = int(np.ceil(4.0 / state.crop_transform.scale))
        near = cv2.dilate(near.astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)) > 0
        box = band_mask(state, np.zeros_like(flow), 0.5)  # every crop pixel magnifies 1x
        outside = box & ~near
        before = streak_ratio(main, state.image, band, cheeks)
        after = streak_ratio(new, state.image, band, cheeks)
        lines.append(
            f"{path.name[:40]:40s} yaw {yaw:+.0f}: streak main {before:5.2f} new {after:5.2f}; "
            f"PSNR outside the band {psnr(main, new, outside):6.2f} dB ({int(band.sum())} band px)"
        )
        x0, y0, x1, y1 = _panel_box(band)
        crops = [image[y0:y1, x0:x1] for image in (state.image, main, new)]
        gap = np.full((crops[0].shape[0], 4, 3), 255, np.uint8)
        triple = np.concatenate([crops[0], gap, crops[1], gap, crops[2]], axis=1)
        if zoom > 1:
            triple = cv2.resize(triple, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        if png is not None:
            cv2.imwrite(
                str(png / f"{path.stem[:24]}_yaw{yaw:+.0f}.png"), cv2.cvtColor(triple, cv2.COLOR_RGB2BGR)
            )
        title = f"{path.name[:30]} yaw {yaw:+.0f}: input | main | new ({zoom * 100} %)"
        panels.append(_label(triple, title))
    for name in EXPRESSIONS:
        main, new = _renders(state, registry, {name: 1.0}, extra)
        same = "pixel-identical" if np.array_equal(main, new) else f"PSNR {psnr(main, new):.2f} dB"
        lines.append(f"{path.name[:40]:40s} {name} 1: {same}")
    return lines, panels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "rim_skin_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--measure", action="store_true", help="print the figures of the rule")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--quality", type=int, default=72)
    parser.add_argument("--png", type=Path, default=None, help="also write each triple as a PNG here")
    parser.add_argument("--with", dest="extra", nargs="*", default=[], help="flags on in new (rim_untiled)")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for name in args.photos:
        lines, panels = measure_photo(args.images / name, registry, args.png, tuple(args.extra))
        if args.measure:
            print("\n".join(lines))  # noqa: T201
        height = max(p.shape[0] for p in panels)
        padded = [np.pad(p, ((0, height - p.shape[0]), (0, 12), (0, 0)), constant_values=255) for p in panels]
        rows.append(np.pad(np.concatenate(padded, axis=1), ((0, 10), (0, 0), (0, 0)), constant_values=255))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
