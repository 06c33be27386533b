"""Left-right vertex pairs of a face mesh: the partner of each vertex across the face's midplane.

Used to show the hidden side of a turned face from its seen side (soft facial symmetry, as in
face frontalisation: Hassner et al., "Effective face frontalization in unconstrained images",
CVPR 2015). Computed once per face model from its mean shape.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from core.errors import InputError

__all__ = ["mirror_pairs"]


def mirror_pairs(mean_shape: np.ndarray) -> np.ndarray:
    """(N,) int64: for each vertex of a (N, 3) mean shape in a canonical frame (x across the face),
    the vertex nearest to its mirror image in the face's midplane (x = the middle of the x range);
    vertices on the midline are their own partners."""
    points = np.asarray(mean_shape, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 3 or not np.all(np.isfinite(points)):
        raise InputError(f"mean shape must be a finite (N, 3) array with N >= 3, got {points.shape}")
    mirrored = points.copy()
    mirrored[:, 0] = points[:, 0].min() + points[:, 0].max() - points[:, 0]
    _, nearest = cKDTree(points).query(mirrored)
    return np.asarray(nearest, dtype=np.int64)
