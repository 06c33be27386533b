"""Resampling a backward flow across an occlusion edge without reading what it hides.

Where a turn hides part of the photo (the far side of the nose turned across the cheek), two
neighbouring samples of a backward flow read places far apart in the photo. Interpolating between
them (upsampling a flow to a finer grid) reads the hidden strip in between, squeezed into a thin
dark line along the edge. Here a finer point inside such a cell reads from one side only: the
cell's four corners are split into the two groups the gap separates, and each side's motion is
interpolated from its own corners (never reading past them into the strip). Drawing the photo
(`blend_across_folds`), the two sides' colours are blended by the share of the point's bilinear
weight on each side's corners, continuous across cells: an anti-aliased edge, not a line and not a
staircase of cells. The renderer finds the folds on its coarse grid and rasterises around them at
the crop's resolution (`fold_boxes`), so the edge is placed to a crop pixel.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

__all__ = [
    "FOLD_GAP",
    "SPIKE",
    "blend_across_folds",
    "fold_boxes",
    "fold_cells",
    "node_grid",
    "sides_across_folds",
]

#: An edge whose ends read places further apart than this many cell sizes may cross a fold (an
#: ordinary turn or smile stretches the photo by well under 2x) ...
FOLD_GAP = 3.0
#: ... if it is also this many times as long as the edges on either side of it.
SPIKE = 2.5


@functools.lru_cache(maxsize=8)
def node_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 (read-only): each node's own (x, y), made once per grid size."""
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    grid.flags.writeable = False
    return grid


def fold_cells(reads: np.ndarray, spacing: float = 1.0, gap: float = FOLD_GAP) -> np.ndarray:
    """(h - 1, w - 1) bool: the cells of a grid of reads (h, w, 2) with an edge across a fold: its
    ends read places further apart than `gap` cells (`spacing`: the grid's step in the reads'
    units) and more than `SPIKE` times as far as on the edges before and after it in the same
    direction (a steady squeeze, the far cheek of a turn, is no fold: it stays interpolated)."""
    r = np.asarray(reads, dtype=np.float32)
    # Squared step lengths (compared squared: no square roots), both channels' steps in one pass
    # over the interleaved grid (the same subtractions and squares as channel by channel).
    across, down = r[:, 1:] - r[:, :-1], r[1:] - r[:-1]
    for steps in (across, down):
        np.square(steps, out=steps)
    across = across[..., 0] + across[..., 1]  # (h, w - 1) along rows
    down = down[..., 0] + down[..., 1]  # (h - 1, w) down columns
    limit = (gap * spacing) ** 2
    jumps_across = _spikes(across, limit, axis=1)
    jumps_down = _spikes(down, limit, axis=0)
    return jumps_across[:-1] | jumps_across[1:] | jumps_down[:, :-1] | jumps_down[:, 1:]


def _spikes(steps: np.ndarray, limit: float, axis: int) -> np.ndarray:
    """(h, w) bool: squared steps along `axis` (1: each row, 0: each column) over `limit` and
    `SPIKE` times their neighbours' lengths (squared) along it."""
    big = steps > limit
    if not big.any():
        return big

    def at(part: slice) -> tuple[slice, ...]:
        return (slice(None), part) if axis == 1 else (part,)

    beside = np.empty_like(steps)
    beside[at(slice(1, -1))] = np.maximum(steps[at(slice(None, -2))], steps[at(slice(2, None))])
    beside[at(slice(None, 1))] = steps[at(slice(None, 2))].max(axis=axis, keepdims=True)
    beside[at(slice(-1, None))] = steps[at(slice(-2, None))].max(axis=axis, keepdims=True)
    return big & (steps > SPIKE**2 * beside)


