"""Editing network (paper section 3.3): repairs and completes the warped image.

Encoder on concat(source, warped) with layer norms and average pooling; decoder, deepest level
first: AdaIN residual blocks, a nearest x2 up block, and a jump connection from the encoder
feature of the same level; a final 7x7 conv and tanh.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pirender.blocks import AdaIN, LayerNorm2d, activation
from pirender.config import GeneratorConfig

__all__ = ["EditingNet"]


class _ConvNormAct(nn.Module):
    """conv -> layer norm -> LeakyReLU (kept as `model.0`, `model.1` like the released weights)."""

    def __init__(self, in_nc: int, out_nc: int, kernel: int) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(in_nc, out_nc, kernel, padding=kernel // 2), LayerNorm2d(out_nc), activation()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResBlock(nn.Module):
    """AdaIN residual block.

    With `released_quirk` the output is `x + AdaIN2(conv2(x))`, as the public weights were trained
    (their conv1/norm1 branch is computed and discarded by the original, so we skip it); otherwise the
    full block `x + AdaIN2(conv2(act(AdaIN1(conv1(x)))))`.
    """

    def __init__(self, nc: int, latent_nc: int, hidden: int, released_quirk: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nc, nc, 3, padding=1)
        self.norm1 = AdaIN(nc, latent_nc, hidden)
        self.conv2 = nn.Conv2d(nc, nc, 3, padding=1)
        self.norm2 = AdaIN(nc, latent_nc, hidden)
        self.act = activation()
        self.released_quirk = released_quirk
        if released_quirk:
            for p in (*self.conv1.parameters(), *self.norm1.parameters()):
                p.requires_grad_(False)  # unused by the forward pass: keep them out of the optimiser

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        inner = x if self.released_quirk else self.act(self.norm1(self.conv1(x), z))
        return x + self.norm2(self.conv2(inner), z)


class EditingNet(nn.Module):
    """(source, warped (B, 3, H, W) in [-1, 1], z (B, D, 1)) -> image (B, 3, H, W) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        e, mx = config.editing, config.max_nc
        self.encoder_first = _ConvNormAct(2 * config.image_nc, e.base_nc, 7)
        self.encoder_down = nn.ModuleList(
            _ConvNormAct(min(e.base_nc * 2**i, mx), min(e.base_nc * 2 ** (i + 1), mx), 3)
            for i in range(e.layers)
        )
        self.decoder_res = nn.ModuleList()
        self.decoder_up = nn.ModuleList()
        self.decoder_jump = nn.ModuleList()
        for i in range(e.layers):
            in_nc, out_nc = min(e.base_nc * 2 ** (i + 1), mx), min(e.base_nc * 2**i, mx)
            self.decoder_res.append(
                nn.ModuleList(
                    ResBlock(in_nc, config.descriptor_nc, config.adain_hidden, e.released_residual_quirk)
                    for _ in range(e.num_res_blocks)
                )
            )
            self.decoder_up.append(_ConvNormAct(in_nc, out_nc, 3))
            self.decoder_jump.append(_ConvNormAct(out_nc, out_nc, 3))
        self.final = nn.Sequential(nn.Conv2d(e.base_nc, config.image_nc, 7, padding=3), nn.Tanh())

    def source_feature(self, source: torch.Tensor) -> torch.Tensor:
        """The source's share of the first conv (the conv is linear in its concatenated input, so the
        source half can be computed once per photo and reused for every target)."""
        conv = self.encoder_first.model[0]
        nc = source.shape[1]
        return F.conv2d(source, conv.weight[:, :nc], conv.bias, padding=conv.padding)

    def encode(self, source: torch.Tensor, warped: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features, finest first: [first, down0, ..., down{L-1}]."""
        return self.encode_from_source_feature(self.source_feature(source), warped)

    def encode_from_source_feature(
        self, source_feature: torch.Tensor, warped: torch.Tensor
    ) -> list[torch.Tensor]:
        conv = self.encoder_first.model[0]
        nc = warped.shape[1]
        x = source_feature + F.conv2d(warped, conv.weight[:, -nc:], None, padding=conv.padding)
        x = self.encoder_first.model[2](self.encoder_first.model[1](x))  # layer norm, act
        features = [x]
        for down in self.encoder_down:
            x = F.avg_pool2d(down(x), 2)
            features.append(x)
        return features

    def decode(self, features: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """Decoder: encoder features (finest first) and z -> image (B, 3, H, W) in [-1, 1]."""
        out = features[-1]
        for i in reversed(range(len(self.decoder_up))):
            for block in self.decoder_res[i]:
                out = block(out, z)
            out = self.decoder_up[i](F.interpolate(out, scale_factor=2.0, mode="nearest"))
            out = out + self.decoder_jump[i](features[i])
        return self.final(out)

    def forward(self, source: torch.Tensor, warped: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(source, warped), z)

    def forward_from_source_feature(
        self, source_feature: torch.Tensor, warped: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        return self.decode(self.encode_from_source_feature(source_feature, warped), z)
