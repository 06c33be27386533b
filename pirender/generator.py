"""The PIRenderer generator (paper section 3): mapping + warping + editing networks.

`PIRenderer(source, descriptor)` returns a `RenderOutput` whose fields can be read by attribute
and by key. `PIRenderer.from_checkpoint(path)` loads the public checkpoint or our own format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pirender.config import GeneratorConfig
from pirender.editing import EditingNet
from core.errors import InputError
from pirender.flow import flow_to_deformation, remap_by_flow, warp_image
from pirender.mapping import MappingNet
from pirender.warping import WarpingNet

__all__ = ["PIRenderer", "RenderOutput", "SourceFeatures", "check_source", "check_descriptor"]


@dataclass
class RenderOutput(Mapping):
    """What the generator returns.

    flow_field: (B, 2, H/s, W/s) backward flow in pixels of its grid (s = config.flow_stride);
    None for a geometric-warp generator (the warp was computed outside the network).
    warp_image: (B, 3, H, W) the source warped by the flow, in [-1, 1].
    fake_image: (B, 3, H, W) the final image in [-1, 1] (None when only the warping stage ran).
    """

    flow_field: torch.Tensor | None
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
        raise InputError(f"source must be a torch.Tensor (B, 3, H, W) in [-1, 1], got {type(source).__name__}")
    if source.ndim != 4 or source.shape[1] != config.image_nc:
        raise InputError(f"source must have shape (B, {config.image_nc}, H, W), got {tuple(source.shape)}")
    if not source.is_floating_point():
        raise InputError(f"source must be a float tensor in [-1, 1] (x / 127.5 - 1), got dtype {source.dtype}")
    multiple = config.edit_scale * 2 ** max(config.warping.encoder_layers, config.editing.layers)
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
    """Source-only tensors cached by a render session: the image and its first-layer features
    (`warp_feature` is None for a geometric-warp generator, which has no warping network;
    `edit_feature` None for one without colour correction, which has no editing network)."""

    source: torch.Tensor
    warp_feature: torch.Tensor | None
    edit_feature: torch.Tensor | None

    def expand_to(self, batch: int) -> SourceFeatures:
        """Broadcast a batch-1 source over `batch` targets."""
        if self.source.shape[0] == batch:
            return self
        if self.source.shape[0] != 1:
            raise InputError(f"source batch ({self.source.shape[0]}) and descriptor batch ({batch}) differ")
        return SourceFeatures(
            *(None if t is None else t.expand(batch, *t.shape[1:]) for t in (self.source, self.warp_feature, self.edit_feature))
        )


#: Change of a pixel (in [-1, 1] units, about 2.5 grey levels) that counts as "moved by the geometric warp".
MOTION_THRESHOLD = 0.02


class PIRenderer(nn.Module):
    """Portrait renderer driven by 3DMM motion descriptors.

    Call with `source` (B, 3, H, W) in [-1, 1] and `descriptor` (B, C, window); a source batch of 1
    is broadcast over the descriptors. A geometric-warp generator (`config.warp_source ==
    "geometric"`) also takes `warped` (B, 3, H, W): the geometric preview of each target.
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig.released()
        self.mapping_net = MappingNet(self.config.mapping)
        self.warping_net = WarpingNet(self.config) if not self.config.geometric_warp else None
        if self.config.refine_warp:  # residual flow over the geometric warp, from (source, warp)
            self.warping_net = WarpingNet(replace(self.config, image_nc=2 * self.config.image_nc))
            nn.init.zeros_(self.warping_net.flow_out[2].weight)
            nn.init.zeros_(self.warping_net.flow_out[2].bias)
        self.editing_net = EditingNet(self.config) if self.config.colour_correction else None

    def encode_motion(self, descriptor: torch.Tensor) -> torch.Tensor:
        """descriptor (B, C, window) -> latent z (B, D, 1)."""
        return self.mapping_net(descriptor)

    def prepare_source(self, source: torch.Tensor) -> SourceFeatures:
        """Everything that depends on the source image only; compute once per photo."""
        check_source(source, self.config)
        warp_feature = None if self.config.geometric_warp else self.warping_net.source_feature(source)
        edit_feature = None
        if self.editing_net is not None:
            edit_feature = self.editing_net.source_feature(self._to_edit_scale(source))
        return SourceFeatures(source, warp_feature, edit_feature)

    def _refine_geometric(
        self,
        prepared: SourceFeatures,
        warped: torch.Tensor,
        z: torch.Tensor,
        warp_only: bool,
        face_mask: torch.Tensor | None = None,
        person_mask: torch.Tensor | None = None,
    ) -> RenderOutput:
        """Residual flow, then residual correction, of the geometric warp (both confined to the
        region the warp changed when `config.motion_mask` > 0; the flow kept off `face_mask`
        when `config.flow_outside_face`, and near `person_mask` when `config.flow_person_margin`)."""
        mask = self._motion_mask(prepared.source, warped)
        flow = None
        if self.warping_net is not None:
            flow = self._residual_flow(prepared.source, warped, z)
            if mask is not None:
                flow = flow * F.interpolate(mask, size=flow.shape[-2:], mode="area")
            if face_mask is not None:
                flow = flow * (1.0 - self._face_cells(face_mask, flow.shape[-2:]))
            if person_mask is not None:
                flow = flow * self._person_region(person_mask, flow.shape[-2:])
            warped = remap_by_flow(warped, flow)
        if warp_only:
            return RenderOutput(flow, warped)
        if self.editing_net is None:  # no colour correction: the moved warp is the result
            return RenderOutput(flow, warped, warped)
        small = self._to_edit_scale(warped)
        correction = self.editing_net.forward_from_source_feature(prepared.edit_feature, small, z) - small
        if mask is not None:
            correction = correction * mask
        if self.config.edit_scale != 1:  # computed at low resolution, added to the full-resolution warp
            correction = F.interpolate(correction, size=warped.shape[-2:], mode="bilinear", align_corners=False)
        return RenderOutput(flow, warped, warped + correction)

    def _motion_mask(self, source: torch.Tensor, warped: torch.Tensor) -> torch.Tensor | None:
        """(B, 1, h, w) in [0, 1] at the editing resolution: where the geometric warp changed the
        source (by more than MOTION_THRESHOLD), grown by `config.motion_mask` pixels, soft-edged.
        Outside it the refiner leaves the preview (there: the photo itself) untouched."""
        r = int(self.config.motion_mask)
        if r <= 0:
            return None
        diff = (self._to_edit_scale(warped) - self._to_edit_scale(source)).abs().amax(dim=1, keepdim=True)
        grown = F.max_pool2d((diff > MOTION_THRESHOLD).to(diff.dtype), 2 * r + 1, stride=1, padding=r)
        soft = max(1, r // 2)
        return F.avg_pool2d(grown, 2 * soft + 1, stride=1, padding=soft, count_include_pad=False)

    @staticmethod
    def _face_cells(face_mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, 1, h, w) on the flow grid: 1 on every cell that touches the face and on their
        neighbours, so that the bilinearly upsampled flow is exactly zero on the face itself."""
        cells = F.adaptive_max_pool2d(face_mask, size)
        return F.max_pool2d(cells, 3, stride=1, padding=1)

    def _person_region(self, person_mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, 1, h, w) on the flow grid: the person (probability > 0.5) grown by
        `config.flow_person_margin` pixels, area-averaged onto the grid (a soft edge)."""
        r = int(self.config.flow_person_margin)
        grown = F.max_pool2d((person_mask > 0.5).to(person_mask.dtype), 2 * r + 1, stride=1, padding=r)
        return F.interpolate(grown, size=size, mode="area")

    def _residual_flow(self, source: torch.Tensor, warped: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(B, 2, h, w) residual flow in full-image pixels, from the source and its geometric warp."""
        both = torch.cat([self._to_edit_scale(source), self._to_edit_scale(warped)], dim=1)
        net = self.warping_net
        return net.flow_from_feature(net.source_feature(both), z) * float(self.config.edit_scale)

    def _to_edit_scale(self, image: torch.Tensor) -> torch.Tensor:
        """Image at the editing network's resolution (antialiased bilinear when `edit_scale` > 1)."""
        s = self.config.edit_scale
        if s == 1:
            return image
        return F.interpolate(image, scale_factor=1.0 / s, mode="bilinear", antialias=True, align_corners=False)

    def render_prepared(
        self,
        prepared: SourceFeatures,
        descriptor: torch.Tensor,
        *,
        warp_only: bool = False,
        warped: torch.Tensor | None = None,
        face_mask: torch.Tensor | None = None,
        person_mask: torch.Tensor | None = None,
    ) -> RenderOutput:
        """Render targets `descriptor` (B, C, window) for a prepared source (batch 1 or B);
        `warped` (B, 3, H, W) in [-1, 1] is the geometric warp, for geometric-warp generators only;
        `face_mask` (B, 1, H, W) in [0, 1] marks each target's face, for `config.flow_outside_face`
        (`pipeline.geometric.GeometricRenderer.face_mask`); `person_mask` (1 or B, 1, H, W) in [0, 1]
        marks the person in the source photo, for `config.flow_person_margin`
        (`reconstruction.segmentation.PersonSegmenter`)."""
        check_descriptor(descriptor, self.config)
        prepared = prepared.expand_to(descriptor.shape[0])
        z = self.encode_motion(descriptor.to(prepared.source.dtype))
        if self.config.geometric_warp:
            if warped is None:
                raise InputError(
                    "this generator refines the geometric preview: pass `warped`, the geometric warp of each "
                    "target (pipeline.geometric.GeometricRenderer), or use pipeline.engines.GeometricPriorEngine"
                )
            if tuple(warped.shape) != (descriptor.shape[0], *prepared.source.shape[1:]):
                raise InputError(
                    f"warped must have shape {(descriptor.shape[0], *prepared.source.shape[1:])}, got {tuple(warped.shape)}"
                )
            face_mask = self._check_face_mask(face_mask, warped)
            person_mask = self._check_person_mask(person_mask, warped)
            return self._refine_geometric(
                prepared, warped.to(prepared.source.dtype), z, warp_only, face_mask, person_mask
            )
        if warped is not None or face_mask is not None or person_mask is not None:
            raise InputError(
                "`warped`, `face_mask` and `person_mask` are only for geometric-warp generators; this one has a warping network"
            )
        flow = self.warping_net.flow_from_feature(prepared.warp_feature, z)
        warped = warp_image(prepared.source, flow_to_deformation(flow))
        if warp_only:
            return RenderOutput(flow, warped)
        fake = self.editing_net.forward_from_source_feature(prepared.edit_feature, warped, z)
        return RenderOutput(flow, warped, fake)

    def _check_face_mask(self, face_mask: torch.Tensor | None, warped: torch.Tensor) -> torch.Tensor | None:
        """The face mask as (B, 1, H, W) of the warp's dtype when the config uses one, else None."""
        if not self.config.flow_outside_face:
            return None
        expected = (warped.shape[0], 1, *warped.shape[-2:])
        if face_mask is None:
            raise InputError(
                "this generator keeps its flow off the face: pass `face_mask` (B, 1, H, W) in [0, 1], the "
                "target face of each warp (pipeline.geometric.GeometricRenderer.face_mask)"
            )
        if tuple(face_mask.shape) != expected:
            raise InputError(f"face_mask must have shape {expected}, got {tuple(face_mask.shape)}")
        return face_mask.to(warped.dtype)

    def _check_person_mask(self, person_mask: torch.Tensor | None, warped: torch.Tensor) -> torch.Tensor | None:
        """The source's person mask as (1 or B, 1, H, W) of the warp's dtype when the config uses one,
        else None (a batch-1 mask is grown once and broadcast over the targets)."""
        if not self.config.flow_person_margin:
            return None
        if person_mask is None:
            raise InputError(
                "this generator keeps its flow near the person: pass `person_mask` (1 or B, 1, H, W) in [0, 1], "
                "the person in the source photo (reconstruction.segmentation.PersonSegmenter)"
            )
        b, h, w = warped.shape[0], *warped.shape[-2:]
        if person_mask.ndim != 4 or tuple(person_mask.shape[1:]) != (1, h, w) or person_mask.shape[0] not in (1, b):
            raise InputError(f"person_mask must have shape (1 or {b}, 1, {h}, {w}), got {tuple(person_mask.shape)}")
        return person_mask.to(warped.dtype)

    def forward(
        self,
        source: torch.Tensor,
        descriptor: torch.Tensor,
        *,
        warp_only: bool = False,
        warped: torch.Tensor | None = None,
        face_mask: torch.Tensor | None = None,
        person_mask: torch.Tensor | None = None,
    ) -> RenderOutput:
        return self.render_prepared(
            self.prepare_source(source),
            descriptor,
            warp_only=warp_only,
            warped=warped,
            face_mask=face_mask,
            person_mask=person_mask,
        )

    # Loading and saving live in pirender.checkpoint; these are the user-facing entry points.
    @classmethod
    def from_checkpoint(
        cls, path: str | Path, config: GeneratorConfig | None = None, device: str | torch.device = "cpu"
    ) -> PIRenderer:
        """Load the public PIRender checkpoint (.pt), a bare state dict, or our safetensors format."""
        from pirender.checkpoint import load_generator

        return load_generator(path, config=config, device=device)

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> PIRenderer:
        """Load our own format: `config.json` + `model.safetensors` in a directory."""
        from pirender.checkpoint import load_pretrained

        return load_pretrained(directory, device=device)

    def save_pretrained(self, directory: str | Path, metadata: dict[str, str] | None = None) -> Path:
        """Write `config.json` + `model.safetensors` into `directory`."""
        from pirender.checkpoint import save_pretrained

        return save_pretrained(self, directory, metadata=metadata)
