"""Warping network (paper section 3.2): source image + latent z -> flow field -> warped source.

An AdaIN hourglass: a 7x7 input conv, `encoder_layers` down blocks, `decoder_layers` residual up
blocks (each followed by a skip concat of the encoder feature of the same size), then
layer norm -> act -> 7x7 conv to a 2-channel flow field in pixels of its (coarse) grid.
"""

from __future__ import annotations

import torch
from torch import nn

from pirender.blocks import AdaIN, LayerNorm2d, activation
from pirender.config import GeneratorConfig
from pirender.flow import flow_to_deformation, warp_image

__all__ = ["WarpingNet", "WarpOutput"]


class _EncoderBlock(nn.Module):
    """AdaIN -> act -> conv 4x4 stride 2, then AdaIN -> act -> conv 3x3."""

    def __init__(self, in_nc: int, out_nc: int, latent_nc: int, hidden: int) -> None:
        super().__init__()
        self.norm_0 = AdaIN(in_nc, latent_nc, hidden)
        self.conv_0 = nn.Conv2d(in_nc, out_nc, 4, stride=2, padding=1)
        self.norm_1 = AdaIN(out_nc, latent_nc, hidden)
        self.conv_1 = nn.Conv2d(out_nc, out_nc, 3, padding=1)
        self.act = activation()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_0(self.act(self.norm_0(x, z)))
        return self.conv_1(self.act(self.norm_1(x, z)))


class _DecoderBlock(nn.Module):
    """Residual up block: main AdaIN-act-conv3-AdaIN-act-convT, shortcut AdaIN-act-convT (both x2)."""

    def __init__(self, in_nc: int, out_nc: int, latent_nc: int, hidden: int) -> None:
        super().__init__()
        up = {"kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}
        self.norm_0 = AdaIN(in_nc, latent_nc, hidden)
        self.conv_0 = nn.Conv2d(in_nc, out_nc, 3, padding=1)
        self.norm_1 = AdaIN(out_nc, latent_nc, hidden)
        self.conv_1 = nn.ConvTranspose2d(out_nc, out_nc, **up)
        self.norm_s = AdaIN(in_nc, latent_nc, hidden)
        self.conv_s = nn.ConvTranspose2d(in_nc, out_nc, **up)
        self.act = activation()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.act(self.norm_s(x, z)))
        main = self.conv_0(self.act(self.norm_0(x, z)))
        return shortcut + self.conv_1(self.act(self.norm_1(main, z)))


class _Encoder(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        w = config.warping
        self.input_layer = nn.Conv2d(config.image_nc, w.base_nc, 7, padding=3)
        self.blocks = nn.ModuleList(
            _EncoderBlock(
                min(w.base_nc * 2**i, config.max_nc),
                min(w.base_nc * 2 ** (i + 1), config.max_nc),
                config.descriptor_nc,
                config.adain_hidden,
            )
            for i in range(w.encoder_layers)
        )

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> list[torch.Tensor]:
        """Features from full resolution down to the deepest, finest first."""
        return self.forward_from_input(self.input_layer(image), z)

    def forward_from_input(self, out: torch.Tensor, z: torch.Tensor) -> list[torch.Tensor]:
        """The same, starting from `input_layer(image)` (which depends on the source only)."""
        features = [out]
        for block in self.blocks:
            out = block(out, z)
            features.append(out)
        return features


class _Decoder(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        w = config.warping
        self.levels = list(range(w.encoder_layers - w.decoder_layers, w.encoder_layers))[
            ::-1
        ]  # deepest first
        blocks = {}
        for i in self.levels:
            in_nc = min(w.base_nc * 2 ** (i + 1), config.max_nc)
            if i != w.encoder_layers - 1:
                in_nc *= 2  # the previous block's output was concatenated with a skip feature
            out_nc = min(w.base_nc * 2**i, config.max_nc)
            blocks[str(i)] = _DecoderBlock(in_nc, out_nc, config.descriptor_nc, config.adain_hidden)
        self.blocks = nn.ModuleDict(blocks)
        self.output_nc = 2 * out_nc

    def forward(self, features: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        features = list(features)
        out = features.pop()
        for i in self.levels:
            out = torch.cat([self.blocks[str(i)](out, z), features.pop()], dim=1)
        return out


class _Hourglass(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.encoder = _Encoder(config)
        self.decoder = _Decoder(config)

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(image, z), z)


class WarpOutput(dict):
    """`flow_field` (B, 2, H/s, W/s) in coarse-grid pixels and `warp_image` (B, 3, H, W) in [-1, 1]."""


class WarpingNet(nn.Module):
    """(source (B, 3, H, W) in [-1, 1], z (B, D, 1)) -> flow field and warped source."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.hourglass = _Hourglass(config)
        nc = self.hourglass.decoder.output_nc
        self.flow_out = nn.Sequential(LayerNorm2d(nc), activation(), nn.Conv2d(nc, 2, 7, padding=3))

    def source_feature(self, source: torch.Tensor) -> torch.Tensor:
        """The part of the network that depends on the source image only (cacheable per photo)."""
        return self.hourglass.encoder.input_layer(source)

    def flow_from_feature(self, feature: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        features = self.hourglass.encoder.forward_from_input(feature, z)
        return self.flow_out(self.hourglass.decoder(features, z))

    def forward(self, source: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flow = self.flow_from_feature(self.source_feature(source), z)
        return flow, warp_image(source, flow_to_deformation(flow))
