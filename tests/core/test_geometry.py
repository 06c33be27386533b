"""The one Euler convention: numpy rotations, their inverse, the rigid alignment, and the BFM's torch twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.geometry import euler_to_matrix, matrix_to_euler, similarity_align, smoothstep
from reconstruction.bfm import BFMFaceModel, rotation_matrix
from reconstruction.deep3d import split_coefficients


def _angles(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) random pitch, yaw, roll in radians, yaw within +-80 degrees (where the inverse is unique)."""
    rng = np.random.default_rng(seed)
    return rng.uniform([-1.5, -1.4, -1.5], [1.5, 1.4, 1.5], size=(n, 3))


def test_rotations_are_proper_and_batched() -> None:
    r = euler_to_matrix(_angles(16))
    assert r.shape == (16, 3, 3)
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)


def test_positive_yaw_moves_the_nose_to_the_image_right() -> None:
    nose = np.array([0.0, 0.0, 1.0])  # towards the camera
    assert (euler_to_matrix(np.array([0.0, 0.3, 0.0])) @ nose)[0] > 0


def test_matrix_to_euler_inverts_euler_to_matrix() -> None:
    angles = _angles(32, seed=1)
    np.testing.assert_allclose(matrix_to_euler(euler_to_matrix(angles)), angles, atol=1e-10)


def test_bfm_rotation_is_the_same_convention_transposed() -> None:
    """`bfm.rotation_matrix` (torch, applied as points @ R) == `euler_to_matrix(a).T` (numpy, R @ p)."""
    angles = _angles(64, seed=2)
    torch_r = rotation_matrix(torch.from_numpy(angles)).numpy()
    np.testing.assert_allclose(torch_r, np.swapaxes(euler_to_matrix(angles), 1, 2), atol=1e-12)
    points = np.random.default_rng(3).normal(size=(64, 10, 3))
    rotated_rows = np.einsum("bnk,bkj->bnj", points, torch_r)  # points @ R, the BFM way
    rotated_cols = np.einsum("bij,bnj->bni", euler_to_matrix(angles), points)  # R @ p, the numpy way
    np.testing.assert_allclose(rotated_rows, rotated_cols, atol=1e-12)


def test_bfm_conformance_case_agrees_with_the_numpy_convention(test_data: Path) -> None:
    """The BFM geometry of the original code's case is rotated by euler_to_matrix(angles).T."""
    case = np.load(test_data / "bfm_geometry_case.npz")
    parts = split_coefficients(torch.from_numpy(case["coeffs"]))
    np.testing.assert_allclose(
        case["rotation"], np.swapaxes(euler_to_matrix(parts.angles.double().numpy()), 1, 2), atol=1e-5
    )
    model = BFMFaceModel.from_mat(test_data / "synthetic_BFM_model_front.mat")
    geometry = model.geometry(parts.id, parts.exp, parts.angles, parts.trans)
    np.testing.assert_allclose(geometry.rotation.numpy(), case["rotation"], atol=1e-5)


def test_similarity_align_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(4)
    source = rng.normal(size=(30, 3))
    rot = euler_to_matrix(np.array([0.2, -0.4, 0.1]))
    target = 1.7 * source @ rot.T + np.array([1.0, -2.0, 0.5])
    scale, r, t = similarity_align(source, target)
    assert abs(scale - 1.7) < 1e-10
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(t, [1.0, -2.0, 0.5], atol=1e-10)


def test_smoothstep_clips_ramps_softly_and_keeps_the_dtype() -> None:
    t = np.array([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0], np.float32)
    s = smoothstep(t)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, [0.0, 0.0, 0.15625, 0.5, 1.0, 1.0], atol=1e-7)
    assert float(smoothstep(0.75)) == 1.0 - float(smoothstep(0.25))  # symmetric about the middle
