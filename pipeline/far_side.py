"""The far side of a turned head (`PreviewSettings.far_side`, docs/FAR_SIDE.md).

A head turn sets some of the fitted mesh's triangles nearly edge-on to the camera, or past it:
the far wing of a turned nose, the cheek at the far rim. Drawn, each reads a wide strip of the
photo squeezed into a pixel or two, a dark line along the nose's outline or at the face's rim.
These triangles are left out: the surface behind shows (the cheek behind the nose) or, at the
rim, the flow carried beyond the face.
"""

from __future__ import annotations

import numpy as np

from pipeline.head import similarity_3d

__all__ = ["EDGE_ON", "TURNED", "drawn_triangles", "turned_edge_on"]

#: A triangle a turn leaves with less than this share of its area in the photo (or turns past
#: edge-on) is not drawn: the surface faces away from the camera.
EDGE_ON = 0.25
#: Only a head turned by more than this many degrees from the photo's pose leaves triangles out.
TURNED = 2.0


def _areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(F,) twice the signed area of each triangle of (N, >= 2) points."""
    points = np.asarray(points, dtype=np.float64)
    a, b, c = (points[triangles[:, k], :2] for k in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def turned_edge_on(
    source: np.ndarray, target: np.ndarray, posed: np.ndarray, triangles: np.ndarray
) -> np.ndarray:
    """(F,) bool: the triangles a turn sets nearly edge-on to the camera, or past it.

    source, target: (N, >= 2) the mesh's vertices in the photo and in the target (pixels); posed:
    (N, >= 2) the photo's vertices moved by the target's head pose alone (the photo's expression).
    A triangle counts when its target area is under `EDGE_ON` of its area in the photo (negative:
    turned past edge-on, or seen from behind in the photo), and the pose alone does the same to
    it: an expression without a turn (a pressed lip, a shut lid) marks none.
    """
    before = _areas(source, triangles)
    seen = np.abs(before) > 1e-6
    limit = EDGE_ON * np.abs(before)
    sign = np.sign(before)
    turned = seen & (_areas(target, triangles) * sign < limit)
    return turned & (_areas(posed, triangles) * sign < limit)


def drawn_triangles(
    source: np.ndarray, target: np.ndarray, rigid: np.ndarray, triangles: np.ndarray
) -> np.ndarray:
    """(F,) bool: the mesh's triangles to draw for a target pose.

    source, target: (N, 3) the mesh's vertices in the photo and in the target (pixels, depth);
    rigid: indices of the vertices that move with the skull only. All are drawn unless the head
    turns by more than `TURNED` degrees; then not those `turned_edge_on` marks.
    """
    s, rot, t = similarity_3d(source[rigid, :3], target[rigid, :3])
    if np.trace(rot) > 1.0 + 2.0 * np.cos(np.radians(TURNED)):  # an expression moves the skull a little
        return np.ones(len(triangles), dtype=bool)
    posed = source[:, :3] @ (s * rot.T) + t
    return ~turned_edge_on(source, target, posed, triangles)
