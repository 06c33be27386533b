"""A three-quarter face turned through the front: how much of its jaw/neck band is over-magnified.

    OMP_NUM_THREADS=1 python benchmarks/through_front_measure.py [--flag off|on|both] [--photos ...]
    OMP_NUM_THREADS=1 python benchmarks/through_front_measure.py --time [--photos ...]

M = the share of the jaw/neck band (`BAND_IN` face sizes inside and `BAND_OUT` outside the target
face's outline, below the target's eyes along the head's own vertical axis) that the renderer's
crop flow (smoothed by 1 crop pixel) magnifies more than `OVER` times in its most magnified
direction (1 / the smaller singular value of the flow map's Jacobian): the measure of
docs/ROLLED_TURNS.md. Per photo it is read at yaw 15 and 30 towards the camera (through the
front for a turned photo) and at 30 away from it; `--flag on` holds the yaw as
`pipeline.side_view.turn_limits(..., through_front=True)` holds it (docs/THROUGH_FRONT.md).
`--time`: the flag's cost per request, `pipeline.photo.target_coefficients` (where the yaw is held;
the frame path does not read the flag) with the product's flag off and on taking turns (paired).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import paired_toggle_ms, print_paired  # noqa: E402
from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.photo import SourceState, target_coefficients  # noqa: E402
from pipeline.preview_settings import PreviewSettings  # noqa: E402
from pipeline.side_view import turn_limits  # noqa: E402
from reconstruction.controls import control_set_for  # noqa: E402

__all__ = ["OVER", "FRONTAL", "THREE_QUARTER", "over_share", "measure", "held_yaw"]

DATA = REPO.parent / "shared" / "data" / "images"
#: Magnified more than this in some direction: over-magnified.
OVER = 3.0
#: The jaw/neck band: this many face sizes inside the target face's outline and this many outside.
BAND_IN, BAND_OUT = 0.12, 0.08
#: Near-frontal photos (|fitted yaw| < 9): the clean reference at yaw +-30.
FRONTAL = (
    "serengil__deepface__img1.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__d38.jpg",
    "cmusatyalab__openface__carell.jpg",
    "timesler__facenet-pytorch__kate_siegel_1.jpg",
    "KwaiVGI__LivePortrait__s22.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__vd025.png",
    "jdh-algo__JoyVASA__joyvasa_005.png",
    "serengil__deepface__img18.jpg",
)
#: Every shared photo turned 12-31 degrees (fitted yaw, default backend; the survey of
#: docs/THROUGH_FRONT.md); chris2, race_Latino and image_T1 are the fault photos.
THREE_QUARTER = (
    "yzhou359__MakeItTalk__chris2.jpg",
    "dchen236__FairFace__race_Latino.jpg",
    "deepinsight__insightface__image_T1.jpeg",
    "TencentARC__GFPGAN__Justin_Timberlake_crop.png",
    "YadiraF__DECA__image02246.jpg",
    "YadiraF__DECA__teaser_1.jpg",
    "YadiraF__PRNet__2.jpg",
    "YadiraF__PRNet__image00516.jpg",
    "YadiraF__PRNet__image01322.jpg",
    "YadiraF__PRNet__image02283.jpg",
    "ageitgey__face_recognition__32bit.png",
    "cleardusk__3DDFA_V2__trump_hillary.jpg",
    "cmusatyalab__openface__clapton-1.jpg",
    "deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg",
    "deepinsight__insightface__Nathalie_Baye_0002.jpg",
    "deepinsight__insightface__Tom_Hanks_54745.png",
    "deepinsight__insightface__kun_cartoon_crop.jpg",
    "deepinsight__insightface__left_wryneck.png",
    "deepinsight__insightface__mask.png",
    "sczhou__CodeFormer__Einstein01.png",
    "serengil__deepface__couple.jpg",
    "serengil__deepface__selfie-many-people.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__000006.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015310.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015384.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__vd006.png",
    "tanshuai0219__EDTalk__uncrop_face.jpg",
    "xinntao__facexlib__test2.jpg",
)


def over_share(flow: np.ndarray, band: np.ndarray) -> float:
    """Share of `band` that the (c, c, 2) backward crop flow (smoothed by 1 crop pixel) magnifies
    more than `OVER`x in its most magnified direction."""
    f = cv2.GaussianBlur(flow, (0, 0), 1.0)
    du_dy, du_dx = np.gradient(f[..., 0])
    dv_dy, dv_dx = np.gradient(f[..., 1])
    a, b, c, d = 1.0 + du_dx, du_dy, dv_dx, 1.0 + dv_dy
    s = a * a + b * b + c * c + d * d
    det = np.abs(a * d - b * c)
    small = np.sqrt(np.maximum(0.5 * (s - np.sqrt(np.maximum(s * s - 4.0 * det * det, 0.0))), 0.0))
    return float(np.mean(small[band] < 1.0 / OVER)) if band.any() else 0.0


def jaw_band(renderer, prepared, target) -> np.ndarray:  # noqa: ANN001
    """(c, c) bool: the jaw/neck band of the target face in the renderer's crop."""
    mask = renderer.face_mask(prepared, target) > 128
    points = renderer.target_points(prepared, target)[:, :2]
    layout = renderer.projector.layout
    eyes = [points[np.concatenate(eye)].mean(axis=0) for eye in layout.eyes]
    mouth = points[np.concatenate(layout.mouth)].mean(axis=0)
    eye_mid = 0.5 * (eyes[0] + eyes[-1])
    down = (mouth - eye_mid) / max(float(np.hypot(*(mouth - eye_mid))), 1e-6)
    size = prepared.face_size
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    band = (mask & (inside <= BAND_IN * size)) | (~mask & (outside <= BAND_OUT * size))
    h, w = mask.shape
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    below = (gx - eye_mid[0]) * down[0] + (gy - eye_mid[1]) * down[1] > 0.0
    return band & below


