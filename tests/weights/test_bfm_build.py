"""Building BFM_model_front.mat from the raw BFM files (weights/bfm_build.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.io import loadmat

from core.errors import CheckpointError, WeightsNotFoundError
from reconstruction.bfm import BFMFaceModel
from tests.conftest import shared_dir
from tests.weights.synthetic_bfm import FRONT_VERTICES, write_raw_bfm
from weights.bfm_build import (
    build_front_model_file,
    build_front_model_in,
    front_vertex_indices,
    missing_raw_files,
    read_exp_pca,
)


def _hand_built(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The front model computed vertex by vertex from the definitions (no vectorised indexing)."""
    front = raw["front"].reshape(-1).astype(int) - 1
    trim = raw["trim"].reshape(-1).astype(int) - 1
    n = len(front)
    out = {k: np.zeros(s) for k, s in (("meanshape", 3 * n), ("meantex", 3 * n))}
    out |= {
        "idBase": np.zeros((3 * n, 80)),
        "exBase": np.zeros((3 * n, 64)),
        "texBase": np.zeros((3 * n, 80)),
    }
    for k in range(n):
        e = front[k]  # vertex of the expression basis
        s = trim[e]  # vertex of BFM09
        for c in range(3):
            out["meanshape"][3 * k + c] = raw["shapeMU"][3 * s + c, 0] / 1e5
            out["meantex"][3 * k + c] = raw["texMU"][3 * s + c, 0]
            for j in range(80):
                out["idBase"][3 * k + c, j] = raw["shapePC"][3 * s + c, j] * raw["shapeEV"][j, 0] / 1e5
                out["texBase"][3 * k + c, j] = raw["texPC"][3 * s + c, j] * raw["texEV"][j, 0]
            for j in range(64):
                out["exBase"][3 * k + c, j] = raw["exp_components"][j, 3 * e + c] * raw["std_exp"][j] / 1e5
    return out


