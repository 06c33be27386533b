"""VGG feature extractors for the perceptual and style losses (paper section 3.4) and LPIPS.

Written from the VGG paper's layer tables (Simonyan & Zisserman, 2015), with torchvision's
module numbering (`features.N.weight`) so that its ImageNet files (`vgg19-dcbee923.pth`,
`vgg16-397923af.pth`) load unchanged. ImageNet weights cannot be downloaded here: they are
read from a local file when the user has one. Otherwise `perceptual_vgg19` builds a randomly
initialised but fixed VGG-19 (a "random-feature perceptual loss": random conv features still
measure local structure at several receptive-field sizes, though not the semantics ImageNet
features learned), and says so in the log; the training loss then adds L1 and MS-SSIM terms.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from core.errors import CheckpointError, WeightsNotFoundError
from weights.loading import load_safetensors, load_tensor_dict
from weights.registry import weights_dir

__all__ = [
    "VGG16_LAYOUT",
    "VGG19_LAYOUT",
    "VGG19_FILENAME",
    "VGGFeatures",
    "layer_names",
    "load_vgg_weights",
    "find_vgg19_weights",
    "perceptual_vgg19",
]

log = logging.getLogger(__name__)

#: Output channels of each 3x3 conv, "M" for a 2x2 max pool (configurations D and E of the paper).
VGG16_LAYOUT: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
)
VGG19_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip
#: torchvision's ImageNet VGG-19 file name (looked for in the weights folder).
VGG19_FILENAME = "vgg19-dcbee923.pth"
#: Environment variable naming a VGG-19 weights file.
VGG19_ENV = "PIRENDER_VGG19_WEIGHTS"

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def layer_names(layout: Sequence[int | str]) -> dict[str, int]:
    """{"relu{block}_{i}": index in `features`} for every ReLU of the layout (torchvision numbering)."""
    names: dict[str, int] = {}
    index, block, conv = 0, 1, 0
    for item in layout:
        if item == "M":
            index += 1
            block, conv = block + 1, 0
        else:
            conv += 1
            names[f"relu{block}_{conv}"] = index + 1  # conv at `index`, its ReLU right after
            index += 2
    return names


def _pools_before(layout: Sequence[int | str], index: int) -> int:
    """How many max pools come before module `index` of `features`."""
    pos, pools = 0, 0
    for item in layout:
        if pos >= index:
            break
        if item == "M":
            pools += 1
            pos += 1
        else:
            pos += 2
    return pools


class VGGFeatures(nn.Module):
    """A frozen VGG trunk returning named ReLU activations.

    Input: (B, 3, H, W) RGB in [-1, 1] (x / 127.5 - 1); it is mapped to [0, 1] and normalised with
    the ImageNet mean and std inside. Only the modules up to the deepest requested layer are built.
    """

    def __init__(
        self, layout: Sequence[int | str] = VGG19_LAYOUT, layers: Iterable[str] = ("relu5_1",)
    ) -> None:
        super().__init__()
        self.layout = tuple(layout)
        all_names = layer_names(self.layout)
        self.layers = tuple(dict.fromkeys(layers))
        unknown = [n for n in self.layers if n not in all_names]
        if unknown:
            raise CheckpointError(f"unknown VGG layers {unknown}; known: {', '.join(all_names)}")
        self.indices = {n: all_names[n] for n in self.layers}
        last = max(self.indices.values())
        modules: list[nn.Module] = []
        in_nc = 3
        for item in self.layout:
            if len(modules) > last:
                break
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules.append(nn.Conv2d(in_nc, int(item), 3, padding=1))
                modules.append(nn.ReLU(inplace=False))
                in_nc = int(item)
        self.features = nn.Sequential(*modules[: last + 1])
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.pretrained = False
        self.requires_grad_(False)
        self.eval()

    def min_input_size(self) -> int:
        """Smallest image side for which every requested layer still has at least one pixel."""
        return 2 ** _pools_before(self.layout, max(self.indices.values()))

    def train(self, mode: bool = True) -> VGGFeatures:
        """Always stays in eval mode (it is a fixed feature extractor)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> {layer name: (B, C, H / 2^p, W / 2^p)}."""
        return self.extract(((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype))

    def extract(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The same on an input already normalised the way the weights expect."""
        wanted = {i: n for n, i in self.indices.items()}
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
        return out

    def random_init(self, seed: int = 0) -> VGGFeatures:
        """Fixed random weights: He-normal (fan-in) convs, zero biases, from a private generator."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                    m.bias.zero_()
        self.pretrained = False
        return self


def _read_state(path: Path) -> Mapping[str, torch.Tensor]:
    what = "the VGG feature network"
    return load_safetensors(path, what) if path.suffix == ".safetensors" else load_tensor_dict(path, what)


def load_vgg_weights(model: VGGFeatures, path: str | Path) -> VGGFeatures:
    """Load torchvision-layout ImageNet weights (`features.N.weight/bias`; the classifier is ignored).

    Every conv the model holds must be present with the right shape, else CheckpointError.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"VGG weights file {path} does not exist")
    state = _read_state(path)
    own = model.state_dict()
    problems = []
    new = {}
    for key, value in own.items():
        src = state.get(key)
        if src is None:
            problems.append(f"missing {key}")
        elif tuple(src.shape) != tuple(value.shape):
            problems.append(f"{key}: file {tuple(src.shape)} vs model {tuple(value.shape)}")
        else:
            new[key] = src.to(value.dtype)
    if problems:
        raise CheckpointError(
            f"{path} is not a torchvision VGG file of this layout ({len(model.layout)} entries): "
            + "; ".join(problems[:6])
        )
    model.load_state_dict(new, strict=True)
    model.pretrained = True
    return model


