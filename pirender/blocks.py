"""Building blocks shared by the warping and editing networks (paper sections 3.2-3.3, appendix A).

AdaIN injects the latent motion code z into every stage; LayerNorm2d normalises a sample over
(C, H, W) jointly with a per-channel affine, exactly as the released generator does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AdaIN", "LayerNorm2d", "NEGATIVE_SLOPE", "activation"]

#: LeakyReLU slope used everywhere in the released generator.
NEGATIVE_SLOPE = 0.1


def activation() -> nn.Module:
    return nn.LeakyReLU(NEGATIVE_SLOPE)


class AdaIN(nn.Module):
    """Adaptive instance norm: `instance_norm(x) * (1 + gamma(z)) + beta(z)`.

    x: (B, C, H, W); z: (B, D) or (B, D, 1) latent motion code.
    """

    def __init__(self, channels: int, latent_nc: int, hidden: int = 128) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Linear(latent_nc, hidden), nn.ReLU())
        self.mlp_gamma = nn.Linear(hidden, channels)
        self.mlp_beta = nn.Linear(hidden, channels)

    def modulation(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(1 + gamma, beta), each (B, C, 1, 1): depends on z only, so it can be cached per target."""
        hidden = self.mlp_shared(z.reshape(z.shape[0], -1))
        scale = 1 + self.mlp_gamma(hidden)
        shift = self.mlp_beta(hidden)
        return scale[:, :, None, None], shift[:, :, None, None]

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(z)
        return F.instance_norm(x, eps=1e-5) * scale + shift


class LayerNorm2d(nn.Module):
    """Normalise each sample over (C, H, W) together, then a per-channel scale and bias of shape (C, 1, 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[1:]
        return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape), eps=1e-5)