def sides_across_folds(
    motion: np.ndarray, nodes: np.ndarray, u: np.ndarray, v: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At N points (u, v) (grid coordinates: column, row) in cells that straddle a fold, what each
    side reads there and the first side's share: (N, 2), (N, 2), (N,).

    motion: (h, w, 2) the grid's flow; nodes: (h, w, 2) the grid's points and at: (N, 2) the
    points, both in the flow's units. The two corners whose reads lie furthest apart seed the two
    sides, the others join the seed whose read is nearer; each side moves the point with its own
    corners' interpolated motion, but never reads past its corners' reads towards the other side
    (that is the strip the fold hides); the first side's share is its corners' bilinear weight.
    """
    m = np.asarray(motion)
    h, w = m.shape[:2]
    x0 = np.floor(u).astype(np.int64).clip(0, w - 2)
    y0 = np.floor(v).astype(np.int64).clip(0, h - 2)
    fx, fy = (u - x0).clip(0.0, 1.0), (v - y0).clip(0.0, 1.0)
    corner = y0 * w + x0
    index = np.stack([corner, corner + 1, corner + w, corner + w + 1], axis=1)  # (N, 4) flat nodes
    # Only the N points' corners are gathered, then widened to float64 (the whole grid never is).
    moves = m.reshape(-1, 2)[index].astype(np.float64)  # (N, 4, 2)
    reads = moves + np.asarray(nodes).reshape(-1, 2)[index]
    weights = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1)  # (N, 4)
    dist = np.linalg.norm(reads[:, :, None, :] - reads[:, None, :, :], axis=-1)  # (N, 4, 4)
    a, b = np.divmod(dist.reshape(len(u), 16).argmax(axis=1), 4)
    rows = np.arange(len(u))
    to_a = np.linalg.norm(reads - reads[rows, a][:, None], axis=-1)
    to_b = np.linalg.norm(reads - reads[rows, b][:, None], axis=-1)
    side_a = to_a <= to_b  # (N, 4)
    # From side a to side b: between the sides' mean reads.
    mean_a = (reads * side_a[:, :, None]).sum(axis=1) / side_a.sum(axis=1, keepdims=True)
    mean_b = (reads * ~side_a[:, :, None]).sum(axis=1) / np.maximum((~side_a).sum(axis=1, keepdims=True), 1)
    jump = mean_b - mean_a
    jump /= np.maximum(np.linalg.norm(jump, axis=1, keepdims=True), 1e-9)

    def side_read(side: np.ndarray, towards: np.ndarray) -> np.ndarray:
        near = (weights + 1e-6) * side  # a side's own corners, the nearer weighing more
        read = at + (near[:, :, None] * moves).sum(axis=1) / near.sum(axis=1, keepdims=True)
        # No further towards the other side than the side's own corners read.
        limit = np.where(side, (reads * towards[:, None, :]).sum(axis=2), -np.inf).max(axis=1)
        past = np.maximum((read * towards).sum(axis=1) - limit, 0.0)
        return read - past[:, None] * towards

    first, second = side_read(side_a, jump), side_read(~side_a, -jump)
    return first, second, (weights * side_a).sum(axis=1)


def _fold_box(
    cells: tuple[int, int, int, int], shape: tuple[int, int], to_region: np.ndarray
) -> tuple[int, int, int, int] | None:
    """The part (x0, y0, x1, y1) of a (H, W) region around a fold's cells (`cells`: their box x0,
    y0, x1, y1, ends excluded), where its pixels are looked for; None if empty. to_region: (2, 3)
    grid -> region pixel."""
    cx0, cy0, cx1, cy1 = cells
    corners = np.array([[cx0, cy0], [cx1, cy0], [cx0, cy1], [cx1, cy1]])
    box = corners @ to_region[:, :2].T + to_region[:, 2]
    (bx0, by0), (bx1, by1) = box.min(axis=0).tolist(), box.max(axis=0).tolist()
    x0, y0 = max(math.floor(bx0) - 1, 0), max(math.floor(by0) - 1, 0)
    x1, y1 = min(math.ceil(bx1) + 2, shape[1]), min(math.ceil(by1) + 2, shape[0])
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def _points_in_folds(
    labels: np.ndarray, boxes: list[tuple[int, tuple[int, int, int, int]]], to_grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of a region whose grid cell belongs to a fold of `labels` (h, w), looked for in
    each fold's part of the region (`boxes`: (label, (x0, y0, x1, y1)), `_fold_box`): their rows,
    columns and grid coordinates u, v (N,), fold by fold, row by row. to_grid: (2, 3) region pixel
    -> grid. All folds' parts at once, each pixel's coordinates the same operations as on its own."""
    label, x0, y0, x1, y1 = np.array([(k, *box) for k, box in boxes], np.int64).T
    width, count = x1 - x0, (x1 - x0) * (y1 - y0)
    start = np.cumsum(count) - count
    row, col = np.divmod(np.arange(int(count.sum())) - np.repeat(start, count), np.repeat(width, count))
    rows, cols = row + np.repeat(y0, count), col + np.repeat(x0, count)
    h, w = labels.shape  # cells; points past the outer nodes belong to the outer cells
    u = (to_grid[0, 0] * cols + to_grid[0, 1] * rows + to_grid[0, 2]).clip(0.0, w)
    v = (to_grid[1, 0] * cols + to_grid[1, 1] * rows + to_grid[1, 2]).clip(0.0, h)
    ix, iy = np.minimum(u.astype(np.int64), w - 1), np.minimum(v.astype(np.int64), h - 1)
    inside = labels[iy, ix] == np.repeat(label, count)
    return rows[inside], cols[inside], u[inside], v[inside]