def find_vgg19_weights(path: str | Path | None = None) -> Path | None:
    """An ImageNet VGG-19 file: `path`, else $PIRENDER_VGG19_WEIGHTS, else the weights folder; None if absent.

    An explicitly given path that does not exist raises WeightsNotFoundError.
    """
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"VGG-19 weights {p} do not exist ({_where_to_get()})")
        return p
    if os.environ.get(VGG19_ENV):
        return find_vgg19_weights(os.environ[VGG19_ENV])
    for name in (VGG19_FILENAME, "vgg19.safetensors"):
        candidate = weights_dir() / name
        if candidate.is_file():
            return candidate
    return None


def _where_to_get() -> str:
    return (
        f"put torchvision's ImageNet VGG-19 file '{VGG19_FILENAME}' (or 'vgg19.safetensors' with the same "
        f"'features.N.*' keys) in {weights_dir()}, or set {VGG19_ENV} / --loss-vgg-weights"
    )


def perceptual_vgg19(
    layers: Iterable[str], weights: str | Path | None = None, *, require: bool = False, seed: int = 0
) -> VGGFeatures:
    """The loss network: ImageNet VGG-19 when a file is found, else a fixed random VGG-19.

    `require` turns the fallback into a WeightsNotFoundError. Check `.pretrained` for which it is.
    """
    model = VGGFeatures(VGG19_LAYOUT, layers)
    path = find_vgg19_weights(weights)
    if path is not None:
        log.info("perceptual loss: ImageNet VGG-19 from %s", path)
        return load_vgg_weights(model, path)
    if require:
        raise WeightsNotFoundError(
            f"ImageNet VGG-19 weights are required but were not found: {_where_to_get()}"
        )
    log.warning(
        "perceptual loss: no ImageNet VGG-19 weights found, using a fixed random VGG-19 (seed %d) plus "
        "L1 and MS-SSIM terms; expect blurrier results than the paper's loss. To use the real loss, %s",
        seed,
        _where_to_get(),
    )
    return model.random_init(seed)
