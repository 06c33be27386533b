"""The lip component's helpers: viseme windows, and closing a photo caught with its mouth open."""

from __future__ import annotations

import numpy as np

from audio2motion.lips import lip_gap_direction, lip_windows, rest_mouth_change
from audio2motion.phonetics import VISEMES
from core.coefficients import DEFAULT_FACE_MODEL


def test_lip_windows_hold_each_frames_neighbours_without_silence() -> None:
    visemes = np.eye(len(VISEMES))[[0, 1, 2, 0]]
    windows = lip_windows(visemes, context=1)
    assert windows.shape == (4, 3 * (len(VISEMES) - 1))
    # frame 1 (viseme 1) sees viseme 2 as its next frame and silence (no input) before it
    middle = windows[1].reshape(3, -1)
    assert middle[0].sum() == 0 and middle[1, 0] == 1 and middle[2, 1] == 1


def _lip_weights(num_expression: int, context: int = 2) -> np.ndarray:
    """A lip map whose "aa" opens the mouth (plus unrelated noise on the other visemes)."""
    gap = lip_gap_direction(DEFAULT_FACE_MODEL, num_expression)
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.01, (2 * context + 1, len(VISEMES) - 1, num_expression))
    weights[:, VISEMES.index("AA") - 1] += 0.1 * gap / (gap @ gap)
    return weights.reshape(-1, num_expression)


def test_an_open_photo_is_closed_to_the_rest_gap_and_a_closed_one_kept() -> None:
    e = 32
    gap = lip_gap_direction(DEFAULT_FACE_MODEL, e)
    weights = _lip_weights(e)
    open_photo = 0.2 * gap / (gap @ gap)  # inner-lip gap 0.2
    change = rest_mouth_change(open_photo, weights, DEFAULT_FACE_MODEL, rest_gap=-0.02)
    np.testing.assert_allclose((open_photo + change) @ gap, -0.02, atol=1e-5)
    closed_photo = -0.06 * gap / (gap @ gap)
    assert not rest_mouth_change(closed_photo, weights, DEFAULT_FACE_MODEL, rest_gap=-0.02).any()
    assert not rest_mouth_change(open_photo, weights, DEFAULT_FACE_MODEL, rest_gap=None).any()
    assert not rest_mouth_change(open_photo, weights, "synthetic-face", rest_gap=-0.02).any()
