"""The lower lip of an opened mouth on soft, small photos (docs/LOWER_LIP.md): measure and sheet.

    OMP_NUM_THREADS=1 python benchmarks/lower_lip_sheet.py --measure [--flag lower_lip|none]
    OMP_NUM_THREADS=1 python benchmarks/lower_lip_sheet.py --sheet docs/lower_lip_sheet.jpg

Per photo and edit (open_mouth 0.5 and 1, smile 1, round_lips 1), at the photo's own resolution:

- *raggedness*: the mean thin-line response (a pixel darker or paler than both its neighbours one
  crop pixel away, across any of four directions; an edge answers 0) over the band round the
  target's outer lower lip (0.1 mouth widths above it to 0.35 under it, the central 70 % of the
  lip), minus the same on the photo round its own outer lower lip: the excess, in luma levels;
- *redness*: the mean Lab a* of the lower lip's middle (a quarter of the lip's height under its
  inner edge to 0.15 above its outer edge, the central 60 %) minus the photo's own.

`--flag none` measures the tree as it is (used on main before the flag existed); with a flag, each
cell is rendered with the flag off and on. The sheet: per photo the whole head (input | off | on,
open_mouth 1; at 100 %, scaled down only past 600 px) and the mouth region (at 100 % or more on photos
under 700 px) for every edit, off over on.
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

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

PHOTOS = (
    "KwaiVGI__LivePortrait__s11.jpg",  # the fault: a child, soft, face ~290 px
    "YadiraF__DECA__IMG_0392_inputs.jpg",  # 224 px
    "RenYurui__PIRender__id11180-i33msR57ahw-003483-003609_00096.jpg",  # 256 px
    "RenYurui__PIRender__id11248-QdBQTHX55yI-021933-022196_00274.jpg",  # 256 px
    "yzhou359__MakeItTalk__chris2.jpg",  # 256 px
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",  # 250 px
    "serengil__deepface__img1.jpg",  # sharp control: both rows of teeth
    "KwaiVGI__LivePortrait__s2.jpg",  # sharp control, 2048 px
    "dchen236__FairFace__race_Latino.jpg",  # sharp control, red lips
)
EDITS = {
    "open_mouth 0.5": {"open_mouth": 0.5},
    "open_mouth 1": {"open_mouth": 1.0},
    "smile 1": {"smile": 1.0},
    "round_lips 1": {"round_lips": 1.0},
}
#: Outer lower lip of the 478-point mesh, image-left corner to the other.
OUTER_LOWER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291])
IMAGES = REPO.parent / "shared" / "data" / "images"


@dataclasses.dataclass
class Lips:
    """A face's lower lip in photo pixels: inner and outer curves (K, 2), mouth width, crop step."""

    inner: np.ndarray
    outer: np.ndarray
    width: float
    step: int


def lips_of(state, registry: EngineRegistry, values: dict | None) -> Lips:
    """The photo's lower lip (`values` None) or the edit's target lower lip, in photo pixels."""
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    if values is None:
        points = prepared.points
    else:
        target = target_coefficients(state, EditRequest(dict(values), engine="preview"), registry=registry)
        points = renderer.target_points(prepared, target)
    to_photo = state.crop_transform.inverse_points
    inner = to_photo(points[renderer.projector.layout.mouth[1], :2])
    outer = to_photo(points[OUTER_LOWER, :2])
    width = float(np.hypot(*(outer[-1] - outer[0])))
    return Lips(inner, outer, width, max(1, round(1.0 / state.crop_transform.scale)))


def _columns(curve: np.ndarray, share: float) -> np.ndarray:
    """Integer photo columns over the central `share` of a curve's x extent."""
    left, right = sorted((float(curve[0, 0]), float(curve[-1, 0])))
    margin = 0.5 * (1.0 - share) * (right - left)
    return np.arange(int(np.ceil(left + margin)), int(np.floor(right - margin)) + 1)


def thin_lines(luma: np.ndarray, step: int) -> np.ndarray:
    """Per pixel the strongest thin-line response across four directions, `step` pixels apart."""
    pad = np.pad(luma, step, mode="edge")
    h, w = luma.shape
    out = np.zeros_like(luma)
    for dy, dx in ((0, step), (step, 0), (step, step), (step, -step)):
        a = pad[step + dy : step + dy + h, step + dx : step + dx + w]
        b = pad[step - dy : step - dy + h, step - dx : step - dx + w]
        dark = np.minimum(a, b) - luma
        pale = luma - np.maximum(a, b)
        out = np.maximum(out, np.maximum(np.maximum(dark, pale), 0.0))
    return out


def raggedness(image: np.ndarray, lips: Lips) -> float:
    """Mean thin-line response over the band round the outer lower lip (module docstring)."""
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lines = thin_lines(luma, lips.step)
    xs = _columns(lips.outer, 0.7)
    ys = curve_y(lips.outer, xs.astype(np.float64))
    values = []
    for x, y in zip(xs, ys, strict=True):
        y0, y1 = int(round(y - 0.1 * lips.width)), int(round(y + 0.35 * lips.width))
        y0, y1 = max(y0, 0), min(y1, image.shape[0])
        if 0 <= x < image.shape[1] and y1 > y0:
            values.append(lines[y0:y1, x])
    return float(np.concatenate(values).mean()) if values else 0.0


