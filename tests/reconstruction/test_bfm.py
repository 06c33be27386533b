"""BFM face model: geometry conformance to the original (bfm_geometry_case.npz), loading, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import loadmat, savemat

from core.errors import CheckpointError, InputError, WeightsNotFoundError
from reconstruction.bfm import BFMFaceModel, rotation_matrix
from reconstruction.deep3d import split_coefficients


@pytest.fixture(scope="module")
def bfm_path(test_data: Path) -> Path:
    return test_data / "synthetic_BFM_model_front.mat"


@pytest.fixture(scope="module")
def model(bfm_path: Path) -> BFMFaceModel:
    return BFMFaceModel.from_mat(bfm_path)


def test_geometry_matches_the_original(model: BFMFaceModel, test_data: Path) -> None:
    case = np.load(test_data / "bfm_geometry_case.npz")
    parts = split_coefficients(torch.from_numpy(case["coeffs"]))
    geometry = model.geometry(parts.id, parts.exp, parts.angles, parts.trans)
    for name in ("rotation", "vertices_world", "projected", "landmarks68"):
        ours = getattr(geometry, name).numpy()
        assert ours.shape == case[name].shape, name
        np.testing.assert_allclose(ours, case[name], atol=1e-4, rtol=0, err_msg=name)


def test_loading_converts_indices_and_recentres(model: BFMFaceModel, bfm_path: Path) -> None:
    mat = loadmat(str(bfm_path))
    n = mat["meanshape"].size // 3
    assert model.num_vertices == n and model.num_identity == 80 and model.num_expression == 64
    assert model.expression_basis.shape == (3 * n, 64)
    np.testing.assert_array_equal(model.landmark_indices.numpy(), mat["keypoints"].reshape(-1) - 1)
    np.testing.assert_array_equal(model.triangles.numpy(), mat["tri"] - 1)
    np.testing.assert_allclose(model.mean_shape.mean(0).numpy(), 0.0, atol=1e-5)


def test_shape_is_linear_in_the_coefficients(model: BFMFaceModel) -> None:
    g = torch.Generator().manual_seed(0)
    ident, expr = torch.randn(2, 80, generator=g), torch.randn(2, 64, generator=g)
    zero_id, zero_exp = torch.zeros(2, 80), torch.zeros(2, 64)
    mean = model.shape(zero_id, zero_exp)
    torch.testing.assert_close(mean[0], model.mean_shape)
    delta = model.shape(zero_id, expr) - mean
    expected = (model.expression_basis @ expr.T).T.reshape(2, -1, 3)  # rows x, y, z per vertex
    torch.testing.assert_close(delta, expected, atol=1e-5, rtol=1e-5)
    both = model.shape(ident, expr) - mean
    torch.testing.assert_close(both, (model.shape(ident, zero_exp) - mean) + delta, atol=1e-5, rtol=1e-5)


def test_rotation_is_orthonormal_and_matches_single_axes() -> None:
    angles = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.0, 0.0]], dtype=torch.float64)
    rot = rotation_matrix(angles)
    eye = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(1, 2), eye)
    torch.testing.assert_close(rot[1], eye[0])
    # yaw only: R = Ry^T with Ry = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    yaw = rotation_matrix(torch.tensor([[0.0, 0.5, 0.0]], dtype=torch.float64))[0]
    c, s = math.cos(0.5), math.sin(0.5)
    expected = torch.tensor([[c, 0, -s], [0, 1, 0], [s, 0, c]], dtype=torch.float64)
    torch.testing.assert_close(yaw, expected)
    with pytest.raises(InputError):
        rotation_matrix(torch.zeros(2, 2))


def test_projection_centre_and_depth() -> None:
    points = torch.tensor([[[0.0, 0.0, 0.0], [1.0, -0.5, 0.0], [1.0, 0.0, 5.0]]])
    proj = BFMFaceModel.project(points)
    torch.testing.assert_close(proj[0, 0], torch.tensor([112.0, 112.0]))
    torch.testing.assert_close(proj[0, 1], torch.tensor([112.0 + 101.5, 112.0 - 50.75]))
    torch.testing.assert_close(proj[0, 2], torch.tensor([112.0 + 203.0, 112.0]))  # closer: z' = 10 - 5


def test_texture_in_unit_range_for_the_mean(model: BFMFaceModel) -> None:
    tex = model.texture(torch.zeros(1, 80))
    assert tex.shape == (1, model.num_vertices, 3)
    torch.testing.assert_close(tex.reshape(-1) * 255.0, model.mean_tex)


def test_bad_coefficient_shapes(model: BFMFaceModel) -> None:
    with pytest.raises(InputError):
        model.shape(torch.zeros(1, 79), torch.zeros(1, 64))
    with pytest.raises(InputError):
        model.shape(torch.zeros(1, 80), torch.zeros(64))
    with pytest.raises(InputError):
        model.geometry(torch.zeros(1, 80), torch.zeros(1, 64), torch.zeros(1, 3), torch.zeros(1, 2))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match=r"BFM_model_front\.mat.*faces\.dmi\.unibas\.ch"):
        BFMFaceModel.from_mat(tmp_path / "BFM_model_front.mat")


def test_malformed_files(tmp_path: Path, bfm_path: Path) -> None:
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="junk.mat"):
        BFMFaceModel.from_mat(junk)

    mat = {k: v for k, v in loadmat(str(bfm_path)).items() if not k.startswith("__")}
    partial = tmp_path / "partial.mat"
    savemat(partial, {k: v for k, v in mat.items() if k != "exBase"})
    with pytest.raises(CheckpointError, match=r"partial\.mat.*exBase"):
        BFMFaceModel.from_mat(partial)

    bad_shape = tmp_path / "bad_shape.mat"
    savemat(bad_shape, {**mat, "idBase": mat["idBase"][:-3]})
    with pytest.raises(CheckpointError, match=r"bad_shape\.mat.*id_base"):
        BFMFaceModel.from_mat(bad_shape)

    bad_index = tmp_path / "bad_index.mat"
    savemat(bad_index, {**mat, "keypoints": mat["keypoints"] * 0})  # 0 is not a valid 1-based index
    with pytest.raises(CheckpointError, match="bad_index.mat"):
        BFMFaceModel.from_mat(bad_index)
