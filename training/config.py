"""Training configuration (paper section 3.4) as frozen dataclasses.

One dataclass per concern (optimiser, losses, schedule and data), nested in `TrainConfig`. The
CLI flags of `pirender train` are generated from these fields (`add_config_arguments`), and the
resolved config is saved with every checkpoint (`to_dict` / `from_dict`), so a run can be
reproduced and resumed from its checkpoint alone. No I/O happens in defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from core.errors import InputError

__all__ = [
    "OptimConfig",
    "LossConfig",
    "TrainConfig",
    "AMP_MODES",
    "add_config_arguments",
    "config_from_args",
]

#: Mixed-precision modes: "auto" = float16 autocast + grad scaling on CUDA, off on CPU.
AMP_MODES = ("auto", "off", "fp16", "bf16")

#: The VGG-19 layers of the paper's perceptual loss.
PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Layers of the Gram-matrix style loss (those of the released training code's style term).
STYLE_LAYERS = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")


@dataclass(frozen=True)
class OptimConfig:
    """Adam, step decay, gradient clipping and the generator EMA.

    lr_decay_steps: iterations after which the learning rate is multiplied by lr_decay_factor.
    grad_clip: maximum global gradient norm (0 disables clipping; the norm is logged either way).
    ema_decay: per-step decay of the exponential moving average of the generator (0 disables it).
    """

    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_steps: tuple[int, ...] = (300_000,)
    lr_decay_factor: float = 0.2
    grad_clip: float = 10.0
    ema_decay: float = 0.999


@dataclass(frozen=True)
class LossConfig:
    """Weights of the paper's losses plus the offline fallback.

    The paper: warping loss = perceptual (VGG-19 relu1_1..relu5_1, L1, 4-scale pyramid) on the
    warped image, weight 2.5; reconstruction loss = the same on the output, weight 4; style loss
    (Gram matrices) on the output, weight 1000. Without ImageNet VGG-19 weights
    (`vgg_weights` unset and none in the weights folder) a fixed random VGG-19 is used and L1 +
    multi-scale SSIM terms are added (`fallback_l1_weight`, `fallback_ssim_weight`, relative to
    the perceptual weight of the same image); `require_vgg` refuses that fallback instead.
    `pixel_only` drops the VGG terms altogether (L1 + MS-SSIM only, same weights): the fast
    choice for short CPU runs when no ImageNet VGG is at hand.
    """

    vgg_weights: str = ""
    require_vgg: bool = False
    random_vgg_seed: int = 0
    perceptual_layers: tuple[str, ...] = PERCEPTUAL_LAYERS
    num_scales: int = 4
    warp_weight: float = 2.5
    perceptual_weight: float = 4.0
    style_weight: float = 1000.0
    style_layers: tuple[str, ...] = STYLE_LAYERS
    fallback_l1_weight: float = 1.0
    fallback_ssim_weight: float = 1.0
    pixel_only: bool = False


@dataclass(frozen=True)
class TrainConfig:
    """The whole training run.

    Iterations count optimiser steps over the whole job (all processes together take one step).
    `warp_iterations` steps train mapping + warping with the warping loss only; the steps after
    them, up to `total_iterations`, train the whole generator end to end.
    `batch_size` is per process (the paper: 5 per GPU on 4 GPUs). `image_size` 0 uses the
    generator config's resolution. `color_jitter` (0..1) is the strength of a photometric change
    applied alike to every image of a training pair, so a small model cannot learn the colours of
    the few people and rooms it sees. `amp` is one of AMP_MODES.
    """

    warp_iterations: int = 200_000
    total_iterations: int = 400_000
    batch_size: int = 5
    num_workers: int = 4
    seed: int = 0
    image_size: int = 0
    color_jitter: float = 0.0
    amp: str = "auto"
    log_every: int = 100
    sample_every: int = 5_000
    checkpoint_every: int = 10_000
    keep_checkpoints: int = 3
    num_samples: int = 4
    tensorboard: bool = True
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise InputError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not 0 <= self.warp_iterations <= self.total_iterations:
            raise InputError(
                f"need 0 <= warp_iterations <= total_iterations, got {self.warp_iterations} and {self.total_iterations}"
            )
        for name in ("batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_workers < 0 or self.image_size < 0:
            raise InputError("num_workers and image_size must be >= 0")
        if not 0.0 <= self.color_jitter <= 1.0:
            raise InputError(f"color_jitter must be in [0, 1], got {self.color_jitter}")
        if len(self.loss.perceptual_layers) == 0 or self.loss.num_scales < 1:
            raise InputError("the perceptual loss needs at least one layer and one scale")
        if not 0.0 <= self.optim.ema_decay < 1.0:
            raise InputError(f"ema_decay must be in [0, 1), got {self.optim.ema_decay}")

    @classmethod
    def paper(cls) -> TrainConfig:
        """The recipe of the paper: 200k warping + 200k end-to-end iterations."""
        return cls()

    @classmethod
    def tiny(cls, **changes: Any) -> TrainConfig:
        """A few-step CPU config for tests and smoke runs (with `GeneratorConfig.small()`)."""
        base = cls(
            warp_iterations=10,
            total_iterations=20,
            batch_size=2,
            num_workers=0,
            image_size=32,
            amp="off",
            log_every=1,
            sample_every=10,
            checkpoint_every=10,
            num_samples=2,
            tensorboard=False,
            optim=OptimConfig(lr=1e-3, lr_decay_steps=(15,)),
        )
        return replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; lists become tuples again; unknown fields raise InputError."""
        return _build(cls, data)


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{cls.__name__} has no fields {unknown}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value)
        elif typing.get_origin(hint) is tuple:
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


