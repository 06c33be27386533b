"""The PIRenderer generator (paper section 3): mapping + warping + editing networks.

`PIRenderer(source, descriptor)` returns a `RenderOutput` whose fields can be read by attribute
and by key; `PIRenderer.warp(source, descriptor)` runs the warping stage alone (what the warp
pre-training phase trains). Loading and saving weights: `pirender.checkpoint`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields

import torch
from torch import nn

from core.errors import InputError
from pirender.config import GeneratorConfig
from pirender.editing import EditingNet
from pirender.flow import flow_to_deformation, warp_image
from pirender.mapping import MappingNet
from pirender.warping import WarpingNet

__all__ = ["PIRenderer", "RenderOutput", "SourceFeatures", "check_source", "check_descriptor"]


@dataclass
class RenderOutput(Mapping):
    """What the generator returns.

    flow_field: (B, 2, H/s, W/s) backward flow in pixels of its grid (s = config.flow_stride).
    warp_image: (B, 3, H, W) the source warped by the flow, in [-1, 1].
    fake_image: (B, 3, H, W) the final image in [-1, 1] (None when only the warping stage ran).
    """

    flow_field: torch.Tensor
    warp_image: torch.Tensor
    fake_image: torch.Tensor | None = None

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def _keys(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


def check_source(source: object, config: GeneratorConfig) -> torch.Tensor:
    """Validate a source image batch (B, 3, H, W) float in [-1, 1]; raise InputError saying what was expected."""
    if not isinstance(source, torch.Tensor):
        raise InputError(
            f"source must be a torch.Tensor (B, 3, H, W) in [-1, 1], got {type(source).__name__}"
        )
    if source.ndim != 4 or source.shape[1] != config.image_nc:
        raise InputError(f"source must have shape (B, {config.image_nc}, H, W), got {tuple(source.shape)}")
    if not source.is_floating_point():
        raise InputError(
            f"source must be a float tensor in [-1, 1] (x / 127.5 - 1), got dtype {source.dtype}"
        )
    multiple = 2 ** max(config.warping.encoder_layers, config.editing.layers)
    h, w = source.shape[-2:]
    if h % multiple or w % multiple or h < 2 * multiple:
        raise InputError(f"source height and width must be multiples of {multiple} (e.g. 256), got {h}x{w}")
    lo, hi = float(source.min()), float(source.max())
    if lo < -1.01 or hi > 1.01 or source.isnan().any():
        raise InputError(
            f"source values must lie in [-1, 1] (image / 127.5 - 1), got range [{lo:.3g}, {hi:.3g}]"
        )
    return source


def check_descriptor(descriptor: object, config: GeneratorConfig) -> torch.Tensor:
    """Validate a descriptor window batch (B, coeff_nc, window)."""
    if not isinstance(descriptor, torch.Tensor):
        raise InputError(f"descriptor must be a torch.Tensor (B, {config.coeff_nc}, {config.window})")
    expected = (config.coeff_nc, config.window)
    if descriptor.ndim != 3 or tuple(descriptor.shape[1:]) != expected:
        raise InputError(
            f"descriptor must have shape (B, {config.coeff_nc}, {config.window}) "
            f"({config.coeff_nc} coefficients of face model '{config.face_model}' over a {config.window}-frame "
            f"window), got {tuple(descriptor.shape)}"
        )
    if not descriptor.is_floating_point():
        raise InputError(f"descriptor must be a float tensor, got dtype {descriptor.dtype}")
    if not torch.isfinite(descriptor).all():
        raise InputError("descriptor contains NaN or infinite values")
    return descriptor


@dataclass
class SourceFeatures:
    """Source-only tensors cached by a render session: the image (B, 3, H, W) in [-1, 1] and the
    first-layer features of the warping and editing networks."""

    source: torch.Tensor
    warp_feature: torch.Tensor
    edit_feature: torch.Tensor

    def expand_to(self, batch: int) -> SourceFeatures:
        """Broadcast a batch-1 source over `batch` targets."""
        if self.source.shape[0] == batch:
            return self
        if self.source.shape[0] != 1:
            raise InputError(f"source batch ({self.source.shape[0]}) and descriptor batch ({batch}) differ")
        return SourceFeatures(
            *(t.expand(batch, *t.shape[1:]) for t in (self.source, self.warp_feature, self.edit_feature))
        )


class PIRenderer(nn.Module):
    """Portrait renderer driven by 3DMM motion descriptors.

    Call with `source` (B, 3, H, W) in [-1, 1] and `descriptor` (B, C, window); a source batch of 1
    is broadcast over the descriptors.
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig.released()
        self.mapping_net = MappingNet(self.config.mapping)
        self.warping_net = WarpingNet(self.config)
        self.editing_net = EditingNet(self.config)

    def encode_motion(self, descriptor: torch.Tensor) -> torch.Tensor:
        """descriptor (B, C, window) -> latent z (B, D, 1)."""
        return self.mapping_net(descriptor)

    def prepare_source(self, source: torch.Tensor) -> SourceFeatures:
        """Everything that depends on the source image only; compute once per photo."""
        check_source(source, self.config)
        return SourceFeatures(
            source, self.warping_net.source_feature(source), self.editing_net.source_feature(source)
        )

    def _warp_stage(
        self, prepared: SourceFeatures, descriptor: torch.Tensor
    ) -> tuple[SourceFeatures, torch.Tensor, RenderOutput]:
        """(source features broadcast over the batch, z (B, D, 1), flow and warped source)."""
        check_descriptor(descriptor, self.config)
        prepared = prepared.expand_to(descriptor.shape[0])
        z = self.encode_motion(descriptor.to(prepared.source.dtype))
        flow = self.warping_net.flow_from_feature(prepared.warp_feature, z)
        return prepared, z, RenderOutput(flow, warp_image(prepared.source, flow_to_deformation(flow)))

    def warp_prepared(self, prepared: SourceFeatures, descriptor: torch.Tensor) -> RenderOutput:
        """The warping stage alone (mapping + warping networks): flow and warped source, no fake image."""
        return self._warp_stage(prepared, descriptor)[2]

    def render_prepared(self, prepared: SourceFeatures, descriptor: torch.Tensor) -> RenderOutput:
        """Render targets `descriptor` (B, C, window) for a prepared source (batch 1 or B)."""
        prepared, z, out = self._warp_stage(prepared, descriptor)
        out.fake_image = self.editing_net.forward_from_source_feature(
            prepared.edit_feature, out.warp_image, z
        )
        return out

    def warp(self, source: torch.Tensor, descriptor: torch.Tensor) -> RenderOutput:
        """The warping stage alone on a source batch (what the warp pre-training phase trains)."""
        return self.warp_prepared(self.prepare_source(source), descriptor)

    def forward(self, source: torch.Tensor, descriptor: torch.Tensor) -> RenderOutput:
        return self.render_prepared(self.prepare_source(source), descriptor)