def redness(image: np.ndarray, lips: Lips) -> float:
    """Mean Lab a* over the lower lip's middle (module docstring)."""
    a_star = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 1].astype(np.float32) - 128.0
    xs = _columns(lips.outer, 0.6)
    top, bottom = curve_y(lips.inner, xs.astype(np.float64)), curve_y(lips.outer, xs.astype(np.float64))
    values = []
    for x, t, b in zip(xs, top, bottom, strict=True):
        y0, y1 = int(round(t + 0.25 * (b - t))), int(round(b - 0.15 * (b - t)))
        if 0 <= x < image.shape[1] and y1 > y0:
            values.append(a_star[max(y0, 0) : y1, x])
    return float(np.concatenate(values).mean()) if values else 0.0


def render_cells(flag: str, photos=PHOTOS, edits=EDITS, folder: Path | None = None):
    """Yield (photo, edit, photo image, {setting: image}, photo lips, target lips) per cell: the
    tree as it is (`flag` "none") or the geometric renderer with `flag` off and on."""
    registry = EngineRegistry(fast=False)
    for name in photos:
        state = prepare_photo(IMAGES / name, registry=registry)
        renderer = registry.geometric(state.backend).renderer
        kept = renderer.settings
        own = lips_of(state, registry, None)
        for label, values in edits.items():
            images = {}
            for on in (None,) if flag == "none" else (False, True):
                if on is not None:
                    renderer.settings = dataclasses.replace(kept, **{flag: on})
                images[on] = edit(
                    state, EditRequest(values=values, engine="preview"), registry=registry
                ).full_image
                renderer.settings = kept
            yield name, label, state.image, images, own, lips_of(state, registry, values)


def measure(flag: str) -> None:
    """Print raggedness excess and redness difference per cell."""
    print(f"{'photo':34s} {'edit':15s} ragged excess (off / on)   redness - photo's (off / on)")
    for name, label, photo, images, own, target in render_cells(flag):
        base_r, base_c = raggedness(photo, own), redness(photo, own)
        r = " / ".join(f"{raggedness(im, target) - base_r:6.2f}" for im in images.values())
        c = " / ".join(f"{redness(im, target) - base_c:6.2f}" for im in images.values())
        print(f"{Path(name).stem[:34]:34s} {label:15s} {r:26s} {c}", flush=True)


def _box(image: np.ndarray, cx: float, cy: float, half: int) -> np.ndarray:
    """The (2 half)-square of `image` centred on (cx, cy), edge pixels repeated past the photo."""
    pad = np.pad(image, ((half, half), (half, half), (0, 0)), mode="edge")
    x0, y0 = int(round(cx)), int(round(cy))  # (cx - half, cy - half) in the padded image
    return pad[y0 : y0 + 2 * half, x0 : x0 + 2 * half]


def _mouth_tile(image: np.ndarray, lips: Lips, side: int) -> np.ndarray:
    """The mouth region (2.6 mouth widths square) at 100 % or more, scaled to `side` px."""
    tile = _box(image, float(lips.outer[:, 0].mean()), float(lips.outer[:, 1].mean()), int(1.3 * lips.width))
    scaling = cv2.INTER_AREA if tile.shape[0] >= side else cv2.INTER_NEAREST
    return cv2.resize(tile, (side, side), interpolation=scaling)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _head(image: np.ndarray, lips: Lips, height: int) -> np.ndarray:
    """The whole head (6 mouth widths square, centred a mouth width above the lip) at 100 %, scaled
    down only where taller than `height` (a large photo: its mouth tiles are at 100 %)."""
    cx, cy = float(lips.outer[:, 0].mean()), float(lips.outer[:, 1].mean() - lips.width)
    tile = _box(image, cx, cy, int(3.0 * lips.width))
    return (
        cv2.resize(tile, (height, height), interpolation=cv2.INTER_AREA) if tile.shape[0] > height else tile
    )


def sheet(flag: str, out: Path, side: int = 220, head: int = 600) -> None:
    """Per photo: the head at open_mouth 1 (input | off | on), then per edit the mouth off over on."""
    rows: list[np.ndarray] = []
    cells = {}
    for name, label, photo, images, own, target in render_cells(flag):
        cells.setdefault(name, []).append((label, photo, images, own, target))
    for name, items in cells.items():
        label, photo, images, own, target = items[1]  # open_mouth 1
        heads = [_head(image, own, head) for image in (photo, images[False], images[True])]  # one box
        heads = [_label(h, t) for h, t in zip(heads, ("input", f"{flag} off", f"{flag} on"), strict=True)]
        top = np.hstack(heads)
        tiles = []
        for label, _photo, images, own, _target in items:
            off = _label(_mouth_tile(images[False], own, side), f"{label} off")
            on = _label(_mouth_tile(images[True], own, side), "on")
            tiles.append(np.vstack([off, on]))
        first = _label(_mouth_tile(photo, own, side), "input")
        first = np.vstack([first, _label(np.full_like(first, 255), Path(name).stem[-26:])])
        bottom = np.hstack([first, *tiles])
        width = max(top.shape[1], bottom.shape[1])
        block = [
            cv2.copyMakeBorder(a, 0, 6, 0, width - a.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
            for a in (top, bottom)
        ]
        rows.append(np.vstack(block))
    width = max(r.shape[1] for r in rows)
    rows = [
        cv2.copyMakeBorder(r, 0, 10, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for r in rows
    ]
    image = cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(out, image.shape, out.stat().st_size // 1024, "KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flag", default="lower_lip")
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()
    if args.measure:
        measure(args.flag)
    if args.sheet:
        sheet(args.flag, args.sheet)


if __name__ == "__main__":
    main()
