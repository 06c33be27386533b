"""A small network that chooses the painted mouth's look (`pipeline.mouth_look.MouthLook`).

It predicts no pixels: from the photo's own mouth region (its closed lips, the skin and light
around them, cut from the source crop) and a latent that a mapping network computes from the
target's opening, the photo's lip colour and its exposure (AdaIN modulation, as in PIRenderer's
section 3.1), it outputs the painter's appearance parameters, each squashed into its range
(`LOOK_RANGES`). The geometric painter (`pipeline.mouth_paint`) then draws its shaded cavity and
procedural teeth with them, so nothing it outputs can mottle or soften the paint.

Images in the network are (B, 3, size, size) in [-1, 1]. Weights: `config.json`
(`MouthLookConfig`) beside `model.safetensors`, read through `weights.loading`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.errors import CheckpointError, WeightsNotFoundError
from pipeline.mouth_look import LOOK_RANGES, MouthLook, look_size
from pirender.blocks import AdaIN, activation
from weights.loading import load_safetensors, read_json, save_safetensors, write_json
from weights.registry import bundled_dir

__all__ = [
    "MouthLookConfig",
    "MouthLookNet",
    "LOOK_DIR",
    "bundled_look_net",
    "source_patch",
    "look_condition",
    "mouth_opening",
    "lip_colour",
    "predict_look",
]

#: Where the shipped weights live (under `weights/files`).
LOOK_DIR = "mouth_look"


@dataclass(frozen=True)
class MouthLookConfig:
    """latent_nc: the mapping net's latent; channels: the first conv stage's width (doubled per
    stride-2 stage up to 4x); size: the photo's mouth patch side, pixels; mouth_margin: its side
    over the lips' width; face_model: the coefficients' face model."""

    latent_nc: int = 32
    channels: int = 16
    size: int = 64
    mouth_margin: float = 1.6
    face_model: str = "pirender-mesh-v1"

    #: Target opening (x 10), the photo's lip RGB (/ 255), its exposure.
    condition_nc = 5

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MouthLookConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"mouth look config has unknown keys {unknown}; reinstall the weights")
        return cls(**data)


class _Stage(nn.Module):
    """stride-2 conv -> AdaIN(z) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, latent_nc: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.norm = AdaIN(cout, latent_nc, hidden=32)
        self.act = activation()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x), z))


class MouthLookNet(nn.Module):
    """(patch (B, 3, size, size) in [-1, 1], condition (B, condition_nc)) -> (B, look_size()) in
    [0, 1], each entry's place in its range (`to_looks` turns it into `MouthLook`s)."""

    def __init__(self, config: MouthLookConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MouthLookConfig()
        c, d = config.channels, config.latent_nc
        self.mapping = nn.Sequential(
            nn.Linear(config.condition_nc, d), activation(), nn.Linear(d, d), activation(), nn.Linear(d, d)
        )
        widths = [3, c, 2 * c, 4 * c, 4 * c]
        self.stages = nn.ModuleList(_Stage(a, b, d) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.head = nn.Sequential(nn.Linear(4 * c + d, 64), activation(), nn.Linear(64, look_size()))

    def forward(self, patch: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        z = self.mapping(condition)
        x = patch
        for stage in self.stages:
            x = stage(x, z)
        return torch.sigmoid(self.head(torch.cat([x.mean(dim=(2, 3)), z], dim=1)))

    @staticmethod
    def to_looks(unit: torch.Tensor) -> list[MouthLook]:
        """`MouthLook`s of (B, look_size()) places in the ranges."""
        low, high = LOOK_RANGES[:, 0], LOOK_RANGES[:, 1]
        values = low + unit.detach().double().cpu().numpy() * (high - low)
        return [MouthLook.from_vector(v) for v in values]

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_json(folder / "config.json", self.config.to_dict())
        save_safetensors(self.state_dict(), folder / "model.safetensors")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MouthLookNet:
        """Load `config.json` + `model.safetensors` with the safe loader: WeightsNotFoundError when
        a file is missing, CheckpointError when it is broken or does not match the config."""
        folder = Path(folder)
        what = "the mouth look network"
        config = MouthLookConfig.from_dict(read_json(folder / "config.json", what))
        model = cls(config)
        state = load_safetensors(folder / "model.safetensors", what)
        expected = model.state_dict()
        wrong = sorted(set(expected) ^ set(state)) or [
            k for k, v in state.items() if v.shape != expected[k].shape
        ]
        if wrong:
            raise CheckpointError(
                f"{folder.name}/model.safetensors does not match the mouth look network's config "
                f"(first mismatch: '{wrong[0]}'); reinstall the weights"
            )
        model.load_state_dict(state)
        return model.eval()


def bundled_look_net(face_model: str, folder: Path | None = None) -> MouthLookNet | None:
    """The network in `weights/files/mouth_look` (or `folder`) trained for `face_model`; None for
    another face model. WeightsNotFoundError when its files are missing, CheckpointError when broken."""
    folder = folder or bundled_dir() / LOOK_DIR
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise WeightsNotFoundError(
            f"the mouth look network's files (config.json, model.safetensors) are missing from "
            f"'{folder.name}'; reinstall the package or turn it off (PreviewSettings(mouth_net=False))"
        )
    model = MouthLookNet.from_pretrained(folder)
    return model if model.config.face_model == face_model else None


def _ring(points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    upper, lower = mouth
    return np.concatenate([points[upper, :2], points[lower[::-1], :2]]).astype(np.float64)


def source_patch(
    image: np.ndarray, points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray], config: MouthLookConfig
) -> np.ndarray:
    """(size, size, 3) uint8: the square around the photo's inner lips (`mouth`: the layout's
    upper / lower vertex indices of the projected mesh `points` (N, 2+), crop pixels)."""
    ring = _ring(points, mouth)
    side = config.mouth_margin * max(float(np.ptp(ring[:, 0])), 4.0)
    scale = config.size / side
    centre = ring.mean(axis=0)
    matrix = np.array(
        [[scale, 0.0, config.size / 2 - centre[0] * scale], [0.0, scale, config.size / 2 - centre[1] * scale]]
    )
    return cv2.warpAffine(
        image, matrix, (config.size, config.size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def mouth_opening(points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray]) -> float:
    """Area between the inner lips over their width squared."""
    ring = _ring(points, mouth)
    x, y = ring[:, 0], ring[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return area / max(float(np.ptp(x)), 1.0) ** 2


def lip_colour(image: np.ndarray, points: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """(3,) float32 RGB (0-255): the median of `image` at the lip vertices `lips` of `points` (N, 2+)."""
    h, w = image.shape[:2]
    xy = np.round(points[lips, :2]).astype(int)
    xy[:, 0], xy[:, 1] = np.clip(xy[:, 0], 0, w - 1), np.clip(xy[:, 1], 0, h - 1)
    return np.median(image[xy[:, 1], xy[:, 0]].astype(np.float32), axis=0)


def look_condition(opening: float, lip: np.ndarray, exposure: float) -> np.ndarray:
    """(condition_nc,) float32: the target's `mouth_opening` (x 10), the photo's lip RGB (/ 255)
    and its exposure."""
    return np.concatenate([[10.0 * opening], np.asarray(lip, np.float32)[:3] / 255.0, [exposure]]).astype(
        np.float32
    )


@torch.inference_mode()
def predict_look(model: MouthLookNet, patch: np.ndarray, condition: np.ndarray) -> MouthLook:
    """The look for one (size, size, 3) uint8 photo patch and its (condition_nc,) condition."""
    x = torch.from_numpy(patch.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
    return model.to_looks(model(x, torch.from_numpy(condition)[None]))[0]
