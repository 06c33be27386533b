"""Eye-box metrics of the shut-lid networks (docs/LID_NET.md, docs/LID_FLOW.md, rule item 1).

Images (B, 3, H, W) in [-1, 1]: PSNR (dB, 8-bit), SSIM (Gaussian window 11, sigma 1.5, luma) and
the stlpips distance (AlexNet trunk, shift-tolerant variant of `stlpips-pytorch`, an optional
training extra that imports IPython, torchsummary and torchvision for things not used here).
LID_NET's metrics (commit 15bb372, `training/lid_pairs.py`), unchanged, so the figures compare.
"""

from __future__ import annotations

import math
import sys
import types

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "PerceptualDistance", "region_metrics"]


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB of 8-bit images (both quantised to 8 bits first)."""
    qa, qb = ((a + 1) * 127.5).round(), ((b + 1) * 127.5).round()
    mse = ((qa - qb) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(255.0**2 / mse)


def _luma(x: torch.Tensor) -> torch.Tensor:
    rgb = ((x + 1) * 127.5).round()
    return (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]).double()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) SSIM on luma (0-255), Gaussian window 11, sigma 1.5, valid positions only."""
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :])[None, None]
    x, y = _luma(a), _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = F.conv2d(x, window), F.conv2d(y, window)
    sxx = F.conv2d(x * x, window) - mx**2
    syy = F.conv2d(y * y, window) - my**2
    sxy = F.conv2d(x * y, window) - mx * my
    value = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return value.flatten(1).mean(1).float()


def _stand_in(name: str, **attributes: object) -> None:
    """An empty module for an import of stlpips that the shift-tolerant AlexNet does not use,
    when the real one is absent."""
    if name in sys.modules:
        return
    try:
        __import__(name)
    except ImportError:
        module = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(module, key, value)
            if isinstance(value, types.ModuleType):
                sys.modules[f"{name}.{key}"] = value
        sys.modules[name] = module


class PerceptualDistance(torch.nn.Module):
    """stlpips distance (AlexNet trunk, shift-tolerant), (B,) for images in [-1, 1]; the shorter
    side is resized to 64 first. Differentiable (a training loss as well as a metric).

    Needs the optional `stlpips-pytorch` package. It imports torchvision, IPython and torchsummary
    for things not used here; when they are absent, empty stand-in modules satisfy those imports
    (the shift-tolerant AlexNet and its weights come with the package).
    """

    def __init__(self) -> None:
        super().__init__()
        _stand_in("torchvision", models=types.ModuleType("torchvision.models"))
        _stand_in("IPython", embed=lambda *a, **k: None)
        _stand_in("torchsummary", summary=lambda *a, **k: None)
        from stlpips_pytorch import stlpips

        self.metric = stlpips.LPIPS(net="alex", variant="shift_tolerant", verbose=False).eval()
        for p in self.metric.parameters():
            p.requires_grad_(False)

    def forward(self, a: torch.Tensor, b: torch.Tensor, resize: bool = True) -> torch.Tensor:
        """resize=False: at the images' own size (a cheaper training loss)."""
        h, w = a.shape[2:]
        if resize and min(h, w) < 64:
            size = (round(h * 64 / min(h, w)), round(w * 64 / min(h, w)))
            a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
            b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
        return self.metric(a, b).flatten()


def region_metrics(
    out: torch.Tensor, truth: torch.Tensor, perceptual: PerceptualDistance, batch: int = 64
) -> dict[str, float]:
    """Mean PSNR, SSIM and stlpips of `out` against `truth` (B, 3, h, w) in [-1, 1]."""
    if len(out) == 0:
        return {"psnr": math.nan, "ssim": math.nan, "stlpips": math.nan, "n": 0}
    with torch.no_grad():
        dist = torch.cat(
            [perceptual(out[i : i + batch], truth[i : i + batch]) for i in range(0, len(out), batch)]
        )
    return {
        "psnr": float(psnr(out, truth).mean()),
        "ssim": float(ssim(out, truth).mean()),
        "stlpips": float(dist.mean()),
        "n": len(out),
    }
