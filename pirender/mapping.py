"""Mapping network (paper section 3.1): a window of motion descriptors -> latent motion code z.

Conv1d (kernel 7, no padding), then `layers` residual dilated convs (kernel 3, dilation 3), then
the mean over the remaining time steps. A 27-frame window shrinks 27 -> 21 -> 15 -> 9 -> 3 -> 1.
"""

from __future__ import annotations

import torch
from torch import nn

from pirender.blocks import activation
from pirender.config import MappingConfig

__all__ = ["MappingNet"]


class MappingNet(nn.Module):
    """descriptor (B, coeff_nc, T) -> z (B, descriptor_nc, 1)."""

    def __init__(self, config: MappingConfig) -> None:
        super().__init__()
        self.config = config
        self.first = nn.Sequential(nn.Conv1d(config.coeff_nc, config.descriptor_nc, kernel_size=7))
        self.encoders = nn.ModuleList(
            nn.Sequential(activation(), nn.Conv1d(config.descriptor_nc, config.descriptor_nc, 3, dilation=3))
            for _ in range(config.layers)
        )

    def forward(self, descriptor: torch.Tensor) -> torch.Tensor:
        out = self.first(descriptor)
        for encoder in self.encoders:
            out = encoder(out) + out[:, :, 3:-3]  # the dilated conv trims 3 steps at each end
        return out.mean(dim=2, keepdim=True)
