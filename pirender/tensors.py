"""Conversions between UI images (uint8 HWC RGB) and renderer tensors ((B, 3, H, W) in [-1, 1])."""

from __future__ import annotations

import numpy as np
import torch

from core.errors import InputError

__all__ = ["image_to_tensor", "tensor_to_images"]


def image_to_tensor(image: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 in [-1, 1] (x / 127.5 - 1)."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise InputError(
            f"expected an (H, W, 3) RGB image array, got {type(image).__name__} with shape {shape}"
        )
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image (0-255), got dtype {image.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    return (t.permute(2, 0, 1).unsqueeze(0).float() / 127.5 - 1.0).contiguous()


def tensor_to_images(tensor: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> list of (H, W, 3) uint8 RGB images (rounded, clipped)."""
    if tensor.ndim != 4 or tensor.shape[1] != 3:
        raise InputError(f"expected a (B, 3, H, W) tensor, got {tuple(tensor.shape)}")
    arr = ((tensor.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [img.permute(1, 2, 0).cpu().numpy() for img in arr]
