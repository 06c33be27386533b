"""open_mouth's jaw drop: the direction solved together with a small rigid head motion, and that
motion applied to a head's pose (docs/JAW_DROP.md; `DerivationSettings.jaw_drop`).

The default face model's expression basis was learnt from talking clips aligned frame by frame by
a similarity, so a jaw that drops in it also shrinks and lifts the whole face: asked to drop the
chin and the skin under the lower lip, the basis alone either raised the eyes by up to 0.13 eye
widths, closed the opening, or doubled the coefficients. Solved together with a translation, a
uniform scale about the model's origin and a pitch about the head's pivot (`RIGID`), held by the
same terms as the expression, the lower face drops while the eyes, brows and the head's outline
stay; `posed` then moves the head's pose by that rigid part.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from core.geometry import euler_to_matrix
from reconstruction.control_directions import (
    DerivationSettings,
    ModelGeometry,
    moved_translation,
    solve_direction,
    turned_translation,
)
from reconstruction.control_directions import _Target as Target
from reconstruction.fitting import REFERENCE_SCALE

__all__ = ["RIGID", "posed", "rigid_columns", "solve_with_rigid"]

#: The rigid part's entries: a shift (eye-distance units, model frame, y up), a uniform scale
#: (fraction, about the model's origin) and a pitch (radians, about the head's pivot).
RIGID = ("shift_x", "shift_y", "shift_z", "scale", "pitch")


def rigid_columns(geo: ModelGeometry, pivot: np.ndarray) -> np.ndarray:
    """(N, 3, 5) model-unit motion of every vertex per unit of each `RIGID` entry (first order)."""
    n = geo.mean.shape[0]
    cols = np.zeros((n, 3, len(RIGID)))
    for k in range(3):
        cols[:, k, k] = geo.unit
    cols[:, :, 3] = geo.mean
    rel = geo.mean - pivot
    cols[:, 1, 4], cols[:, 2, 4] = -rel[:, 2], rel[:, 1]  # d/d(pitch) of a rotation about x
    return cols


def solve_with_rigid(
    geo: ModelGeometry, target: Target, settings: DerivationSettings, pivot: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(E,) expression direction and (5,) rigid part (`RIGID`) that together reach `target`,
    solved as one least-squares problem over the basis widened by `rigid_columns`."""
    e = geo.basis.shape[2]
    widened = replace(geo, basis=np.concatenate([geo.basis, rigid_columns(geo, pivot)], axis=2))
    both = solve_direction(widened, target, settings)
    return both[:e], both[e:]


def posed(
    camera: str,
    translation: np.ndarray,
    angles: np.ndarray,
    rigid: np.ndarray,
    unit: float,
    pivot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """New (angles, translation) (float64) of a head moved by the rigid part `rigid` (5,): scaled
    about the model's origin, pitched about `pivot`, shifted in the model's frame (`unit`: model
    units per eye width). On the BFM's perspective camera the scale is the nearest size change
    (`moved_translation`: about the head's centre on screen)."""
    t = translation.astype(np.float64)
    before = angles.astype(np.float64)
    scale, pitch = float(rigid[3]), float(rigid[4])
    if camera == "weak-perspective":
        t = np.array([t[0], t[1], t[2] + math.log1p(scale)])
    else:
        t = moved_translation(camera, t, 0.0, 0.0, 100.0 * scale)
    after = before + np.array([pitch, 0.0, 0.0])  # R = Rz Ry Rx: a pitch after the pose adds to it
    t = turned_translation(camera, t, before, after, pivot)
    shift = euler_to_matrix(after) @ (np.asarray(rigid[:3], dtype=np.float64) * unit)  # camera frame, y up
    if camera == "weak-perspective":
        per_unit = 2.0 * REFERENCE_SCALE * math.exp(float(t[2]))  # frame half-widths per model unit
        return after, np.array([t[0] + per_unit * shift[0], t[1] - per_unit * shift[1], t[2]])
    return after, t + shift
