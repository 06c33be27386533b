"""The far side of a turned head: contact sheet and measures, main's renderer against the change.

    python benchmarks/far_side_sheet.py [-o docs/far_side_sheet.jpg] [--change far_side]
    python benchmarks/far_side_sheet.py --measure
    python benchmarks/far_side_sheet.py --bench 30 [--photo PATH]

Sheet: per photo and yaw (-30, -15, +15, +30), the face box at the photo's resolution (small photos
magnified, nearest, never shrunk): input | main | change. "Main" is the default renderer with the
`PreviewSettings` flags of `--change` off, "change" with them on (docs/FAR_SIDE.md).

Measures (docs/FAR_SIDE.md, rule 1): M1, thin dark lines inside the target face at the photo's
resolution; M2, target face pixels outside the target's nose that read the photo's nose.

Cost (rule 4): `--bench N` times a 768 px drag preview (render + placing it in the display-size
canvas) of the drag of `benchmarks/bench_fullres.py`, main and the change taking turns in one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_fullres import drag_scene  # noqa: E402
from benchmarks.mouth_sheet import write_sheet  # noqa: E402
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, photo_canvas, prepare_photo  # noqa: E402
from pipeline.photo import place_frame, target_coefficients  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "serengil__deepface__selfie-many-people.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "jdh-algo__JoyVASA__joyvasa_005.png",
    "fudan-generative-vision__hallo__6.jpg",
)
YAWS = (-30.0, -15.0, 15.0, 30.0)
CHANGES = ("far_side",)
TILE = 420  # at least this many pixels across a face tile (small photos magnified)
#: The nose's points of the 478-point mesh: bridge, tip, wings.
NOSE = np.array(
    [6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 64, 294, 48, 278, 115, 344, 220, 440, 45, 275, 129, 358]
    + [49, 279, 102, 331, 240, 460, 75, 305, 60, 290, 79, 309, 122, 351, 188, 412, 196, 419, 3, 248]
)
#: Thin dark line: this many luminance levels below both neighbours `LINE_STEP` pixels away.
LINE_DROP = 25
LINE_STEP = 2


@contextmanager
def settings(registry: EngineRegistry, state, **flags: bool) -> Iterator[object]:  # noqa: ANN001
    """The geometric engine of `state` with its `PreviewSettings` flags set for the block."""
    engine = registry.select("preview", state.backend, state.face_model)
    renderer = engine.renderer
    before = renderer.settings
    renderer.settings = dataclasses.replace(before, **flags)
    try:
        yield engine
    finally:
        renderer.settings = before


def _hull_mask(points: np.ndarray, shape: tuple[int, int], grow: int = 0) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    if grow > 0:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1,) * 2, np.uint8))
    elif grow < 0:
        mask = cv2.erode(mask, np.ones((-2 * grow + 1,) * 2, np.uint8))
    return mask > 0


def thin_dark_lines(image: np.ndarray, where: np.ndarray) -> int:
    """M1: pixels of `where` at least `LINE_DROP` levels darker than both neighbours `LINE_STEP`
    pixels away along x, or along y (luminance of the (H, W, 3) RGB image)."""
    y = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.int16)
    s = LINE_STEP
    pad = np.pad(y, s, mode="edge")
    centre = pad[s:-s, s:-s]
    across = (pad[s:-s, : -2 * s] - centre >= LINE_DROP) & (pad[s:-s, 2 * s :] - centre >= LINE_DROP)
    down = (pad[: -2 * s, s:-s] - centre >= LINE_DROP) & (pad[2 * s :, s:-s] - centre >= LINE_DROP)
    return int(((across | down) & where).sum())


def measure_one(state, registry: EngineRegistry, yaw: float, **flags: bool) -> tuple[int, int]:  # noqa: ANN001
    """(M1, M2) of one turn with the renderer's flags set as given."""
    request = EditRequest({"yaw": yaw}, engine="preview")
    coeffs = target_coefficients(state, request, registry=registry)
    with settings(registry, state, **flags) as engine:
        prepared = state.engine_state(engine)
        frame = engine.render_frame(prepared, coeffs)
        full = edit(state, request, registry=registry).full_image
        target = engine.renderer._target_points(prepared, coeffs)[:, :2]
    source = prepared.points[:, :2]
    c = frame.flow.shape[0]
    # M2 at the crop's resolution.
    face = _hull_mask(target, (c, c))
    beside = face & ~_hull_mask(target[NOSE], (c, c), grow=2)
    nose = _hull_mask(source[NOSE], (c, c))
    ys, xs = np.nonzero(beside)
    rx = np.clip(np.round(xs + frame.flow[ys, xs, 0]).astype(int), 0, c - 1)
    ry = np.clip(np.round(ys + frame.flow[ys, xs, 1]).astype(int), 0, c - 1)
    m2 = int(nose[ry, rx].sum())
    # M1 at the photo's resolution: the target face without its eyes and mouth.
    to_photo = cv2.invertAffineTransform(state.crop_transform.matrix)
    in_photo = target @ to_photo[:, :2].T + to_photo[:, 2]
    where = _hull_mask(in_photo, full.shape[:2])
    layout = engine.renderer.projector.layout
    # The eyes' boxes reach up over the brows (the brows' upper edges are thin dark lines).
    parts = [(np.concatenate(e), 1.0) for e in layout.eyes] + [(np.concatenate(layout.mouth), 0.35)]
    for part, up in parts:
        (x0, y0), (x1, y1) = in_photo[part].min(axis=0), in_photo[part].max(axis=0)
        pad = 0.35 * (x1 - x0)
        top = max(0, int(y0 - up * (x1 - x0)))
        where[top : int(y1 + pad) + 1, max(0, int(x0 - pad)) : int(x1 + pad) + 1] = False
    return thin_dark_lines(full, where), m2