def held_yaw(state: SourceState, yaw: float, on: bool) -> float:
    """The yaw slider's value as the product holds it with the flag `on` (main: off)."""
    limits = turn_limits(state.coefficients, through_front=on)
    return yaw if limits is None else limits.clip(yaw)


def measure(state: SourceState, registry: EngineRegistry, yaw: float, on: bool) -> tuple[float, float]:
    """(held yaw, M) of the slider's `yaw` on a prepared photo."""
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    held = held_yaw(state, yaw, on)
    target = control_set_for(registry.backend(state.backend).model).apply(state.coefficients, {"yaw": held})
    flow = renderer.render_flow(prepared, target)
    return held, over_share(flow, jaw_band(renderer, prepared, target))


def time_flag(names: list[str], registry: EngineRegistry, calls: int = 200) -> None:
    """Paired cost of the flag per request: `target_coefficients` of the yaw 30 towards the camera."""
    kept = PreviewSettings.through_front
    try:
        for name in names:
            state = prepare_photo(DATA / name, registry=registry)
            towards = 30.0 if state.coefficients.angles_degrees[1] < 0 else -30.0
            request = EditRequest({"yaw": towards}, engine="preview")

            def toggle(on: bool) -> None:
                PreviewSettings.through_front = on  # the product's default, read when None is passed

            print_paired(
                name,
                paired_toggle_ms(
                    toggle, partial(target_coefficients, state, request, registry=registry), calls
                ),
            )
    finally:
        PreviewSettings.through_front = kept


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flag", choices=("off", "on", "both"), default="off")
    parser.add_argument("--photos", nargs="*", default=None)
    parser.add_argument("--time", action="store_true", help="the flag's paired cost per request instead")
    args = parser.parse_args()
    if args.time:
        time_flag(args.photos or [THREE_QUARTER[0], FRONTAL[0]], EngineRegistry(fast=False))
        return
    flags = {"off": (False,), "on": (True,), "both": (False, True)}[args.flag]
    registry = EngineRegistry(fast=False)
    names = args.photos or [*THREE_QUARTER, *FRONTAL]
    rows: dict[str, list[float]] = {}
    for name in names:
        state = prepare_photo(DATA / name, registry=registry)
        photo_yaw = float(state.coefficients.angles_degrees[1])
        towards = 1.0 if photo_yaw < 0 else -1.0  # the slider's sign that turns it to the camera
        group = "three-quarter" if name in THREE_QUARTER else "frontal"
        for label, yaw in (
            ("towards 15", 15.0 * towards),
            ("towards 30", 30.0 * towards),
            ("away 30", -30.0 * towards),
        ):
            cells = [measure(state, registry, yaw, on) for on in flags]
            rows.setdefault(f"{group} {label}", []).extend(m for _, m in cells)
            text = "  ".join(
                f"{'on' if on else 'off'}: yaw {h:+5.1f} M {m:.3f}"
                for on, (h, m) in zip(flags, cells, strict=True)
            )
            print(f"{name[:40]:40s} {photo_yaw:+6.1f} {label:10s} {text}", flush=True)
    for key, values in rows.items():
        per = np.array(values).reshape(-1, len(flags))
        summary = "  ".join(
            f"{'on' if on else 'off'}: mean {per[:, k].mean():.4f} max {per[:, k].max():.3f}"
            for k, on in enumerate(flags)
        )
        print(f"{key:28s} {summary}")


if __name__ == "__main__":
    main()
