"""Build ``BFM_model_front.mat`` from the raw Basel Face Model files, as Deep3DFaceRecon does.

Mirrors of SadTalker's ``BFM_Fitting`` folder (and users who register at Basel) have the raw
BFM 2009 model ``01_MorphableModel.mat`` and Guo et al.'s expression basis ``Exp_Pca.bin``, not
always the front model itself. Deep3DFaceRecon derives the front model from them with four small
public index files; this module does the same arithmetic:

- vertices: the front face is ``idx`` (``BFM_front_idx.mat``, 1-based into the 53215 vertices of the
  expression basis); its vertices in BFM09 (53490 vertices) are ``trimIndex[idx]``
  (``BFM_exp_idx.mat``, 1-based). Every basis keeps the rows x, y, z of those vertices, interleaved.
- ``meanshape = shapeMU / 1e5``; ``idBase`` = first 80 columns of ``shapePC * shapeEV / 1e5``;
  ``exBase`` = first 64 columns of ``expPC * std_exp / 1e5``; ``meantex = texMU``; ``texBase`` = first
  80 columns of ``texPC * texEV`` (the model's units: mm / 1e5, colours in [0, 255]).
- ``tri``, ``point_buf``, ``keypoints``, ``frontmask2_idx``, ``skinmask``, ``tri_mask2`` are copied from
  ``facemodel_info.mat`` as they are (1-based, as `reconstruction.bfm.BFMFaceModel.from_mat` expects).

It needs only numpy and scipy, and lives with the weights because the one-step download
(`weights.bundles`) runs it when a mirror has no front model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import loadmat, savemat
from scipy.io.matlab import MatReadError

from core.errors import CheckpointError, WeightsNotFoundError
from weights.registry import REGISTRY, weights_dir

__all__ = [
    "NUM_IDENTITY",
    "NUM_EXPRESSION",
    "NUM_TEXTURE",
    "RAW_BFM_FILES",
    "TOPOLOGY_FIELDS",
    "ExpressionBasis",
    "build_front_model",
    "build_front_model_file",
    "build_front_model_in",
    "front_vertex_indices",
    "missing_raw_files",
    "read_exp_pca",
    "xyz_rows",
]

log = logging.getLogger(__name__)

NUM_IDENTITY = 80
NUM_EXPRESSION = 64
NUM_TEXTURE = 80
#: Registry entries of the raw files, in the order `build_front_model_file` takes them.
RAW_BFM_FILES = (
    "bfm-morphable-model",
    "bfm-exp-pca",
    "bfm-std-exp",
    "bfm-front-idx",
    "bfm-exp-idx",
    "bfm-facemodel-info",
)
#: Fields of facemodel_info.mat copied into the front model (the first three are required).
TOPOLOGY_FIELDS = ("tri", "point_buf", "keypoints", "frontmask2_idx", "skinmask", "tri_mask2")
_MORPHABLE_FIELDS = ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV")


@dataclass(frozen=True)
class ExpressionBasis:
    """Guo et al.'s expression PCA: ``mean`` (3V,) and ``basis`` (3V, E), rows x, y, z per vertex."""

    mean: np.ndarray
    basis: np.ndarray

    @property
    def num_vertices(self) -> int:
        return self.basis.shape[0] // 3


