"""Per-frame motion of a clip: temporal smoothing, missing-frame fill, mouth measures, reenactment.

PIRenderer (ICCV 2021, sections 3.1 and 4.2) drives a source portrait with per-frame 3DMM motion
extracted from a video. These are the steps on that motion around the per-frame fit done by the
reconstruction backends:

- `smooth_motion`: a zero-phase Savitzky-Golay filter, strong on the head pose (angles,
  translation, crop rows: landmark jitter is high frequency, head motion is not) and light on
  the expression (lip motion during speech runs at the syllable rate, 3-8 Hz, and must survive);
- `fill_missing_frames`: linear interpolation over frames where the face was not found;
- `relative_motion`: reenactment motion for a source face from a driving sequence, keeping the
  source's identity, crop and translation baseline, for the parts a caller chooses (expression,
  pose, mouth only, eyes only, gaze). Mouth and eyes use a least-squares projector, computed from
  the face model's expression basis, that keeps the part of an expression change that moves the
  lips (eyes) while holding the other region still. The face model has no eyeballs: the gaze is
  a separate track (`MotionSequence.gaze`, the gaze sliders' units) that travels with "all" and
  "eyes", not with "expression" (which is the face model's expression, lids included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from core.coefficients import (
    BFM_DEEP3D,
    DEFAULT_FACE_MODEL,
    FaceCoefficients,
    MotionSequence,
    check_face_model,
)
from core.errors import InputError
from reconstruction.bfm import bfm_not_installed
from reconstruction.face_model import load_default_face_model, mesh_regions

__all__ = [
    "TRANSFER_PARTS",
    "SmoothingSettings",
    "savgol_smooth",
    "smooth_motion",
    "fill_missing_frames",
    "lip_gap",
    "mouth_opening",
    "frame_jitter",
    "expression_region_projector",
    "relative_motion",
]

#: What `relative_motion` can transfer; "all" = expression + pose + gaze, "eyes" = the eye
#: region's expression + gaze.
TRANSFER_PARTS = ("expression", "pose", "mouth", "eyes", "gaze", "all")


@dataclass(frozen=True)
class SmoothingSettings:
    """Savitzky-Golay windows (seconds, converted to odd frame counts at the clip's fps) and orders.

    The whole clip is known, so a zero-phase filter is used (no lag, unlike a causal One-Euro
    filter). The pose window (0.4 s, order 2) passes head motion below ~4 Hz and removes landmark
    jitter; the expression window (0.16 s = 5 frames at 25-30 fps, order 3) removes only frame-to-frame flicker and keeps
    syllable-rate mouth motion (measured: the mouth-opening signal keeps > 0.95 correlation).
    A window of 0 disables that part.
    """

    pose_window: float = 0.4
    pose_order: int = 2
    expression_window: float = 0.16
    expression_order: int = 3

    def __post_init__(self) -> None:
        for name in ("pose_window", "expression_window"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0 seconds, got {getattr(self, name)}")
        for name in ("pose_order", "expression_order"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")


def _window_frames(seconds: float, fps: float, order: int, length: int) -> int:
    """Odd window length in frames for `seconds` at `fps`, at most `length`; 0 when too short to filter."""
    if seconds <= 0:
        return 0
    n = max(order + 2, int(round(seconds * fps)))
    n += 1 - n % 2  # odd
    if n > length:
        n = length - (1 - length % 2)
    return n if n > order else 0


@lru_cache(maxsize=32)
def _savgol_projection(window: int, order: int) -> np.ndarray:
    """(W, W) least-squares projection onto polynomials of degree `order` over W equally spaced samples."""
    offsets = np.arange(window, dtype=np.float64) - window // 2
    vander = offsets[:, None] ** np.arange(order + 1)  # (W, order + 1)
    proj = vander @ np.linalg.pinv(vander)
    proj.setflags(write=False)
    return proj


def savgol_smooth(values: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay filter along axis 0 of (T, ...) values; window in frames (odd), 0 = unchanged.

    Each sample is replaced by the value at its centre of the degree-`order` polynomial fitted to
    the `window` samples around it; the first and last window//2 samples take the polynomial fitted
    to the first / last full window (scipy's ``savgol_filter(mode="interp")``, without importing
    scipy.signal, which takes seconds).
    """
    arr = np.asarray(values, dtype=np.float64)
    if window <= order or window % 2 == 0 or arr.shape[0] < window:
        return arr.copy()
    proj = _savgol_projection(window, order)
    half = window // 2
    flat = arr.reshape(arr.shape[0], -1)  # (T, D)
    out = np.empty_like(flat)
    windows = np.lib.stride_tricks.sliding_window_view(flat, window, axis=0)  # (T - W + 1, D, W)
    out[half : flat.shape[0] - half] = windows @ proj[half]
    out[:half] = proj[:half] @ flat[:window]
    out[flat.shape[0] - half :] = proj[half + 1 :] @ flat[-window:]
    return out.reshape(arr.shape)


def smooth_motion(motion: MotionSequence, settings: SmoothingSettings | None = None) -> MotionSequence:
    """Temporally smoothed copy of `motion` (pose strongly, expression and gaze lightly), same length and fps."""
    s = settings or SmoothingSettings()
    t = len(motion)
    pw = _window_frames(s.pose_window, motion.fps, s.pose_order, t)
    ew = _window_frames(s.expression_window, motion.fps, s.expression_order, t)
    return MotionSequence(
        motion.face_model,
        savgol_smooth(motion.expression, ew, s.expression_order),
        savgol_smooth(motion.angles, pw, s.pose_order),
        savgol_smooth(motion.translation, pw, s.pose_order),
        savgol_smooth(motion.crop, pw, s.pose_order),
        fps=motion.fps,
        identity=motion.identity,
        gaze=None if motion.gaze is None else savgol_smooth(motion.gaze, ew, s.expression_order),
    )


def fill_missing_frames(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of (T, ...) values at frames where `found` (T,) is False.

    Frames before the first (after the last) found frame take its value. Raises InputError when
    no frame was found.
    """
    arr = np.asarray(values, dtype=np.float64)
    ok = np.asarray(found, dtype=bool)
    if ok.shape != (arr.shape[0],):
        raise InputError(f"found must have shape ({arr.shape[0]},), got {ok.shape}")
    if not ok.any():
        raise InputError("cannot fill missing frames: no frame has a value")
    if ok.all():
        return arr.copy()
    flat = arr.reshape(arr.shape[0], -1)
    t = np.arange(arr.shape[0])
    out = np.empty_like(flat)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(t, t[ok], flat[ok, j])
    return out.reshape(arr.shape)


# Mesh indices: inner lip midpoints (upper, lower) and outer eye corners (the face-size unit).
_INNER_LIP_UPPER, _INNER_LIP_LOWER = 13, 14
_EYE_OUTER = (33, 263)


def lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """Mouth opening of (..., 478, 2|3) mesh landmarks: inner-lip distance / outer-eye-corner distance."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim < 2 or lm.shape[-2] < 468 or lm.shape[-1] not in (2, 3):
        raise InputError(f"expected face-mesh landmarks (..., 478, 2|3), got {lm.shape}")
    gap = np.linalg.norm(lm[..., _INNER_LIP_LOWER, :2] - lm[..., _INNER_LIP_UPPER, :2], axis=-1)
    eyes = np.linalg.norm(lm[..., _EYE_OUTER[1], :2] - lm[..., _EYE_OUTER[0], :2], axis=-1)
    return gap / eyes


def mouth_opening(model: Any, expression: np.ndarray) -> np.ndarray:
    """(T,) mouth opening caused by (T, E) default-model expressions, in model units (eye-corner distance).

    The vertical separation of the inner lip midpoints added by the expression (positive: open).
    """
    exp = np.atleast_2d(np.asarray(expression, dtype=np.float64))
    basis = model.expression_basis.reshape(model.num_points, 3, -1)
    direction = basis[_INNER_LIP_UPPER, 1] - basis[_INNER_LIP_LOWER, 1]  # (E,): y up, upper minus lower
    return exp @ direction


def frame_jitter(values: np.ndarray) -> float:
    """RMS second difference over time of (T, D) values: what smoothing should remove."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape[0] < 3:
        return 0.0
    return float(np.sqrt(np.mean(np.diff(arr, n=2, axis=0) ** 2)))


TransferPart = Literal["expression", "pose", "mouth", "eyes", "gaze", "all"]

# 68-point (iBUG) indices for face models that only name those landmarks (the BFM).
_IBUG_LIPS = tuple(range(48, 68))
_IBUG_EYES = tuple(range(36, 48))
_IBUG_BROWS = tuple(range(17, 27))
# Mesh iris points (refined landmarks).
_IRIS = tuple(range(468, 478))


def _mesh_region_sets(model: Any) -> dict[str, np.ndarray]:
    iris = np.array([i for i in _IRIS if i < model.num_points], dtype=np.int64)
    regions = mesh_regions()
    eyes = np.concatenate([regions["eye_image_left"], regions["eye_image_right"], iris])
    brows = np.concatenate([regions["brow_image_left"], regions["brow_image_right"]])
    return {"lips": regions["lips"], "eyes": eyes, "brows": brows}


def _dense_region_sets(points: np.ndarray, keypoints: np.ndarray) -> dict[str, np.ndarray]:
    """Vertices of a dense model near its 68 landmarks' lips / eyes / brows (within 15 % of the eye distance)."""
    kp = points[keypoints]
    unit = float(np.linalg.norm(kp[list(_IBUG_EYES[:6])].mean(0) - kp[list(_IBUG_EYES[6:])].mean(0)))
    out = {}
    for name, idx in (("lips", _IBUG_LIPS), ("eyes", _IBUG_EYES), ("brows", _IBUG_BROWS)):
        d = np.linalg.norm(points[:, None, :] - kp[list(idx)][None], axis=-1).min(axis=1)
        out[name] = np.flatnonzero(d < 0.15 * unit)
    return out


def _basis_and_regions(face_model: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(N, 3, E) expression basis and the region vertex sets of a LinearFaceModel or BFMFaceModel."""
    if face_model is None:  # a deep3d backend without BFM_model_front.mat
        raise bfm_not_installed("transferring only the mouth or the eyes")
    if hasattr(face_model, "rigid_indices"):  # the default LinearFaceModel
        basis = np.asarray(face_model.expression_basis, dtype=np.float64)
        return basis.reshape(face_model.num_points, 3, -1), _mesh_region_sets(face_model)
    if hasattr(face_model, "exp_base") and hasattr(face_model, "keypoints"):  # BFMFaceModel (torch buffers)
        basis = face_model.exp_base.detach().cpu().double().numpy()
        points = face_model.mean_shape.detach().cpu().double().numpy()
        keypoints = face_model.keypoints.detach().cpu().numpy()
        return basis.reshape(points.shape[0], 3, -1), _dense_region_sets(points, keypoints)
    raise InputError(
        f"expected a LinearFaceModel or BFMFaceModel, got {type(face_model).__name__}; "
        "pass the face model the coefficients belong to"
    )


_PART_SETS = {
    # part: (regions whose motion is kept, regions held still)
    "mouth": (("lips",), ("eyes", "brows")),
    "eyes": (("eyes",), ("lips",)),
}


def expression_region_projector(
    face_model: Any, parts: Sequence[str], stillness: float = 4.0, ridge: float = 1e-6
) -> np.ndarray:
    """(E, E) map from an expression change to its part that moves only the chosen regions.

    For parts "mouth" and/or "eyes", P d is the least-squares solution of
    ``min_x |B_move (x - d)|^2 + stillness * |B_still x|^2 + ridge' |x|^2``, where B_move are the
    expression-basis rows of the lips (mouth) or eyes (eyes) points and B_still those of the
    regions to hold still (eyes and brows for the mouth, lips for the eyes). Points in neither set
    (cheeks, chin) follow freely, so a jaw opening keeps its chin motion.

    The default model's basis couples mouth and eyes (a smile narrows the eyes), so the split is
    a trade-off set by `stillness`; at 4, on random N(0, 1) expression changes, the lips keep their
    motion within ~16 % (median RMS) while the eyes and brows move ~11 % as much as in the full
    change (eyes part: ~16 % and ~5 %).
    """
    chosen = sorted(set(parts))
    unknown = [p for p in chosen if p not in _PART_SETS]
    if not chosen or unknown:
        raise InputError(f"region parts must be among {sorted(_PART_SETS)}, got {list(parts)}")
    basis, regions = _basis_and_regions(face_model)
    move = sorted({r for p in chosen for r in _PART_SETS[p][0]})
    still = sorted({r for p in chosen for r in _PART_SETS[p][1]} - set(move))
    move_idx = np.unique(np.concatenate([regions[r] for r in move]))
    b_move = basis[move_idx].reshape(-1, basis.shape[2])  # (3 * |move|, E)
    gram_move = b_move.T @ b_move
    system = gram_move.copy()
    if still:
        still_idx = np.setdiff1d(np.unique(np.concatenate([regions[r] for r in still])), move_idx)
        b_still = basis[still_idx].reshape(-1, basis.shape[2])
        system += stillness * (b_still.T @ b_still)
    scale = float(np.trace(gram_move)) / gram_move.shape[0]
    system += ridge * scale * np.eye(gram_move.shape[0])
    return np.linalg.solve(system, gram_move)


@lru_cache(maxsize=8)
def _default_projector(parts: tuple[str, ...]) -> np.ndarray:
    proj = expression_region_projector(load_default_face_model(), parts)
    proj.setflags(write=False)
    return proj


def _normalise_parts(parts: Iterable[str] | str) -> set[str]:
    chosen = {parts} if isinstance(parts, str) else set(parts)
    unknown = sorted(chosen - set(TRANSFER_PARTS))
    if not chosen or unknown:
        raise InputError(f"parts must be a non-empty choice of {list(TRANSFER_PARTS)}, got {sorted(chosen)}")
    if "all" in chosen:
        chosen = (chosen - {"all"}) | {"expression", "pose", "gaze"}
    if "eyes" in chosen:
        chosen.add("gaze")
    if "expression" in chosen:
        chosen -= {"mouth", "eyes"}  # the whole expression includes them
    return chosen


def relative_motion(
    source: FaceCoefficients,
    driving: MotionSequence,
    parts: Iterable[TransferPart] | TransferPart = ("expression", "pose"),
    mode: Literal["relative", "absolute"] = "relative",
    face_model: Any = None,
    source_gaze: np.ndarray | None = None,
) -> MotionSequence:
    """Motion for the source face that follows `driving` in the chosen `parts`.

    The result keeps the SOURCE's identity, crop rows and translation baseline; parts not chosen
    stay at the source's values in every frame.

    - mode "relative": the source plus the driving's change since its first frame, so the source's
      own expression and head pose are the starting point (cross-identity reenactment).
    - mode "absolute": expression / angles copied from the driving (same person, or when the
      driving's first frame is not neutral). Translation is always transferred as a change from the
      driving's first frame: the source's framing in its crop is kept.
    - parts: "expression" (all of it), "pose" (angles + translation), "mouth" / "eyes" (only the
      expression change that moves the lips / eyes, see `expression_region_projector`; "eyes"
      brings the gaze), "gaze", "all" (expression, pose and gaze).
    - gaze: `driving.gaze` (T, 2) is the driving face's measured gaze in the sliders' units
      (`pipeline.eyes.gaze_from_landmarks`); the result's gaze is the source's own plus the
      driving's change since its first frame (relative), or the driving's gaze minus
      `source_gaze`, the photo's gaze measured the same way (absolute; 0 when not given), clamped
      to the sliders' [-1, 1]. Without a driving gaze, or when it is not chosen, the source's stays.

    `face_model` is needed for "mouth" / "eyes" with BFM coefficients (pass `Deep3DBackend.face_model`);
    the default model is loaded by itself. Returns a MotionSequence at the driving's fps.
    """
    check_face_model(source.face_model, driving.face_model, what="relative motion (source vs driving)")
    if mode not in ("relative", "absolute"):
        raise InputError(f"mode must be 'relative' or 'absolute', got {mode!r}")
    chosen = _normalise_parts(parts)
    t = len(driving)
    src_exp = source.expression.astype(np.float64)
    if driving.expression.shape[1] != src_exp.shape[0]:
        raise InputError(
            f"source has {src_exp.shape[0]} expression coefficients, driving {driving.expression.shape[1]}"
        )
    drv_exp = driving.expression.astype(np.float64)
    exp_change = drv_exp - (drv_exp[0] if mode == "relative" else src_exp)  # (T, E)
    expression = np.repeat(src_exp[None], t, axis=0)
    if "expression" in chosen:
        expression = expression + exp_change
    else:
        region = sorted(chosen & {"mouth", "eyes"})
        if region:
            proj = _projector_for(source.face_model, tuple(region), face_model)
            expression = expression + exp_change @ proj.T
    angles = np.repeat(source.angles[None].astype(np.float64), t, axis=0)
    translation = np.repeat(source.translation[None].astype(np.float64), t, axis=0)
    if "pose" in chosen:
        drv_angles = driving.angles.astype(np.float64)
        angles = angles + (drv_angles - drv_angles[0]) if mode == "relative" else drv_angles.copy()
        drv_trans = driving.translation.astype(np.float64)
        translation = translation + (drv_trans - drv_trans[0])
    return MotionSequence(
        source.face_model,
        expression,
        angles,
        translation,
        np.repeat(source.crop[None], t, axis=0),
        fps=driving.fps,
        identity=source.identity,
        gaze=_transferred_gaze(source, driving, mode, source_gaze)
        if "gaze" in chosen
        else _still_gaze(source, t),
    )


def _still_gaze(source: FaceCoefficients, t: int) -> np.ndarray | None:
    return None if source.gaze is None else np.repeat(source.gaze[None], t, axis=0)


def _transferred_gaze(
    source: FaceCoefficients, driving: MotionSequence, mode: str, source_gaze: np.ndarray | None
) -> np.ndarray | None:
    """(T, 2) gaze of the result in the sliders' units (see `relative_motion`)."""
    if driving.gaze is None:
        return _still_gaze(source, len(driving))
    drv = driving.gaze.astype(np.float64)
    own = np.zeros(2) if source.gaze is None else source.gaze.astype(np.float64)
    if mode == "relative":
        change = drv - drv[0]
    else:
        change = drv - (np.zeros(2) if source_gaze is None else np.asarray(source_gaze, np.float64))
    return np.clip(own + change, -1.0, 1.0)


def _projector_for(model_name: str, parts: tuple[str, ...], face_model: Any) -> np.ndarray:
    if face_model is not None:
        return expression_region_projector(face_model, parts)
    if model_name == DEFAULT_FACE_MODEL:
        return _default_projector(parts)
    if model_name == BFM_DEEP3D:  # the deep3d backend's `model` is None without BFM_model_front.mat
        raise bfm_not_installed(f"transferring only {' and '.join(parts)}")
    raise InputError(
        f"transferring only {' and '.join(parts)} of '{model_name}' coefficients needs that face model: "
        "pass face_model=..."
    )
