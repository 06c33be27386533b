"""Rotations and rigid alignment shared by the face models and the fitting (numpy, float64 inside).

Convention (the same as Deep3DFaceRecon's face model): angles (x, y, z) = (pitch, yaw, roll) in
radians; the rotation applied to a column point is p' = Rz @ Ry @ Rx @ p, in a frame with x right,
y up and z towards the camera. A positive yaw moves the nose towards +x (the image's right).
"""

from __future__ import annotations

import numpy as np

__all__ = ["euler_to_matrix", "matrix_to_euler", "similarity_align", "smoothstep"]


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) angles in radians -> (..., 3, 3) rotation matrices R = Rz @ Ry @ Rx."""
    a = np.asarray(angles, dtype=np.float64)
    x, y, z = a[..., 0], a[..., 1], a[..., 2]
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    r = np.empty(a.shape[:-1] + (3, 3))
    r[..., 0, 0] = cz * cy
    r[..., 0, 1] = cz * sy * sx - sz * cx
    r[..., 0, 2] = cz * sy * cx + sz * sx
    r[..., 1, 0] = sz * cy
    r[..., 1, 1] = sz * sy * sx + cz * cx
    r[..., 1, 2] = sz * sy * cx - cz * sx
    r[..., 2, 0] = -sy
    r[..., 2, 1] = cy * sx
    r[..., 2, 2] = cy * cx
    return r


def matrix_to_euler(r: np.ndarray) -> np.ndarray:
    """Inverse of `euler_to_matrix` for |yaw| < 90 degrees: (..., 3, 3) -> (..., 3) radians."""
    r = np.asarray(r, dtype=np.float64)
    yaw = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.stack([pitch, yaw, roll], axis=-1)


def similarity_align(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares s, R, t with target ~ s * R @ source + t (Umeyama), for (N, 3) point sets.

    Returns scale (float), rotation (3, 3) with det +1, translation (3,).
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    cs, cd = src - mu_s, dst - mu_d
    cov = (cd * w[:, None]).T @ cs
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag(d) @ vt
    var_s = float(w @ (cs**2).sum(axis=1))
    scale = float((sing * d).sum() / var_s)
    return scale, rot, mu_d - scale * rot @ mu_s


def smoothstep(t: np.ndarray | float) -> np.ndarray:
    """3t^2 - 2t^3 of t clipped to [0, 1] (its dtype kept): the soft ramp every fade and gate uses."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
