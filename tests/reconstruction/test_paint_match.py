"""Paint matched to the photo's degradation (reconstruction/paint_match.py, docs/PAINT_MATCH.md)."""

from __future__ import annotations

import cv2
import numpy as np

from reconstruction.paint_match import (
    SMALL_FACE,
    PaintMatch,
    add_photo_grain,
    match_layer,
    matched_blur,
    measure_paint_match,
)

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _match(tone: float = 1.0, lid_sigma: float = 1.2) -> PaintMatch:
    return PaintMatch(lid_sigma=lid_sigma, black=80.0, white=160.0, cast=(-10.0, 6.0, 0.0), tone=tone)


def _fine(image: np.ndarray, mask: np.ndarray) -> float:
    luma = image.astype(np.float32) @ _LUMA
    residual = luma - cv2.GaussianBlur(luma, (0, 0), 1.0)
    return float(1.4826 * np.median(np.abs(residual[mask] - np.median(residual[mask]))))


def _noisy_photo(sigma: float, size: int = 80, level: float = 130.0) -> np.ndarray:
    noise = np.random.default_rng(5).normal(0.0, sigma, (size, size, 3))
    return np.clip(level + noise, 0, 255).astype(np.uint8)


def _cover(size: int = 80) -> np.ndarray:
    cover = np.zeros((size, size), np.float32)
    cover[25:55, 20:60] = 1.0
    return cover


def test_tone_is_left_alone_on_a_full_range_face() -> None:
    paint = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.array_equal(_match(tone=0.0).map_tone(paint), paint)


def test_tone_maps_the_paint_into_the_face_range_with_its_cast() -> None:
    """Black paint goes to the face's black, white to its white, both shifted by the cast."""
    paint = np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)
    mapped = _match().map_tone(paint).astype(float)
    assert np.allclose(mapped[0, 0], [70, 86, 80], atol=1)
    assert np.allclose(mapped[0, 1], [150, 166, 160], atol=1)


def test_tone_fades_the_colour_with_the_range() -> None:
    red = np.array([[[200, 40, 40]]], np.uint8)
    mapped = _match().map_tone(red).astype(float)[0, 0]
    assert np.ptp(mapped - [-10, 6, 0]) < 0.7 * np.ptp(red[0, 0])


def test_the_blur_is_the_lids_own_only_on_a_small_face() -> None:
    match = _match(lid_sigma=1.2)
    assert matched_blur(0.0, 0.8, match) == 1.2
    assert matched_blur(2.0, 0.8, match) == 2.0
    assert matched_blur(0.0, SMALL_FACE, match) == 0.0
    assert matched_blur(0.3, 0.8, _match(lid_sigma=float("nan"))) == 0.3


def test_grain_is_as_strong_as_the_photos_and_reproducible() -> None:
    photo, cover = _noisy_photo(6.0), _cover()
    paint = np.full_like(photo, 130)
    grained = add_photo_grain(paint, photo, cover)
    inside = cv2.erode((cover > 0).astype(np.uint8), None, iterations=3) > 0
    ring = (cv2.dilate((cover > 0).astype(np.uint8), None, iterations=8) > 0) & (cover == 0)
    assert 0.75 <= _fine(grained, inside) / _fine(photo, ring) <= 1.3
    assert np.array_equal(grained, add_photo_grain(paint, photo, cover))


def test_grain_follows_the_photos_colour_correlation() -> None:
    """A photo whose grain is grey (the same in all channels) gives grey grain."""
    grey = np.random.default_rng(3).normal(0.0, 6.0, (80, 80, 1))
    photo = np.clip(130 + np.repeat(grey, 3, axis=2), 0, 255).astype(np.uint8)
    grained = add_photo_grain(np.full_like(photo, 130), photo, _cover()).astype(float)
    inside = _cover() > 0
    assert np.corrcoef(grained[inside][:, 0], grained[inside][:, 2])[0, 1] > 0.9


def test_a_clean_photo_gives_no_grain_and_darker_paint_less() -> None:
    cover = _cover()
    clean = np.full((80, 80, 3), 130, np.uint8)
    paint = np.full_like(clean, 130)
    assert np.abs(add_photo_grain(paint, clean, cover).astype(int) - 130).max() <= 1
    photo, inside = _noisy_photo(6.0), cover > 0
    bright = add_photo_grain(paint, photo, cover).astype(float)[inside].std()
    dark = add_photo_grain(np.full_like(photo, 40), photo, cover).astype(float)[inside].std()
    assert dark < 0.5 * bright


def test_grain_needs_a_ring_to_measure() -> None:
    photo, paint = _noisy_photo(6.0, size=10), np.full((10, 10, 3), 130, np.uint8)
    assert np.array_equal(add_photo_grain(paint, photo, np.ones((10, 10), np.float32)), paint)


def test_match_layer_grains_only_a_small_face() -> None:
    photo, cover = _noisy_photo(6.0), _cover()
    paint = np.full_like(photo, 130)
    match = _match(tone=0.0)
    assert np.array_equal(match_layer(paint, photo, cover, SMALL_FACE, match), paint)
    assert not np.array_equal(match_layer(paint, photo, cover, 0.8, match), paint)


def test_a_flat_face_is_measured_for_a_full_tone_map() -> None:
    """A face spanning few grey levels (90-150) gets the full tone map, its range widened by 15 %;
    a full-range one none; without the face mesh's 478 points the lids' spread is unknown."""
    rng = np.random.default_rng(1)
    flat = rng.integers(90, 151, (60, 60, 1)).repeat(3, axis=2).astype(np.uint8)
    points = np.array([[5.0, 5.0], [55.0, 5.0], [55.0, 55.0], [5.0, 55.0]])
    match = measure_paint_match(flat, points)
    assert match is not None and match.tone == 1.0 and np.isnan(match.lid_sigma)
    assert 75 <= match.black <= 85 and 155 <= match.white <= 165
    full = rng.integers(0, 256, (60, 60, 1)).repeat(3, axis=2).astype(np.uint8)
    assert measure_paint_match(full, points).tone == 0.0
    assert measure_paint_match(flat, np.full((4, 2), np.nan)) is None
