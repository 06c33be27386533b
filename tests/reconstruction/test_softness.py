"""The photo's softness (`reconstruction.softness`) and paint laid as soft (`overlay.lay_overlay`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import InputError
from reconstruction import softness
from reconstruction.overlay import edge_feather, lay_overlay
from reconstruction.softness import (
    EYE_POINTS,
    LID_CONTOURS,
    MIN_EXTRA_BLUR,
    MOUTH_POINTS,
    edge_spread,
    grain_level,
    lid_spread,
    paint_extra_blur,
    photo_blur,
    sharpest_blur,
    soften_layer,
)


def _disc(size: int = 200, radius: int = 60) -> np.ndarray:
    image = np.full((size, size), 20.0, np.float32)
    cv2.circle(image, (size // 2, size // 2), radius, 220.0, -1, lineType=cv2.LINE_AA)
    return image


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_edge_spread_is_the_10_90_width_of_a_gaussian_edge(sigma: float) -> None:
    angles = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    image = cv2.GaussianBlur(_disc(), (0, 0), sigma)
    spread = edge_spread(image, 100.0 + 60.0 * normals, normals, reach=15.0)
    assert np.nanmedian(spread) == pytest.approx(2.563 * sigma, rel=0.12)


def _face(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """A drawn face (two dark eyes with lids, a dark mouth) blurred by `sigma`, and its 478 face-mesh
    points (those the measure uses placed on it, the rest in the middle)."""
    image = np.full((300, 300, 3), 200, np.uint8)
    points = np.full((478, 2), 150.0)
    for centre, contour, eye in (
        (90.0, LID_CONTOURS[0], EYE_POINTS[0]),
        (210.0, LID_CONTOURS[1], EYE_POINTS[1]),
    ):
        cv2.ellipse(image, (int(centre), 110), (30, 12), 0, 0, 360, (60, 50, 40), -1, cv2.LINE_AA)
        angles = np.linspace(np.pi, -np.pi, len(contour), endpoint=False)  # corner first, upper lid
        points[list(contour)] = np.stack([centre + 30 * np.cos(angles), 110 - 12 * np.sin(angles)], axis=1)
        points[list(eye)] = points[[contour[0], contour[3], contour[5], contour[8], contour[11], contour[13]]]
    cv2.ellipse(image, (150, 220), (45, 14), 0, 0, 360, (90, 40, 40), -1, cv2.LINE_AA)
    points[list(MOUTH_POINTS)] = [[105, 220], [195, 220], [150, 206], [150, 234], [150, 214], [150, 226]]
    if sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    return image, points


def test_a_sharp_photo_measures_sharp_and_gets_no_softening() -> None:
    image, points = _face(0.0)
    assert sharpest_blur(image, points) < 0.6  # an anti-aliased drawing: about half a pixel
    assert photo_blur(image, points) == 0.0


@pytest.mark.parametrize("sigma", [1.5, 2.5, 3.5])
def test_a_blurred_photo_measures_its_blur(sigma: float) -> None:
    image, points = _face(sigma)
    assert sharpest_blur(image, points) == pytest.approx(sigma, rel=0.2)
    assert lid_spread(image, points) == pytest.approx(2.563 * sigma, rel=0.2)
    assert photo_blur(image, points) == pytest.approx(sigma, rel=0.2)


def test_missing_landmarks_measure_nothing_and_a_bad_image_is_refused() -> None:
    image, points = _face(2.0)
    points[MOUTH_POINTS[0]] = np.nan
    assert photo_blur(image, points) == 0.0
    assert photo_blur(image, points[:68]) == 0.0
    with pytest.raises(InputError):
        photo_blur(image[..., 0], points)


def test_paint_is_softened_only_by_what_the_photo_exceeds_its_own_edge() -> None:
    assert paint_extra_blur(0.0, 1.0) == 0.0
    assert paint_extra_blur(0.5, 1.0) == 0.0  # under MIN_EXTRA_BLUR: left as drawn
    own = 0.8 / 2.563 * 1.5
    assert paint_extra_blur(3.0, 1.5) == pytest.approx(np.sqrt(9.0 - own**2))
    assert paint_extra_blur(MIN_EXTRA_BLUR + own, 1.5) >= MIN_EXTRA_BLUR


def test_soften_layer_keeps_the_paint_colour_and_its_coverage() -> None:
    colour = np.zeros((60, 60, 3), np.uint8)
    colour[...] = (200, 30, 30)
    cover = np.zeros((60, 60), np.float32)
    cover[20:40, 20:40] = 1.0
    same_colour, same_cover = soften_layer(colour, cover, 0.0)
    assert same_colour is colour and same_cover is cover
    soft_colour, soft_cover = soften_layer(colour, cover, 2.0)
    inside = soft_cover > 0.01
    assert np.all(soft_colour[inside] == (200, 30, 30))  # premultiplied: no dark fringe
    assert soft_cover.sum() == pytest.approx(cover.sum(), rel=0.01)
    assert 0.0 < soft_cover[30, 18] < 0.5 < soft_cover[30, 22] < 1.0


def test_lay_overlay_softens_a_sharp_gap_on_a_blurred_photo_and_leaves_it_on_a_sharp_one() -> None:
    c = 32
    alpha = np.zeros((c, c), np.float32)
    alpha[10:22, 8:24] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
    overlay = np.zeros((c, c, 3), np.uint8)
    patch = np.full((128, 128, 3), 210, np.uint8)
    to_crop = np.array([[0.25, 0.0, -0.375], [0.0, 0.25, -0.375]])  # 4 photo pixels per crop pixel
    sharp = lay_overlay(patch, overlay, alpha, to_crop, 4.0)
    assert np.array_equal(lay_overlay(patch, overlay, alpha, to_crop, 4.0, blur=0.3), sharp)
    soft = lay_overlay(patch, overlay, alpha, to_crop, 4.0, blur=3.0)
    normal = np.array([[0.0, 1.0]])
    for image, lo, hi in ((sharp, 0.0, 1.6), (soft, 6.0, 9.5)):
        spread = edge_spread(image[..., 0].astype(np.float32), np.array([[64.0, 38.0]]), normal, 12.0)
        assert lo <= spread[0] <= hi, (spread, edge_feather(4.0))


def _grainy(image: np.ndarray, grain: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, grain, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def test_grain_level_reads_white_noise_and_not_edges() -> None:
    flat = np.full((80, 80, 3), 120.0)
    assert grain_level(_grainy(flat, 6.0).astype(np.float32)[..., 0]) == pytest.approx(6.0, rel=0.15)
    image, _ = _face(2.0)
    assert grain_level(image.astype(np.float32)[..., 0]) < 1.0  # a blurred drawing's edges are no grain


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_grain_does_not_read_as_sharpness(sigma: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blurred face with grain: as before (off) the grain reads sharp; the grain-robust estimate
    recovers the blur (docs/PAINT_SOFTNESS.md, round 2)."""
    image, points = _face(sigma)
    grainy = _grainy(image.astype(np.float64), 10.0)  # luma grain ~6.7 levels on edges of ~140
    monkeypatch.setattr(softness, "GRAIN_ROBUST", False)
    assert sharpest_blur(grainy, points) < 0.6 * sigma
    monkeypatch.setattr(softness, "GRAIN_ROBUST", True)
    assert sharpest_blur(grainy, points) == pytest.approx(sigma, rel=0.25)
    assert sharpest_blur(image, points) == pytest.approx(sigma, rel=0.2)  # no grain: measured as before


@pytest.mark.realdata
@pytest.mark.slow
def test_a_real_photo_blurred_with_grain_reads_its_blur(shared_data, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean real photo blurred by 2 px and given grain of 8 levels: the known answer is read."""
    from pipeline import EngineRegistry, prepare_photo

    state = prepare_photo(shared_data / "images" / "YadiraF__DECA__teaser_1.jpg", registry=EngineRegistry())
    points = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])
    blurred = cv2.GaussianBlur(state.image.astype(np.float32), (0, 0), 2.0).astype(np.float64)
    grainy = _grainy(blurred, 8.0)
    monkeypatch.setattr(softness, "GRAIN_ROBUST", False)
    assert sharpest_blur(grainy, points) < 1.0
    monkeypatch.setattr(softness, "GRAIN_ROBUST", True)
    assert sharpest_blur(grainy, points) == pytest.approx(2.0, rel=0.25)
    assert sharpest_blur(state.image, points) == pytest.approx(0.23, abs=0.15)  # the clean photo as before
