"""Tests of the renderer crop and the paste-back (reconstruction/crop.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.errors import InputError
from reconstruction.crop import (
    CROP_SIZE,
    DEFAULT_SCALE,
    CropTransform,
    changed_region_mask,
    crop_box,
    crop_face,
    crop_mask,
    crop_transform_for_face,
    face_centre_and_size,
    paste_back,
    paste_mask,
    warp_photo,
)


@pytest.fixture(scope="module")
def astro_face(astronaut):
    from reconstruction.detection import FaceDetector

    with FaceDetector() as det:
        return det.detect(astronaut)[0]


def _random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# --- CropTransform ---------------------------------------------------------------------------


def test_transform_maps_box_edges_to_crop_edges():
    t = CropTransform.from_box(300.0, 200.0, 128.0, (480, 640))
    assert t.scale == pytest.approx(2.0)
    assert t.box == pytest.approx((236.0, 136.0, 364.0, 264.0))
    # Pixel-centre convention: the box's left edge is the crop's left edge at -0.5.
    np.testing.assert_allclose(
        t.apply_points(np.array([[236.0, 136.0], [364.0, 264.0]])), [[-0.5, -0.5], [255.5, 255.5]]
    )
    np.testing.assert_allclose(t.apply_points(np.array([300.0, 200.0])), [127.5, 127.5])


def test_transform_inverse_points_and_depth():
    t = CropTransform.from_box(123.4, 321.0, 210.7, (600, 500))
    pts = np.random.default_rng(1).uniform(0, 500, (50, 3))
    np.testing.assert_allclose(t.inverse_points(t.apply_points(pts)), pts, atol=1e-9)
    np.testing.assert_allclose(t.apply_points(pts)[:, 2], pts[:, 2] * t.scale)
    m = np.vstack([t.matrix, [0, 0, 1]]) @ np.vstack([t.inverse(), [0, 0, 1]])
    np.testing.assert_allclose(m, np.eye(3), atol=1e-12)


def test_transform_record_round_trip_and_validation():
    t = CropTransform.from_box(100.5, 90.25, 180.0, (300, 400))
    again = CropTransform.from_dict(json.loads(json.dumps(t.to_dict())))
    assert again == t and hash(again) == hash(t)
    with pytest.raises(InputError, match="lacks"):
        CropTransform.from_dict({"affine": t.to_dict()["affine"]})
    with pytest.raises(InputError, match="singular"):
        CropTransform(affine=((0, 0, 1), (0, 0, 1)), original_size=(10, 10))
    with pytest.raises(InputError, match="original_size"):
        CropTransform(affine=((1, 0, 0), (0, 1, 0)), original_size=(0, 10))
    with pytest.raises(InputError):
        CropTransform.from_box(10, 10, 0, (100, 100))


# --- framing ---------------------------------------------------------------------------------


def test_framing_on_a_real_face(astronaut, astro_face):
    t = crop_transform_for_face(astro_face, astronaut.shape[:2])
    crop = crop_face(astronaut, t)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    lm = t.apply_points(astro_face.landmarks)
    extent = np.ptp(lm[:, :2], axis=0).max()
    assert extent / CROP_SIZE == pytest.approx(1 / DEFAULT_SCALE, rel=1e-3)  # ~0.54 of the crop
    eyes = t.apply_points(astro_face.five_points()[:2]).mean(axis=0)
    assert abs(eyes[0] - 127.5) < 0.05 * CROP_SIZE  # centred across
    assert 0.38 * CROP_SIZE < eyes[1] < 0.52 * CROP_SIZE  # eyes near the centre line, room for hair above
    assert lm[:, 1].min() > 0.15 * CROP_SIZE and lm[:, 1].max() < 0.95 * CROP_SIZE
    # Axis-aligned: no rotation in the affine.
    assert t.affine[0][1] == 0.0 and t.affine[1][0] == 0.0


def test_crop_box_options(astro_face):
    cx, cy, side = crop_box(astro_face)
    fx, fy, size = face_centre_and_size(astro_face)
    assert side == pytest.approx(DEFAULT_SCALE * size)
    assert cy < fy and cx == pytest.approx(fx)  # the crop centre sits above the face centre
    _, _, wide = crop_box(astro_face, scale=2.5)
    assert wide == pytest.approx(2.5 * size)
    _, cy0, _ = crop_box(astro_face, vertical_offset=0.0)
    assert cy0 == pytest.approx(fy)
    with pytest.raises(InputError):
        crop_box(np.zeros((10, 2)))
    with pytest.raises(InputError):
        crop_box(astro_face, scale=0)


# --- crop_face -------------------------------------------------------------------------------


def test_crop_at_unit_scale_is_an_exact_slice():
    image = _random_image(400, 500)
    t = CropTransform.from_box(100 + 127.5, 50 + 127.5, 256, image.shape[:2])
    np.testing.assert_array_equal(crop_face(image, t), image[50:306, 100:356])


def test_crop_upscaled_gradient_is_sampled_at_the_right_place():
    x = np.arange(320, dtype=np.float64)
    image = np.repeat(np.repeat(np.clip(x - 20, 0, 255)[None, :, None], 300, axis=0), 3, axis=2).astype(
        np.uint8
    )
    t = CropTransform.from_box(150.0, 150.0, 128.0, image.shape[:2])
    crop = crop_face(image, t)
    expected_x = t.inverse_points(np.stack([np.arange(256.0), np.full(256, 128.0)], axis=1))[:, 0] - 20
    assert np.abs(crop[128, :, 0].astype(float) - expected_x).max() <= 1.0


def test_crop_shrink_is_antialiased():
    checker = ((np.indices((2048, 2048)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checker[:, :, None], 3, axis=2)
    t = CropTransform.from_box(1024.0, 1024.0, 1024.0, image.shape[:2])  # 4x smaller
    crop = crop_face(image, t)
    assert abs(crop.mean() - 127.5) < 2 and crop.std() < 3  # plain warping would alias to stripes


def test_crop_pads_faces_at_the_border():
    image = _random_image(300, 300, seed=3)
    t = CropTransform.from_box(-50 + 127.5, 20 + 127.5, 256, image.shape[:2])  # 50 px past the left edge
    crop = crop_face(image, t)
    np.testing.assert_array_equal(crop[:, 50:], image[20:276, :206])
    # reflect (default): column -k mirrors column k
    np.testing.assert_array_equal(crop[:, 49::-1], image[20:276, 1:51])
    assert (crop_face(image, t, border="constant")[:, :50] == 0).all()
    np.testing.assert_array_equal(crop_face(image, t, border="replicate")[:, 10], image[20:276, 0])
    with pytest.raises(InputError):
        crop_face(image, t, border="wrap")  # type: ignore[arg-type]


def test_crop_never_fails_far_outside_or_huge():
    image = _random_image(120, 160)
    for box in [(-500.0, -500.0, 100.0), (1000.0, 60.0, 300.0), (80.0, 60.0, 5000.0), (80.0, 60.0, 2.0)]:
        crop = crop_face(image, CropTransform.from_box(*box, image.shape[:2]))
        assert crop.shape == (256, 256, 3)


def test_crop_checks_inputs():
    image = _random_image(100, 100)
    t = CropTransform.from_box(50, 50, 80, (100, 100))
    with pytest.raises(InputError, match="uint8"):
        crop_face(image.astype(np.float32), t)
    with pytest.raises(InputError, match="made for"):
        crop_face(_random_image(100, 120), t)


# --- paste_back ------------------------------------------------------------------------------


def test_unedited_crop_pasted_back_on_the_astronaut(astronaut, astro_face):
    t = crop_transform_for_face(astro_face, astronaut.shape[:2])
    out = paste_back(astronaut, crop_face(astronaut, t), t)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(np.float64) - astronaut)
    assert diff.mean() < 1.0  # < 1/255 in [0, 1] units
    outside = paste_mask(t) == 0
    assert (diff[outside] == 0).all()  # nothing outside the mask changes at all
    # a crop that changed nothing is pasted nowhere: the photo comes back exactly
    unchanged = changed_region_mask(crop_face(astronaut, t), crop_face(astronaut, t))
    np.testing.assert_array_equal(
        paste_back(astronaut, crop_face(astronaut, t), t, mask=unchanged), astronaut
    )


def _twelve_megapixel(astronaut: np.ndarray) -> np.ndarray:
    h, w = 3000, 4000
    image = np.empty((h, w, 3), np.uint8)
    image[..., 0] = ((np.arange(w) * 255) // w)[None, :]
    image[..., 1] = ((np.arange(h) * 255) // h)[:, None]
    image[..., 2] = 128
    image[300:2700, 800:3200] = cv2.resize(astronaut, (2400, 2400), interpolation=cv2.INTER_CUBIC)
    return image


def test_unedited_crop_pasted_back_on_twelve_megapixels(astronaut, astro_face):
    image = _twelve_megapixel(astronaut)
    lm = astro_face.landmarks.copy()
    lm[:, :2] = (lm[:, :2] + 0.5) * (2400 / 512) - 0.5 + (800, 300)
    t = crop_transform_for_face(lm, image.shape[:2])
    assert t.scale < 0.3  # the crop shrinks the face about 3.6x
    out = paste_back(image, crop_face(image, t), t)
    diff = np.abs(out.astype(np.float32) - image)
    assert diff.mean() < 1.0
    x0, y0, x1, y1 = t.box
    untouched = np.ones(image.shape[:2], bool)
    untouched[max(0, int(y0)) : int(y1) + 2, max(0, int(x0)) : int(x1) + 2] = False
    assert (diff[untouched] == 0).all()


def test_edited_crop_blends_without_a_seam(astronaut, astro_face):
    t = crop_transform_for_face(astro_face, astronaut.shape[:2])
    edited = np.zeros((256, 256, 3), np.uint8)
    edited[:] = (255, 0, 255)
    out = paste_back(astronaut, edited, t, feather=0.1, margin=0.02)
    cx, cy = (int(round(v)) for v in t.inverse_points(np.array([127.5, 127.5])))
    np.testing.assert_array_equal(out[cy, cx], (255, 0, 255))  # the centre is the edit
    mask = paste_mask(t, feather=0.1, margin=0.02)
    assert mask.max() == pytest.approx(1.0, abs=1e-3) and mask.min() == 0.0
    # The mask is zero over the outer 2 % of the crop and rises smoothly: no step between neighbours.
    border_ring = t.inverse_points(np.array([[2.0, 128.0], [253.0, 128.0], [128.0, 2.0], [128.0, 253.0]]))
    for x, y in border_ring:
        assert mask[int(round(y)), int(round(x))] == 0.0
    step = max(np.abs(np.diff(mask, axis=0)).max(), np.abs(np.diff(mask, axis=1)).max())
    ramp_px = 0.1 * (t.box[2] - t.box[0])  # the feather width in photo pixels
    assert step < 1.6 / ramp_px  # smoothstep's steepest slope is 1.5 / width
    # Where the mask is zero the photo is unchanged; expected blend elsewhere.
    expected = mask[..., None] * np.array([255, 0, 255]) + (1 - mask[..., None]) * astronaut
    assert np.abs(out - expected).max() <= 1.0


def test_changed_region_paste_and_colour_match(astronaut, astro_face):
    t = crop_transform_for_face(astro_face, astronaut.shape[:2])
    crop = crop_face(astronaut, t).astype(np.int16)
    mask = paste_mask(t)
    core = mask > 0.999
    # Only a square the "network" changed is pasted; the rest keeps the photo's own pixels exactly.
    edited = crop.copy()
    edited[100:140, 100:140] = 0
    edited = edited.astype(np.uint8)
    changed = changed_region_mask(edited, crop.astype(np.uint8))
    assert changed[120, 120] == pytest.approx(1.0) and changed[20, 20] == 0.0
    out = paste_back(astronaut, edited, t, mask=changed)
    inverse = t.inverse()
    cx, cy = inverse @ np.array([120.0, 120.0, 1.0])
    assert out[int(cy), int(cx)].max() < 30  # the painted square is in
    far = cv2.warpAffine(changed, inverse, astronaut.shape[1::-1]) == 0
    np.testing.assert_array_equal(out[far], astronaut[far])
    # A uniform tint of the edited crop is removed by colour_match.
    tinted = np.clip(crop + np.array([12, -8, 5]), 0, 255).astype(np.uint8)
    plain = np.abs(paste_back(astronaut, tinted, t).astype(float) - astronaut)[core].mean()
    matched = np.abs(paste_back(astronaut, tinted, t, colour_match=True).astype(float) - astronaut)[
        core
    ].mean()
    assert plain > 6 and matched < 2.5


def test_paste_back_checks_inputs(astronaut):
    t = CropTransform.from_box(256, 256, 200, astronaut.shape[:2])
    crop = crop_face(astronaut, t)
    with pytest.raises(InputError, match="256x256"):
        paste_back(astronaut, crop[:128], t)
    with pytest.raises(InputError, match="made for"):
        paste_back(astronaut[:300], crop, t)
    with pytest.raises(InputError, match="mask"):
        paste_back(astronaut, crop, t, mask=np.ones((10, 10), np.float32))
    with pytest.raises(InputError, match="feather"):
        paste_back(astronaut, crop, t, feather=0.6)
    before = astronaut.copy()
    paste_back(astronaut, np.zeros_like(crop), t)
    np.testing.assert_array_equal(astronaut, before)  # the original is never modified


def test_paste_back_box_outside_the_image(astronaut):
    t = CropTransform.from_box(-400, -400, 200, astronaut.shape[:2])
    out = paste_back(astronaut, np.zeros((256, 256, 3), np.uint8), t)
    np.testing.assert_array_equal(out, astronaut)


@pytest.mark.parametrize("shape", ["rounded", "ellipse"])
def test_crop_mask_shapes(shape):
    m = crop_mask(256, feather=0.1, margin=0.02, shape=shape)
    assert m.shape == (256, 256) and m.dtype == np.float32 and not m.flags.writeable
    assert m[128, 128] == pytest.approx(1.0) and m[0, 0] == 0.0 and m[128, 2] == 0.0
    np.testing.assert_allclose(m, m.T, atol=1e-7)
    np.testing.assert_allclose(m, m[::-1], atol=1e-7)
    row = m[128, :128]
    assert (np.diff(row) >= -1e-7).all()  # rises monotonically towards the centre
    if shape == "ellipse":
        assert m[20, 20] == 0.0  # corners are not used
    with pytest.raises(InputError):
        crop_mask(256, shape="star")  # type: ignore[arg-type]


def test_warp_photo_moves_the_photo_at_its_own_resolution(astronaut, astro_face):
    """A uniform crop-space flow shifts the photo's own pixels by the flow in photo pixels, sharp."""
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    t = crop_transform_for_face(astro_face.landmarks * 4.0, big.shape[:2])
    flow = np.zeros((t.crop_size, t.crop_size, 2), np.float32)
    flow[..., 0] = 2.0  # crop pixels: every output pixel shows the photo 2 crop px to the right
    out = warp_photo(big, flow, t)
    step = 2.0 / t.scale  # the same move in photo pixels
    x0, y0, x1, y1 = (int(v) for v in t.box)
    inner = (slice(y0 + (y1 - y0) // 3, y1 - (y1 - y0) // 3), slice(x0 + (x1 - x0) // 3, x1 - (x1 - x0) // 3))
    expected = cv2.warpAffine(
        big, np.float32([[1, 0, -step], [0, 1, 0]]), big.shape[1::-1], flags=cv2.INTER_CUBIC
    )
    diff = np.abs(out[inner].astype(float) - expected[inner])
    assert diff.mean() < 1.0
    sharp = cv2.Laplacian(cv2.cvtColor(out[inner], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    original = cv2.Laplacian(cv2.cvtColor(big[inner], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    assert 0.8 < sharp / original < 1.15
    # outside the crop's box nothing changes, and the border of the box has no seam
    outside = np.ones(big.shape[:2], bool)
    outside[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = False
    np.testing.assert_array_equal(out[outside], big[outside])


def test_warp_photo_does_not_repeat_the_crops_edge_past_its_last_pixels():
    """Between the crop's outer pixel centres and its box edge (half a crop pixel: several photo
    pixels at 12 MP) the faded flow is 0, so those photo rows and columns show themselves, not the
    crop's last row or column repeated (a visible line across a shirt, before)."""
    photo = cv2.GaussianBlur(_random_image(1400, 1400, seed=3), (0, 0), 1.0)  # every row differs
    t = CropTransform(((0.25, 0.0, -50.0), (0.0, 0.25, -50.0)), 256, (1400, 1400))  # box 198..1222
    flow = np.zeros((256, 256, 2), np.float32)
    flow[..., 0], flow[..., 1] = 30.0, 20.0  # large enough to touch the crop's edge pixels
    out = warp_photo(photo, flow, t).astype(float)
    last = int(round((t.inverse() @ np.array([255.0, 255.0, 1.0]))[1])) + 1  # past the last pixel centres
    middle = slice(600, 800)
    assert np.abs(out[middle, middle] - photo[middle, middle]).mean() > 20  # the inside moved
    np.testing.assert_allclose(out[last:1230, middle], photo[last:1230, middle], atol=8)
    np.testing.assert_allclose(out[middle, last:1230], photo[middle, last:1230], atol=8)


def test_warp_photo_zero_flow_and_overlay(astronaut, astro_face):
    t = crop_transform_for_face(astro_face, astronaut.shape[:2])
    c = t.crop_size
    np.testing.assert_array_equal(warp_photo(astronaut, np.zeros((c, c, 2), np.float32), t), astronaut)
    overlay = np.zeros((c, c, 3), np.uint8)
    overlay[..., 1] = 255
    alpha = np.zeros((c, c), np.float32)
    alpha[120:136, 120:136] = 1.0
    out = warp_photo(astronaut, np.zeros((c, c, 2), np.float32), t, overlay=overlay, overlay_alpha=alpha)
    cx, cy = t.inverse() @ np.array([128.0, 128.0, 1.0])
    assert tuple(out[int(cy), int(cx)]) == (0, 255, 0)
    with pytest.raises(InputError):
        warp_photo(astronaut, np.zeros((10, 10, 2), np.float32), t)