def blend_across_folds(
    out: np.ndarray,
    photo: np.ndarray,
    flow: np.ndarray,
    folds: np.ndarray,
    to_grid: np.ndarray,
    to_photo: np.ndarray,
) -> None:
    """Redraw (in place) the pixels of `out` (H, W, 3), a region of the moved photo, in the cells
    `folds` (`fold_cells`) of the grid's backward `flow` (h, w, 2): the photo read with each side's
    motion and the two blended by the first side's share, an anti-aliased occlusion edge instead of
    the hidden strip squeezed into a line.

    to_grid: (2, 3) region pixel -> grid coordinates; to_photo: (2, 3) grid coordinates ->
    `photo` pixels.
    """
    rows, cols = np.flatnonzero(folds.any(axis=1)), np.flatnonzero(folds.any(axis=0))
    if len(rows) == 0:
        return
    # Each edge on its own (a nose and a mouth corner apart would span the whole face in one box),
    # its box from its own cells. The edges are found in the box of all fold cells (the same
    # components; each point is drawn on its own, so their numbering does not matter).
    (r0, r1), (c0, c1) = (rows[0], rows[-1] + 1), (cols[0], cols[-1] + 1)
    count, part = cv2.connectedComponents(folds[r0:r1, c0:c1].astype(np.uint8), connectivity=8)
    labels = np.zeros(folds.shape, part.dtype)
    labels[r0:r1, c0:c1] = part
    ys, xs = np.nonzero(part)  # the labelled cells
    owner = part[ys, xs]
    ys, xs = ys + r0, xs + c0
    to_region = cv2.invertAffineTransform(to_grid)
    boxes = []
    for label in range(1, count):
        cx, cy = xs[owner == label], ys[owner == label]
        cells = (int(cx.min()), int(cy.min()), int(cx.max()) + 1, int(cy.max()) + 1)
        box = _fold_box(cells, out.shape[:2], to_region)
        if box is not None:
            boxes.append((label, box))
    if not boxes:
        return
    # Every point is drawn on its own: all edges' points in one batch (a few per edge).
    rows, cols, u, v = _points_in_folds(labels, boxes, to_grid)
    if len(u):
        out[rows, cols] = _blend(photo, flow, u, v, to_photo, out.dtype)


def _blend(
    photo: np.ndarray, flow: np.ndarray, u: np.ndarray, v: np.ndarray, to_photo: np.ndarray, dtype: np.dtype
) -> np.ndarray:
    """(N, 3) `blend_across_folds`'s colours of N points (u, v) (grid coordinates) in fold cells."""
    grid = node_grid(*flow.shape[:2])
    first, second, share = sides_across_folds(flow, grid, u, v, np.stack([u, v], axis=1))
    colours = []
    for read in (first, second):
        px = to_photo[0, 0] * read[:, 0] + to_photo[0, 1] * read[:, 1] + to_photo[0, 2]
        py = to_photo[1, 0] * read[:, 0] + to_photo[1, 1] * read[:, 1] + to_photo[1, 2]
        # The points as rows of at most 4096 (remap takes fewer than 32767 rows).
        width = min(len(u), 4096)
        pad = -len(u) % width
        maps = [np.empty(len(u) + pad, np.float32) for _ in (px, py)]
        for p, padded in zip((px, py), maps, strict=True):
            padded[: len(u)], padded[len(u) :] = p, p[-1]  # the last point repeated ("edge" padding)
        maps = [padded.reshape(-1, width) for padded in maps]
        sampled = cv2.remap(photo, *maps, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        colours.append(sampled.reshape(-1, photo.shape[2])[: len(u)].astype(np.float32))
    blended = share[:, None] * colours[0] + (1.0 - share[:, None]) * colours[1]
    return (blended + 0.5).clip(0, 255).astype(dtype)


def fold_boxes(
    folds: np.ndarray, to_pixels: np.ndarray, pad: float = 3.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes (lo, hi) (x, y pixels) around each group of fold cells `folds` (h, w) bool, grown by
    `pad` pixels. to_pixels: (2, 3) grid coordinates -> pixels (no rotation)."""
    if not folds.any():
        return []
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        cv2.dilate(folds.astype(np.uint8), np.ones((3, 3), np.uint8))
    )
    boxes = []
    for x, y, bw, bh, _ in stats[1:count]:
        corners = np.array([[x, y], [x + bw, y + bh]], np.float64) @ to_pixels[:, :2].T + to_pixels[:, 2]
        boxes.append((corners.min(axis=0) - pad, corners.max(axis=0) + pad))
    return boxes
