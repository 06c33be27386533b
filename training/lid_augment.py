"""Augmentation of the lid network's training boxes towards the photos' domain (docs/LID_NET.md,
round 2).

Round 1 trained on a few clip identities' low-resolution blink frames and failed on photos of
other light, sharpness and size, and on the flat painted discs of `lid_skin.smooth_shut_lids`. So a
batch (inputs (B, 7, H, W): geometric patch, photo's eye in [-1, 1], mask in [0, 1]; truth (B, 3,
H, W) in [-1, 1]) is changed:

- as a picture, inputs and truth alike: mirrored, zoomed and shifted a little, its colours scaled,
  offset and given a gamma, blurred or sharpened;
- as a rendering, the inputs only: a flat disc over the lid (the mask's core replaced by its own
  heavy blur with a colour shift, the truth staying the real blink), sensor noise, JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["AugmentOptions", "augment"]


@dataclass(frozen=True)
class AugmentOptions:
    """Probabilities and ranges (images in [-1, 1])."""

    zoom: float = 0.12
    shift: float = 2.0
    gain: float = 0.2
    offset: float = 0.1
    gamma: float = 0.35
    sharpness: float = 0.6
    disc: float = 1.0 / 3.0
    disc_shift: float = 0.15
    noise: float = 0.03
    jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (35, 90)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(int(np.ceil(3 * sigma)), 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = (g / g.sum()).repeat(x.shape[1], 1)
    x = F.pad(x, (radius,) * 4, mode="replicate")
    x = F.conv2d(x, g[:, None, None, :], groups=x.shape[1])
    return F.conv2d(x, g[:, None, :, None], groups=x.shape[1])


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, *shape, generator=generator)


def _geometry(stack: torch.Tensor, opts: AugmentOptions, generator: torch.Generator) -> torch.Tensor:
    """Mirror half, zoom by 1 +- zoom and shift by +- shift px, every channel alike."""
    n, _, h, w = stack.shape
    flip = torch.rand(n, generator=generator) < 0.5
    stack = torch.where(flip[:, None, None, None], stack.flip(3), stack)
    zoom = _uniform(n, 1 - opts.zoom, 1 + opts.zoom, generator)
    shift = _uniform(n, -opts.shift, opts.shift, generator, 2) * torch.tensor([2.0 / w, 2.0 / h])
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / zoom
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(stack.shape), align_corners=False)
    return F.grid_sample(stack, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _picture(images: torch.Tensor, opts: AugmentOptions, generator: torch.Generator) -> torch.Tensor:
    """(n, k, 3, h, w): the same colour and sharpness change for the k images of each sample."""
    n = images.shape[0]
    gain = _uniform(n, 1 - opts.gain, 1 + opts.gain, generator, 1, 3, 1, 1)
    offset = _uniform(n, -opts.offset, opts.offset, generator, 1, 3, 1, 1)
    gamma = torch.exp(_uniform(n, -opts.gamma, opts.gamma, generator, 1, 1, 1, 1))
    unit = ((images + 1) / 2).clamp(0, 1) ** gamma
    images = (unit * gain * 2 - 1 + offset).clamp(-1, 1)
    amount = _uniform(n, -1.0, 1.5, generator)  # < 0: blur, > 0: unsharp mask
    use = torch.rand(n, generator=generator) < opts.sharpness
    flat = images.flatten(0, 1)
    soft = _blur(flat, 1.0).view_as(images)
    amount = torch.where(use, amount, torch.zeros(n))[:, None, None, None, None]
    changed = torch.where(amount < 0, images + (-amount) * (soft - images), images + amount * (images - soft))
    return changed.clamp(-1, 1)


def _disc(
    geo: torch.Tensor, mask: torch.Tensor, opts: AugmentOptions, generator: torch.Generator
) -> torch.Tensor:
    """A flat painted disc over the lid of some samples: its own heavy blur, colour-shifted."""
    n = geo.shape[0]
    use = (torch.rand(n, generator=generator) < opts.disc)[:, None, None, None]
    core = (mask.clamp(0, 1) ** 2) * use
    shift = _uniform(n, -opts.disc_shift, opts.disc_shift, generator, 3, 1, 1)
    flat = _blur(geo, 4.0) + shift
    return (geo * (1 - core) + flat * core).clamp(-1, 1)


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    rgb = ((image.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    back = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1] if ok else rgb
    return torch.from_numpy(back.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)


def augment(
    inputs: torch.Tensor,
    truth: torch.Tensor,
    generator: torch.Generator,
    opts: AugmentOptions | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmented copies of a batch (module docstring)."""
    opts = opts or AugmentOptions()
    stack = _geometry(torch.cat([inputs, truth], dim=1), opts, generator)
    geo, src, mask, real = stack[:, :3], stack[:, 3:6], stack[:, 6:7], stack[:, 7:]
    images = _picture(torch.stack([geo, src, real], dim=1), opts, generator)
    geo, src, real = images[:, 0], images[:, 1], images[:, 2]
    geo = _disc(geo, mask, opts, generator)
    n = len(geo)
    sigma = _uniform(n, 0.0, opts.noise, generator)[:, None, None, None, None]
    pair = torch.stack([geo, src], dim=1)
    pair = pair + sigma * torch.randn(pair.shape, generator=generator)
    pair = pair.clamp(-1, 1)
    squeeze = torch.rand(n, generator=generator) < opts.jpeg
    lo, hi = opts.jpeg_quality
    qualities = torch.randint(lo, hi + 1, (n,), generator=generator)
    for i in torch.nonzero(squeeze).flatten().tolist():
        pair[i, 0], pair[i, 1] = _jpeg(pair[i, 0], int(qualities[i])), _jpeg(pair[i, 1], int(qualities[i]))
    return torch.cat([pair[:, 0], pair[:, 1], mask.clamp(0, 1)], dim=1), real
