"""Mirror pairs of a face mesh: each vertex's partner across the midplane."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from reconstruction.face_model import load_default_face_model
from reconstruction.symmetry import mirror_pairs


def test_pairs_of_a_symmetric_cloud_are_its_mirror_images() -> None:
    rng = np.random.default_rng(0)
    half = rng.uniform([0.1, -1, -1], [1, 1, 1], size=(40, 3))
    mirrored = half * [-1, 1, 1]
    cloud = np.concatenate([half, mirrored, [[0.0, 0.5, 0.2]]]) + [3.0, 0.0, 0.0]
    pairs = mirror_pairs(cloud)
    np.testing.assert_array_equal(pairs[:40], np.arange(40, 80))
    np.testing.assert_array_equal(pairs[40:80], np.arange(40))
    assert pairs[80] == 80  # on the midline: its own partner


def test_the_default_mesh_pairs_its_eyes_and_mouth_corners() -> None:
    pairs = mirror_pairs(load_default_face_model().mean)
    assert pairs[33] == 263 and pairs[133] == 362 and pairs[61] == 291 and pairs[1] == 1
    assert np.all(pairs[pairs] == np.arange(len(pairs)))


def test_bad_shape_is_refused() -> None:
    with pytest.raises(InputError):
        mirror_pairs(np.zeros((5, 2)))