def measure(images: Path, changes: tuple[str, ...]) -> None:
    registry = EngineRegistry(fast=False)
    cases = (
        ("OpenTalker__SadTalker__people_0.png", -30.0),
        ("serengil__deepface__selfie-many-people.jpg", 30.0),
    )
    for name, yaw in cases:
        state = prepare_photo(images / name, registry=registry)
        off = {flag: False for flag in CHANGES}
        m_photo = measure_one(state, registry, 0.0, **off)
        print(f"{name} yaw 0 (the photo): M1 {m_photo[0]}, M2 {m_photo[1]}")  # noqa: T201
        m_main = measure_one(state, registry, yaw, **off)
        print(f"{name} yaw {yaw:+.0f} main: M1 {m_main[0]}, M2 {m_main[1]}")  # noqa: T201
        for change in changes:
            on = dict(off, **{flag: True for flag in change.split("+")})
            m = measure_one(state, registry, yaw, **on)
            print(f"{name} yaw {yaw:+.0f} {change}: M1 {m[0]}, M2 {m[1]}")  # noqa: T201


def bench(photo: Path | None, repeats: int, flags: dict[str, bool]) -> None:
    """Median ms per 768 px drag preview, main against the change, taking turns in one run."""
    scene = drag_scene(photo, repeats)
    renderer = scene.engine.renderer
    display = photo_canvas(scene.state, 768)
    off, on = (dataclasses.replace(renderer.settings, **{f: v for f in flags}) for v in (False, True))

    def preview(settings: object, i: int) -> None:
        renderer.settings = settings
        place_frame(display, scene.engine.render_frame(scene.prepared, scene.targets[i]))

    for i in range(3):
        preview(on, i)  # warm-up
    times = interleaved_ms({"main": lambda i: preview(off, i), "change": lambda i: preview(on, i)}, repeats)
    record: dict[str, object] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
    main_ms, change_ms = (record[k]["median_ms"] for k in ("main", "change"))  # type: ignore[index]
    record["change_minus_main_ms"] = round(change_ms - main_ms, 2)
    record["ratio"] = round(change_ms / main_ms, 3)
    write_record(record, None)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def rows_for(path: Path, registry: EngineRegistry, flags: dict[str, bool]) -> list[np.ndarray]:
    state = prepare_photo(path, registry=registry)
    lm = state.analysis.detection.face.landmarks[:, :2]
    (x0, y0), (x1, y1) = lm.min(axis=0), lm.max(axis=0)
    pad = 0.3 * (x1 - x0)
    h, w = state.image.shape[:2]
    box = (max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(x1 + pad)), min(h, int(y1 + 0.5 * pad)))
    zoom = max(1, int(np.ceil(TILE / (box[2] - box[0]))))

    def tile(image: np.ndarray) -> np.ndarray:
        part = image[box[1] : box[3], box[0] : box[2]]
        return cv2.resize(part, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)

    rows = []
    off = {flag: False for flag in flags}
    for yaw in YAWS:
        request = EditRequest({"yaw": yaw}, engine="preview")
        with settings(registry, state, **off):
            before = edit(state, request, registry=registry).full_image
        with settings(registry, state, **flags):
            now = edit(state, request, registry=registry).full_image
        row = np.concatenate([tile(state.image), tile(before), tile(now)], axis=1)
        rows.append(_label(row, f"{path.name[:36]} yaw {yaw:+.0f} x{zoom}: input | main | change"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "far_side_sheet.jpg")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--change", default=",".join(CHANGES), help="flags to turn on, comma-separated")
    parser.add_argument("--measure", action="store_true", help="print the measures instead of the sheet")
    parser.add_argument("--bench", type=int, default=0, help="time this many drag previews instead")
    parser.add_argument(
        "--photo", type=Path, default=None, help="photo of --bench (default: astronaut at 12 MP)"
    )
    args = parser.parse_args()
    flags = [f for f in args.change.split(",") if f]
    if args.bench:
        bench(args.photo, args.bench, {flag: True for flag in flags})
        return
    if args.measure:
        measure(args.images, (*flags, "+".join(flags)) if len(flags) > 1 else tuple(flags))
        return
    registry = EngineRegistry(fast=False)
    on = {flag: True for flag in flags}
    rows = [row for name in PHOTOS for row in rows_for(args.images / name, registry, on)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    write_sheet(rows, args.out, quality=60)


if __name__ == "__main__":
    main()
