"""Image and motion metrics of the paper's evaluation (section 4.1) plus SSIM for the training loss.

Image metrics take (B, 3, H, W) float tensors in [0, 1] and return one value per image (B,):
L1 (mean absolute error), PSNR (dB; +inf for identical images), SSIM (Gaussian window 11,
sigma 1.5, K1 0.01, K2 0.03, averaged over the valid region: the definition of Wang et al.
2004, identical to `skimage.metrics.structural_similarity(gaussian_weights=True,
use_sample_covariance=False)`), MS-SSIM (Wang et al. 2003, as many scales as the image allows).

Motion metrics compare 3DMM coefficients of the generated image, re-fitted with the
reconstruction backend, with those of the driving frame: AED = mean absolute difference of the
expression coefficients, APD = mean absolute difference of the pose (3 angles in radians and 3
translations), each averaged over coefficients and then frames.

Also: cosine similarity of identity embeddings, the Frechet distance of two feature sets (FID),
and LPIPS (Zhang et al. 2018, VGG variant) when its weights are found locally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from core.errors import CheckpointError, InputError
from training.vgg import VGG16_LAYOUT, VGGFeatures, load_vgg_weights
from weights.loading import load_torch_state

__all__ = [
    "to_unit_range",
    "l1_error",
    "psnr",
    "ssim",
    "ms_ssim",
    "MS_SSIM_WEIGHTS",
    "expression_distance",
    "pose_distance",
    "cosine_similarity",
    "frechet_distance",
    "feature_statistics",
    "LPIPS",
]

#: Scale weights of MS-SSIM (Wang et al. 2003), finest first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def to_unit_range(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) or (H, W, 3) images -> float32 (B, 3, H, W) in [0, 1]."""
    t = torch.as_tensor(np.asarray(images))
    if t.dtype != torch.uint8 or t.shape[-1] != 3 or t.ndim not in (3, 4):
        raise InputError(f"expected uint8 (B, H, W, 3) images, got {t.dtype} {tuple(t.shape)}")
    if t.ndim == 3:
        t = t[None]
    return t.permute(0, 3, 1, 2).float() / 255.0


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise InputError(
            f"images must be two (B, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def l1_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) mean absolute difference of images in [0, 1]."""
    _check_pair(a, b)
    return (a - b).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """(B,) peak signal-to-noise ratio in dB; +inf where the images are identical."""
    _check_pair(a, b)
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse)).float()


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def _ssim_parts(
    a: torch.Tensor, b: torch.Tensor, data_range: float, window: int, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and mean contrast-structure term over the valid region, each (B,)."""
    c = a.shape[1]
    w = _gaussian_window(window, sigma, c, a)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, groups=c)  # "valid": no padding, as skimage crops the borders

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    return (luminance * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def ssim(
    a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """(B,) structural similarity of images in [0, data_range] (differentiable)."""
    _check_pair(a, b)
    if min(a.shape[-2:]) < window:
        raise InputError(f"SSIM needs images of at least {window} px, got {tuple(a.shape[-2:])}")
    return _ssim_parts(a, b, data_range, window, sigma)[0]


def ms_ssim(
    a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """(B,) multi-scale SSIM; uses as many of the 5 scales as keep the image >= `window` px (renormalised weights).

    Negative contrast-structure values are clamped to a small positive number so that the
    fractional powers stay defined (and the loss stays differentiable).
    """
    _check_pair(a, b)
    scales = 0
    size = min(a.shape[-2:])
    while scales < len(MS_SSIM_WEIGHTS) and size >= window:
        scales += 1
        size //= 2
    if scales == 0:
        raise InputError(f"MS-SSIM needs images of at least {window} px, got {tuple(a.shape[-2:])}")
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=a.dtype, device=a.device)
    weights = weights / weights.sum()
    values = []
    for s in range(scales):
        full, cs = _ssim_parts(a, b, data_range, window, sigma)
        values.append((full if s == scales - 1 else cs).clamp_min(1e-6))
        if s < scales - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    stacked = torch.stack(values, dim=1)  # (B, scales)
    return torch.prod(stacked ** weights[None], dim=1)


def _rows(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    return arr[None] if arr.ndim == 1 else arr


def expression_distance(result_expression: np.ndarray, target_expression: np.ndarray) -> np.ndarray:
    """(T,) AED per frame: mean |expression difference| over the E coefficients; inputs (T, E) or (E,)."""
    a, b = _rows(result_expression), _rows(target_expression)
    if a.shape != b.shape:
        raise InputError(f"expression arrays differ in shape: {a.shape} vs {b.shape}")
    return np.abs(a - b).mean(axis=1)


def pose_distance(
    result_angles: np.ndarray,
    result_translation: np.ndarray,
    target_angles: np.ndarray,
    target_translation: np.ndarray,
) -> np.ndarray:
    """(T,) APD per frame: mean |difference| over 3 angles (radians) and 3 translations."""
    a = np.concatenate([_rows(result_angles), _rows(result_translation)], axis=1)
    b = np.concatenate([_rows(target_angles), _rows(target_translation)], axis=1)
    if a.shape != b.shape or a.shape[1] != 6:
        raise InputError(
            f"pose arrays must be (T, 3) angles + (T, 3) translations of equal T, got {a.shape} vs {b.shape}"
        )
    return np.abs(a - b).mean(axis=1)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) cosine similarity of embedding rows (N, D) (or single (D,) vectors)."""
    x, y = _rows(a), _rows(b)
    num = (x * y).sum(axis=1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return num / np.maximum(den, 1e-12)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features (float64), N >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise InputError(f"need (N >= 2, D) features, got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)): the FID formula (Heusel et al. 2017)."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    cov1, cov2 = np.atleast_2d(cov1), np.atleast_2d(cov2)
    covmean = np.asarray(linalg.sqrtm(cov1 @ cov2))
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(cov1.shape[0]) * 1e-6  # a singular product: regularise, as is customary
        covmean = np.asarray(linalg.sqrtm((cov1 + offset) @ (cov2 + offset)))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))
    return max(value, 0.0)  # the distance is >= 0; a tiny negative value is round-off of sqrtm


class LPIPS(nn.Module):
    """LPIPS distance, VGG-16 variant (Zhang et al., CVPR 2018).

    Unit-normalised VGG-16 activations at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3; squared
    differences weighted per channel by learned 1x1 "lin" layers, averaged over space, summed
    over layers. Needs two local files: torchvision's `vgg16-397923af.pth` (backbone) and the
    LPIPS v0.1 `vgg.pth` (lin layers, keys `lin{k}.model.1.weight`). Input: (B, 3, H, W) in [0, 1].
    `layout` replaces the VGG-16 layout (tests use a narrow one).
    """

    LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
    _SHIFT = (-0.030, -0.088, -0.188)
    _SCALE = (0.458, 0.448, 0.450)

    def __init__(self, layout: tuple[int | str, ...] | None = None) -> None:
        super().__init__()
        self.net = VGGFeatures(layout or VGG16_LAYOUT, self.LAYERS)
        channels = [
            self.net.features[self.net.indices[n] - 1].out_channels for n in self.LAYERS
        ]  # conv before each ReLU
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels)
        self.register_buffer("shift", torch.tensor(self._SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(self._SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_files(
        cls, backbone: str | Path, lin: str | Path, layout: tuple[int | str, ...] | None = None
    ) -> LPIPS:
        """Load the VGG-16 backbone and the LPIPS lin layers (both read with weights_only=True)."""
        model = cls(layout)
        load_vgg_weights(model.net, backbone)
        state = load_torch_state(lin, "the LPIPS metric (its lin-layer file)")
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{lin} does not hold a state dict")
        for k, conv in enumerate(model.lins):
            key = f"lin{k}.model.1.weight"
            if key not in state or tuple(state[key].shape) != tuple(conv.weight.shape):
                raise CheckpointError(
                    f"{lin} is not an LPIPS v0.1 VGG lin file: {key} missing or of wrong shape"
                )
            conv.weight.data.copy_(state[key])
        return model

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B,) distances of images in [0, 1]."""
        _check_pair(a, b)

        def feats(x: torch.Tensor) -> dict[str, torch.Tensor]:
            return self.net.extract(((x * 2 - 1) - self.shift) / self.scale)

        fa, fb = feats(a), feats(b)
        total = a.new_zeros(a.shape[0])
        for name, lin in zip(self.LAYERS, self.lins, strict=True):
            na = fa[name] / (fa[name].pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb[name] / (fb[name].pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((na - nb) ** 2).mean(dim=(1, 2, 3))
        return total


def finite_mean(values: np.ndarray | list[float]) -> float:
    """Mean of the finite values (nan when there are none): PSNR of identical images is +inf."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan
