"""Deep3DFaceRecon 224-px alignment: least-squares fit, crop geometry, point mappings, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from core.errors import CheckpointError, InputError, WeightsNotFoundError
from reconstruction import align as align_mod
from reconstruction.align import (
    STANDARD_POINTS_3D,
    align_face,
    fit_scale_translation,
    five_points_from_68,
    load_standard_points,
)

# Where the standard points land in the crop (y down): x = 112 + 102 X, row = 112 - 102 Y.
CROP_STANDARD = np.stack([112 + 102 * STANDARD_POINTS_3D[:, 0], 112 - 102 * STANDARD_POINTS_3D[:, 1]], axis=1)


def frontal_landmarks(scale: float, cx: float, cy: float) -> np.ndarray:
    """(5, 2) y-down landmarks of a frontal face: the standard points scaled and shifted."""
    return np.stack([cx + scale * STANDARD_POINTS_3D[:, 0], cy - scale * STANDARD_POINTS_3D[:, 1]], axis=1)


def test_fit_recovers_exact_scale_and_translation() -> None:
    rot = np.array([[0.9, 0.1, -0.2], [-0.05, 1.1, 0.3]])  # any affine camera
    pts2d = STANDARD_POINTS_3D @ rot.T + np.array([40.0, -7.0])
    t, s = fit_scale_translation(pts2d, STANDARD_POINTS_3D)
    np.testing.assert_allclose(t, [40.0, -7.0], atol=1e-9)
    assert s == pytest.approx((np.linalg.norm(rot[0]) + np.linalg.norm(rot[1])) / 2, abs=1e-9)


def test_trans_params_follow_the_original_conventions() -> None:
    h, w, a, cx, cy = 480, 640, 150.0, 300.0, 260.0
    aligned = align_face(np.zeros((h, w, 3), np.uint8), frontal_landmarks(a, cx, cy))
    w0, h0, s, tx, ty = aligned.trans_params
    assert (w0, h0) == (w, h)
    assert s == pytest.approx(102.0 / a)
    assert tx == pytest.approx(cx)
    assert ty == pytest.approx(h - 1 - cy)  # the original flips landmarks to y up before fitting
    assert aligned.resized_size == (int(w * s), int(h * s))
    np.testing.assert_allclose(aligned.crop, [s, tx, ty], rtol=1e-6)
    assert aligned.crop.dtype == np.float32


@pytest.mark.parametrize(
    ("a", "cx", "cy"), [(150.0, 300.0, 260.0), (60.0, 90.0, 400.0), (420.0, 320.0, 240.0)]
)
def test_landmarks_land_on_the_standard_positions(a: float, cx: float, cy: float) -> None:
    aligned = align_face(np.zeros((480, 640, 3), np.uint8), frontal_landmarks(a, cx, cy))
    # The original truncates the window corner and the resized size (< 1 px each) and flips y about
    # H - 1 rather than H (a half source pixel, 0.5 (s + 1) crop pixels): together < 2 px for s <= 2.5.
    np.testing.assert_allclose(aligned.landmarks, CROP_STANDARD, atol=2.0)


def test_pixels_follow_the_landmarks() -> None:
    """Paint a dot at each landmark; in the crop the dots appear at the standard positions."""
    h, w = 400, 500
    image = np.full((h, w, 3), 30, np.uint8)
    lm = frontal_landmarks(120.0, 260.0, 210.0)
    yy, xx = np.mgrid[:h, :w]
    for x, y in lm:
        image[(xx - x) ** 2 + (yy - y) ** 2 <= 9] = 255
    aligned = align_face(image, lm)
    assert aligned.image.shape == (224, 224, 3) and aligned.image.dtype == np.uint8
    crop = aligned.image[..., 0].astype(float)
    cyy, cxx = np.mgrid[:224, :224]
    for px, py in CROP_STANDARD:
        window = (np.abs(cxx - px) <= 6) & (np.abs(cyy - py) <= 6)
        weights = np.where(window, np.clip(crop - 30, 0, None), 0)
        centre = np.array([(weights * cxx).sum(), (weights * cyy).sum()]) / weights.sum()
        np.testing.assert_allclose(centre, [px, py], atol=1.5)


def test_crop_equals_full_resize_then_crop() -> None:
    """The crop is the original's PIL bicubic resize of the whole image followed by the window cut."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 360, 3), dtype=np.uint8)
    aligned = align_face(image, frontal_landmarks(90.0, 150.0, 120.0))
    left, up = aligned.offset
    reference = Image.fromarray(image).resize(aligned.resized_size, resample=Image.Resampling.BICUBIC)
    reference = np.asarray(reference.crop((left, up, left + 224, up + 224)))
    np.testing.assert_array_equal(aligned.image, reference)


