"""The gaze's iris and catchlight measured at full resolution (docs/GAZE_IRIS.md, the rule's (a), (b)).

    OMP_NUM_THREADS=1 python benchmarks/gaze_iris_measure.py [--photos NAME ...] [--self]

Per photo, eye and gaze setting: (a) the catchlight's area ratio A and elongation E (output vs
photo), (b) the iris's widest dark row ratio W; with `rigid_iris` off (main) and, when the flag
exists, on. `--self`: the unedited photo read against itself (the measure's clean reading).
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
from pipeline.eyes import GAZE_REACH  # noqa: E402
from pipeline.face_paint import curve_y  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "serengil__deepface__img24.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "justadudewhohacks__face-api.js__happy.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",
)
SETTINGS = tuple({k: v} for k in ("gaze_x", "gaze_y") for v in (-1.0, -0.5, 0.5, 1.0))
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclasses.dataclass(frozen=True)
class Eye:
    """One eye in photo pixels: iris centre, radius, lid curves (K, 2), width."""

    centre: np.ndarray
    radius: float
    upper: np.ndarray
    lower: np.ndarray
    width: float


def photo_eyes(state, registry) -> list[Eye]:  # noqa: ANN001
    """The eyes the photo shows open, in photo pixels."""
    engine = registry.geometric(state.backend)
    prepared = state.engine_state(engine)
    a = np.asarray(state.crop_transform.affine, np.float64)
    inv = cv2.invertAffineTransform(a)
    scale = 1.0 / np.sqrt(abs(np.linalg.det(a[:, :2])))
    eyes = []
    for (u, lo), iris in zip(engine.renderer.projector.layout.eyes, prepared.irises, strict=True):
        if iris is None:
            continue

        def to_photo(p: np.ndarray) -> np.ndarray:
            return p @ inv[:, :2].T + inv[:, 2]

        up, low = to_photo(prepared.points[u, :2]), to_photo(prepared.points[lo, :2])
        eyes.append(
            Eye(to_photo(iris.centre), iris.radius * scale, up, low, float(np.hypot(*(up[-1] - up[0]))))
        )
    return eyes


def _grid(eye: Eye, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    pts = np.concatenate([eye.upper, eye.lower])
    x0, y0 = np.maximum(np.floor(pts.min(0)) - 4, 0).astype(int)
    x1, y1 = np.minimum(np.ceil(pts.max(0)) + 5, [shape[1], shape[0]]).astype(int)
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    return xs, ys, (x0, y0, x1, y1)


def _component(mask: np.ndarray, pick: np.ndarray | None = None) -> np.ndarray:
    """The connected component holding `pick` (a bool mask) or else the largest."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, bool)
    if pick is not None and np.any(labels[pick] > 0):
        return labels == np.bincount(labels[pick][labels[pick] > 0]).argmax()
    return labels == 1 + np.argmax(np.bincount(labels.ravel())[1:])


