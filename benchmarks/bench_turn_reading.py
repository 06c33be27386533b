"""How far a rendered head turn reads, by five readers: where the "0.6 of the asked yaw" comes from.

    python benchmarks/bench_turn_reading.py [--faces 8] [--videos ../shared/data/videos] [--out r.json]

The product's re-fit (MediaPipe's 478 points on the rendered crop, `fit_landmarks`) reads a turn of
the default renderer as ~0.6 of the slider's degrees. This script reads the same renders five ways,
each as (read yaw of the render - read yaw of the source) / asked yaw, averaged over near-frontal
faces of the shared clips (`training.evaluation.turns.near_frontal_crops`) at yaw +-15 and +-30:

- ``product``: MediaPipe re-detected, pose fitted in 3-D (x, y and MediaPipe's depth): the product's
  own reading, as in `bench_head_default.py`;
- ``mediapipe_xy``: the same re-detected points, pose fitted to x, y only (orthographic) with the
  source's own shape held fixed, so MediaPipe's depth guess and a re-fitted shape cannot absorb the
  turn;
- ``optical_flow``: the source's landmarks carried into the render by an independent dense optical
  flow (OpenCV DIS) from the source crop to the render, fitted as above: where the pixels went;
- ``renderer_flow``: the same landmarks carried by the renderer's own backward flow (inverted by a
  nearest-pixel lookup, so quantised to +-0.5 px), fitted as above;
- ``mesh``: the landmarks moved exactly as the target mesh moves them (the fit's check: 1.0);
- ``mediapipe_xy_inner`` / ``renderer_flow_inner``: as above without the 36 points of the face's
  outline (`mesh_regions()["oval"]`), the silhouette a 2-D warp of a frontal photo cannot redraw.

And on real clip frames (no rendering), the slope of ``mediapipe_xy``'s yaw against ``product``'s,
to show the two readers agree on real faces. Takes ~3 minutes on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import write_record  # noqa: E402
from core.coefficients import FaceCoefficients  # noqa: E402
from core.geometry import euler_to_matrix  # noqa: E402
from pipeline.geometric import GeometricRenderer, PreviewSettings  # noqa: E402
from reconstruction.controls import control_set_for  # noqa: E402
from reconstruction.face_model import LinearFaceModel, load_default_face_model, mesh_regions  # noqa: E402
from reconstruction.fitting import fit_landmarks, project_coefficients  # noqa: E402

ASKED = (15.0, -15.0, 30.0, -30.0)
READERS = (
    "product",
    "mediapipe_xy",
    "optical_flow",
    "renderer_flow",
    "mesh",
    "mediapipe_xy_inner",
    "renderer_flow_inner",
)


def yaw_from_xy(
    model: LinearFaceModel, points: np.ndarray, shape_of: FaceCoefficients, only: np.ndarray | None = None
) -> float:
    """Yaw (degrees) of `shape_of`'s own face shape posed to match `points`' x, y (orthographic,
    robust loss); depth is not used. only: the indices of the points to use (default all)."""
    only = np.arange(len(points)) if only is None else only
    shape = model.shape(shape_of.identity, shape_of.expression)[only]
    observed = np.asarray(points[only, :2], dtype=np.float64).copy()
    observed[:, 1] *= -1  # image y down -> model y up

    def residual(p: np.ndarray) -> np.ndarray:
        posed = np.exp(p[3]) * shape @ euler_to_matrix(p[:3]).T
        return (posed[:, :2] + p[4:6] - observed).ravel()

    posed0 = (shape @ euler_to_matrix(shape_of.angles).T)[:, :2]
    scale0 = np.linalg.norm(observed - observed.mean(0)) / np.linalg.norm(posed0 - posed0.mean(0))
    start = np.r_[shape_of.angles, np.log(scale0), observed.mean(0) - scale0 * posed0.mean(0)]
    return float(np.degrees(least_squares(residual, start, loss="soft_l1", f_scale=2.0).x[1]))


def carried_by_backward_flow(points: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Where source points land in an output whose pixel (x, y) shows the source at (x, y) + flow."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    shown = np.stack([(xs + flow[..., 0]).ravel(), (ys + flow[..., 1]).ravel()], 1)
    _, index = cKDTree(shown).query(points[:, :2])
    out = points.copy()
    out[:, 0], out[:, 1] = xs.ravel()[index], ys.ravel()[index]
    return out


def read_turns(videos: Path, faces: int) -> dict[str, object]:
    from reconstruction.detection import FaceDetector
    from training.evaluation.turns import near_frontal_crops

    model = load_default_face_model()
    controls = control_set_for(model)
    renderer = GeometricRenderer(model, PreviewSettings())
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ratios: dict[str, dict[int, list[float]]] = {r: {15: [], 30: []} for r in READERS}
    inner = np.setdiff1d(np.arange(model.num_points), mesh_regions()["oval"])
    used = 0
    with FaceDetector() as detector:
        for crop, coeffs in near_frontal_crops(videos, detector, model):
            source = detector.detect(crop)[0].landmarks
            fitted = fit_landmarks(model, source, (256, 256))
            start_xy = yaw_from_xy(model, source, fitted)
            start_inner = yaw_from_xy(model, source, fitted, inner)
            mesh0 = project_coefficients(model, coeffs, (256, 256))
            state = renderer.prepare(crop, coeffs)
            grey0 = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
            for asked in ASKED:
                target = controls.apply(coeffs, {"yaw": asked})
                frame = renderer.render_frame(state, target)
                found = detector.detect(frame.crop)
                if not found:
                    continue
                seen = found[0].landmarks
                grey1 = cv2.cvtColor(np.ascontiguousarray(frame.crop), cv2.COLOR_RGB2GRAY)
                forward = dis.calc(grey0, grey1, None)
                ix = np.clip(np.round(source[:, :2]).astype(int), 0, 255)
                tracked = source.copy()
                tracked[:, :2] += forward[ix[:, 1], ix[:, 0]]
                meshed = source.copy()
                meshed[:, :2] += (project_coefficients(model, target, (256, 256)) - mesh0)[:, :2]
                carried = carried_by_backward_flow(source, frame.flow)
                product = fit_landmarks(model, seen, (256, 256)).angles_degrees[1] - fitted.angles_degrees[1]
                read = {
                    "product": product,
                    "mediapipe_xy": yaw_from_xy(model, seen, fitted) - start_xy,
                    "optical_flow": yaw_from_xy(model, tracked, fitted) - start_xy,
                    "renderer_flow": yaw_from_xy(model, carried, fitted) - start_xy,
                    "mesh": yaw_from_xy(model, meshed, fitted) - start_xy,
                    "mediapipe_xy_inner": yaw_from_xy(model, seen, fitted, inner) - start_inner,
                    "renderer_flow_inner": yaw_from_xy(model, carried, fitted, inner) - start_inner,
                }
                for name, value in read.items():
                    ratios[name][int(abs(asked))].append(value / asked)
            used += 1
            if used >= faces:
                break
    return {
        "faces": used,
        "ratio_read_over_asked": {
            name: {f"yaw{k}": round(float(np.mean(v)), 3) for k, v in by.items() if v}
            for name, by in ratios.items()
        },
    }


def readers_on_real_faces(videos: Path, clips: int) -> dict[str, object]:
    """Slope and r of the x, y reader's yaw against the product's on real clip frames."""
    import imageio.v3 as iio

    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.detection import FaceDetector

    model = load_default_face_model()
    pairs = []
    with FaceDetector() as detector:
        for video in sorted(Path(videos).glob("*.mp4"))[:: max(1, 70 // clips)]:
            for index in (5, 60, 120):
                try:
                    frame = iio.imread(video, index=index)
                except (IndexError, OSError, ValueError):
                    continue
                found = detector.detect(frame)
                crop = crop_face(frame, crop_transform_for_face(found[0], frame.shape[:2])) if found else None
                again = detector.detect(crop) if crop is not None else []
                if not again:
                    continue
                fitted = fit_landmarks(model, again[0].landmarks, (256, 256))
                pairs.append((fitted.angles_degrees[1], yaw_from_xy(model, again[0].landmarks, fitted)))
    yaw = np.array(pairs)
    slope = float(np.polyfit(yaw[:, 0], yaw[:, 1], 1)[0])
    return {
        "frames": len(yaw),
        "product_yaw_range": [round(float(yaw[:, 0].min()), 1), round(float(yaw[:, 0].max()), 1)],
        "slope_xy_over_product": round(slope, 3),
        "r": round(float(np.corrcoef(yaw.T)[0, 1]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument(
        "--clips", type=int, default=12, help="clips for the readers' agreement on real faces"
    )
    parser.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "videos")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    record = {
        "renders": read_turns(args.videos, args.faces),
        "real_faces": readers_on_real_faces(args.videos, args.clips),
    }
    write_record(record, args.out)


if __name__ == "__main__":
    main()
