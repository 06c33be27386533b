"""The per-photo record of the geometric renderer and what is read off a photo once."""

from __future__ import annotations

import numpy as np

from pipeline.preview_state import is_greyscale, triangle_corners


def test_a_black_and_white_photo_is_told_from_a_colour_one() -> None:
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (32, 32, 1), dtype=np.uint8), 3, axis=2)
    colour = grey.copy()
    colour[..., 0] = np.clip(colour[..., 0].astype(int) + 40, 0, 255).astype(np.uint8)
    assert is_greyscale(grey)
    assert not is_greyscale(colour)


def test_triangle_corners_are_read_from_the_points_when_not_prepared() -> None:
    class _State:
        corners = None
        points = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [0.0, 3.0, 1.0]])

    corners = triangle_corners(_State(), np.array([[0, 1, 2]]))  # type: ignore[arg-type]
    assert corners.shape == (1, 3, 2)
    assert np.array_equal(corners[0, 2], [0.0, 3.0])
