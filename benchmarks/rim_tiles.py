"""Repeated patches in a turn's magnified near rim, seen at the face's scale (docs/RIM_SKIN.md,
"Round 3: tiles on small photos").

    python benchmarks/rim_tiles.py --photos NAME ... [--survey] [--png DIR] [--flag rim_untiled]
        [--sheet docs/rim_tiles_sheet.jpg]

`tiles`: the share of the band's pixels (output columns magnified >= 2x, on the 256 px crop; not
within 3 px of an edge, where the blurred luma changes by more than 8 levels per px) whose 5 x 5
patch of visible fine detail (luma minus its blur, sigma 1.5 crop px; RMS above 2.5 luma levels)
has a near copy (normalised correlation >= 0.85, straight or mirrored) 3-12 crop pixels along its
row: a highlight repeated as tiles. The output is read at the crop's resolution (blurred first
where the photo is larger), so grain finer than the face's scale counts as grain. `added`: tiles
of an output minus tiles of the same edit without `rim_skin` (what the rim's texture adds; a
photo's own repeated detail, hair or cloth, cancels). With --survey: rim_skin off and main; else
off, main (the flag off) and new (on). With --sheet, per case input | main | new: the whole photo
at 100 % and the band's side enlarged (4x for photos up to 160 px wide, else 2x up to 600 px).
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

from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.paint_sheet import _label  # noqa: E402
from benchmarks.rim_skin_sheet import _panel_box, cheek_mask, magnification  # noqa: E402
from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_PATCH = 5
_LAGS = range(3, 13)
_MATCH = 0.85
_VISIBLE = 2.5
_EDGE = 8.0


def at_crop(image: np.ndarray, state: SourceState) -> np.ndarray:
    """(c, c) float32: `image`'s luma on the crop (anti-aliased where the photo is finer)."""
    transform = state.crop_transform
    luma = image.astype(np.float32) @ _LUMA
    finer = 1.0 / transform.scale  # photo px per crop px
    if finer > 1.0:
        luma = cv2.GaussianBlur(luma, (0, 0), 0.5 * finer)
    c = transform.crop_size
    return cv2.warpAffine(luma, transform.matrix, (c, c), flags=cv2.INTER_LINEAR, borderValue=-1.0)


