"""Tests of resampling a flow across an occlusion edge (reconstruction/folds.py)."""

from __future__ import annotations

import numpy as np

from reconstruction.crop import CropTransform, warp_photo
from reconstruction.folds import blend_across_folds, fold_boxes, fold_cells

C = 64
SCALE = 8


def _grid(n: int) -> np.ndarray:
    return np.stack(np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32)), axis=-1)


def _nose_over_cheek(slope: float = 0.0) -> tuple[np.ndarray, np.ndarray, CropTransform]:
    """A photo with a green strip 8 crop pixels wide, between the last cheek pixel and the first nose pixel the flow reads, (the far side of a nose) between a grey cheek
    and a white nose, along a sloping edge; the flow shows the cheek left of the edge and the nose
    right of it (read 8 pixels on), skipping the strip."""
    rows = (np.arange(C * SCALE) + 0.5) / SCALE - 0.5  # photo rows in crop pixels
    edge = 30.0 + slope * (rows - C / 2)  # (H,) crop column of the edge
    x = (np.arange(C * SCALE) + 0.5) / SCALE - 0.5
    photo = np.full((C * SCALE, C * SCALE, 3), 120, np.uint8)
    photo[(x[None, :] >= edge[:, None] - 0.5) & (x[None, :] < edge[:, None] + 7.5)] = (0, 255, 0)
    photo[x[None, :] >= edge[:, None] + 7.5] = 230
    crop_edge = 30.0 + slope * (np.arange(C)[:, None] - C / 2)
    flow = np.zeros((C, C, 2), np.float32)
    flow[..., 0] = np.where(np.arange(C)[None, :] >= crop_edge, 8.0, 0.0)
    transform = CropTransform.from_box(C * SCALE / 2, C * SCALE / 2, C * SCALE, photo.shape[:2], C)
    return photo, flow, transform


def _green(image: np.ndarray) -> int:
    pixels = image.astype(int)
    return int(np.count_nonzero(pixels[..., 1] - np.maximum(pixels[..., 0], pixels[..., 2]) > 60))


def test_an_occlusion_edge_shows_nothing_of_what_it_hides() -> None:
    """Plain upsampling of the flow would read the whole hidden strip within one crop pixel."""
    photo, flow, transform = _nose_over_cheek()
    assert fold_cells(_grid(C) + flow).any()
    out = warp_photo(photo, flow, transform)[8 * SCALE : 56 * SCALE]  # inside the crop's border fade
    assert _green(out) == 0


def test_a_steady_squeeze_is_no_fold() -> None:
    """A turn's far cheek squeezed 2.5x is read smoothly: no cell counts as a fold."""
    x = np.arange(32, dtype=np.float32)
    reads = _grid(32)
    reads[..., 0] = (2.5 * x)[None, :]
    assert not fold_cells(reads).any()
    reads[:, 20:, 0] += 6.0  # a jump: a fold along one column of cells
    assert fold_cells(reads)[:, 19].all() and fold_cells(reads).sum() == 31


def test_fold_boxes_surround_each_edge() -> None:
    folds = np.zeros((20, 20), bool)
    folds[2:6, 3] = True
    folds[12:15, 10:12] = True
    boxes = fold_boxes(folds, np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5]]), pad=1.0)
    assert len(boxes) == 2
    lo, hi = min(boxes, key=lambda b: b[0][1])
    assert lo[0] <= 2 * 3 + 0.5 - 1.0 and hi[0] >= 2 * 4 + 0.5 and lo[1] <= 2 * 2 + 0.5 - 1.0


def test_an_edge_with_more_points_than_one_remap_takes_is_drawn() -> None:
    """A fold over a large photo (80 000 of its pixels in one edge's cells; OpenCV's remap takes
    fewer than 32 767 rows) is drawn, not an error."""
    n = 400
    photo = np.zeros((n, n, 3), np.uint8)
    photo[:, n // 2 :] = 255
    flow = np.zeros((3, 3, 2), np.float32)
    flow[:, 2, 0] = 40.0  # the right column of nodes reads 40 grid cells on
    folds = np.array([[False, True], [False, True]])  # the right cells straddle the jump
    out = np.zeros_like(photo)
    to_grid = np.array([[2.0 / n, 0.0, 0.0], [0.0, 2.0 / n, 0.0]])  # photo pixel -> grid (2 cells)
    to_photo = np.array([[n / 2.0, 0.0, 0.0], [0.0, n / 2.0, 0.0]])
    blend_across_folds(out, photo, flow, folds, to_grid, to_photo)
    assert out[:, : n // 2 - 1].max() == 0  # outside the fold cells nothing is drawn
    assert out[:, n // 2 + 2 :].min() == 255  # inside, both sides read the white half