def read_exp_pca(path: str | Path) -> ExpressionBasis:
    """Read ``Exp_Pca.bin``: little-endian int32 E, float32 mean (3V), float32 basis (E * 3V) stored
    one component after another (reshaped to (E, 3V), then transposed). V is found from the size."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} does not exist (Guo et al.'s Exp_Pca.bin)")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise CheckpointError(f"{path} is too short to be Exp_Pca.bin ({len(raw)} bytes)")
    num_components = int(np.frombuffer(raw[:4], dtype="<i4")[0])
    floats = (len(raw) - 4) // 4
    if num_components < 1 or (len(raw) - 4) % 4 or floats % (3 * (num_components + 1)):
        raise CheckpointError(
            f"{path} is not Exp_Pca.bin: {len(raw)} bytes do not hold an int32 count ({num_components}) "
            "followed by a float32 mean and basis over the same 3V values (truncated download?)"
        )
    values = np.frombuffer(raw, dtype="<f4", offset=4)
    size = floats // (num_components + 1)  # 3V
    return ExpressionBasis(values[:size].copy(), values[size:].reshape(num_components, size).T.copy())


def front_vertex_indices(front_idx: np.ndarray, trim_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based front-face vertices in the expression basis and in BFM09.

    Args:
        front_idx: ``idx`` of BFM_front_idx.mat, 1-based into the expression basis' vertices.
        trim_index: ``trimIndex`` of BFM_exp_idx.mat, 1-based into the BFM09 vertices, one per
            expression-basis vertex.
    Returns:
        (expression-basis vertices (N,), BFM09 vertices (N,)), int64.
    """
    exp_vertices = np.asarray(front_idx).reshape(-1).astype(np.int64) - 1
    trim = np.asarray(trim_index).reshape(-1).astype(np.int64) - 1
    if exp_vertices.size == 0 or exp_vertices.min() < 0 or exp_vertices.max() >= trim.size:
        raise CheckpointError(
            f"BFM_front_idx.mat indices must lie in [1, {trim.size}] (the vertices of BFM_exp_idx.mat), "
            f"found [{exp_vertices.min() + 1}, {exp_vertices.max() + 1}]"
        )
    if trim.min() < 0:
        raise CheckpointError("BFM_exp_idx.mat holds indices below 1 (they are 1-based)")
    return exp_vertices, trim[exp_vertices]


def xyz_rows(vertices: np.ndarray) -> np.ndarray:
    """(N,) vertex indices -> (3N,) rows of an interleaved x, y, z layout: 3v, 3v + 1, 3v + 2, ..."""
    return (3 * np.asarray(vertices, dtype=np.int64)[:, None] + np.arange(3)).reshape(-1)


def _columns(matrix: np.ndarray, rows: np.ndarray, scale: np.ndarray, count: int, what: str) -> np.ndarray:
    """``(matrix * scale)[rows, :count]`` in float64 (scale: one factor per column)."""
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    if matrix.ndim != 2 or matrix.shape[1] < count or scale.size != matrix.shape[1]:
        raise CheckpointError(
            f"{what}: expected a basis with at least {count} columns and one scale per column, "
            f"got basis {matrix.shape} and {scale.size} scales"
        )
    return matrix[rows, :count].astype(np.float64) * scale[:count]


