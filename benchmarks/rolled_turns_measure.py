"""Roll equivariance of a turn (docs/ROLLED_TURNS.md): an upright photo rotated in the image plane,
turned, rotated back, against the same turn of the upright photo.

    OMP_NUM_THREADS=1 python benchmarks/rolled_turns_measure.py [--photos ...] [--angles 0 20 -20]
        [--yaws 30 -30] [--flag on|off|both]

Per photo the photo is padded (reflected, so nothing of the head is cut by the rotation) and rotated
by each angle about the centre of its renderer crop box; each rotated photo is prepared and edited
(yaw, `engine="preview"`, full resolution), the result rotated back. Printed per case:

- mesh: the fitted mesh of the rotated photo rotated back against the upright photo's, and the same
  for the target mesh of the edit (RMS, in face sizes): whether the face fit and the target pose
  are themselves equivariant (otherwise the image measures below are confounded);
- psnr: PSNR of the rotated-back edit against the upright photo's edit over the upright photo's
  renderer crop box (the whole head); `input`: the same for the input alone rotated there and back
  (the resampling's own ceiling);
- over: share of the jaw/neck band that the renderer's crop flow magnifies beyond `OVER`x in its
  most magnified direction (1 / the smaller singular value of the flow map's Jacobian: the same
  whatever the head's roll). Band: within `BAND_IN` face sizes inside and `BAND_OUT` outside the
  target face's outline, below the target's eyes along the head's own vertical axis.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo  # noqa: E402
from pipeline.photo import target_coefficients  # noqa: E402

__all__ = ["Case", "OVER", "UPRIGHT", "measure_case", "over_band", "rotated", "stretched_share"]

#: Upright photos of the measure.
UPRIGHT = (
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
)
#: Magnified more than this in some direction: over-magnified.
OVER = 3.0
#: The jaw/neck band: this many face sizes inside the target face's outline and this many outside.
BAND_IN, BAND_OUT = 0.12, 0.08
#: Padding (fraction of the photo's larger side) before the rotation.
PAD = 0.35


@dataclass
class Case:
    """One photo at one rotation and yaw: `edit` rotated back into the padded upright frame, the
    mesh errors (face sizes), `over` (share) and the input rotated there and back."""

    edit: np.ndarray
    input_back: np.ndarray
    fitted_rms: float
    target_rms: float
    over: float
    box: tuple[int, int, int, int]


def padded(image: np.ndarray) -> tuple[np.ndarray, int]:
    """The photo reflected outwards by `PAD` of its larger side on every side, and that pad."""
    pad = int(PAD * max(image.shape[:2]))
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad


def rotated(image: np.ndarray, centre: tuple[float, float], angle: float) -> np.ndarray:
    """`image` rotated by `angle` degrees (counter-clockwise on screen) about `centre`, same size,
    bicubic, the border reflected."""
    if angle == 0.0:
        return image.copy()
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    h, w = image.shape[:2]
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _rotate_points(points: np.ndarray, centre: tuple[float, float], angle: float) -> np.ndarray:
    """(N, 2) photo points moved as `rotated` moves the photo."""
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return points[:, :2] @ m[:, :2].T + m[:, 2]


def stretched_share(flow: np.ndarray, band: np.ndarray) -> float:
    """Share of `band` that the (c, c, 2) backward crop flow (smoothed by 1 crop pixel) magnifies
    more than `OVER`x in its most magnified direction."""
    f = cv2.GaussianBlur(flow, (0, 0), 1.0)
    du_dy, du_dx = np.gradient(f[..., 0])
    dv_dy, dv_dx = np.gradient(f[..., 1])
    a, b, c, d = 1.0 + du_dx, du_dy, dv_dx, 1.0 + dv_dy
    # The smaller singular value of [[a, b], [c, d]].
    s = a * a + b * b + c * c + d * d
    det = np.abs(a * d - b * c)
    small = np.sqrt(np.maximum(0.5 * (s - np.sqrt(np.maximum(s * s - 4.0 * det * det, 0.0))), 0.0))
    return float(np.mean(small[band] < 1.0 / OVER)) if band.any() else 0.0


def over_band(renderer, prepared, target) -> np.ndarray:  # noqa: ANN001
    """(c, c) bool: the jaw/neck band of the target face in the renderer's crop."""
    mask = renderer.face_mask(prepared, target) > 128
    points = renderer.target_points(prepared, target)[:, :2]
    layout = renderer.projector.layout
    eyes = [points[np.concatenate(eye)].mean(axis=0) for eye in layout.eyes]
    mouth = points[np.concatenate(layout.mouth)].mean(axis=0)
    eye_mid = 0.5 * (eyes[0] + eyes[-1])
    down = mouth - eye_mid
    down /= max(float(np.hypot(*down)), 1e-6)
    size = prepared.face_size
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    band = (mask & (inside <= BAND_IN * size)) | (~mask & (outside <= BAND_OUT * size))
    h, w = mask.shape
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    below = (gx - eye_mid[0]) * down[0] + (gy - eye_mid[1]) * down[1] > 0.0
    return band & below


