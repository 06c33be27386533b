"""Training losses of PIRenderer (paper section 3.4).

`PerceptualLoss`: L1 between VGG-19 activations (relu1_1..relu5_1) of an image and its target,
summed over layers and over a 4-scale image pyramid (each level half the previous size), plus
optionally the Gram-matrix style loss at full resolution. `RendererLoss` turns a generator
output into a dict of named, already weighted terms for the current stage:

- warping stage: `warp_perceptual` (2.5 x perceptual loss of the warped image);
- end-to-end stage: `warp_perceptual`, `perceptual` (4 x the output's) and `style` (1000 x).

With the offline fallback (random fixed VGG-19, see `vgg.py`), `warp_l1`, `warp_ssim`, `l1` and
`ssim` (1 - MS-SSIM) are added, scaled by the perceptual weight of the same image.
`LossConfig.pixel_only` keeps only those L1 and MS-SSIM terms (no VGG at all).
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import InputError
from pirender.generator import RenderOutput
from training.config import LossConfig
from training.evaluation.metrics import ms_ssim
from training.vgg import VGGFeatures, perceptual_vgg19

__all__ = ["Stage", "gram_matrix", "image_pyramid", "PerceptualLoss", "RendererLoss"]

log = logging.getLogger(__name__)

Stage = Literal["warp", "full"]


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrix normalised by C * H * W (computed in float32)."""
    b, c, h, w = features.shape
    f = features.float().reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def image_pyramid(image: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
    """[image, image / 2, ...]: each level the 2x2 average of the previous (= bilinear x0.5)."""
    levels = [image]
    for _ in range(num_scales - 1):
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


class PerceptualLoss(nn.Module):
    """Multi-scale VGG perceptual loss with an optional Gram-matrix style term.

    Images (B, 3, H, W) in [-1, 1]. Scales whose image would be smaller than the VGG's deepest
    layer allows (16 px for relu5_1) are dropped, with one log message.
    """

    def __init__(
        self,
        vgg: VGGFeatures,
        layers: tuple[str, ...],
        num_scales: int = 4,
        style_layers: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.vgg = vgg
        self.layers = layers
        self.style_layers = style_layers
        self.num_scales = num_scales
        self._warned = False

    def _scales(self, size: int) -> int:
        usable = 0
        while usable < self.num_scales and size // 2**usable >= self.vgg.min_input_size():
            usable += 1
        if usable < self.num_scales and not self._warned:
            log.info(
                "perceptual loss: %d px images allow %d of %d pyramid scales", size, usable, self.num_scales
            )
            self._warned = True
        return max(usable, 1)

    @torch.no_grad()
    def target_features(self, target: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """VGG features of the target's pyramid (no gradient); compute once, reuse for several images."""
        return [self.vgg(y) for y in image_pyramid(target, self._scales(min(target.shape[-2:])))]

    def forward(
        self,
        image: torch.Tensor,
        target: torch.Tensor | list[dict[str, torch.Tensor]],
        *,
        with_style: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(perceptual loss, style loss or None), each a scalar; `target` is an image or its `target_features`."""
        targets = self.target_features(target) if isinstance(target, torch.Tensor) else target
        loss = image.new_zeros((), dtype=torch.float32)
        style = image.new_zeros((), dtype=torch.float32) if with_style else None
        for level, (x, fy) in enumerate(zip(image_pyramid(image, len(targets)), targets, strict=True)):
            fx = self.vgg(x)
            for name in self.layers:
                loss = loss + F.l1_loss(fx[name].float(), fy[name].float())
            if style is not None and level == 0:
                for name in self.style_layers:
                    style = style + F.l1_loss(gram_matrix(fx[name]), gram_matrix(fy[name]))
        return loss, style


class RendererLoss(nn.Module):
    """Generator output + target -> dict of named weighted loss terms (their sum is the loss).

    `vgg` may be given (tests, shared loss networks); otherwise it is built from `config`
    (ImageNet VGG-19 from a local file, or the random fallback). `fallback` is True when the
    VGG is not pretrained, which switches the L1 and MS-SSIM terms on.
    """

    def __init__(self, config: LossConfig, vgg: VGGFeatures | None = None) -> None:
        super().__init__()
        self.config = config
        layers = tuple(dict.fromkeys(config.perceptual_layers + config.style_layers))
        if config.pixel_only:
            self.fallback = True
            self.perceptual = None
            return
        if vgg is None:
            vgg = perceptual_vgg19(
                layers, config.vgg_weights or None, require=config.require_vgg, seed=config.random_vgg_seed
            )
        self.fallback = not vgg.pretrained
        self.perceptual: PerceptualLoss | None = PerceptualLoss(
            vgg, config.perceptual_layers, config.num_scales, config.style_layers
        )

    def _image_terms(
        self,
        prefix: str,
        image: torch.Tensor,
        target: torch.Tensor,
        target_features: list[dict[str, torch.Tensor]] | None,
        weight: float,
        style: bool,
    ) -> dict[str, torch.Tensor]:
        c = self.config
        terms: dict[str, torch.Tensor] = {}
        if self.perceptual is not None and target_features is not None:
            perceptual, style_loss = self.perceptual(image, target_features, with_style=style)
            terms[f"{prefix}perceptual"] = weight * perceptual
            if style_loss is not None:
                terms[f"{prefix}style"] = c.style_weight * style_loss
        if self.fallback:
            a, b = (image.float() + 1) / 2, (target.float() + 1) / 2
            if c.fallback_l1_weight:
                terms[f"{prefix}l1"] = weight * c.fallback_l1_weight * F.l1_loss(a, b)
            if c.fallback_ssim_weight:
                terms[f"{prefix}ssim"] = weight * c.fallback_ssim_weight * (1 - ms_ssim(a, b)).mean()
        return terms

    def forward(self, output: RenderOutput, target: torch.Tensor, stage: Stage) -> dict[str, torch.Tensor]:
        """Weighted terms for `stage`; target (B, 3, H, W) in [-1, 1]."""
        c = self.config
        # VGG features of the target, shared by the warped image and the output
        features = None if self.perceptual is None else self.perceptual.target_features(target)
        terms = self._image_terms("warp_", output.warp_image, target, features, c.warp_weight, style=False)
        if stage == "full":
            if output.fake_image is None:
                raise InputError(
                    "the end-to-end stage needs the generator's fake_image (the full forward, not `warp`)"
                )
            terms.update(
                self._image_terms(
                    "", output.fake_image, target, features, c.perceptual_weight, style=c.style_weight > 0
                )
            )
        return terms
