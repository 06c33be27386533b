"""Perceptual, style and fallback loss terms: zero on identical images, named, weighted as the paper says."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pirender.generator import PIRenderer
from training.config import LossConfig
from training.losses import PerceptualLoss, RendererLoss, gram_matrix, image_pyramid


def test_gram_matrix_known_value():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    assert torch.allclose(gram_matrix(f), expected)


def test_pyramid_halves():
    levels = image_pyramid(torch.ones(1, 3, 32, 32), 3)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]


def test_perceptual_zero_for_identical_and_positive_otherwise(small_vgg):
    loss = PerceptualLoss(small_vgg, LossConfig().perceptual_layers, 4, LossConfig().style_layers)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    same, style = loss(x, x.clone(), with_style=True)
    assert float(same) == 0.0 and float(style) == 0.0
    other, style2 = loss(x, x.flip(-1), with_style=True)
    assert float(other) > 0 and float(style2) >= 0
    assert loss._scales(32) == 2  # relu5_x needs 16 px: 32 and 16 px levels only


def test_terms_per_stage_and_weights(small_vgg, tiny_generator_config):
    torch.manual_seed(0)
    model = PIRenderer(tiny_generator_config)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    d = torch.randn(2, 73, 27)
    out = model(x, d)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    loss = RendererLoss(LossConfig(), vgg=small_vgg)
    assert loss.fallback
    warp = loss(out, target, "warp")
    assert set(warp) == {"warp_perceptual", "warp_l1", "warp_ssim"}
    full = loss(out, target, "full")
    assert set(full) == {"warp_perceptual", "warp_l1", "warp_ssim", "perceptual", "style", "l1", "ssim"}
    doubled = RendererLoss(
        dataclasses.replace(LossConfig(), warp_weight=5.0, style_weight=2000.0), vgg=small_vgg
    )(out, target, "full")
    assert torch.allclose(doubled["warp_perceptual"], 2 * full["warp_perceptual"])
    assert torch.allclose(doubled["style"], 2 * full["style"])
    assert torch.allclose(doubled["perceptual"], full["perceptual"])
    sum(full.values()).backward()
    assert (
        model.editing_net.final[0].weight.grad is not None
        and model.mapping_net.first[0].weight.grad is not None
    )
    with pytest.raises(Exception, match="fake_image"):
        loss(model.warp(x, d), target, "full")


def test_pretrained_vgg_drops_fallback_terms(small_vgg, tiny_generator_config):
    small_vgg.pretrained = True
    loss = RendererLoss(LossConfig(), vgg=small_vgg)
    out = PIRenderer(tiny_generator_config)(torch.zeros(1, 3, 32, 32), torch.zeros(1, 73, 27))
    assert set(loss(out, torch.zeros(1, 3, 32, 32), "full")) == {"warp_perceptual", "perceptual", "style"}