@pytest.mark.parametrize("scale", [70.0, 250.0])
def test_window_only_resampling(monkeypatch: pytest.MonkeyPatch, scale: float) -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (200, 260, 3), dtype=np.uint8)
    lm = frontal_landmarks(scale, 120.0, 90.0)
    exact = align_face(image, lm)
    fast = align_face(image, lm, exact=False)
    monkeypatch.setattr(align_mod, "MAX_EXACT_RESIZE_PIXELS", 0)  # huge resizes fall back to the window
    huge = align_face(image, lm)
    np.testing.assert_array_equal(huge.image, fast.image)
    diff = np.abs(exact.image.astype(int) - fast.image.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_face_near_the_border_is_padded_black() -> None:
    image = np.full((300, 300, 3), 200, np.uint8)
    aligned = align_face(image, frontal_landmarks(120.0, 40.0, 40.0))
    assert aligned.image[0, 0].tolist() == [0, 0, 0]  # outside the source image
    assert aligned.image[150, 150].tolist() == [200, 200, 200]


def test_point_mappings_round_trip() -> None:
    aligned = align_face(np.zeros((480, 640, 3), np.uint8), frontal_landmarks(150.0, 300.0, 260.0))
    pts = np.array([[0.0, 0.0], [100.5, 37.25], [639.0, 479.0]])
    np.testing.assert_allclose(aligned.to_image(aligned.to_crop(pts)), pts, atol=1e-9)
    np.testing.assert_allclose(aligned.to_crop(frontal_landmarks(150.0, 300.0, 260.0)), aligned.landmarks)


def test_68_points_reduce_to_5() -> None:
    rng = np.random.default_rng(3)
    lm68 = rng.normal(size=(68, 3))
    five = five_points_from_68(lm68)
    np.testing.assert_allclose(five[0], (lm68[36] + lm68[39]) / 2)
    np.testing.assert_allclose(five[1], (lm68[42] + lm68[45]) / 2)
    np.testing.assert_allclose(five[2:], lm68[[30, 48, 54]])
    with pytest.raises(InputError):
        five_points_from_68(lm68[:60])


def test_align_accepts_68_landmarks() -> None:
    lm5 = frontal_landmarks(150.0, 300.0, 260.0)
    lm68 = np.zeros((68, 2))
    lm68[[36, 39]], lm68[[42, 45]] = lm5[0], lm5[1]
    lm68[30], lm68[48], lm68[54] = lm5[2], lm5[3], lm5[4]
    image = np.zeros((480, 640, 3), np.uint8)
    np.testing.assert_allclose(align_face(image, lm68).trans_params, align_face(image, lm5).trans_params)


def test_standard_points_from_similarity_mat(tmp_path) -> None:
    lm68 = np.random.default_rng(4).normal(size=(68, 3))
    path = tmp_path / "similarity_Lm3D_all.mat"
    savemat(path, {"lm": lm68})
    np.testing.assert_allclose(load_standard_points(path), five_points_from_68(lm68))
    with pytest.raises(WeightsNotFoundError, match="nothere.mat"):
        load_standard_points(tmp_path / "nothere.mat")
    savemat(tmp_path / "bad.mat", {"lm": lm68[:10]})
    with pytest.raises(CheckpointError, match="bad.mat"):
        load_standard_points(tmp_path / "bad.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 20)
    with pytest.raises(CheckpointError, match="junk.mat"):
        load_standard_points(tmp_path / "junk.mat")


@pytest.mark.parametrize(
    ("image", "landmarks"),
    [
        (np.zeros((100, 100, 3), np.float32), np.ones((5, 2))),  # not uint8
        (np.zeros((100, 100), np.uint8), np.ones((5, 2))),  # not RGB
        (np.zeros((100, 100, 4), np.uint8), np.ones((5, 2))),  # RGBA
        (np.zeros((100, 100, 3), np.uint8), np.ones((4, 2))),  # wrong count
        (np.zeros((100, 100, 3), np.uint8), np.full((5, 2), np.nan)),  # NaN
        (np.zeros((100, 100, 3), np.uint8), np.full((5, 2), 50.0)),  # degenerate: one point
    ],
)
def test_bad_input_is_rejected(image: np.ndarray, landmarks: np.ndarray) -> None:
    with pytest.raises(InputError):
        align_face(image, landmarks)
