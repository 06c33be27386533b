"""Augmentation of the lid network's boxes (`training.lid_augment`)."""

from __future__ import annotations

import torch

from training.lid_augment import AugmentOptions, augment


def _batch(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    inputs = torch.rand(n, 7, 40, 64) * 2 - 1
    inputs[:, 6] = 0.0
    inputs[:, 6, 10:30, 16:48] = 1.0
    return inputs, torch.rand(n, 3, 40, 64) * 2 - 1


def test_shapes_ranges_and_seeded() -> None:
    inputs, truth = _batch()
    a = augment(inputs, truth, torch.Generator().manual_seed(3))
    b = augment(inputs, truth, torch.Generator().manual_seed(3))
    assert a[0].shape == inputs.shape and a[1].shape == truth.shape
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0][:, :6].abs().max() <= 1 and a[1].abs().max() <= 1
    assert a[0][:, 6].min() >= 0 and a[0][:, 6].max() <= 1


def test_picture_changes_reach_the_truth_and_rendering_changes_do_not() -> None:
    """With only a flat disc (always), the truth is the truth and the lid of the input is flat."""
    inputs, truth = _batch()
    only_disc = AugmentOptions(
        zoom=0.0, shift=0.0, gain=0.0, offset=0.0, gamma=0.0, sharpness=0.0, disc=1.0, noise=0.0, jpeg=0.0
    )
    generator = torch.Generator().manual_seed(0)
    x, y = augment(inputs, truth, generator, only_disc)
    same = torch.isclose(y, truth, atol=1e-5) | torch.isclose(y, truth.flip(3), atol=1e-5)
    assert same.all()
    lid = x[:, 0:3, 15:25, 22:42]
    assert lid.std(dim=(2, 3)).max() < 0.5 * inputs[:, 0:3, 15:25, 22:42].std(dim=(2, 3)).min()
    colour = AugmentOptions(zoom=0.0, shift=0.0, disc=0.0, noise=0.0, jpeg=0.0, sharpness=0.0)
    x, y = augment(inputs, truth, torch.Generator().manual_seed(1), colour)
    assert not torch.allclose(y, truth) and not torch.allclose(y, truth.flip(3))
