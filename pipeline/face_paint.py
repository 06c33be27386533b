"""Small 2-D helpers shared by the mouth and eye parts of the geometric renderer.

Points are crop pixels (x right, y down); curves are (K, 2) polylines ordered from the image's
left (a lip or lid), boxes integer (x0, y0, x1, y1) with x1, y1 exclusive.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["curve_y", "box_around", "similarity_2d", "apply_affine"]


def curve_y(curve: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a polyline (K, 2) at columns xs (any shape; clamped at the ends)."""
    order = np.argsort(curve[:, 0], kind="stable")
    return np.interp(xs, curve[order, 0], curve[order, 1])


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) rotation + uniform scale + translation taking two points `src` (2, 2) onto `dst`."""
    a, b = src[1] - src[0], dst[1] - dst[0]
    za, zb = complex(a[0], a[1]), complex(b[0], b[1])
    z = zb / za if abs(za) > 1e-9 else 1.0 + 0.0j
    rot = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.concatenate([rot, (dst[0] - rot @ src[0])[:, None]], axis=1)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) affine applied to (..., 2) points."""
    return points @ affine[:, :2].T + affine[:, 2]


def box_around(points: np.ndarray, size: tuple[int, int], pad: int) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) around (N, 2) points, padded and clipped to (H, W); None if empty."""
    h, w = size
    x0 = max(0, int(math.floor(points[:, 0].min())) - pad)
    x1 = min(w, int(math.ceil(points[:, 0].max())) + pad + 1)
    y0 = max(0, int(math.floor(points[:, 1].min())) - pad)
    y1 = min(h, int(math.ceil(points[:, 1].max())) + pad + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1
