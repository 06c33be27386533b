"""Loading and saving generator weights: the public PIRender checkpoint and our safetensors format.

    model = load_generator(path)          # the public .pt, a bare state dict, or our model folder
    save_pretrained(model, directory)     # our format: config.json + model.safetensors

The public checkpoint is a torch pickle holding `net_G_ema` (and `net_G`, optimiser states, ...).
It is read by `weights.loading` (`torch.load(weights_only=True)`, which refuses arbitrary objects),
then its tensor names are translated to ours and checked strictly: every missing, unexpected or
mis-shaped tensor is listed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from core.errors import CheckpointError
from pirender.config import EditingConfig, GeneratorConfig, MappingConfig, WarpingConfig
from pirender.generator import PIRenderer
from weights.loading import load_safetensors, load_torch_state, read_json, save_safetensors, write_json

__all__ = [
    "CONFIG_NAME",
    "descriptor_layout",
    "WEIGHTS_NAME",
    "from_original_keys",
    "to_original_keys",
    "infer_original_config",
    "read_original_state_dict",
    "load_generator",
    "load_pretrained",
    "save_pretrained",
    "convert_checkpoint",
]

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_TYPE = "pirender-generator"

#: (original name prefix, our name prefix), "{}" standing for a layer number, in the order they are
#: tried (the first match wins, so a longer prefix comes before a shorter one it starts with).
_PREFIXES: list[tuple[str, str]] = [
    ("mapping_net.encoder{}.", "mapping_net.encoders.{}."),
    ("warpping_net.hourglass.encoder.encoder{}.", "warping_net.hourglass.encoder.blocks.{}."),
    ("warpping_net.hourglass.decoder.decoder{}.", "warping_net.hourglass.decoder.blocks.{}."),
    ("warpping_net.", "warping_net."),
    ("editing_net.encoder.first.", "editing_net.encoder_first."),
    ("editing_net.encoder.down{}.", "editing_net.encoder_down.{}."),
    ("editing_net.decoder.up{}.", "editing_net.decoder_up.{}."),
    ("editing_net.decoder.res{}.res{}.", "editing_net.decoder_res.{}.{}."),
    ("editing_net.decoder.jump{}.", "editing_net.decoder_jump.{}."),
    ("editing_net.decoder.final.model.", "editing_net.final."),
]


def _rule(source: str, target: str) -> tuple[re.Pattern[str], str]:
    """Prefix template pair -> (regex matching `source`, replacement building `target`)."""
    pattern = "^" + re.escape(source).replace(re.escape("{}"), r"(\d+)")
    parts = target.split("{}")
    replacement = "".join(part + (f"\\{i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))
    return re.compile(pattern), replacement


_RENAMES = [_rule(original, ours) for original, ours in _PREFIXES]
_INVERSE = [_rule(ours, original) for original, ours in _PREFIXES]


def _rename(key: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in rules:
        new, n = pattern.subn(replacement, key)
        if n:
            return new
    return key


def from_original_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Translate the original generator's tensor names to ours."""
    return {_rename(k, _RENAMES): v for k, v in state.items()}


def to_original_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Translate our tensor names back to the original's (for exporting to the original code)."""
    return {_rename(k, _INVERSE): v for k, v in state.items()}


def _count(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for k in state if (m := regex.match(k))})


def infer_original_config(
    state: Mapping[str, torch.Tensor], path: str | Path = "<state dict>"
) -> GeneratorConfig:
    """Read the architecture off an original-format state dict (its tensor shapes and names)."""
    try:
        first = state["mapping_net.first.0.weight"]
        warp_in = state["warpping_net.hourglass.encoder.input_layer.weight"]
        edit_in = state["editing_net.encoder.first.model.0.weight"]
    except KeyError as exc:
        raise CheckpointError(
            f"{path} is not a PIRender generator checkpoint: tensor {exc} is missing "
            "(expected the generator's state dict under 'net_G_ema')"
        ) from None
    transposed = re.compile(r"warpping_net\.hourglass\.decoder\.decoder\d+\.conv_[1s]\.weight$")
    # Widest conv output (a conv-transpose weight stores (in, out, kh, kw)).
    max_nc = max(
        int(t.shape[1] if transposed.match(k) else t.shape[0]) for k, t in state.items() if t.ndim == 4
    )
    enc = _count(state, r"warpping_net\.hourglass\.encoder\.encoder(\d+)\.")
    dec = _count(state, r"warpping_net\.hourglass\.decoder\.decoder(\d+)\.")
    return GeneratorConfig(
        mapping=MappingConfig(
            int(first.shape[1]), int(first.shape[0]), _count(state, r"mapping_net\.encoder(\d+)\.")
        ),
        warping=WarpingConfig(enc, dec, int(warp_in.shape[0])),
        editing=EditingConfig(
            _count(state, r"editing_net\.encoder\.down(\d+)\."),
            _count(state, r"editing_net\.decoder\.res0\.res(\d+)\."),
            int(edit_in.shape[0]),
        ),
        image_nc=int(warp_in.shape[1]),
        max_nc=max_nc,
        adain_hidden=int(
            state["warpping_net.hourglass.encoder.encoder0.norm_0.mlp_shared.0.weight"].shape[0]
        ),
    )


