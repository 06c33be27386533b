"""The Basel Face Model as Deep3DFaceRecon uses it: the geometry of its 257 coefficients.

``BFM_model_front.mat`` holds the front part of BFM 2009 (35709 vertices) with the expression basis
of Guo et al.: shape = mean + idBase @ id + exBase @ exp (the mean re-centred on load), rotated as
``points @ R`` with R = (Rz Ry Rx)^T (`rotation_matrix`), translated, seen by a perspective camera at z = 10 with focal
1015 and principal point 112 in the 224-px aligned crop (y up). Everything is batched torch, so the
same code serves reconstruction checks and the semantic editing controls (which use the model's own
expression basis and landmark indices).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.io import loadmat
from scipy.io.matlab import MatReadError
from torch import nn

from core.errors import CheckpointError, FaceModelNotInstalledError, InputError, WeightsNotFoundError

__all__ = [
    "BFMFaceModel",
    "BFMGeometry",
    "CAMERA_DISTANCE",
    "FOCAL",
    "PRINCIPAL_POINT",
    "bfm_not_installed",
    "rotation_matrix",
]

logger = logging.getLogger(__name__)

FOCAL = 1015.0
PRINCIPAL_POINT = 112.0
CAMERA_DISTANCE = 10.0

_FIELDS = ("meanshape", "idBase", "exBase", "meantex", "texBase", "point_buf", "tri", "keypoints")


def bfm_not_installed(what: str) -> FaceModelNotInstalledError:
    """The error for a feature that needs BFM_model_front.mat itself while only the network is installed."""
    return FaceModelNotInstalledError(
        f"{what} needs the Basel Face Model file BFM_model_front.mat, which is not installed. The neural "
        "renderer works without it (reenactment, audio animation, raw-coefficient edits); the BFM adds its "
        "geometric preview and the semantic sliders. Run `pirender download paper --accept-licence` (it "
        "builds the file from the raw BFM files when a mirror has no prebuilt one), or put the file in the "
        "weights folder (`pirender weights` shows where). BFM licence: https://faces.dmi.unibas.ch/bfm/"
    )


def rotation_matrix(angles: torch.Tensor) -> torch.Tensor:
    """(B, 3) angles about x, y, z in radians -> (B, 3, 3) R = (Rz Ry Rx)^T, applied as ``points @ R``.

    The torch twin of `core.geometry.euler_to_matrix` (the project's one Euler convention): it
    returns that matrix transposed, so ``points @ R`` here rotates exactly like ``R' @ p`` there.
    Kept in torch because the fitting and the controls need it batched and differentiable.
    """
    if angles.ndim != 2 or angles.shape[1] != 3:
        raise InputError(f"expected angles of shape (B, 3), got {tuple(angles.shape)}")
    cos, sin = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(angles[:, 0]), torch.zeros_like(angles[:, 0])
    cx, cy, cz = cos.unbind(1)
    sx, sy, sz = sin.unbind(1)
    rot_x = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], dim=1).view(-1, 3, 3)
    rot_y = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], dim=1).view(-1, 3, 3)
    rot_z = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], dim=1).view(-1, 3, 3)
    return (rot_z @ rot_y @ rot_x).transpose(1, 2)


@dataclass(frozen=True)
class BFMGeometry:
    """Geometry of a batch of coefficient vectors.

    Attributes:
        rotation: (B, 3, 3) applied as ``points @ rotation``.
        vertices_world: (B, N, 3) after rotation and translation, before the camera flip.
        projected: (B, N, 2) 224-px image coordinates, y up (image row = 224 - y).
        landmarks68: (B, 68, 2) the 68 landmarks among `projected`.
    """

    rotation: torch.Tensor
    vertices_world: torch.Tensor
    projected: torch.Tensor
    landmarks68: torch.Tensor


class BFMFaceModel(nn.Module):
    """Linear face model of ``BFM_model_front.mat`` (buffers only, no trainable parameters).

    Buffers: ``mean_shape`` (N, 3) re-centred, ``id_base`` (3N, 80), ``exp_base`` (3N, 64),
    ``mean_tex`` (3N,), ``tex_base`` (3N, 80), ``point_buf`` (N, 8) 0-based triangle indices
    (-1 = none), ``triangles`` (F, 3) and ``keypoints`` (68,) 0-based vertex indices.
    """

    def __init__(
        self,
        mean_shape: np.ndarray,
        id_base: np.ndarray,
        exp_base: np.ndarray,
        mean_tex: np.ndarray,
        tex_base: np.ndarray,
        point_buf: np.ndarray,
        triangles: np.ndarray,
        keypoints: np.ndarray,
    ) -> None:
        super().__init__()
        mean = np.asarray(mean_shape, dtype=np.float32).reshape(-1, 3)
        mean = mean - mean.mean(axis=0, keepdims=True)  # re-centre, as the original does on load
        n = mean.shape[0]
        self.register_buffer("mean_shape", torch.from_numpy(mean), persistent=False)
        self.register_buffer("id_base", torch.from_numpy(np.asarray(id_base, np.float32)), persistent=False)
        self.register_buffer("exp_base", torch.from_numpy(np.asarray(exp_base, np.float32)), persistent=False)
        mean_tex_t = torch.from_numpy(np.asarray(mean_tex, np.float32).reshape(-1))
        self.register_buffer("mean_tex", mean_tex_t, persistent=False)
        self.register_buffer("tex_base", torch.from_numpy(np.asarray(tex_base, np.float32)), persistent=False)
        self.register_buffer("point_buf", torch.from_numpy(np.asarray(point_buf, np.int64)), persistent=False)
        self.register_buffer("triangles", torch.from_numpy(np.asarray(triangles, np.int64)), persistent=False)
        self.register_buffer("keypoints", torch.from_numpy(np.asarray(keypoints, np.int64)), persistent=False)
        for name, base in (
            ("id_base", self.id_base),
            ("exp_base", self.exp_base),
            ("tex_base", self.tex_base),
        ):
            if base.ndim != 2 or base.shape[0] != 3 * n:
                raise InputError(
                    f"{name} must have shape ({3 * n}, K) for {n} vertices, got {tuple(base.shape)}"
                )
        if self.mean_tex.shape[0] != 3 * n:
            raise InputError(f"mean_tex must have {3 * n} values, got {self.mean_tex.shape[0]}")
        if self.keypoints.shape != (68,) or int(self.keypoints.min()) < 0 or int(self.keypoints.max()) >= n:
            raise InputError(
                f"keypoints must be 68 vertex indices in [0, {n}), got shape {tuple(self.keypoints.shape)}"
            )
        if self.triangles.ndim != 2 or self.triangles.shape[1] != 3:
            raise InputError(f"triangles must have shape (F, 3), got {tuple(self.triangles.shape)}")

    @classmethod
    def from_mat(cls, path: str | Path) -> BFMFaceModel:
        """Load ``BFM_model_front.mat`` (1-based MATLAB indices become 0-based)."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"{path} does not exist: expected BFM_model_front.mat (Basel Face Model 2009 front part "
                "with the Guo et al. expression basis). Register at https://faces.dmi.unibas.ch/bfm/ to "
                "obtain the BFM, build the file with Deep3DFaceRecon's BFM tools, and see the "
                "weights.registry entry 'bfm-front' for where to put it."
            )
        try:
            mat = loadmat(str(path))
        except NotImplementedError:
            raise CheckpointError(
                f"{path} is a MATLAB v7.3 (HDF5) file; re-save it as a v7 .mat (save(..., '-v7'))"
            ) from None
        except (ValueError, OSError, TypeError, MatReadError) as exc:
            raise CheckpointError(f"{path} is not a readable MATLAB .mat file ({exc})") from None
        absent = [f for f in _FIELDS if f not in mat]
        if absent:
            raise CheckpointError(
                f"{path} is not BFM_model_front.mat: missing field(s) {', '.join(absent)} "
                f"(expected {', '.join(_FIELDS)})"
            )
        try:
            model = cls(
                mean_shape=mat["meanshape"],
                id_base=mat["idBase"],
                exp_base=mat["exBase"],
                mean_tex=mat["meantex"],
                tex_base=mat["texBase"],
                point_buf=np.asarray(mat["point_buf"]).astype(np.int64) - 1,
                triangles=np.asarray(mat["tri"]).astype(np.int64) - 1,
                keypoints=np.asarray(mat["keypoints"]).reshape(-1).astype(np.int64) - 1,
            )
        except (InputError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"{path} has the fields of BFM_model_front.mat but not their shapes: {exc}"
            ) from None
        logger.info("loaded BFM face model from %s (%d vertices)", path, model.num_vertices)
        return model

    @property
    def num_vertices(self) -> int:
        return int(self.mean_shape.shape[0])

    @property
    def num_identity(self) -> int:
        return int(self.id_base.shape[1])

    @property
    def num_expression(self) -> int:
        return int(self.exp_base.shape[1])

    @property
    def expression_basis(self) -> torch.Tensor:
        """(3N, 64) expression basis; rows are x, y, z of vertex 0, then vertex 1, ..."""
        return self.exp_base

    @property
    def landmark_indices(self) -> torch.Tensor:
        """(68,) int64 0-based vertex indices of the 68 iBUG landmarks."""
        return self.keypoints

    def shape(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, 80) identity and (B, 64) expression -> (B, N, 3) vertices in model space."""
        if identity.ndim != 2 or identity.shape[1] != self.num_identity:
            raise InputError(
                f"expected identity of shape (B, {self.num_identity}), got {tuple(identity.shape)}"
            )
        if expression.ndim != 2 or expression.shape[1] != self.num_expression:
            raise InputError(
                f"expected expression of shape (B, {self.num_expression}), got {tuple(expression.shape)}"
            )
        offsets = identity @ self.id_base.T + expression @ self.exp_base.T  # (B, 3N)
        return self.mean_shape + offsets.view(identity.shape[0], -1, 3)

    def texture(self, texture: torch.Tensor) -> torch.Tensor:
        """(B, 80) albedo coefficients -> (B, N, 3) per-vertex RGB albedo in [0, 1] (unclamped)."""
        colours = self.mean_tex + texture @ self.tex_base.T  # (B, 3N) in [0, 255]
        return colours.view(texture.shape[0], -1, 3) / 255.0

    @staticmethod
    def rotation(angles: torch.Tensor) -> torch.Tensor:
        """(B, 3) radians -> (B, 3, 3), see `rotation_matrix`."""
        return rotation_matrix(angles)

    @staticmethod
    def transform(vertices: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) @ (B, 3, 3) + (B, 3) -> (B, N, 3) world points."""
        return vertices @ rotation + translation.unsqueeze(1)

    @staticmethod
    def project(vertices_world: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) world points -> (B, N, 2) 224-px image coordinates, y up (camera at z = 10)."""
        depth = CAMERA_DISTANCE - vertices_world[..., 2:3]  # the camera looks down -z
        return FOCAL * vertices_world[..., :2] / depth + PRINCIPAL_POINT

    def landmarks68(self, projected: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) projected vertices -> (B, 68, 2) landmarks."""
        return projected[:, self.keypoints]

    def geometry(
        self,
        identity: torch.Tensor,
        expression: torch.Tensor,
        angles: torch.Tensor,
        translation: torch.Tensor,
    ) -> BFMGeometry:
        """Geometry of (B, 80) identity, (B, 64) expression, (B, 3) angles (radians), (B, 3) translation.

        Split 257-vectors with `reconstruction.deep3d.split_coefficients` first.
        """
        if translation.ndim != 2 or translation.shape[1] != 3:
            raise InputError(f"expected translation of shape (B, 3), got {tuple(translation.shape)}")
        rotation = self.rotation(angles.to(self.mean_shape))
        vertices = self.shape(identity.to(self.mean_shape), expression.to(self.mean_shape))
        world = self.transform(vertices, rotation, translation.to(self.mean_shape))
        projected = self.project(world)
        return BFMGeometry(rotation, world, projected, self.landmarks68(projected))
