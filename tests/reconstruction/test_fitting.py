"""Tests of the default face-model fit (reconstruction/fitting.py): pose and expression recovery.

Synthetic landmarks come from the model itself (`project_coefficients`) with known pose and
expression plus detector-like noise; end-to-end checks run the default backend on a real photo.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.coefficients import DEFAULT_FACE_MODEL, FaceCoefficients
from reconstruction.face_model import load_default_face_model, mesh_regions
from reconstruction.fitting import fit_landmarks, project_coefficients

CROP = (256, 256)
# tz of a face framed like the renderer crop: ~75 crop pixels between the outer eye corners.
TRANSLATION = np.array([0.0, -0.03, 0.16])


@pytest.fixture(scope="module")
def model():
    return load_default_face_model()


@pytest.fixture(scope="module")
def backend():
    from reconstruction.backends import DefaultBackend

    with DefaultBackend() as be:
        yield be


def _landmarks(model, identity, expression, degrees, noise_px, rng):
    """(478, 3) detector-convention crop landmarks of known coefficients, plus Gaussian noise (pixels)."""
    coeffs = FaceCoefficients(
        DEFAULT_FACE_MODEL,
        expression,
        np.radians(degrees),
        TRANSLATION,
        np.array([1.0, 0, 0]),
        identity=identity,
    )
    return project_coefficients(model, coeffs, CROP) + rng.normal(scale=noise_px, size=(model.num_points, 3))


def _px_per_unit() -> float:
    from reconstruction.fitting import REFERENCE_SCALE

    return float(np.exp(TRANSLATION[2]) * REFERENCE_SCALE * CROP[0])


# --------------------------------------------------------------------------------------------
# Pose
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("yaw", [-30, -20, -10, 0, 10, 20, 30])
@pytest.mark.parametrize(("pitch", "roll"), [(0, 0), (12, -6), (-10, 8)])
def test_pose_is_recovered_within_3_degrees(model, yaw, pitch, roll):
    rng = np.random.default_rng(1000 + yaw * 7 + pitch)
    identity = 0.7 * rng.normal(size=model.num_identity)
    expression = 0.7 * rng.normal(size=model.num_expression)
    landmarks = _landmarks(model, identity, expression, (pitch, yaw, roll), 1.0, rng)
    fitted = fit_landmarks(model, landmarks, CROP)
    np.testing.assert_allclose(fitted.angles_degrees, [pitch, yaw, roll], atol=3.0)
    # the fit explains the landmarks to about the noise level
    residual = np.abs(project_coefficients(model, fitted, CROP)[:, :2] - landmarks[:, :2]).mean()
    assert residual < 1.0


def test_mirrored_photo_negates_yaw_and_roll(backend, astronaut):
    straight = backend.analyze_photo(astronaut).coefficients.angles_degrees
    mirrored = backend.analyze_photo(np.ascontiguousarray(astronaut[:, ::-1])).coefficients.angles_degrees
    pitch, yaw, roll = straight
    np.testing.assert_allclose(mirrored, [pitch, -yaw, -roll], atol=3.0)
    assert abs(yaw) < 15 and 0 < pitch < 20  # the astronaut looks at the camera, head slightly down


@pytest.mark.realdata
def test_mirrored_turned_head_negates_yaw_and_roll(backend, shared_data):
    """A real frame with the head turned ~30 degrees (PC-AVS clip 00098, frame 86), and its mirror image."""
    from reconstruction.video import read_video

    frames, _ = read_video(
        shared_data / "videos" / "Hangz-nju-cuhk__Talking-Face_PC-AVS__00098.mp4", max_seconds=3.5
    )
    frame = frames[86]
    pitch, yaw, roll = backend.analyze_photo(frame).coefficients.angles_degrees
    assert yaw < -20  # turned towards the image's left
    mirrored = backend.analyze_photo(np.ascontiguousarray(frame[:, ::-1])).coefficients.angles_degrees
    np.testing.assert_allclose(mirrored, [pitch, -yaw, -roll], atol=3.0)


@pytest.mark.parametrize("degrees", [15.0, -15.0])
def test_in_plane_rotation_of_a_photo_is_roll(backend, astronaut, degrees):
    """cv2 rotates counter-clockwise (as displayed) for positive angles: roll grows by that much."""
    base = backend.analyze_photo(astronaut).coefficients.angles_degrees
    matrix = cv2.getRotationMatrix2D((255.5, 255.5), degrees, 1.0)
    rotated = cv2.warpAffine(
        astronaut, matrix, (512, 512), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    turned = backend.analyze_photo(rotated).coefficients.angles_degrees
    np.testing.assert_allclose(turned - base, [0.0, 0.0, degrees], atol=3.0)


# --------------------------------------------------------------------------------------------
# Expression
# --------------------------------------------------------------------------------------------


def _expression(model, seed: int = 5) -> np.ndarray:
    """A realistic expression: the 8 strongest components at their data spread, the rest 0."""
    out = np.zeros(model.num_expression)
    out[:8] = np.random.default_rng(seed).normal(size=8)
    return out


def _lip_error_px(model, fitted: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """RMS over the lips of (fitted - true) expression displacement and of the true one, in crop pixels."""
    lips = mesh_regions()["lips"]
    scale = _px_per_unit()
    err = model.expression_displacement(fitted - true)[lips] * scale
    ref = model.expression_displacement(true)[lips] * scale
    return float(np.sqrt((err**2).sum(1).mean())), float(np.sqrt((ref**2).sum(1).mean()))


@pytest.mark.parametrize("noise_px", [0.0, 0.5, 1.0])
def test_refitting_a_rendered_expression_recovers_it(model, astronaut, backend, noise_px):
    """Video mode (identity of the clip known): the expression of rendered landmarks comes back."""
    identity = backend.analyze_photo(astronaut).coefficients.identity  # a real person's shape
    expression = _expression(model)
    rng = np.random.default_rng(7)
    for yaw in (-20, 0, 20):
        landmarks = _landmarks(model, identity, expression, (5, yaw, -3), noise_px, rng)
        fitted = fit_landmarks(model, landmarks, CROP, identity=identity)
        err, ref = _lip_error_px(model, fitted.expression, expression)
        assert ref > 1.0  # the expression moves the lips visibly (pixels)
        assert err < 0.12 * ref + 0.3 * noise_px, f"yaw {yaw}: lip error {err:.2f} px of {ref:.2f} px"
        if noise_px == 0:
            np.testing.assert_allclose(fitted.expression[:4], expression[:4], atol=0.15)


def test_photo_fit_explains_the_whole_shape(model):
    """Photo mode (identity and expression fitted together): the landmarks are reproduced."""
    rng = np.random.default_rng(11)
    identity = 0.7 * rng.normal(size=model.num_identity)
    landmarks = _landmarks(model, identity, _expression(model), (8, 15, -4), 0.0, rng)
    fitted = fit_landmarks(model, landmarks, CROP)
    residual = np.abs(project_coefficients(model, fitted, CROP) - landmarks)[:, :2]
    assert residual.mean() < 0.1 and residual[mesh_regions()["lips"]].max() < 0.5


@pytest.mark.parametrize("identity_known", [True, False])
def test_head_turns_do_not_leak_into_expression(model, identity_known):
    """The same expression seen at yaw -30..30 gives the same expression coefficients."""
    rng = np.random.default_rng(21)
    identity = 0.7 * rng.normal(size=model.num_identity)
    expression = _expression(model, seed=9)
    fits = {}
    for yaw in range(-30, 31, 10):
        clean = _landmarks(model, identity, expression, (6, yaw, 2), 0.0, rng)
        fits[yaw] = fit_landmarks(
            model, clean, CROP, identity=identity if identity_known else None
        ).expression
    frontal = fits[0]
    for yaw, exp in fits.items():
        np.testing.assert_allclose(exp, frontal, atol=0.02, err_msg=f"yaw {yaw}")
    # with 0.5 px detector noise the spread stays well below the expression itself (pixels on the lips)
    noisy = [
        fit_landmarks(
            model,
            _landmarks(model, identity, expression, (6, yaw, 2), 0.5, rng),
            CROP,
            identity=identity if identity_known else None,
        ).expression
        for yaw in (-30, 30)
    ]
    spread, ref = _lip_error_px(model, noisy[0], noisy[1])
    assert spread < 0.35 * ref, (
        f"lips differ by {spread:.2f} px between yaw -30 and 30 ({ref:.2f} px expression)"
    )
