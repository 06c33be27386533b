"""Flow field -> sampling grid -> warped image (paper section 3.2).

The conventions are those of the released generator and must be kept exactly, or the public
weights shift the image by a fraction of a pixel: the flow is in pixels of its own (coarse)
grid, the base grid is corner-aligned, the deformation is resized bilinearly to the image
(align_corners False) and the image is sampled by `grid_sample` at its defaults.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["flow_to_deformation", "warp_image", "FlowWarp"]


def _base_grid(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """(H, W, 2) corner-aligned coordinates in [-1, 1], last dim (x, y)."""
    xs = torch.arange(w, device=like.device, dtype=like.dtype) / (w - 1) * 2 - 1
    ys = torch.arange(h, device=like.device, dtype=like.dtype) / (h - 1) * 2 - 1
    return torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)], dim=-1)


def flow_to_deformation(flow: torch.Tensor) -> torch.Tensor:
    """Flow (B, 2, h, w) in pixels of its grid -> deformation (B, h, w, 2) in [-1, 1] grid units."""
    _, _, h, w = flow.shape
    scale = flow.new_tensor([2.0 / (w - 1), 2.0 / (h - 1)]).view(1, 2, 1, 1)
    return _base_grid(h, w, flow).unsqueeze(0) + (flow * scale).permute(0, 2, 3, 1)


def warp_image(image: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
    """Sample image (B, C, H, W) at deformation (B, h, w, 2), resized to (H, W) first if needed."""
    _, _, h, w = image.shape
    if deformation.shape[1:3] != (h, w):
        deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear")
        deformation = deformation.permute(0, 2, 3, 1)
    return F.grid_sample(image, deformation, mode="bilinear", padding_mode="zeros", align_corners=False)


class FlowWarp(nn.Module):
    """Module form of `warp_image(image, flow_to_deformation(flow))`."""

    def forward(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return warp_image(image, flow_to_deformation(flow))
