"""A small warping network for shut lids: it moves the photo's own pixels, it paints none (off by
default, `PreviewSettings.lid_flow`, docs/LID_FLOW.md).

Two shut-lid networks that output pixels (docs/LID_NET.md) painted smudges and bands on photos
unlike their training clips. This one outputs only where each lid pixel is read from: per eye the
target shuts (`lid_flow_geometry.net_inputs`: the 64 x 40 box of the geometric output, the photo's
open eye, the lid mask, the geometric flow, the lash band), a CNN whose normalisations are
AdaIN-modulated (PIRenderer section 3.1) by a mapping network's latent of the eye's closure and
the photo's exposure predicts, on a coarse 10 x 16 grid (smooth by construction), a bounded
offset in box pixels added to the geometric engine's backward flow, and a gate in [0, 1].
`retouch_shut_lids` blends it in: inside the lid mask (feathered), outside the lash band, times
the gate, the flow becomes flow + offset and the engine's painted lid fades out, so the photo is
read through the new flow at its own resolution (`warp_photo`) and the lash line stays the
engine's; outside the mask nothing changes.

Weights: `config.json` (`LidFlowConfig`) beside `model.safetensors` in `weights/files/lid_flow`,
read through `weights.loading` (never unpickled).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.errors import CheckpointError, WeightsNotFoundError
from pipeline.lid_flow_geometry import EyeInputs, Lids, closure, condition, net_inputs, shut_lids
from pirender.blocks import AdaIN, activation
from weights.loading import load_safetensors, read_json, save_safetensors, write_json
from weights.registry import bundled_dir

__all__ = [
    "LID_FLOW_DIR",
    "LidFlowConfig",
    "LidFlowNet",
    "bundled_lid_flow",
    "shared_lid_flow",
    "blend_weight",
    "retouch_shut_lids",
    "lid_flow_retouch",
]

#: Where the shipped weights live (under `weights/files`).
LID_FLOW_DIR = "lid_flow"
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class LidFlowConfig:
    """latent_nc: the mapping net's latent; channels: the first stage's width (x2, x3 below);
    bound: the largest offset, box pixels (the eye's width is 40); gate_bias: the gate's starting
    logit; scale_range: the contrast scale's floor and ceiling (`LidFlowNet.normalise`);
    face_model: the coefficients' face model the weights were trained with."""

    latent_nc: int = 32
    channels: int = 16
    bound: float = 10.0
    gate_bias: float = 2.0
    scale_range: tuple[float, float] = (0.04, 0.35)
    face_model: str = "pirender-mesh-v1"
    #: closure of the eye, the photo's exposure.
    condition_nc = 2
    #: geometric patch (3), photo's open eye (3), lid mask (1), geometric flow (2), lash band (1),
    #: the geometric read in the hidden eyeball (1).
    input_nc = 11

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LidFlowConfig:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise CheckpointError(f"lid flow config has unknown keys {unknown}; reinstall the weights")
        data = dict(data)
        if "scale_range" in data:
            data["scale_range"] = tuple(data["scale_range"])
        return cls(**data)


class _Block(nn.Module):
    """conv 3x3 (stride 1 or 2) -> AdaIN(z) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, latent_nc: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.norm = AdaIN(cout, latent_nc, hidden=32)
        self.act = activation()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x), z))


class LidFlowNet(nn.Module):
    """(inputs (B, 11, 40, 64), condition (B, 2)) -> (offset (B, 2, 40, 64) in box pixels, bounded
    by `bound`; gate (B, 1, 40, 64) in [0, 1]; the coarse (B, 2, 10, 16) offset, for a smoothness
    term). Both fields are made on the 10 x 16 grid and upsampled bilinearly: nothing finer than a
    cell of 4 box pixels can bend the read, so the photo's texture moves as a whole. The head starts
    at zero offset (the geometric flow itself)."""

    def __init__(self, config: LidFlowConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LidFlowConfig()
        c, d = config.channels, config.latent_nc
        self.mapping = nn.Sequential(
            nn.Linear(config.condition_nc, d), activation(), nn.Linear(d, d), activation(), nn.Linear(d, d)
        )
        self.enc0 = _Block(config.input_nc, c, d)  # 40 x 64
        self.enc1 = _Block(c, 2 * c, d, stride=2)  # 20 x 32
        self.enc2 = _Block(2 * c, 3 * c, d, stride=2)  # 10 x 16
        self.mid0 = _Block(3 * c, 3 * c, d)
        self.mid1 = _Block(3 * c, 3 * c, d)
        self.head = nn.Conv2d(3 * c, 3, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def normalise(self, inputs: torch.Tensor) -> torch.Tensor:
        """Each picture minus its own mean colour (the geometric patch's inside the mask) over the
        luma spread of the photo's open eye: the network sees no exposure or white balance."""
        geo, src, mask = inputs[:, :3], inputs[:, 3:6], inputs[:, 6:7]
        weight = mask + 1e-3
        mean_geo = (geo * weight).sum((2, 3), keepdim=True) / weight.sum((2, 3), keepdim=True)
        luma = torch.tensor(_LUMA, dtype=src.dtype, device=src.device)[None, :, None, None]
        spread = (src * luma).sum(1, keepdim=True).flatten(1).std(1)[:, None, None, None]
        scale = spread.clamp(*self.config.scale_range)
        src = src - src.mean((2, 3), keepdim=True)
        return torch.cat([(geo - mean_geo) / scale, src / scale, inputs[:, 6:]], dim=1)

    def forward(
        self, inputs: torch.Tensor, cond: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cfg = self.config
        z = self.mapping(cond)
        x = self.enc2(self.enc1(self.enc0(self.normalise(inputs), z), z), z)
        raw = self.head(self.mid1(self.mid0(x, z), z))
        coarse = cfg.bound * torch.tanh(raw[:, :2])
        gate = torch.sigmoid(raw[:, 2:3] + cfg.gate_bias)
        size = inputs.shape[2:]
        offset = nn.functional.interpolate(coarse, size=size, mode="bilinear", align_corners=False)
        gate = nn.functional.interpolate(gate, size=size, mode="bilinear", align_corners=False)
        return offset, gate, coarse

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_json(folder / "config.json", self.config.to_dict())
        save_safetensors(self.state_dict(), folder / "model.safetensors")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> LidFlowNet:
        """Load `config.json` + `model.safetensors` with the safe loader: WeightsNotFoundError when
        a file is missing, CheckpointError when it is broken or does not match the config."""
        folder = Path(folder)
        what = "the lid flow network"
        model = cls(LidFlowConfig.from_dict(read_json(folder / "config.json", what)))
        state = load_safetensors(folder / "model.safetensors", what)
        expected = model.state_dict()
        wrong = sorted(set(expected) ^ set(state)) or [
            k for k, v in state.items() if v.shape != expected[k].shape
        ]
        if wrong:
            raise CheckpointError(
                f"{folder.name}/model.safetensors does not match the lid flow network's config "
                f"(first mismatch: '{wrong[0]}'); reinstall the weights"
            )
        model.load_state_dict(state)
        return model.eval()


def bundled_lid_flow(face_model: str, folder: Path | None = None) -> LidFlowNet | None:
    """The network in `weights/files/lid_flow` (or `folder`) trained for `face_model`; None for
    another face model. WeightsNotFoundError when its files are missing, CheckpointError when broken."""
    folder = folder or bundled_dir() / LID_FLOW_DIR
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise WeightsNotFoundError(
            f"the lid flow network's files (config.json, model.safetensors) are missing from "
            f"'{folder.name}'; reinstall the package or turn it off (PreviewSettings(lid_flow=False))"
        )
    model = LidFlowNet.from_pretrained(folder)
    return model if model.config.face_model == face_model else None


_SHARED: dict[str, LidFlowNet | None] = {}
_SHARED_LOCK = threading.Lock()


def shared_lid_flow(face_model: str) -> LidFlowNet | None:
    """The bundled network, loaded once per process and shared read-only (it holds no state)."""
    with _SHARED_LOCK:
        if face_model not in _SHARED:
            _SHARED[face_model] = bundled_lid_flow(face_model)
        return _SHARED[face_model]


def blend_weight(inputs: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W): where the network's read replaces the geometric output, the lid mask times
    one minus the lash band times the gate (the box form of `EyeInputs.weight`)."""
    return inputs[:, 6:7] * (1.0 - inputs[:, 9:10]) * gate


@torch.inference_mode()
def retouch_shut_lids(
    model: LidFlowNet,
    out: np.ndarray,
    cover: np.ndarray,
    flow: np.ndarray,
    source: np.ndarray,
    eyes: list[tuple[EyeInputs, np.ndarray]],
    skin: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply the network to each shut eye: returns (the new (H, W, 2) flow, the new skin mask).
    In place: `out` (H, W, 3) uint8 crop becomes the photo read through the new flow inside the
    blend weight, `cover` (the painted overlay's coverage) fades there; nothing changes where the
    weight is zero. eyes: (`net_inputs`, condition) per eye; source: the photo's crop."""
    x = torch.from_numpy(np.stack([e.inputs for e, _ in eyes])).permute(0, 3, 1, 2)
    c = torch.from_numpy(np.stack([cond for _, cond in eyes]))
    offset, gate, _ = model(x, c)
    fields = torch.cat([offset, gate], dim=1).permute(0, 2, 3, 1).numpy()  # (E, 40, 64, 3)
    flow = flow.copy()
    skin = None if skin is None else skin.copy()
    for (e, _), field in zip(eyes, fields, strict=True):
        x0, y0, x1, y1 = e.box
        m = e.matrix.copy()
        m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)  # region pixel -> box pixel
        back = cv2.warpAffine(
            np.ascontiguousarray(field), m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        weight = e.weight * back[:, :, 2]
        shift = back[:, :, :2] @ np.linalg.inv(e.matrix[:, :2]).T.astype(np.float32)  # box px -> crop px
        region = flow[y0:y1, x0:x1]
        region += shift * weight[:, :, None]
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        read = cv2.remap(
            source,
            gx + region[..., 0],
            gy + region[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        w3 = weight[:, :, None]
        patch = out[y0:y1, x0:x1].astype(np.float32) * (1.0 - w3) + read.astype(np.float32) * w3
        out[y0:y1, x0:x1] = np.clip(np.round(patch), 0, 255).astype(np.uint8)
        cover[y0:y1, x0:x1] *= 1.0 - weight
        if skin is not None:
            skin[y0:y1, x0:x1] *= 1.0 - weight
    return flow, skin


def lid_flow_retouch(
    face_model: str,
    state: object,
    target_points: np.ndarray,
    layout_eyes: tuple[tuple[np.ndarray, np.ndarray], ...],
    out: np.ndarray,
    cover: np.ndarray,
    flow: np.ndarray,
    hidden: np.ndarray,
    skin: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The geometric renderer's one call (`PreviewSettings.lid_flow`): the bundled network over the
    shut lids of one frame (`retouch_shut_lids`); (flow, skin) unchanged when no eye is shut or in
    the crop. state: the renderer's `PreviewState` (points, source, exposure, wide)."""
    model = shared_lid_flow(face_model)
    eyes: list[tuple[EyeInputs, np.ndarray]] = []
    for _, source_lids, target_lids in shut_lids(state.points, target_points, layout_eyes, state.wide):
        made = net_inputs(out, state.source, flow, hidden, source_lids, target_lids)
        if made is not None:
            eyes.append((made, _descriptor(source_lids, target_lids, state.exposure)))
    if model is None or not eyes:
        return flow, skin
    return retouch_shut_lids(model, out, cover, flow, state.source, eyes, skin)


def _descriptor(source_lids: Lids, target_lids: Lids, exposure: float) -> np.ndarray:
    return condition(closure(source_lids, target_lids), exposure)
