"""Painted content at the photo's resolution: sharp edges along smooth contours, grain, hidden source."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import InputError
from reconstruction.crop import CropTransform, warp_photo
from reconstruction.overlay import add_grain, hidden_exits, lay_overlay, leave_hidden, photo_alpha

C = 64  # crop side of the synthetic cases


def _zoom(scale: float, size: int) -> np.ndarray:
    """(2, 3) photo pixel -> crop pixel for a crop that shows the photo `scale` times smaller."""
    return np.array([[1.0 / scale, 0.0, 0.5 / scale - 0.5], [0.0, 1.0 / scale, 0.5 / scale - 0.5]])


def _ellipse_distance() -> np.ndarray:
    """(C, C) signed distance (crop pixels, > 0 inside) to an ellipse, about right near its rim."""
    ys, xs = np.mgrid[0:C, 0:C].astype(np.float64)
    u, v = (xs - 31.3) / 20.0, (ys - 30.8) / 11.0
    r = np.hypot(u, v)
    gradient = np.hypot(u / 20.0, v / 11.0) / np.maximum(r, 1e-6)
    return (1.0 - r) / np.maximum(gradient, 1e-6)


def _rim_rows(alpha: np.ndarray) -> np.ndarray:
    """y (photo pixels, sub-pixel) where each column of `alpha` first reaches 0.5, NaN where it never does."""
    above = alpha >= 0.5
    first = np.argmax(above, axis=0)
    rows = np.arange(alpha.shape[1])
    before = alpha[np.maximum(first - 1, 0), rows]
    at = alpha[first, rows]
    y = first - 1 + (0.5 - before) / np.maximum(at - before, 1e-6)
    return np.where(above.any(axis=0), y, np.nan)


def test_a_sharp_painted_edge_is_smooth_and_sharp_at_twelve_times_the_crop() -> None:
    scale = 12.0
    size = int(C * scale)
    alpha = np.clip(_ellipse_distance() / 2.0 + 0.5, 0.0, 1.0).astype(np.float32)  # a 2 px ramp
    up = photo_alpha(alpha, _zoom(scale, size), (size, size), scale)
    x = np.arange(size)
    top = np.abs(x - 31.3 * scale) < 0.85 * 20.0 * scale  # the upper rim, away from its steep ends
    side = np.abs(x - 30.8 * scale) < 0.85 * 11.0 * scale  # the left rim, away from its flat ends
    # no crop-pixel steps: the rim's bend from one photo column (row) to the next stays small
    assert np.abs(np.diff(_rim_rows(up)[top], 2)).max() < 1.0
    assert np.abs(np.diff(_rim_rows(up.T)[side], 2)).max() < 1.0
    # the edge is about a photo pixel wide, not a 12 pixel blur
    column = up[:, int(31.3 * scale)]
    assert np.count_nonzero((column > 0.05) & (column < 0.95)) <= 4


def test_a_soft_mask_stays_soft_and_small_scales_keep_the_coverage() -> None:
    ys, xs = np.mgrid[0:C, 0:C]
    soft = np.exp(-((xs - 32.0) ** 2 + (ys - 32.0) ** 2) / (2 * 10.0**2)).astype(np.float32)
    scale = 8.0
    size = int(C * scale)
    up = photo_alpha(soft, _zoom(scale, size), (size, size), scale)
    plain = cv2.warpAffine(
        soft, _zoom(scale, size), (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    assert np.abs(up - plain).max() < 0.02
    hard = np.zeros((C, C), np.float32)
    hard[20:40, 20:40] = 1.0
    same = photo_alpha(hard, _zoom(1.0, C), (C, C), 1.0)
    np.testing.assert_allclose(same[22:38, 22:38], 1.0)
    assert same[:18].max() == 0.0 and same[42:].max() == 0.0


def test_grain_matches_the_photos_fine_detail_only_on_large_photos() -> None:
    rng = np.random.default_rng(1)
    photo = np.clip(128 + rng.normal(0, 6, (200, 200, 3)), 0, 255).astype(np.uint8)
    colour = np.full((200, 200, 3), 128, np.uint8)
    cover = np.zeros((200, 200), np.float32)
    cover[60:140, 60:140] = 1.0
    grainy = add_grain(colour, photo, cover, scale=10.0).astype(np.float32)
    spread = grainy[70:130, 70:130, 0].std()
    assert 1.0 < spread < 8.0
    assert add_grain(colour, photo, cover, scale=1.0) is colour
    np.testing.assert_array_equal(
        add_grain(colour, photo, cover, 10.0), add_grain(colour, photo, cover, 10.0)
    )


def test_hidden_exits_lead_to_the_nearer_edge_of_each_run() -> None:
    hidden = np.zeros((12, 3), np.float32)
    hidden[3:9, 1] = 1.0
    hidden[2, 1] = 0.4  # the upper edge lies 0.4 px above row 2's lower boundary
    exits = hidden_exits(hidden)
    assert np.isnan(exits[0, 1]).all() and np.isnan(exits[5, 0]).all()
    np.testing.assert_allclose(exits[5, 1], [2.1, 8.5])
    map_x = np.full((1, 4), 1.0, np.float32)
    map_y = np.array([[1.0, 3.0, 7.0, 10.0]], np.float32)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    leave_hidden(map_x, map_y, exits, identity)
    np.testing.assert_allclose(map_y, [[1.0, 1.6, 9.0, 10.0]])


def test_a_jumping_flow_shows_nothing_of_the_hidden_source_at_twelve_times() -> None:
    """A lid shuts: above row 32 the crop reads from 6 px higher, below it the photo stays; the flow's
    jump, upsampled plainly, would read the band of rows the lid covers (green here) at the photo's
    resolution. Across such a jump each side reads only its own side (`reconstruction.folds`), and
    the `hidden` mask keeps the band out as well."""
    scale = 12
    photo = np.full((C * scale, C * scale, 3), 180, np.uint8)
    photo[26 * scale : 32 * scale, 12 * scale : 52 * scale] = (0, 255, 0)
    transform = CropTransform.from_box(C * scale / 2, C * scale / 2, C * scale, (C * scale, C * scale), C)
    flow = np.zeros((C, C, 2), np.float32)
    flow[20:32, 10:54, 1] = -6.0  # rows 20-31 show rows 14-25: the lid drawn down over the band
    hidden = np.zeros((C, C), np.float32)
    hidden[26:32, 11:53] = 1.0

    def green(image: np.ndarray) -> int:
        pixels = image[20 * scale : 40 * scale].astype(int)
        return int(np.count_nonzero(pixels[..., 1] - np.maximum(pixels[..., 0], pixels[..., 2]) > 60))

    assert green(warp_photo(photo, flow, transform)) == 0
    assert green(warp_photo(photo, flow, transform, hidden=hidden)) == 0


def test_a_layer_behind_shows_only_where_the_front_does_not() -> None:
    """warp_photo's second layer: the photo moved along the back flow shows where front_alpha < 1,
    nowhere else; a wrongly shaped layer is refused with a typed error."""
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    transform = CropTransform.from_box(127.5, 127.5, 256.0, (256, 256), C)  # 4 photo px per crop px
    flow = np.zeros((C, C, 2), np.float32)
    back = np.zeros((C, C, 2), np.float32)
    back[..., 0] = 3.0
    front = np.ones((C, C), np.float32)
    same = warp_photo(photo, flow, transform, back_flow=back, front_alpha=front)
    np.testing.assert_array_equal(same, photo)  # the front covers everything: no change
    front[:, : C // 2] = 0.0
    out = warp_photo(photo, flow, transform, back_flow=back, front_alpha=front)
    right = (slice(20, 236), slice(140, 236))
    np.testing.assert_array_equal(out[right], photo[right])
    left = (slice(40, 216), slice(60, 100))  # well inside the crop's unfaded middle, left half
    assert np.mean(out[left] != photo[left]) > 0.9
    with pytest.raises(InputError):
        warp_photo(photo, flow, transform, back_flow=back[:10], front_alpha=front)


def test_an_overlay_drawn_finer_than_the_crop_lands_in_the_same_place() -> None:
    """A paint drawn at 2 and 3 samples per crop pixel (sample u at crop x (u + 0.5) / f - 0.5) lays
    the same smooth picture as the crop's own paint: the finer sampling neither shifts nor scales it."""
    c = 32
    alpha = np.zeros((c, c), np.float32)
    alpha[8:24, 8:24] = 1.0

    def smooth(f: int) -> np.ndarray:
        u = (np.arange(c * f, dtype=np.float32) + 0.5) / f - 0.5
        gx, gy = np.meshgrid(u, u)
        return np.clip(np.stack([6 * gx, 6 * gy, 3 * (gx + gy)], axis=-1) + 20, 0, 255).astype(np.uint8)

    patch = np.full((96, 96, 3), 128, np.uint8)
    to_crop = np.array([[1 / 3, 0, -1 / 3], [0, 1 / 3, -1 / 3]])  # 3 photo pixels per crop pixel
    laid = [lay_overlay(patch, smooth(f), alpha, to_crop, 3.0).astype(int) for f in (1, 2, 3)]
    inside = (slice(30, 66), slice(30, 66))
    assert np.abs(laid[1] - laid[0])[inside].max() <= 2 and np.abs(laid[2] - laid[0])[inside].max() <= 2


