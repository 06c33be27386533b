"""Metrics on known cases: identical images, shifted images, known coefficient offsets, known Gaussians."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from core.errors import CheckpointError, InputError
from training.evaluation import metrics as M


def _image(seed: int = 0, size: int = 48) -> torch.Tensor:
    from skimage import data
    from skimage.transform import resize

    img = resize(data.astronaut()[100:300, 150:350], (size, size), anti_aliasing=True)
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def test_identical_images():
    a = _image()
    assert float(M.l1_error(a, a)) == 0.0
    assert math.isinf(float(M.psnr(a, a)))
    assert float(M.ssim(a, a)) == pytest.approx(1.0, abs=1e-6)
    assert float(M.ms_ssim(a, a)) == pytest.approx(1.0, abs=1e-6)


def test_constant_offset_gives_known_l1_and_psnr():
    a = torch.full((2, 3, 16, 16), 0.2)
    b = torch.full((2, 3, 16, 16), 0.5)
    assert torch.allclose(M.l1_error(a, b), torch.tensor([0.3, 0.3]))
    assert torch.allclose(M.psnr(a, b), torch.full((2,), 10 * math.log10(1 / 0.09)), atol=1e-4)


def test_ssim_matches_skimage_on_shifted_images():
    a = _image()
    b = torch.roll(a, shifts=2, dims=-1)
    ours = float(M.ssim(a, b))
    ref = structural_similarity(
        a[0].permute(1, 2, 0).double().numpy(),
        b[0].permute(1, 2, 0).double().numpy(),
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
    )
    assert ours == pytest.approx(ref, abs=1e-4)
    assert ours < 0.95
    assert float(M.ssim(a, torch.roll(a, 1, -1))) > ours  # a smaller shift is more similar
    assert float(M.ms_ssim(a, b)) < 1.0
    with pytest.raises(InputError):
        M.ssim(a, b[..., :8, :8])


def test_ms_ssim_gradient():
    a = _image().requires_grad_(True)
    M.ms_ssim(a, torch.roll(_image(), 1, -1)).sum().backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_known_coefficient_offsets():
    exp = np.zeros((5, 64))
    assert np.allclose(M.expression_distance(exp + 0.1, exp), 0.1)
    angles, trans = np.zeros((5, 3)), np.zeros((5, 3))
    shifted = angles.copy()
    shifted[:, 1] = 0.06  # yaw off by 0.06 rad: mean over 6 pose numbers = 0.01
    assert np.allclose(M.pose_distance(shifted, trans, angles, trans), 0.01)
    with pytest.raises(InputError):
        M.expression_distance(exp, exp[:, :10])


def test_cosine_and_frechet_known_cases():
    assert M.cosine_similarity(np.array([1.0, 0.0]), np.array([2.0, 0.0]))[0] == pytest.approx(1.0)
    assert M.cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 3.0]))[0] == pytest.approx(0.0)
    mu1, mu2 = np.array([0.0, 0.0]), np.array([3.0, 4.0])
    c1, c2 = np.diag([1.0, 4.0]), np.diag([9.0, 16.0])
    # ||mu1 - mu2||^2 + sum((sqrt(a) - sqrt(b))^2) = 25 + (1-3)^2 + (2-4)^2
    assert M.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(33.0, abs=1e-6)
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 4))
    assert M.frechet_distance(*M.feature_statistics(f), *M.feature_statistics(f)) == pytest.approx(
        0.0, abs=1e-6
    )


def test_lpips_structure_and_file_loading(tmp_path):
    from training.vgg import VGG16_LAYOUT

    assert [lin.in_channels for lin in M.LPIPS().lins] == [64, 128, 256, 512, 512]
    narrow = tuple(c if c == "M" else int(c) // 8 for c in VGG16_LAYOUT)
    model = M.LPIPS(narrow)
    model.net.random_init(0)
    for lin in model.lins:
        lin.weight.data = lin.weight.data.abs()
    a = _image(size=32)
    assert float(model(a, a)) == 0.0
    assert float(model(a, torch.roll(a, 3, -1))) > 0
    backbone, lin = tmp_path / "vgg16.pth", tmp_path / "lin.pth"
    torch.save(model.net.state_dict(), backbone)
    torch.save({f"lin{k}.model.1.weight": m.weight.data for k, m in enumerate(model.lins)}, lin)
    loaded = M.LPIPS.from_files(backbone, lin, narrow)
    assert torch.allclose(loaded(a, torch.roll(a, 3, -1)), model(a, torch.roll(a, 3, -1)))
    torch.save({"lin0.model.1.weight": torch.zeros(1, 3, 1, 1)}, lin)
    with pytest.raises(CheckpointError):
        M.LPIPS.from_files(backbone, lin, narrow)
