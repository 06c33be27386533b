"""Tests of reconstruction/skin.py: a painted shut lid takes the fine texture of the photo's own
skin above the eye, at the photo's resolution and with its direction (not isotropic grain)."""

from __future__ import annotations

import cv2
import numpy as np

from reconstruction.crop import CropTransform
from reconstruction.skin import lay_skin_texture


def _scene(scale: float) -> tuple[np.ndarray, np.ndarray, CropTransform, np.ndarray, np.ndarray]:
    """A photo of skin with fine horizontal lines (and pores), the same photo with a flat painted
    lid over crop rows 50-69, columns 30-69, and the crop's coverage of that lid and its eye's
    opening (rows 60-68, columns 35-64): (photo, image, transform, skin, hidden). 100 px crop,
    `scale` photo pixels per crop pixel."""
    side = int(100 * scale)
    rng = np.random.default_rng(5)
    rows = np.arange(side, dtype=np.float32)[:, None]
    luma = 170.0 + 12.0 * np.sin(rows * 2.0 * np.pi / 3.5) + 4.0 * rng.standard_normal((side, side))
    photo = np.clip(np.repeat(luma[..., None], 3, axis=2), 0, 255).astype(np.uint8)
    transform = CropTransform.from_box(side / 2, side / 2, side, (side, side), crop_size=100)
    skin = np.zeros((100, 100), np.float32)
    skin[50:70, 30:70] = 1.0
    skin = cv2.GaussianBlur(skin, (0, 0), 1.0)
    hidden = np.zeros((100, 100), np.float32)
    hidden[60:69, 35:65] = 1.0
    image = photo.copy()
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    lid = cv2.warpAffine(skin, transform.matrix, (side, side), flags=flags) > 0.5
    image[lid] = 160
    return photo, image, transform, skin, hidden


def _anisotropy(luma: np.ndarray) -> float:
    detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    return float(np.mean(np.diff(detail, axis=1) ** 2) / np.mean(np.diff(detail, axis=0) ** 2))


def test_a_painted_lid_takes_the_texture_of_the_skin_above_the_eye() -> None:
    """6 photo pixels per crop pixel: the flat lid gets the skin's fine horizontal lines (detail
    varying much more down than across, as in the photo), at about the paint's own brightness."""
    photo, image, transform, skin, hidden = _scene(6.0)
    out = lay_skin_texture(image.copy(), photo, transform, skin, hidden)
    inside = (slice(55 * 6, 66 * 6), slice(36 * 6, 64 * 6))
    luma = out[inside][..., 1].astype(np.float32)
    assert abs(float(luma.mean()) - 160.0) < 4.0
    assert luma.std() > 4.0  # textured, not flat
    assert _anisotropy(luma) < 0.5  # isotropic grain would read about 1
    assert np.array_equal(out[: 35 * 6], image[: 35 * 6])  # nothing laid far above the lid


def test_no_texture_where_a_crop_pixel_is_only_a_few_photo_pixels() -> None:
    """2 photo pixels per crop pixel: the paint's own grain is about as fine as the photo's pixels;
    the image is left as it is."""
    photo, image, transform, skin, hidden = _scene(2.0)
    assert np.array_equal(lay_skin_texture(image.copy(), photo, transform, skin, hidden), image)


def test_without_lines_a_painted_lid_keeps_the_pores_but_not_the_lines_along_the_lid() -> None:
    """`lines=False` (a deep-set eye, whose band above the lid is the crease's wrinkles): the
    skin's horizontal lines are left out of the laid texture (it reads about as much across as
    down), but the lid is still textured."""
    photo, image, transform, skin, hidden = _scene(6.0)
    out = lay_skin_texture(image.copy(), photo, transform, skin, hidden, lines=False)
    inside = (slice(55 * 6, 66 * 6), slice(36 * 6, 64 * 6))
    luma = out[inside][..., 1].astype(np.float32)
    assert abs(float(luma.mean()) - 160.0) < 4.0
    assert luma.std() > 1.0
    assert _anisotropy(luma) > 0.5  # with the lines: < 0.5
