"""An occlusion edge's jump made one step, so the fold finder sees it (docs/NOSE_NOTCH.md).

Where a turned nose's edge runs diagonally across the crop grid, the crop-resolution raster of the
mesh puts a pixel of the folded (back-facing) ala wall between the nose and the cheek: the jump of
the reads across the edge is split into two to four steps, none of them `SPIKE` times the others,
so `reconstruction.folds.fold_cells` finds no fold there and the pixels between read the middle of
the hidden strip (the alar crease, the nostril's shadow) squeezed into a dark stair. Here such a
node reads what the side it lies nearer to reads at its end: the jump becomes one step, a fold,
drawn as an anti-aliased edge by `blend_across_folds`. Off by default: it lost its rule (on a large
photo a joined crop pixel is a flat block; the squeezed far nostril beside the edge stays dark).
"""

from __future__ import annotations

import numpy as np

from reconstruction.folds import FOLD_GAP, SPIKE, node_grid

__all__ = ["MIN_STEP", "ROUNDS", "SQUEEZE", "one_step_folds"]

#: Passes over the rows and the columns at most.
ROUNDS = 3
#: Each step of a split jump is over this many times the steps beside it ...
SQUEEZE = 1.5
#: ... which count as at least this long (pixels; a node joined to its neighbour steps 0).
MIN_STEP = 0.5


def one_step_folds(flow: np.ndarray, lo: np.ndarray, hi: np.ndarray, gap: float = FOLD_GAP) -> int:
    """Join (in place) the split jumps of the backward `flow` (H, W, 2) (pixels) in the box lo..hi
    (x, y pixels) along its rows, then its columns (again while any moved); returns how many nodes were moved."""
    h, w = flow.shape[:2]
    x0, y0 = max(int(np.floor(lo[0])), 0), max(int(np.floor(lo[1])), 0)
    x1, y1 = min(int(np.ceil(hi[0])), w), min(int(np.ceil(hi[1])), h)
    if x1 - x0 < 5 or y1 - y0 < 5:
        return 0
    region = flow[y0:y1, x0:x1]
    reads = region.astype(np.float64) + node_grid(y1 - y0, x1 - x0)
    moved = 0
    for _ in range(ROUNDS):  # a node joined along a column can split a row's jump anew
        now = _join_rows(reads, gap) + _join_rows(reads.transpose(1, 0, 2), gap)
        moved += now
        if not now:
            break
    if moved:
        region[...] = (reads - node_grid(y1 - y0, x1 - x0)).astype(flow.dtype)
    return moved


def _join_rows(reads: np.ndarray, gap: float) -> int:
    """Along each row of `reads` (h, w, 2) (a view, changed in place): where two to four steps
    together jump over `gap` and `SPIKE` times as far as as many steps beside them would, and each
    is over `SQUEEZE` times the steps just before and after them (all squeezed: the part of the
    nose turning away, seen edge-on), the nodes between take the read of the end they are nearer
    to. Returns how many moved."""
    steps = np.linalg.norm(np.diff(reads, axis=1), axis=-1)  # (h, w - 1)
    n = steps.shape[1]
    moved = 0
    for k in (2, 3, 4):  # the steps a jump is split into
        if n < k + 2:
            continue
        # Span starting at node i (i = 1 .. n - k): steps i-1 (before), i .. i+k-1 (inner), i+k (after).
        outer = np.maximum(np.maximum(steps[:, : n - k - 1], steps[:, k + 1 :]), MIN_STEP)
        inner = np.min([steps[:, 1 + j : n - k + j] for j in range(k)], axis=0)
        span = np.linalg.norm(reads[:, 1 + k : n] - reads[:, 1 : n - k], axis=-1)
        split = (span > gap) & (span > k * SPIKE * outer) & (inner > SQUEEZE * outer)
        rows, starts = np.nonzero(split)
        for r, i in zip(rows.tolist(), (starts + 1).tolist(), strict=True):
            a, b = reads[r, i].copy(), reads[r, i + k].copy()
            for j in range(i + 1, i + k):
                near_a = np.linalg.norm(reads[r, j] - a) <= np.linalg.norm(reads[r, j] - b)
                reads[r, j] = a if near_a else b
                moved += 1
    return moved