def _shape(blob: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(blob)
    return float(blob.sum()), (ys.std() + 0.5) / (xs.std() + 0.5)


def measure(photo: np.ndarray, out: np.ndarray, eye: Eye, gaze: np.ndarray) -> dict[str, float]:
    """A, E (nan when the photo shows no catchlight) and W of one eye."""
    xs, ys, (x0, y0, x1, y1) = _grid(eye, photo.shape)
    top, bottom = curve_y(eye.upper, xs), curve_y(eye.lower, xs)
    opening = (ys > top) & (ys < bottom)
    inner = (ys > top + 2) & (ys < bottom - 2)
    before = photo[y0:y1, x0:x1].astype(np.float64) @ _LUMA
    after = out[y0:y1, x0:x1].astype(np.float64) @ _LUMA
    c, r = eye.centre, eye.radius
    moved = c + np.array([gaze[0] * GAZE_REACH[0], -gaze[1] * GAZE_REACH[1]]) * eye.width
    dist, dist_m = np.hypot(xs - c[0], ys - c[1]), np.hypot(xs - moved[0], ys - moved[1])
    disc, sclera = opening & (dist <= r), opening & (dist > 1.2 * r)
    result = {"A": np.nan, "E": np.nan, "W": np.nan}
    if disc.sum() < 4 or sclera.sum() < 4:
        return result
    med, top_l = np.median(before[disc]), before[disc].max()
    t = max(med + 0.5 * (top_l - med), np.percentile(before[sclera], 90) + 15)
    if top_l > t:
        brightest = disc & (before == top_l)
        ref = _component(disc & (before > t), brightest)
        got = _component(opening & ((dist <= r) | (dist_m <= r)) & (after > t))
        if got.sum() == 0:
            result["A"], result["E"] = 0.0, 0.0
        else:
            (a0, e0), (a1, e1) = _shape(ref), _shape(got)
            result["A"], result["E"] = a1 / a0, e1 / e0
    d = 0.5 * (med + np.median(before[sclera]))

    def widest(luma: np.ndarray, near: np.ndarray) -> int:
        blob = _component(inner & (near <= 1.8 * r) & (luma < d))
        return int(blob.sum(axis=1).max()) if blob.any() else 0

    w0 = widest(before, dist)
    result["W"] = widest(after, dist_m) / w0 if w0 else np.nan
    return result


def passes(m: dict[str, float]) -> tuple[bool, bool]:
    """(catchlight passes (or is skipped), iris width passes)."""
    a_ok = np.isnan(m["A"]) or (0.5 <= m["A"] <= 2.0 and 0.5 <= m["E"] <= 2.0)
    w_ok = np.isnan(m["W"]) or 0.85 <= m["W"] <= 1.15
    return bool(a_ok), bool(w_ok)


def run(path: Path, registry: EngineRegistry, itself: bool = False) -> dict[str, list]:
    """Per flag value ("main", "new"): a row per (eye, setting): (name, eye, A, E, W, fails)."""
    state = prepare_photo(path, registry=registry)
    engine = registry.geometric(state.backend)
    default = engine.renderer.settings
    photo = np.asarray(state.image)
    eyes = photo_eyes(state, registry)
    has_flag = hasattr(default, "rigid_iris")
    out: dict[str, list] = {}
    for label, on in (("main", False), ("new", True)):
        if label == "new" and not has_flag:
            continue
        if has_flag:
            engine.renderer.settings = dataclasses.replace(default, rigid_iris=on)
        rows = []
        for values in SETTINGS:
            gaze = np.array([values.get("gaze_x", 0.0), values.get("gaze_y", 0.0)])
            image = (
                photo
                if itself
                else np.asarray(
                    edit(state, EditRequest(values, engine="preview"), registry=registry).full_image
                )
            )
            for k, eye in enumerate(eyes):
                m = measure(photo, image, eye, np.zeros(2) if itself else gaze)
                a_ok, w_ok = passes(m)
                name = " ".join(f"{k2} {v:+g}" for k2, v in values.items())
                rows.append((name, k, m["A"], m["E"], m["W"], (not a_ok) + (not w_ok)))
        out[label] = rows
    engine.renderer.settings = default
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS))
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "images"))
    parser.add_argument("--self", dest="itself", action="store_true")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    totals: dict[str, int] = {}
    for name in args.photos:
        result = run(Path(args.images) / name, registry, args.itself)
        for label, rows in result.items():
            fails = sum(r[-1] for r in rows)
            totals[label] = totals.get(label, 0) + fails
            print(f"{name[:40]:40s} {label}: failing {fails}/{2 * len(rows)}")
            for r in rows:
                flag = " FAIL" if r[-1] else ""
                print(f"    {r[0]:10s} eye {r[1]}  A {r[2]:5.2f}  E {r[3]:5.2f}  W {r[4]:5.2f}{flag}")
    print("total failing:", totals)


if __name__ == "__main__":
    main()
