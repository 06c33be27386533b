"""Architecture of the generator as frozen dataclasses, saved as `config.json` beside the weights.

The released PIRender config and a small config for tests are given as constructors; the
config also names the face model and descriptor layout the weights expect, so that the app
can refuse coefficients of another face model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.coefficients import BFM_DEEP3D
from core.errors import CheckpointError, InputError
from weights.loading import read_json, write_json

__all__ = ["MappingConfig", "WarpingConfig", "EditingConfig", "GeneratorConfig"]

#: Fields of the unshipped own-renderer experiments (removed; the code is in commit 49ad90b) with the
#: value that meant "off": config files written before their removal carry them and still load.
_REMOVED_FIELDS = {
    "warp_source": "network",
    "edit_scale": 1,
    "refine_warp": False,
    "motion_mask": 0,
    "flow_outside_face": False,
    "colour_correction": True,
    "flow_person_margin": 0,
}
_REMOVED_EDITING_FIELDS = {"residual": False}


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


@dataclass(frozen=True)
class GeneratorConfig:
    """The whole generator plus what its inputs mean.

    `face_model` names the 3DMM whose coefficients fill the descriptor rows; `window` is the
    number of frames (2k+1) the mapping network sees; `image_size` is the resolution it was trained at.
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

    def __post_init__(self) -> None:
        shrink = 6 + 6 * self.mapping.layers  # conv k7 then `layers` dilated k3 convs (dilation 3)
        if self.window <= shrink:
            raise InputError(
                f"window {self.window} is too short for a {self.mapping.layers}-layer mapping net"
            )
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
        """Inverse of `to_dict`; CheckpointError for unknown fields or a removed experiment's model."""
        data = _without_removed(data, _REMOVED_FIELDS)
        try:
            return cls(
                mapping=MappingConfig(**data.get("mapping", {})),
                warping=WarpingConfig(**data.get("warping", {})),
                editing=EditingConfig(**_without_removed(data.get("editing", {}), _REMOVED_EDITING_FIELDS)),
                **{k: v for k, v in data.items() if k not in ("mapping", "warping", "editing")},
            )
        except TypeError as exc:
            raise CheckpointError(f"config has unknown or malformed fields: {exc}") from None

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> GeneratorConfig:
        return cls.from_dict(read_json(path, "a generator config"))

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


def _without_removed(data: dict[str, Any], removed: dict[str, Any]) -> dict[str, Any]:
    """`data` without the fields of removed experiments, which must hold their "off" value."""
    used = {k: data[k] for k in removed if k in data and data[k] != removed[k]}
    if used:
        raise CheckpointError(
            f"this generator was trained with an own-renderer experiment that was removed ({used}); "
            "the code that runs it is in commit 49ad90b (docs/OWN_RENDERER.md)"
        )
    return {k: v for k, v in data.items() if k not in removed}