# ---------------------------------------------------------------------------------------------
# CLI flags generated from the dataclasses: --warp-iterations, --optim-lr, --loss-vgg-weights, ...
# ---------------------------------------------------------------------------------------------


def _flag(prefix: str, name: str) -> str:
    return "--" + (prefix + name).replace("_", "-")


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def add_config_arguments(parser: argparse.ArgumentParser, cls: type = TrainConfig, prefix: str = "") -> None:
    """Add one optional flag per (nested) field of `cls`; unset flags keep the base config's value.

    The help shows the class defaults (the paper preset for TrainConfig); a resumed run keeps its saved values.
    """
    hints = typing.get_type_hints(cls)
    title = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
    group = parser.add_argument_group(f"{cls.__name__} ({title})")
    for f in fields(cls):
        hint = hints[f.name]
        dest = (prefix + f.name).replace(".", "__")
        if dataclasses.is_dataclass(hint):
            add_config_arguments(parser, hint, prefix=f"{prefix}{f.name}.")
            continue
        flag = _flag(prefix.replace(".", "-"), f.name)
        default = _default(f)
        shown = " ".join(str(v) for v in default) if isinstance(default, tuple) else default
        helptext = f"paper preset: {shown!s}" if shown != "" else "paper preset: unset"
        if typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            group.add_argument(
                flag,
                dest=dest,
                type=item,
                nargs="*",
                default=None,
                metavar=item.__name__.upper(),
                help=helptext,
            )
        elif hint is bool:
            group.add_argument(flag, dest=dest, type=_parse_bool, default=None, metavar="BOOL", help=helptext)
        elif hint in (int, float, str):
            choices = AMP_MODES if (cls is TrainConfig and f.name == "amp") else None
            metavar = None if choices else hint.__name__.upper()
            group.add_argument(
                flag, dest=dest, type=hint, default=None, choices=choices, metavar=metavar, help=helptext
            )
        else:
            raise InputError(f"unsupported config field type {hint} for {f.name}")


def config_from_args(args: argparse.Namespace, base: Any, prefix: str = "") -> Any:
    """`base` with every flag the user set (not None) applied; nested dataclasses included."""
    changes: dict[str, Any] = {}
    for f in fields(base):
        value = getattr(base, f.name)
        dest = (prefix + f.name).replace(".", "__")
        if dataclasses.is_dataclass(value):
            changes[f.name] = config_from_args(args, value, prefix=f"{prefix}{f.name}.")
            continue
        given = getattr(args, dest, None)
        if given is not None:
            changes[f.name] = tuple(given) if isinstance(given, list) else given
    return replace(base, **changes)
