"""The project's own linear face model on the landmark detector's 478-point mesh (works offline).

shape = mean + identity_basis @ id + expression_basis @ exp, in a canonical frame (x right, y up,
z towards the camera; unit = the distance between the outer eye corners). The bases were
estimated from real talking-head videos (see `reconstruction/build_face_model.py`): identity from
the variation between people, expression from the variation within each clip after removing head
pose. The file is `weights/files/default_face_model.npz` (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.coefficients import DEFAULT_FACE_MODEL
from core.errors import CheckpointError, WeightsNotFoundError
from core.geometry import euler_to_matrix

__all__ = [
    "LinearFaceModel",
    "load_default_face_model",
    "DEFAULT_MODEL_PATH",
    "mesh_regions",
    "RIGID_INDICES",
]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "weights" / "files" / "default_face_model.npz"

#: Mesh points that move little with expression: forehead, nose bridge, eye corners, temples, cheekbones.
RIGID_INDICES = np.array(
    [10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 362, 263, 127, 356, 234, 454, 98, 327, 109, 338],
    dtype=np.int64,
)


def _ring(edges: frozenset[tuple[int, int]]) -> np.ndarray:
    return np.array(sorted({i for e in edges for i in e}), dtype=np.int64)


@lru_cache(maxsize=1)
def mesh_regions() -> dict[str, np.ndarray]:
    """Named landmark groups of the mesh (indices into the 478 points), from MediaPipe's mesh topology.

    MediaPipe (heavy: about a second to import) is imported on the first call, not with this module.
    """
    from mediapipe.python.solutions import face_mesh_connections as c

    return {
        "lips": _ring(c.FACEMESH_LIPS),
        "eye_image_left": _ring(c.FACEMESH_RIGHT_EYE),  # MediaPipe names eyes from the subject's side
        "eye_image_right": _ring(c.FACEMESH_LEFT_EYE),
        "brow_image_left": _ring(c.FACEMESH_RIGHT_EYEBROW),
        "brow_image_right": _ring(c.FACEMESH_LEFT_EYEBROW),
        "oval": _ring(c.FACEMESH_FACE_OVAL),
        "nose": _ring(c.FACEMESH_NOSE),
    }


@dataclass(frozen=True)
class LinearFaceModel:
    """A linear 3D face model over a fixed set of mesh points.

    mean: (N, 3); identity_basis: (N*3, I); expression_basis: (N*3, E); *_std: per-coefficient
    standard deviations seen in the data (priors for fitting and slider ranges); triangles: (F, 3).
    """

    name: str
    mean: np.ndarray
    identity_basis: np.ndarray
    identity_std: np.ndarray
    expression_basis: np.ndarray
    expression_std: np.ndarray
    triangles: np.ndarray
    rigid_indices: np.ndarray

    @property
    def num_points(self) -> int:
        return int(self.mean.shape[0])

    @property
    def num_identity(self) -> int:
        return int(self.identity_basis.shape[1])

    @property
    def num_expression(self) -> int:
        return int(self.expression_basis.shape[1])

    def shape(self, identity: np.ndarray | None = None, expression: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) canonical-frame points for the given coefficients (zeros when None)."""
        flat = self.mean.reshape(-1).astype(np.float64)
        if identity is not None:
            flat = flat + self.identity_basis @ np.asarray(identity, dtype=np.float64)
        if expression is not None:
            flat = flat + self.expression_basis @ np.asarray(expression, dtype=np.float64)
        return flat.reshape(-1, 3)

    def expression_displacement(self, expression: np.ndarray) -> np.ndarray:
        """(N, 3) displacement of every point caused by `expression`."""
        return (self.expression_basis @ np.asarray(expression, dtype=np.float64)).reshape(-1, 3)

    def save(self, path: str | Path, **extra: np.ndarray) -> None:
        np.savez_compressed(
            path,
            name=np.array(self.name),
            mean=self.mean.astype(np.float32),
            identity_basis=self.identity_basis.astype(np.float32),
            identity_std=self.identity_std.astype(np.float32),
            expression_basis=self.expression_basis.astype(np.float32),
            expression_std=self.expression_std.astype(np.float32),
            triangles=self.triangles.astype(np.int32),
            rigid_indices=self.rigid_indices.astype(np.int32),
            **extra,
        )

    @classmethod
    def load(cls, path: str | Path) -> LinearFaceModel:
        path = Path(path)
        if not path.is_file():
            raise WeightsNotFoundError(
                f"the default face model {path} is missing; rebuild it with "
                "`python -m reconstruction.build_face_model` (needs ../shared/data/videos) or reinstall the package"
            )
        try:
            with np.load(path, allow_pickle=False) as d:
                return cls(
                    name=str(d["name"]),
                    mean=d["mean"].astype(np.float64),
                    identity_basis=d["identity_basis"].astype(np.float64),
                    identity_std=d["identity_std"].astype(np.float64),
                    expression_basis=d["expression_basis"].astype(np.float64),
                    expression_std=d["expression_std"].astype(np.float64),
                    triangles=d["triangles"].astype(np.int64),
                    rigid_indices=d["rigid_indices"].astype(np.int64),
                )
        except (KeyError, ValueError, OSError) as exc:
            raise CheckpointError(f"{path} is not a valid face model file: {exc}") from None

    def posed(
        self,
        identity: np.ndarray | None,
        expression: np.ndarray | None,
        angles: np.ndarray,
        scale: float,
        translation_xy: np.ndarray,
    ) -> np.ndarray:
        """(N, 3) points in image pixels (x right, y down, z towards camera): weak perspective."""
        pts = self.shape(identity, expression) @ euler_to_matrix(angles).T * scale
        out = np.empty_like(pts)
        out[:, 0] = pts[:, 0] + translation_xy[0]
        out[:, 1] = -pts[:, 1] + translation_xy[1]
        out[:, 2] = pts[:, 2]
        return out


@lru_cache(maxsize=1)
def load_default_face_model() -> LinearFaceModel:
    """The bundled default face model (cached; read-only arrays)."""
    model = LinearFaceModel.load(DEFAULT_MODEL_PATH)
    if model.name != DEFAULT_FACE_MODEL:
        raise CheckpointError(
            f"{DEFAULT_MODEL_PATH} holds face model '{model.name}', expected '{DEFAULT_FACE_MODEL}'"
        )
    return model
