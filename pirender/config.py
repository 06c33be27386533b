"""Architecture of the generator as frozen dataclasses, saved as `config.json` beside the weights.

The released PIRender config and a small config for tests are given as constructors; the
config also names the face model and descriptor layout the weights expect, so that the app
can refuse coefficients of another face model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import CheckpointError, InputError
from core.coefficients import BFM_DEEP3D

__all__ = ["MappingConfig", "WarpingConfig", "EditingConfig", "GeneratorConfig", "WARP_SOURCES"]

#: Where a generator's warped image comes from (see `GeneratorConfig.warp_source`).
WARP_SOURCES = ("network", "geometric")


@dataclass(frozen=True)
class MappingConfig:
    """Mapping network (paper 3.1): 1-D convs over a window of motion descriptors."""

    coeff_nc: int = 73
    descriptor_nc: int = 256
    layers: int = 3


@dataclass(frozen=True)
class WarpingConfig:
    """Warping network (paper 3.2): AdaIN hourglass predicting a flow field at 1/4 resolution."""

    encoder_layers: int = 5
    decoder_layers: int = 3
    base_nc: int = 32


@dataclass(frozen=True)
class EditingConfig:
    """Editing network (paper 3.3): encoder on source + warped image, AdaIN residual decoder."""

    layers: int = 3
    num_res_blocks: int = 2
    base_nc: int = 64
    #: The released residual block returns `x + AdaIN2(conv2(x))` and ignores its conv1/norm1 branch.
    #: Keep True for the public weights; our own models may train the full block (False).
    released_residual_quirk: bool = True
    #: Output = warped image + a learned correction (last conv zero-initialised, no tanh), so an
    #: untrained network returns the warped image unchanged. Used with `warp_source="geometric"`.
    residual: bool = False


@dataclass(frozen=True)
class GeneratorConfig:
    """The whole generator plus what its inputs mean.

    `face_model` names the 3DMM whose coefficients fill the descriptor rows; `window` is the
    number of frames (2k+1) the mapping network sees; `image_size` is the resolution it was trained at.
    `warp_source` says where the warped image comes from: "network" (the paper's warping network)
    or "geometric" (the geometric preview's mesh warp, `pipeline.geometric`, computed outside the
    network and passed in; the generator then has no warping network and the editing network
    refines that warp). `edit_scale` > 1 (geometric warp only) runs the editing network at
    image_size / edit_scale and adds its upsampled correction to the full-resolution warp.
    `refine_warp` (geometric warp only) adds a warping network (the `warping` config, fed the
    source and the geometric warp) whose residual flow, zero at the start, moves the geometric
    warp further: hair, ears and outline that the mesh does not cover. `motion_mask` > 0 confines
    both corrections to the region the geometric warp changed, grown by that many pixels (at the
    editing resolution): the background the preview keeps stays exactly the photo.
    `flow_outside_face` (with `refine_warp`) zeroes that residual flow on the target's face (the
    caller passes its mask): the face keeps the geometric warp's pose and expression exactly, the
    flow moves only hair, ears, neck and outline. `colour_correction` False (with `refine_warp`)
    builds no editing network: the output is the geometric warp moved by that flow, nothing else.
    `flow_person_margin` > 0 (with `refine_warp`) also zeroes the flow on the photo's background
    farther than that many pixels (at `image_size`) from the person (the caller passes the photo's
    person mask, `reconstruction.segmentation.PersonSegmenter`): a textured background stays still.
    """

    mapping: MappingConfig = field(default_factory=MappingConfig)
    warping: WarpingConfig = field(default_factory=WarpingConfig)
    editing: EditingConfig = field(default_factory=EditingConfig)
    image_nc: int = 3
    max_nc: int = 256
    adain_hidden: int = 128
    face_model: str = BFM_DEEP3D
    window: int = 27
    image_size: int = 256
    warp_source: str = "network"
    edit_scale: int = 1
    refine_warp: bool = False
    motion_mask: int = 0
    flow_outside_face: bool = False
    colour_correction: bool = True
    flow_person_margin: int = 0

    def __post_init__(self) -> None:
        shrink = 6 + 6 * self.mapping.layers  # conv k7 then `layers` dilated k3 convs (dilation 3)
        if self.window <= shrink:
            raise InputError(f"window {self.window} is too short for a {self.mapping.layers}-layer mapping net")
        if self.warp_source not in WARP_SOURCES:
            raise InputError(f"warp_source must be one of {', '.join(WARP_SOURCES)}, got {self.warp_source!r}")
        if self.edit_scale < 1 or (self.edit_scale != 1 and not self.geometric_warp):
            raise InputError(f"edit_scale must be 1, or an integer > 1 with warp_source='geometric'; got {self.edit_scale}")
        if self.motion_mask < 0 or (self.motion_mask and not self.geometric_warp):
            raise InputError(f"motion_mask must be 0, or > 0 with warp_source='geometric'; got {self.motion_mask}")
        if self.refine_warp and not self.geometric_warp:
            raise InputError("refine_warp needs warp_source='geometric' (it refines the geometric warp)")
        if self.flow_outside_face and not self.refine_warp:
            raise InputError("flow_outside_face needs refine_warp (it confines the residual flow)")
        if not self.colour_correction and not self.refine_warp:
            raise InputError("colour_correction=False needs refine_warp (otherwise the generator learns nothing)")
        if self.flow_person_margin < 0 or (self.flow_person_margin and not self.refine_warp):
            raise InputError(f"flow_person_margin must be 0, or > 0 with refine_warp; got {self.flow_person_margin}")
        if self.warping.decoder_layers > self.warping.encoder_layers:
            raise InputError("warping.decoder_layers cannot exceed warping.encoder_layers")

    @property
    def descriptor_nc(self) -> int:
        return self.mapping.descriptor_nc

    @property
    def flow_stride(self) -> int:
        """How many image pixels one flow-field cell spans (4 for the released config)."""
        return 2 ** (self.warping.encoder_layers - self.warping.decoder_layers)

    @property
    def coeff_nc(self) -> int:
        return self.mapping.coeff_nc

    @classmethod
    def released(cls) -> GeneratorConfig:
        """The config of the public checkpoint (22.5 M parameters, ~123 GFLOP per 256x256 frame)."""
        return cls()

    @property
    def geometric_warp(self) -> bool:
        """True when the warped image is the geometric preview's, passed in by the caller."""
        return self.warp_source == "geometric"

    @classmethod
    def geometric_refiner(
        cls,
        coeff_nc: int,
        face_model: str,
        image_size: int = 256,
        edit_scale: int = 2,
        refine_warp: bool = False,
        flow_outside_face: bool = False,
        colour_correction: bool = True,
        flow_person_margin: int = 0,
    ) -> GeneratorConfig:
        """The project's own CPU-trainable renderer over the geometric warp, run at half resolution:
        mapping net and a light residual editing net (colour and shading corrections inside the
        region the warp moved). `refine_warp` adds a light warping net with a residual flow; trained
        on the 32 people of ../shared/data it damaged edges on held-out people, so it is off by default;
        `flow_outside_face` keeps that flow off the face (hair, ears, neck and outline only);
        `colour_correction` False drops the editing net (the flow alone); `flow_person_margin`
        keeps the flow near the person (see the class docstring)."""
        return cls(
            mapping=MappingConfig(coeff_nc, 128, 3),
            warping=WarpingConfig(4, 2, 16),
            editing=EditingConfig(3, 1, 24, released_residual_quirk=False, residual=True),
            max_nc=96,
            adain_hidden=64,
            face_model=face_model,
            image_size=image_size,
            warp_source="geometric",
            edit_scale=edit_scale,
            refine_warp=refine_warp,
            motion_mask=12,
            flow_outside_face=flow_outside_face,
            colour_correction=colour_correction,
            flow_person_margin=flow_person_margin,
        )

    @classmethod
    def small(cls) -> GeneratorConfig:
        """The small conformance config (64x64 images), used in fast tests."""
        return cls(
            mapping=MappingConfig(73, 32, 3),
            warping=WarpingConfig(3, 2, 8),
            editing=EditingConfig(2, 1, 8),
            max_nc=32,
            image_size=64,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        try:
            return cls(
                mapping=MappingConfig(**data.get("mapping", {})),
                warping=WarpingConfig(**data.get("warping", {})),
                editing=EditingConfig(**data.get("editing", {})),
                **{k: v for k, v in data.items() if k not in ("mapping", "warping", "editing")},
            )
        except TypeError as exc:
            raise CheckpointError(f"config has unknown or malformed fields: {exc}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> GeneratorConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read generator config {path}: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_original(cls, cfg: dict[str, Any], **extra: Any) -> GeneratorConfig:
        """Translate the original project's config vocabulary (mapping_net/warpping_net/editing_net/common)."""
        m, w, e, c = cfg["mapping_net"], cfg["warpping_net"], cfg["editing_net"], cfg["common"]
        if c.get("use_spect"):
            raise CheckpointError("spectral-norm generators are not supported (the released config has none)")
        return cls(
            mapping=MappingConfig(m["coeff_nc"], m["descriptor_nc"], m["layer"]),
            warping=WarpingConfig(w["encoder_layer"], w["decoder_layer"], w["base_nc"]),
            editing=EditingConfig(e["layer"], e["num_res_blocks"], e["base_nc"]),
            image_nc=c["image_nc"],
            max_nc=c["max_nc"],
            **extra,
        )