def build_front_model(
    morphable_model: Mapping[str, np.ndarray],
    expression: ExpressionBasis,
    std_exp: np.ndarray,
    front_idx: np.ndarray,
    trim_index: np.ndarray,
    topology: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The fields of BFM_model_front.mat (float32 bases as (3N, K), means as (3N, 1) columns).

    Args:
        morphable_model: 01_MorphableModel.mat's ``shapeMU`` (3B, 1), ``shapePC`` (3B, >=80), ``shapeEV``,
            ``texMU``, ``texPC``, ``texEV`` for B BFM09 vertices.
        expression: `read_exp_pca` of Exp_Pca.bin (3V rows, E components).
        std_exp: (E,) standard deviations of the expression components (std_exp.txt).
        front_idx, trim_index: see `front_vertex_indices`.
        topology: facemodel_info.mat's fields (`TOPOLOGY_FIELDS`), copied as they are.
    """
    absent = [k for k in _MORPHABLE_FIELDS if k not in morphable_model]
    if absent:
        raise CheckpointError(f"01_MorphableModel.mat lacks field(s) {', '.join(absent)}")
    absent = [k for k in TOPOLOGY_FIELDS[:3] if k not in topology]
    if absent:
        raise CheckpointError(f"facemodel_info.mat lacks field(s) {', '.join(absent)}")
    exp_vertices, shape_vertices = front_vertex_indices(front_idx, trim_index)
    if len(np.asarray(trim_index).reshape(-1)) != expression.num_vertices:
        raise CheckpointError(
            f"BFM_exp_idx.mat has {np.asarray(trim_index).size} vertices, Exp_Pca.bin {expression.num_vertices}"
        )
    shape_mu = np.asarray(morphable_model["shapeMU"]).reshape(-1)
    if shape_vertices.max() >= shape_mu.size // 3:
        raise CheckpointError(
            f"BFM_exp_idx.mat points at vertex {shape_vertices.max() + 1} but 01_MorphableModel.mat has "
            f"{shape_mu.size // 3}"
        )
    rows = xyz_rows(shape_vertices)  # (3N,) into BFM09's interleaved rows
    exp_rows = xyz_rows(exp_vertices)  # (3N,) into the expression basis' rows
    fields = {
        "meanshape": (shape_mu[rows].astype(np.float64) / 1e5)[:, None],
        "idBase": _columns(
            np.asarray(morphable_model["shapePC"]), rows, morphable_model["shapeEV"], NUM_IDENTITY, "shapePC"
        )
        / 1e5,
        "exBase": _columns(expression.basis, exp_rows, std_exp, NUM_EXPRESSION, "Exp_Pca.bin / std_exp.txt")
        / 1e5,
        "meantex": np.asarray(morphable_model["texMU"]).reshape(-1)[rows].astype(np.float64)[:, None],
        "texBase": _columns(
            np.asarray(morphable_model["texPC"]), rows, morphable_model["texEV"], NUM_TEXTURE, "texPC"
        ),
    }
    out = {k: v.astype(np.float32) for k, v in fields.items()}
    out.update({k: np.asarray(topology[k]) for k in TOPOLOGY_FIELDS if k in topology})
    return out


def _read_mat(path: Path, what: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} does not exist ({what})")
    try:
        return loadmat(str(path))
    except NotImplementedError:
        raise CheckpointError(f"{path} is a MATLAB v7.3 file; re-save it as v7 ({what})") from None
    except (ValueError, OSError, TypeError, MatReadError) as exc:
        raise CheckpointError(f"{path} is not a readable .mat file ({what}): {exc}") from None


def _read_std_exp(path: Path) -> np.ndarray:
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} does not exist (std_exp.txt)")
    try:
        return np.loadtxt(path, dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise CheckpointError(f"{path} is not a list of numbers (std_exp.txt): {exc}") from None


def build_front_model_file(
    morphable_model: str | Path,
    exp_pca: str | Path,
    std_exp: str | Path,
    front_idx: str | Path,
    exp_idx: str | Path,
    facemodel_info: str | Path,
    output: str | Path,
) -> Path:
    """Read the six raw files, build the front model and write it to `output` (a MATLAB v5 .mat).

    The file is written beside `output` and renamed at the end, so an interrupted build never
    leaves a partial file under the final name. Returns `output`.
    """
    model = _read_mat(Path(morphable_model), "Basel Face Model 2009, 01_MorphableModel.mat")
    front = _read_mat(Path(front_idx), "BFM_front_idx.mat")
    trim = _read_mat(Path(exp_idx), "BFM_exp_idx.mat")
    info = _read_mat(Path(facemodel_info), "facemodel_info.mat")
    for path, data, key in ((front_idx, front, "idx"), (exp_idx, trim, "trimIndex")):
        if key not in data:
            raise CheckpointError(f"{path} has no field '{key}'")
    fields = build_front_model(
        model, read_exp_pca(exp_pca), _read_std_exp(Path(std_exp)), front["idx"], trim["trimIndex"], info
    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as fh:
        savemat(fh, fields, do_compression=False)
    os.replace(partial, output)
    log.info("built %s (%d vertices)", output, fields["meanshape"].shape[0] // 3)
    return output


def missing_raw_files(folder: str | Path | None = None) -> list[str]:
    """Registry names of the raw files absent from `folder` (default: the weights folder)."""
    folder = Path(folder) if folder is not None else weights_dir()
    return [name for name in RAW_BFM_FILES if not (folder / REGISTRY[name].filename).is_file()]


def build_front_model_in(folder: str | Path | None = None) -> Path:
    """Build ``BFM_model_front.mat`` in `folder` (default: the weights folder) from the raw files there.

    Raises WeightsNotFoundError naming every raw file that is missing.
    """
    folder = Path(folder) if folder is not None else weights_dir()
    missing = missing_raw_files(folder)
    if missing:
        names = ", ".join(REGISTRY[n].filename for n in missing)
        raise WeightsNotFoundError(
            f"cannot build BFM_model_front.mat: {names} missing from {folder}. "
            "Run `pirender download paper --accept-licence`, or put the files there yourself."
        )
    paths = [folder / REGISTRY[name].filename for name in RAW_BFM_FILES]
    return build_front_model_file(*paths, output=folder / REGISTRY["bfm-front"].filename)
