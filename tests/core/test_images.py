"""The one RGB-array check."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.images import check_rgb8


def test_check_rgb8_accepts_rgb_uint8_and_makes_it_contiguous() -> None:
    image = np.zeros((8, 6, 3), np.uint8)[:, ::2]
    out = check_rgb8(image)
    assert out.flags.c_contiguous and out.shape == (8, 3, 3)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), [1, 2]],
)
def test_check_rgb8_names_what_was_found(bad) -> None:
    with pytest.raises(InputError, match="source crop must be a \\(H, W, 3\\) uint8 RGB array"):
        check_rgb8(bad, "source crop")
    with pytest.raises(InputError, match="no pixels"):
        check_rgb8(np.zeros((0, 4, 3), np.uint8))


def test_check_rgb8_refuses_an_image_below_min_side() -> None:
    assert check_rgb8(np.zeros((16, 20, 3), np.uint8), min_side=16).shape == (16, 20, 3)
    with pytest.raises(InputError, match="source crop is 20x15 px; it must be at least 16 px"):
        check_rgb8(np.zeros((15, 20, 3), np.uint8), "source crop", min_side=16)
