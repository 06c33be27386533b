"""The lip component of phonetic models: viseme windows, and the photo's mouth as a starting point.

`lip_windows` turns per-frame viseme posteriors into the inputs of the linear viseme -> expression
map (`AudioToMotion.lip_weights`). `rest_mouth_change` closes a photo caught mid-word: the model
adds lip motion to the photo, so a photo whose mouth is open would never close in pauses or on
p/b/m; such a photo is first brought to a resting gap along the map's own "aa" response.
"""

from __future__ import annotations

import functools

import numpy as np

from core.coefficients import DEFAULT_FACE_MODEL
from reconstruction.face_model import load_default_face_model
from reconstruction.motion import mouth_opening

from .phonetics import VISEMES

__all__ = ["lip_windows", "lip_gap_direction", "rest_mouth_change"]


def lip_windows(visemes: np.ndarray, context: int) -> np.ndarray:
    """(T, V) viseme posteriors -> (T, (2 * context + 1) * (V - 1)) windows of the non-silence
    visemes of frames t - context .. t + context (silence outside), oldest first."""
    x = np.asarray(visemes, dtype=np.float32)[:, 1:]
    pad = np.zeros((context, x.shape[1]), dtype=np.float32)
    padded = np.concatenate([pad, x, pad])
    return np.concatenate([padded[i : i + x.shape[0]] for i in range(2 * context + 1)], axis=1)


@functools.lru_cache(maxsize=4)
def lip_gap_direction(face_model: str, num_expression: int) -> np.ndarray | None:
    """(E,) inner-lip gap (`reconstruction.motion.mouth_opening`) per unit of each expression
    coefficient; None for face models other than the default one."""
    if face_model != DEFAULT_FACE_MODEL:
        return None
    direction = mouth_opening(load_default_face_model(), np.eye(num_expression))
    return direction if direction.shape == (num_expression,) else None


def rest_mouth_change(
    expression: np.ndarray, lip_weights: np.ndarray, face_model: str, rest_gap: float | None
) -> np.ndarray:
    """(E,) change that brings a photo's (E,) expression down to the inner-lip gap `rest_gap` along the
    (lip_inputs, E) lip map's response to a held "aa"; zeros when the photo is not opened wider, when
    `rest_gap` is None or for another face model."""
    weights = np.asarray(lip_weights, dtype=np.float64)
    expression = np.asarray(expression, dtype=np.float64)
    zeros = np.zeros(expression.shape[0], dtype=np.float32)
    gap = lip_gap_direction(face_model, expression.shape[0])
    if rest_gap is None or gap is None:
        return zeros
    per_frame = weights.reshape(-1, len(VISEMES) - 1, weights.shape[1])  # (2 * context + 1, V - 1, E)
    aa = per_frame[:, VISEMES.index("AA") - 1].sum(0)
    opening = float(aa @ gap)
    excess = float(expression @ gap) - rest_gap
    if opening <= 1e-6 or excess <= 0:
        return zeros
    return (-excess / opening * aa).astype(np.float32)