def _photo_points(state: SourceState, points: np.ndarray) -> np.ndarray:
    return state.crop_transform.inverse_points(points[:, :2])


def measure_case(
    image: np.ndarray,
    centre: tuple[float, float],
    angle: float,
    yaw: float,
    registry: EngineRegistry,
    reference: tuple[np.ndarray, np.ndarray, float] | None,
    flag: bool | None = None,
) -> tuple[Case, tuple[np.ndarray, np.ndarray, float]]:
    """The case of the padded upright `image` rotated by `angle` and turned by `yaw`; `reference`:
    the upright case's (fitted, target) photo points and face size (None: this is it). flag: the
    renderer's `rolled_turns` setting for the edit (None: as it is)."""
    turned = rotated(image, centre, angle)
    state = prepare_photo(turned, registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    request = EditRequest({"yaw": yaw}, engine="preview")
    target = target_coefficients(state, request, registry=registry)
    fitted = _rotate_points(_photo_points(state, prepared.points), centre, -angle)
    moved = _rotate_points(_photo_points(state, renderer.target_points(prepared, target)), centre, -angle)
    size = prepared.face_size / state.crop_transform.scale
    base = renderer.settings
    try:
        if flag is not None and hasattr(base, "rolled_turns"):
            renderer.settings = dataclasses.replace(base, rolled_turns=flag)
        over = stretched_share(renderer.render_flow(prepared, target), over_band(renderer, prepared, target))
        out = edit(state, request, registry=registry).full_image
    finally:
        renderer.settings = base
    back = rotated(out, centre, -angle)
    input_back = rotated(turned, centre, -angle)
    if reference is None:
        reference = (fitted, moved, size)
    ref_fit, ref_target, ref_size = reference
    rms = [
        float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1)))) / ref_size
        for a, b in ((fitted, ref_fit), (moved, ref_target))
    ]
    x0, y0, x1, y1 = state.crop_transform.box if angle == 0.0 else (0, 0, 0, 0)
    box = (int(x0), int(y0), int(x1), int(y1))
    return Case(back, input_back, rms[0], rms[1], over, box), reference


def psnr(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """PSNR (dB) of two images over `box` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    diff = a[y0:y1, x0:x1].astype(np.float64) - b[y0:y1, x0:x1].astype(np.float64)
    mse = float(np.mean(diff**2))
    return 99.0 if mse == 0.0 else 10.0 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--photos", nargs="*", default=list(UPRIGHT))
    parser.add_argument("--angles", nargs="*", type=float, default=[20.0, -20.0])
    parser.add_argument("--yaws", nargs="*", type=float, default=[30.0, -30.0])
    parser.add_argument("--flag", choices=("on", "off", "both", "none"), default="none")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    flags = {"on": [True], "off": [False], "both": [False, True], "none": [None]}[args.flag]
    if args.flag != "none":  # the level frame is made when a photo is prepared with the flag on
        renderer = registry.geometric("default").renderer
        renderer.settings = dataclasses.replace(renderer.settings, rolled_turns=True)
    for name in args.photos:
        photo = cv2.cvtColor(cv2.imread(str(args.images / name)), cv2.COLOR_BGR2RGB)
        image, _ = padded(photo)
        first = prepare_photo(image, registry=registry)
        x0, y0, x1, y1 = first.crop_transform.box
        centre = (0.5 * (x0 + x1), 0.5 * (y0 + y1))
        for yaw in args.yaws:
            for flag in flags:
                ref, reference = measure_case(image, centre, 0.0, yaw, registry, None, flag)
                print(f"{name} yaw {yaw:+.0f} flag {flag} angle   0: over {ref.over:.3f}", flush=True)  # noqa: T201
                for angle in args.angles:
                    case, _ = measure_case(image, centre, angle, yaw, registry, reference, flag)
                    print(  # noqa: T201
                        f"{name} yaw {yaw:+.0f} flag {flag} angle {angle:+3.0f}: "
                        f"psnr {psnr(case.edit, ref.edit, ref.box):.2f} "
                        f"(input {psnr(case.input_back, image, ref.box):.2f}) "
                        f"over {case.over:.3f} (upright {ref.over:.3f}) "
                        f"mesh fitted {case.fitted_rms:.4f} target {case.target_rms:.4f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