def test_build_matches_the_hand_computed_bases_and_loads(tmp_path):
    raw = write_raw_bfm(tmp_path / "raw")
    assert missing_raw_files(tmp_path / "raw") == []
    out = build_front_model_in(tmp_path / "raw")
    assert out == tmp_path / "raw" / "BFM_model_front.mat" and not list(tmp_path.glob("raw/*.partial"))
    mat = loadmat(str(out))
    expected = _hand_built(raw)
    for key, value in expected.items():
        np.testing.assert_allclose(mat[key].reshape(value.shape), value, rtol=2e-6, atol=1e-6, err_msg=key)
    assert mat["idBase"].dtype == np.float32 and mat["meanshape"].shape == (3 * FRONT_VERTICES, 1)
    for key in ("tri", "point_buf", "keypoints", "frontmask2_idx", "skinmask", "tri_mask2"):
        np.testing.assert_array_equal(mat[key], raw[key], err_msg=key)  # copied as they are

    model = BFMFaceModel.from_mat(out)
    assert model.num_vertices == FRONT_VERTICES and model.num_identity == 80 and model.num_expression == 64
    ident, expr = torch.randn(1, 80, dtype=torch.float64), torch.randn(1, 64, dtype=torch.float64)
    mean = expected["meanshape"].reshape(-1, 3)
    hand = (
        (mean - mean.mean(0)).reshape(-1)
        + expected["idBase"] @ ident[0].numpy()
        + expected["exBase"] @ expr[0].numpy()
    )
    ours = model.shape(ident.float(), expr.float())[0].numpy().reshape(-1)
    np.testing.assert_allclose(ours, hand, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(model.keypoints.numpy(), raw["keypoints"].reshape(-1).astype(int) - 1)


def test_exp_pca_layout(tmp_path):
    raw = write_raw_bfm(tmp_path)
    basis = read_exp_pca(tmp_path / "Exp_Pca.bin")
    assert basis.basis.shape == (90, 79) and basis.mean.shape == (90,)
    np.testing.assert_array_equal(basis.basis, raw["exp_components"].T)
    (tmp_path / "Exp_Pca.bin").write_bytes((tmp_path / "Exp_Pca.bin").read_bytes()[:-6])
    with pytest.raises(CheckpointError, match="truncated"):
        read_exp_pca(tmp_path / "Exp_Pca.bin")


def test_missing_and_inconsistent_raw_files(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="01_MorphableModel.mat.*Exp_Pca.bin"):
        build_front_model_in(tmp_path / "empty")
    write_raw_bfm(tmp_path)
    from scipy.io import savemat

    savemat(tmp_path / "BFM_front_idx.mat", {"idx": np.array([[1.0], [31.0]])})  # beyond 30 vertices
    with pytest.raises(CheckpointError, match="BFM_front_idx.mat"):
        build_front_model_in(tmp_path)
    assert not (tmp_path / "BFM_model_front.mat").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_real_index_files_select_the_35709_front_vertices(tmp_path):
    """The public index files: their shapes, and a build at real vertex counts that uses them right."""
    ref = shared_dir() / "data" / "reference"
    if not (ref / "BFM_front_idx.mat").is_file():
        pytest.skip(f"reference index files not found in {ref}")
    front = loadmat(str(ref / "BFM_front_idx.mat"))["idx"]
    trim = loadmat(str(ref / "BFM_exp_idx.mat"))["trimIndex"]
    info = loadmat(str(ref / "facemodel_info.mat"))
    std = np.loadtxt(ref / "std_exp.txt")
    assert front.shape == (35709, 1) and trim.shape == (53215, 1) and std.shape == (79,)
    exp_v, shape_v = front_vertex_indices(front, trim)
    assert exp_v.max() < 53215 and shape_v.max() < 53490 and len(np.unique(shape_v)) == 35709
    assert info["keypoints"].shape == (1, 68) and info["point_buf"].shape == (35709, 8)
    assert int(info["tri"].max()) == 35709 and int(info["keypoints"].max()) <= 35709

    # raw files at the real vertex counts whose values encode their own row: the build must pick
    # row 3 * trimIndex[idx] + c of BFM09 and row 3 * idx + c of the expression basis
    rows_b = np.arange(3 * 53490, dtype=np.float32)[:, None]
    from scipy.io import savemat

    savemat(
        tmp_path / "01_MorphableModel.mat",
        {
            "shapeMU": rows_b * 1e5,
            "shapePC": np.repeat(rows_b, 80, axis=1),
            "shapeEV": np.full((80, 1), 1e5, np.float32),
            "texMU": rows_b,
            "texPC": np.repeat(rows_b, 80, axis=1),
            "texEV": np.ones((80, 1), np.float32),
        },
    )
    with (tmp_path / "Exp_Pca.bin").open("wb") as fh:
        fh.write(np.array([79], "<i4").tobytes())
        fh.write(np.zeros(3 * 53215, "<f4").tobytes())
        fh.write(np.repeat(np.arange(3 * 53215, dtype="<f4")[None], 79, axis=0).tobytes())
    out = build_front_model_file(
        tmp_path / "01_MorphableModel.mat",
        tmp_path / "Exp_Pca.bin",
        ref / "std_exp.txt",
        ref / "BFM_front_idx.mat",
        ref / "BFM_exp_idx.mat",
        ref / "facemodel_info.mat",
        tmp_path / "BFM_model_front.mat",
    )
    mat = loadmat(str(out))
    want_b = (3 * shape_v[:, None] + np.arange(3)).reshape(-1)
    want_e = (3 * exp_v[:, None] + np.arange(3)).reshape(-1)
    np.testing.assert_allclose(mat["meanshape"].reshape(-1), want_b, rtol=1e-6)
    np.testing.assert_allclose(mat["idBase"][:, 7], want_b, rtol=1e-6)
    np.testing.assert_allclose(mat["texBase"][:, 79], want_b, rtol=1e-6)
    np.testing.assert_allclose(mat["exBase"][:, 3], want_e * std[3] / 1e5, rtol=1e-5)
    model = BFMFaceModel.from_mat(out)
    assert model.num_vertices == 35709 and model.triangles.shape == (70789, 3)