def tiles(luma: np.ndarray, band: np.ndarray) -> float:
    """Share of `band` pixels of the (c, c) `luma` whose visible patch has a near copy along its row
    (`_LAGS`, straight or mirrored)."""
    blurred = cv2.GaussianBlur(luma, (0, 0), 1.5)
    detail = luma - blurred
    slope = np.hypot(cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1)) / 8.0
    band = band & ~(cv2.dilate((slope > _EDGE).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    half = _PATCH // 2
    view = np.lib.stride_tricks.sliding_window_view(detail, (_PATCH, _PATCH))
    h, w = view.shape[:2]
    ys, xs = np.nonzero(
        band[half : half + h, half : half + w] & (luma[half : half + h, half : half + w] >= 0)
    )
    if ys.size == 0:
        return 0.0
    patches = view[ys, xs].reshape(len(ys), -1)
    patches = patches - patches.mean(axis=1, keepdims=True)
    energy = np.sqrt((patches**2).sum(axis=1))
    visible = energy / _PATCH >= _VISIBLE
    best = np.zeros(len(ys), np.float32)
    for lag in _LAGS:
        for sign in (1, -1):
            other = xs + sign * lag
            ok = (other >= 0) & (other < w)
            q = view[ys[ok], other[ok]]
            for mirrored in (False, True):
                qq = (q[..., ::-1] if mirrored else q).reshape(int(ok.sum()), -1)
                qq = qq - qq.mean(axis=1, keepdims=True)
                ncc = (patches[ok] * qq).sum(axis=1) / (energy[ok] * np.sqrt((qq**2).sum(axis=1)) + 1e-6)
                best[ok] = np.maximum(best[ok], ncc)
    return float(np.mean(visible & (best >= _MATCH)))


def render(state: SourceState, registry: EngineRegistry, yaw: float, **flags: bool) -> np.ndarray:
    """The full-resolution edit at `yaw` with the renderer's settings replaced by `flags`."""
    renderer = registry.geometric(state.backend).renderer
    base = renderer.settings
    try:
        renderer.settings = dataclasses.replace(base, **flags)
        return edit(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry).full_image
    finally:
        renderer.settings = base


def band_on_crop(state: SourceState, registry: EngineRegistry, yaw: float) -> np.ndarray:
    """(c, c) bool: crop pixels main's flow at `yaw` magnifies >= 2x along the rows."""
    engine = registry.geometric(state.backend)
    target = target_coefficients(state, EditRequest({"yaw": yaw}, engine="preview"), registry=registry)
    flow = engine.renderer.render_frame(state.engine_state(engine), target).flow
    return magnification(flow) >= 2.0


def cheeks_on_crop(state: SourceState) -> np.ndarray:
    """(c, c) bool: the photo's own cheeks (`rim_skin_sheet.cheek_mask`) on the crop."""
    c = state.crop_transform.crop_size
    mask = cheek_mask(state).astype(np.uint8)
    return cv2.warpAffine(mask, state.crop_transform.matrix, (c, c), flags=cv2.INTER_NEAREST) > 0


def panel(state: SourceState, band: np.ndarray, images: list[np.ndarray], title: str) -> np.ndarray:
    """input | main | new: the whole photos at 100 % over the band's side enlarged."""
    h, w = state.image.shape[:2]
    flags = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    on_photo = cv2.warpAffine(band.astype(np.uint8), state.crop_transform.matrix, (w, h), flags=flags) > 0
    zoom = 4 if w <= 160 else 2 if w <= 600 else 1
    x0, y0, x1, y1 = _panel_box(on_photo) if on_photo.any() else (0, 0, w, h)

    def triple(views: list[np.ndarray]) -> np.ndarray:
        gap = np.full((views[0].shape[0], 4, 3), 255, np.uint8)
        return np.concatenate([views[0], gap, views[1], gap, views[2]], axis=1)

    whole = [state.image, *images]
    near = cv2.resize(triple([v[y0:y1, x0:x1] for v in whole]), None, fx=zoom, fy=zoom, interpolation=0)
    top = triple(whole)
    width = max(top.shape[1], near.shape[1])
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in (top, near)]
    return _label(np.concatenate(rows, axis=0), f"{title}: input | main | new (100 %; {zoom * 100} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--photos", nargs="*", required=True)
    parser.add_argument("--survey", action="store_true")
    parser.add_argument("--flag", default="rim_untiled")
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument("--yaws", nargs="*", type=float, default=[30.0, -30.0])
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    panels = []
    for name in args.photos:
        state = prepare_photo(args.images / name, registry=registry)
        face = float(np.ptp(state.analysis.detection.face.landmarks[:, 0]))
        own = tiles(at_crop(state.image, state), cheeks_on_crop(state))
        for yaw in args.yaws:
            band = band_on_crop(state, registry, yaw)
            runs = {"off": {"rim_skin": False}, "main": {args.flag: False}}
            if not args.survey:
                runs["new"] = {args.flag: True}
            figures, images, base = [], [], 0.0
            for label, flags in runs.items():
                out = render(state, registry, yaw, **flags)
                images.append(out)
                value = tiles(at_crop(out, state), band)
                base = value if label == "off" else base
                figures.append(
                    f"{label} {value:.4f}" + ("" if label == "off" else f" (added {value - base:+.4f})")
                )
            print(  # noqa: T201
                f"{name[:44]:44s} face {face:4.0f} px photo/crop {1 / state.crop_transform.scale:4.2f} "
                f"yaw {yaw:+.0f}: tiles {' '.join(figures)} (own cheeks {own:.3f}; {int(band.sum())} band px)",
                flush=True,
            )
            if args.sheet is not None and not args.survey:
                panels.append(panel(state, band, images[1:], f"{name[:34]} yaw {yaw:+.0f}"))
            if args.png is not None:
                row = np.concatenate([state.image, *images[1:]], axis=1)
                zoom = max(1, int(round(600 / state.image.shape[1])))
                row = cv2.resize(row, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
                cv2.imwrite(
                    str(args.png / f"{name[:28]}_{yaw:+.0f}.png"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR)
                )
    if panels:
        width = max(p.shape[1] for p in panels)
        rows = [np.pad(p, ((0, 10), (0, width - p.shape[1]), (0, 0)), constant_values=255) for p in panels]
        write_sheet(rows, args.sheet, 65)


if __name__ == "__main__":
    main()
