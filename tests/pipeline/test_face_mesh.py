"""The face mesh's rasterisation helpers: several meshes in one pass give each mesh's own result,
and an opening's ring filled on its box gives the pixels of a fill of the whole grid."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.face_mesh import rasterise_meshes, rasterise_triangles, ring_pixels


def _one_by_one(meshes: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]]) -> list[tuple[np.ndarray, ...]]:
    """Each mesh rasterised on its own, its grid's z-buffer alone (the reference)."""
    return [rasterise_meshes([mesh])[0] for mesh in meshes]


def test_meshes_in_one_pass_match_each_mesh_alone() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        meshes = []
        for _ in range(int(rng.integers(1, 5))):
            h, w, n = int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.integers(3, 30))
            # Whole-pixel corners and three depths: many shared edges and equal depths (ties).
            xy = np.round(rng.uniform(-3.0, [w + 3.0, h + 3.0], (n, 2)))
            vertices = np.column_stack([xy, rng.choice([0.0, 1.0, 2.0], n)])
            meshes.append((vertices, rng.integers(0, n, (int(rng.integers(0, 40)), 3)), (h, w)))
        for got, want in zip(rasterise_meshes(meshes), _one_by_one(meshes), strict=True):
            for a, b in zip(got, want, strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    assert rasterise_meshes([]) == []


def test_one_mesh_is_rasterise_triangles() -> None:
    square = np.array([[1.0, 1.0, 0.0], [9.0, 1.0, 0.0], [9.0, 9.0, 0.0], [1.0, 9.0, 0.0]])
    triangles = np.array([[0, 1, 2], [0, 2, 3]])
    pix, tri, bary = rasterise_triangles(square, triangles, (12, 12))
    assert len(pix) == 81 and set(tri.tolist()) == {0, 1} and np.allclose(bary.sum(axis=1), 1.0)


def test_ring_pixels_match_a_fill_of_the_whole_grid() -> None:
    rng = np.random.default_rng(1)
    for _ in range(500):
        n = int(rng.integers(3, 16))
        centre, radius = rng.uniform(-10.0, 74.0, 2), rng.uniform(0.2, 20.0)
        angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
        ring = centre + radius * rng.uniform(0.3, 1.0, (n, 1)) * np.column_stack(
            [np.cos(angles), np.sin(angles)]
        )
        hole = np.zeros((64, 64), np.uint8)
        cv2.fillPoly(hole, [np.round(ring * 16).astype(np.int32)], 1, shift=4)
        rows, cols = ring_pixels(ring, (64, 64))
        want_rows, want_cols = np.nonzero(hole)
        assert np.array_equal(rows, want_rows) and np.array_equal(cols, want_cols)