def test_warp_photo_takes_overlays_at_a_multiple_of_the_crop_only() -> None:
    photo = np.full((64, 64, 3), 100, np.uint8)
    transform = CropTransform.from_box(31.5, 31.5, 64.0, (64, 64), 32)  # 2 photo px per crop px
    flow = np.zeros((32, 32, 2), np.float32)
    alpha = np.zeros((32, 32), np.float32)
    alpha[10:20, 10:20] = 1.0
    out = warp_photo(photo, flow, transform, overlay=np.full((64, 64, 3), 200, np.uint8), overlay_alpha=alpha)
    assert out[30, 30].tolist() == [200, 200, 200] and out[5, 5].tolist() == [100, 100, 100]
    with pytest.raises(InputError):
        warp_photo(photo, flow, transform, overlay=np.full((48, 48, 3), 200, np.uint8), overlay_alpha=alpha)


def test_a_shut_lids_edge_is_smooth_at_twelve_times_where_it_slopes_across_columns() -> None:
    """A lid shuts along an edge that slopes by a crop row every seven columns: above it the crop
    reads from 6 px higher, below it the photo stays, and the run it skips is hidden. At the photo's
    resolution the edge (where the reads turn from above the run, red, to below it, blue) follows the
    slope: no step over 0.3 crop pixels between neighbouring photo columns, nothing of the run."""
    scale = 12
    transform = CropTransform.from_box(C * scale / 2, C * scale / 2, C * scale, (C * scale, C * scale), C)
    xs = np.arange(C, dtype=np.float64)
    edge = 30.0 + 0.15 * (xs - 12.0)  # output crop rows: above it the lid
    rows = np.arange(C, dtype=np.float64)[:, None]
    flow = np.zeros((C, C, 2), np.float32)
    flow[..., 1] = np.where((rows >= 16) & (rows < edge) & (xs >= 8) & (xs < 56), -6.0, 0.0)
    top, bottom = edge - 6.0, edge  # source rows no output row reads any more (crop row centres)
    hidden = np.clip(np.minimum(rows + 0.5 - top, bottom - (rows - 0.5)), 0.0, 1.0).astype(np.float32)
    hidden[:, (xs < 10) | (xs >= 54)] = 0.0
    py, px = (np.mgrid[0 : C * scale, 0 : C * scale] + 0.5) / scale - 0.5  # photo pixel -> crop
    t, b = np.interp(px, xs, top), np.interp(px, xs, bottom)
    photo = np.zeros((C * scale, C * scale, 3), np.uint8)
    photo[py < t] = (255, 0, 0)
    photo[(py >= t) & (py <= b)] = (0, 255, 0)
    photo[py > b] = (0, 0, 255)
    out = warp_photo(photo, flow, transform, hidden=hidden).astype(int)
    band = out[24 * scale : 44 * scale, 16 * scale : 48 * scale]
    assert np.count_nonzero(band[..., 1] > 100) == 0
    below = band[..., 2] > band[..., 0]
    assert below[-1].all() and not below[0].any()
    switch = np.argmax(below, axis=0)  # per photo column, the first row below the edge
    assert np.abs(np.diff(switch)).max() <= 0.3 * scale
