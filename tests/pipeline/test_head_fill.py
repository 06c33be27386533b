"""The head proxy's two layers: the background slid in from beside the moved person (nothing beside it
shown twice), a flow continued past the sheet, and a silhouette that stays smooth when the layers are
taken to a large photo's resolution."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.head_fill import (
    border_distance,
    border_ramp,
    composite,
    edge_flow,
    extend_flow,
    front_alpha,
    land_outside,
    slide_background,
    valid_region,
)
from reconstruction.crop import CropTransform, warp_photo


def _stripes(size: int, period: int = 8) -> np.ndarray:
    stripes = np.where((np.arange(size) // period) % 2 == 0, 60, 200).astype(np.uint8)
    return np.repeat(np.repeat(stripes[None, :, None], size, 0), 3, 2)


def _disc(size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """(size, size) float32 soft disc (a segmenter-like edge ~2 px wide)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.clip(radius - np.hypot(xx - centre[0], yy - centre[1]) + 0.5, 0.0, 1.0).astype(np.float32)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))


def _moved_disc_layers(person: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(front flow, front alpha, back flow) of the person moved `shift` pixels right (crop grid)."""
    size = person.shape[0]
    grid = _grid(size)
    sheet = cv2.dilate((person > 0.25).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    moved = cv2.remap(sheet, grid[0] - shift, grid[1], cv2.INTER_NEAREST)
    front = np.zeros((size, size, 2), np.float32)
    front[..., 0] = -shift
    front *= moved[:, :, None]
    edge = edge_flow(person)
    back = land_outside(slide_background(front, moved, edge, 20.0), edge, grid)
    flow, cover = extend_flow(front, moved, (size, size))
    return flow, front_alpha(person, flow, cover), back


def test_edge_flow_reads_the_background_just_beyond_the_person() -> None:
    person = _disc(128, (64.0, 64.0), 30.0)
    flow = edge_flow(person)
    assert flow.shape == (128, 128, 2) and flow.dtype == np.float32 and np.all(np.isfinite(flow))
    far = cv2.dilate((person > 0.01).astype(np.uint8), np.ones((21, 21), np.uint8)) == 0
    assert np.abs(flow[far]).max() == 0.0
    gx, gy = _grid(128)
    reads = cv2.remap(person, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR)
    assert reads[person > 0.5].max() < 0.05
    np.testing.assert_array_equal(edge_flow(np.zeros((32, 32), np.float32)), 0.0)


def test_revealed_background_never_shows_a_mark_beside_the_person_twice() -> None:
    """A red mark beside a disc that moves away from it: the background slid into the uncovered strip
    stretches the mark (at most 1.5x) but shows it once; a mirror fill copied it into the strip."""
    size, radius, shift = 160, 40.0, 12.0
    person = _disc(size, (70.0, 80.0), radius)
    crop = np.full((size, size, 3), 128, np.uint8)
    crop[person > 0.5] = (40, 40, 200)
    crop[72:88, 8:18] = (255, 0, 0)  # the mark, 12 px left of the disc's edge
    flow, alpha, back = _moved_disc_layers(person, shift)
    out = composite(crop, _grid(size), flow, back, alpha)
    red = ((out[..., 0] > 200) & (out[..., 1] < 60) & (out[..., 2] < 60)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(red)
    assert count - 1 == 1, stats
    assert 0.7 * 160 <= stats[1, cv2.CC_STAT_AREA] <= 1.6 * 160, stats
    # What the disc uncovered is background (grey or the mark), not the disc's own colour.
    gap = (person > 0.5) & (alpha < 0.01)
    assert gap.sum() > 200
    assert np.abs(out[gap].astype(int) - (40, 40, 200)).max(axis=1).min() > 60


def test_extend_flow_continues_past_the_sheet_and_fades() -> None:
    cover = np.zeros((64, 64), np.float32)
    cover[16:48, 16:48] = 1.0
    flow = np.zeros((64, 64, 2), np.float32)
    flow[cover > 0] = (3.0, -2.0)
    out, soft = extend_flow(flow, cover, (128, 128))
    assert out.shape == (128, 128, 2) and soft.shape == (128, 128)
    np.testing.assert_allclose(out[64, 64], (3.0, -2.0), atol=1e-5)
    assert out[64, 29, 0] > 1.5 and out[64, 29, 1] < -1.0  # just outside: continued, fading
    assert np.abs(out[64, 5]).max() == 0.0  # far outside: faded
    assert 0.0 < soft[64, 31] < 1.0 and soft[64, 64] == 1.0 and soft[64, 5] == 0.0


def _silhouette_error(photo_px: int, crop: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A coloured disc on grey stripes in a `photo_px` square photo, moved 6 crop pixels right by a front flow
    with the disc's soft mask carried along it; returns the largest distance (photo pixels) of the
    result's edge from the true moved circle along the disc's left side (photo pixels, signed, per
    row), and the result."""
    h = w = photo_px
    scale = photo_px / crop
    centre, radius = np.array([128.0, 128.0]), 60.0  # crop pixels
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    photo_centre = (centre + 0.5) * scale - 0.5
    photo = _stripes(h, period=max(2, round(8 * scale)))
    disc = np.hypot(xs - photo_centre[0], ys - photo_centre[1]) < radius * scale
    photo[disc] = (128, 0, 255)  # a colour the grey stripes never blend to
    person = _disc(crop, tuple(centre), radius)
    front, alpha, back = _moved_disc_layers(person, 6.0)
    transform = CropTransform.from_box(w / 2 - 0.5 + 0.5, h / 2 - 0.5 + 0.5, float(w), (h, w), crop)
    out = warp_photo(photo, front, transform, back_flow=back, front_alpha=alpha)
    moved_centre = photo_centre + np.array([6.0 * scale, 0.0])
    errors = []
    grey = out[..., 2].astype(np.int16) - out[..., 1] > 127  # front coverage >= 1/2
    for dy in np.linspace(-0.7, 0.7, 57) * radius * scale:
        row = int(round(moved_centre[1] + dy))
        expected = moved_centre[0] - np.sqrt((radius * scale) ** 2 - (row - moved_centre[1]) ** 2)
        span = grey[row, int(expected - 4 * scale) : int(expected + 4 * scale)]
        first = int(np.argmax(span)) + int(expected - 4 * scale)
        errors.append(first - expected)
    return np.array(errors), out


@pytest.mark.parametrize("photo_px", [2048, 3072])
def test_moved_silhouette_is_smooth_at_the_photos_resolution(photo_px: int) -> None:
    """At 8-12 photo pixels per crop pixel the moved disc's edge follows the true circle all along its
    side: within 4 photo pixels, wavering by at most 4 (measured 2.6 / 3.1; the coverage cut at crop
    resolution, as before, draws stair steps: 5.9 / 7.9)."""
    errors, _ = _silhouette_error(photo_px)
    assert np.abs(errors).max() <= 4.0 and np.ptp(errors) <= 4.0, errors


def test_uncovered_background_has_the_photos_own_texture() -> None:
    """Where the moved disc uncovered the stripes, the full-resolution result shows stripes as sharp as
    the photo's (a fill upsampled from the crop is soft: its Laplacian energy a fraction of the photo's)."""
    _, out = _silhouette_error(2048)
    scale = 2048 / 256
    centre, radius = (128.5 * scale - 0.5), 60.0 * scale
    band = (
        slice(int(centre - 0.3 * radius), int(centre + 0.3 * radius)),
        slice(int(centre - radius + 4), int(centre - radius + 3 * scale)),
    )
    sharp = np.abs(cv2.Laplacian(out[..., 0].astype(np.float32), cv2.CV_32F))
    background = (slice(0, 200), slice(0, 400))
    assert sharp[band].mean() > 0.5 * sharp[background].mean(), (sharp[band].mean(), sharp[background].mean())


def test_composite_takes_front_where_alpha_is_one_and_back_elsewhere() -> None:
    source = _stripes(64)
    grid = np.meshgrid(np.arange(64, dtype=np.float32), np.arange(64, dtype=np.float32))
    front = np.zeros((64, 64, 2), np.float32)
    back = np.full((64, 64, 2), 8.0, np.float32)
    alpha = np.zeros((64, 64), np.float32)
    alpha[:, :32] = 1.0
    out = composite(source, grid, front, back, alpha)
    np.testing.assert_array_equal(out[:, :32], source[:, :32])
    np.testing.assert_array_equal(out[:40, 32:48], source[8:48, 40:56])


def test_valid_region_is_where_the_crop_shows_the_photo() -> None:
    """A crop box reaching 40 photo pixels above a 400 x 300 photo (2 photo pixels per crop pixel):
    its top 20 crop rows are padding."""
    transform = CropTransform.from_box(150.0, 88.0, 256.0, (400, 300), 128)
    valid = valid_region(transform)
    assert valid.shape == (128, 128) and valid.dtype == np.float32
    assert valid[:19].max() == 0.0 and valid[23:].min() == 1.0  # the sides and the bottom are photo


def test_border_ramp_stretches_at_most_one_and_a_half_times() -> None:
    """A motion of 12 px that reaches the border is taken to 0 there, its slope (the stretch of
    what it moves) at most 1/3."""
    distance = np.arange(200, dtype=np.float32)
    motion = np.full(200, 12.0, np.float32)
    moved = motion * border_ramp(motion, distance)
    assert moved[0] == 0.0 and moved[-1] == 12.0
    assert np.diff(moved).max() <= 12.0 * 1.5 / (4.5 * 12.0) + 1e-4


def test_slide_stops_before_the_photos_edge() -> None:
    """A disc moved down, away from a photo edge 10 px above it: the background slid in behind it
    never reads beyond the edge (the slide fades out over the room between the edge and the disc)."""
    size, shift = 128, 8.0
    person = _disc(size, (64.0, 60.0), 40.0)
    valid = np.zeros((size, size), np.float32)
    valid[10:] = 1.0
    grid = _grid(size)
    sheet = (person > 0.25).astype(np.float32)
    moved = cv2.remap(sheet, grid[0], grid[1] - shift, cv2.INTER_NEAREST)
    front = np.zeros((size, size, 2), np.float32)
    front[..., 1] = -shift
    front *= moved[:, :, None]
    edge = edge_flow(person, valid)
    border = border_distance(valid)
    back = land_outside(slide_background(front, moved, edge, 20.0, border=border), edge, grid)
    reads = grid[1] + back[..., 1]
    shown = (moved < 0.5) & (valid > 0.5)
    assert reads[shown].min() >= 9.0, reads[shown].min()
    unaware = land_outside(slide_background(front, moved, edge_flow(person), 20.0), edge_flow(person), grid)
    assert (grid[1] + unaware[..., 1])[shown].min() < 5.0  # the same slide without the edge reads beyond it


def test_composite_reads_the_back_only_where_it_shows() -> None:
    """The back read in the box where alpha < 1 only: the same picture as blending everywhere."""
    rng = np.random.default_rng(3)
    source = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    grid = np.meshgrid(np.arange(48, dtype=np.float32), np.arange(48, dtype=np.float32))
    front = rng.normal(0.0, 2.0, (48, 48, 2)).astype(np.float32)
    back = rng.normal(0.0, 2.0, (48, 48, 2)).astype(np.float32)
    alpha = np.ones((48, 48), np.float32)
    alpha[30:40, 5:20] = rng.random((10, 15)).astype(np.float32)
    maps = [(grid[0] + f[..., 0], grid[1] + f[..., 1]) for f in (front, back)]
    first, second = (cv2.remap(source, *m, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for m in maps)
    whole = cv2.blendLinear(first, second, alpha, 1.0 - alpha)
    np.testing.assert_array_equal(composite(source, grid, front, back, alpha), whole)
    np.testing.assert_array_equal(composite(source, grid, front, back, np.ones_like(alpha)), first)
