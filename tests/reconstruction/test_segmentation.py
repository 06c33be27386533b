"""Person segmentation on a real portrait: the person is found, the background is not."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from reconstruction.segmentation import PersonSegmenter


def test_person_and_background(astronaut: np.ndarray) -> None:
    with PersonSegmenter() as segmenter:
        mask = segmenter.person_mask(astronaut)
        assert mask.shape == astronaut.shape[:2] and mask.dtype == np.float32
        assert 0.0 <= mask.min() and mask.max() <= 1.0
        face = mask[80:180, 180:260]  # the astronaut's face
        assert face.mean() > 0.9
        top_right = mask[:80, 430:]  # studio background, clear of her and the flag
        assert top_right.mean() < 0.1
        plain = segmenter.person_mask(np.full((64, 64, 3), 128, np.uint8))
        assert plain.mean() < 0.1  # no person in a grey square
        with pytest.raises(InputError, match="uint8"):
            segmenter.person_mask(astronaut.astype(np.float32))
    with pytest.raises(InputError, match="closed"):
        segmenter.person_mask(astronaut)