def _strict_load(model: PIRenderer, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Load `state` into `model`, raising CheckpointError that lists every mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if tuple(state[k].shape) != tuple(own[k].shape)
    )
    problems = []
    for title, items in (
        ("missing tensors", missing),
        ("unexpected tensors", unexpected),
        ("wrong shapes", wrong),
    ):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            problems.append(f"{title}: {shown}")
    if problems:
        raise CheckpointError(
            f"{path} does not match the generator config ({model.config.coeff_nc}-row descriptor, "
            f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters): " + "; ".join(problems)
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


def read_original_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the generator tensors of a public PIRender checkpoint (or a bare state dict) without unpickling objects."""
    path = Path(path)
    blob = load_torch_state(path, "the PIRender generator")
    if not isinstance(blob, Mapping):
        raise CheckpointError(f"{path} holds a {type(blob).__name__}, not a dict of tensors")
    for key in ("net_G_ema", "net_G"):
        if key in blob:
            blob = blob[key]
            log.info("using '%s' from %s", key, path)
            break
    state = {k: v for k, v in blob.items() if isinstance(v, torch.Tensor)}
    if not state or len(state) != len(blob):
        hint = (
            " (it looks like a Deep3DFaceRecon checkpoint: it belongs to the 'deep3d' backend)"
            if "net_recon" in blob
            else ""
        )
        raise CheckpointError(
            f"{path} is not a PIRender generator checkpoint: expected a dict of tensors under 'net_G_ema' or "
            f"'net_G', found keys {list(blob)[:6]}{hint}"
        )
    return state


def load_generator(
    path: str | Path, config: GeneratorConfig | None = None, device: str | torch.device = "cpu"
) -> PIRenderer:
    """Load a generator from any supported file, detecting the format.

    - a directory with config.json + model.safetensors, or the .safetensors file itself: our format;
    - anything else: a torch checkpoint of the original project (`net_G_ema`/`net_G`) or a bare state dict.
    """
    path = Path(path)
    if path.is_dir() or path.suffix == ".safetensors":
        return load_pretrained(path if path.is_dir() else path.parent, device=device)
    state = read_original_state_dict(path)
    cfg = config or infer_original_config(state, path)
    model = PIRenderer(cfg)
    _strict_load(model, from_original_keys(state), path)
    return model.to(device).eval()


def load_pretrained(directory: str | Path, device: str | torch.device = "cpu") -> PIRenderer:
    """Load our own format (config.json + model.safetensors)."""
    directory = Path(directory)
    cfg_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for p in (cfg_path, weights_path):
        if not p.is_file():
            raise CheckpointError(f"{directory} is not a pirender model directory: {p.name} is missing")
    meta = read_json(cfg_path, "the PIRender generator")
    if meta.get("model_type") != MODEL_TYPE:
        raise CheckpointError(f"{cfg_path} describes a '{meta.get('model_type')}', not a '{MODEL_TYPE}'")
    model = PIRenderer(GeneratorConfig.from_dict(meta["generator"]))
    _strict_load(model, load_safetensors(weights_path, "the PIRender generator"), weights_path)
    return model.to(device).eval()


def save_pretrained(model: PIRenderer, directory: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write config.json + model.safetensors (float32) into `directory`; returns the directory."""
    directory = Path(directory)
    meta = {
        "model_type": MODEL_TYPE,
        "format_version": 1,
        "generator": model.config.to_dict(),
        "descriptor": descriptor_layout(model.config),
    }
    if metadata:
        meta["metadata"] = dict(metadata)
    write_json(directory / CONFIG_NAME, meta)
    state = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
    save_safetensors(state, directory / WEIGHTS_NAME, metadata={"model_type": MODEL_TYPE})
    return directory


def descriptor_layout(config: GeneratorConfig) -> dict[str, object]:
    """What the weights expect as input, written beside them for people and other tools to read:
    each frame's descriptor row layout (MotionSequence.descriptor_rows) and the window length."""
    expression = config.coeff_nc - 9
    return {
        "face_model": config.face_model,
        "window": config.window,
        "rows_per_frame": config.coeff_nc,
        "rows": {
            "expression": [0, expression],
            "angles_pitch_yaw_roll_radians": [expression, expression + 3],
            "translation": [expression + 3, expression + 6],
            "crop_scale_tx_ty": [expression + 6, expression + 9],
        },
    }


def convert_checkpoint(source: str | Path, out_dir: str | Path) -> Path:
    """Convert a public PIRender checkpoint into our safetensors format (`pirender convert`)."""
    model = load_generator(source)
    return save_pretrained(model, out_dir, metadata={"converted_from": Path(source).name})
