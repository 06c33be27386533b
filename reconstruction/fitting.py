"""Fitting the default linear face model to detected landmarks (the offline reconstruction backend).

Alternates a closed-form similarity alignment (rotation, scale, translation; weak perspective) on
the mesh with a regularised linear solve for identity and expression. Coefficients are expressed
so that the descriptor is independent of the image size:

- angles: (pitch, yaw, roll) radians, see `core.geometry`;
- translation: (tx, ty) of the model origin in [-1, 1] image coordinates (y down), and
  tz = log(scale / (REFERENCE_SCALE * image width)) (positive: the face is larger / nearer);
- crop: (1, 0, 0) for a still image (the renderer crop is the reference frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from core.coefficients import FaceCoefficients, check_face_model
from core.errors import InputError
from core.geometry import euler_to_matrix, matrix_to_euler, similarity_align
from reconstruction.face_model import LinearFaceModel

__all__ = ["FitSettings", "fit_landmarks", "project_coefficients", "pose_to_image", "REFERENCE_SCALE"]

#: Model units (outer-eye-corner distance) per image width at tz = 0.
REFERENCE_SCALE = 0.25


@dataclass(frozen=True)
class FitSettings:
    """Fitting knobs.

    The linear solve is a MAP estimate: landmark noise `landmark_noise` (model units, i.e. fractions
    of the eye-corner distance) against Gaussian priors with the data's coefficient std, each
    scaled by its `*_prior` factor (larger = stronger pull towards the mean face).
    """

    iterations: int = 4
    landmark_noise: float = 0.02
    identity_prior: float = 1.0
    expression_prior: float = 1.0
    depth_weight: float = 0.5  # the detector's depth is less reliable than x, y
    nonrigid_weight: float = 0.3  # weight of expression-moving points in the pose alignment


def _to_model_frame(landmarks: np.ndarray) -> np.ndarray:
    """Detector coordinates (x right, y down, z smaller = nearer) -> x right, y up, z towards the camera."""
    out = np.asarray(landmarks, dtype=np.float64).copy()
    out[:, 1] *= -1
    out[:, 2] *= -1
    return out


def pose_to_image(
    angles: np.ndarray, translation: np.ndarray, image_size: tuple[int, int]
) -> tuple[float, np.ndarray, np.ndarray]:
    """Descriptor pose -> (scale in px per model unit, rotation (3, 3), translation (3,) in the model frame)."""
    w, h = image_size
    scale = float(np.exp(translation[2]) * REFERENCE_SCALE * w)
    t = np.array([(translation[0] + 1) * w / 2, -(translation[1] + 1) * h / 2, 0.0])
    return scale, euler_to_matrix(angles), t


def project_coefficients(
    model: LinearFaceModel, coeffs: FaceCoefficients, image_size: tuple[int, int]
) -> np.ndarray:
    """(N, 3) detector-convention points (x right, y down, z smaller = nearer) of `coeffs` in the image."""
    check_face_model(model.name, coeffs.face_model, what="face model")
    scale, rot, t = pose_to_image(coeffs.angles, coeffs.translation, image_size)
    pts = scale * model.shape(coeffs.identity, coeffs.expression) @ rot.T + t
    pts[:, 1] *= -1
    pts[:, 2] *= -1
    return pts


_SYSTEMS: dict[tuple[int, FitSettings, bool], tuple[np.ndarray, tuple[np.ndarray, bool]]] = {}


def _normal_system(
    model: LinearFaceModel, settings: FitSettings, with_identity: bool
) -> tuple[np.ndarray, tuple[np.ndarray, bool]]:
    """Weighted basis and Cholesky factor of the MAP normal matrix; they depend on the model and the
    settings only, so they are computed once (a large matrix product per frame is slow under load)."""
    key = (id(model), settings, with_identity)
    if key not in _SYSTEMS:
        row_w = np.tile([1.0, 1.0, settings.depth_weight], model.num_points)
        if with_identity:
            basis = np.concatenate([model.identity_basis, model.expression_basis], axis=1)
            prior = np.concatenate(
                [
                    settings.identity_prior / model.identity_std**2,
                    settings.expression_prior / model.expression_std**2,
                ]
            )
        else:
            basis = model.expression_basis
            prior = settings.expression_prior / model.expression_std**2
        weighted = basis * row_w[:, None]
        normal = basis.T @ weighted + np.diag(prior * settings.landmark_noise**2)
        _SYSTEMS[key] = (weighted, scipy.linalg.cho_factor(normal))
    return _SYSTEMS[key]


def fit_landmarks(
    model: LinearFaceModel,
    landmarks: np.ndarray,
    image_size: tuple[int, int],
    identity: np.ndarray | None = None,
    settings: FitSettings | None = None,
) -> FaceCoefficients:
    """Fit pose, identity (unless given) and expression to (N, 3) detector landmarks of one face.

    `image_size` is (width, height) of the image the landmarks are in (usually the renderer crop).
    """
    settings = settings or FitSettings()
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (model.num_points, 3) or not np.all(np.isfinite(landmarks)):
        raise InputError(f"landmarks must be a finite ({model.num_points}, 3) array, got {landmarks.shape}")
    observed = _to_model_frame(landmarks)
    weights = np.full(model.num_points, settings.nonrigid_weight)
    weights[model.rigid_indices] = 1.0
    id_coef = np.zeros(model.num_identity) if identity is None else np.asarray(identity, dtype=np.float64)
    exp_coef = np.zeros(model.num_expression)
    weighted, factor = _normal_system(model, settings, identity is None)
    for _ in range(settings.iterations):
        shape = model.shape(id_coef, exp_coef)
        scale, rot, trans = similarity_align(shape, observed, weights)
        local = (observed - trans) @ rot / scale  # back into the canonical frame
        fixed = model.mean.reshape(-1) if identity is None else model.shape(id_coef).reshape(-1)
        rhs = weighted.T @ (local.reshape(-1) - fixed)
        solution = scipy.linalg.cho_solve(factor, rhs)
        if identity is None:
            id_coef, exp_coef = solution[: model.num_identity], solution[model.num_identity :]
        else:
            exp_coef = solution
    w, h = image_size
    translation = np.array(
        [trans[0] / (w / 2) - 1, -trans[1] / (h / 2) - 1, np.log(scale / (REFERENCE_SCALE * w))]
    )
    return FaceCoefficients(
        model.name,
        expression=exp_coef,
        angles=matrix_to_euler(rot),
        translation=translation,
        crop=np.array([1.0, 0.0, 0.0]),
        identity=id_coef,
    )
