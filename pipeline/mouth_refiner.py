"""Mouth-interior network: a bounded, low-frequency correction of the painted mouth gap.

The geometric renderer keeps the photo's own teeth (upper with the head, lower with the jaw) and
paints the newly opened gap between them (`pipeline.mouth.paint_mouth`: a shaded cavity, a
tongue, procedural teeth). This network does not repaint that gap; it corrects its shading and
colour: PIRenderer's editing idea (paper section 3.3) at the mouth's resolution, modulated
through AdaIN (section 3.1) by a latent that a small mapping network computes from the target's
opening, the gap's size and the photo's lip colour.

A square box around the target's inner lips (`mouth_margin` x their width) is cut from the
rendered crop and resampled to `size` pixels; the network sees that patch, the painted gap's
coverage and the inner-lip mask, and outputs a residual on a coarse `grid` x `grid` lattice,
bounded (`bound` x tanh, in [0, 1] image units) and bilinearly upsampled. Its last layer starts at
zero, so the untrained network returns the geometric paint unchanged. The residual is added only
where the gap was painted: `out = warp + cover * residual`; every pixel the renderer did not paint
stays the exact warp, and the overlay laid over the photo at its own resolution gets the same
smooth residual (its teeth edges stay sharp). Images in the network are (B, 3, H, W) in [-1, 1]
(the residual then in [-2 bound, 2 bound]), masks (B, 1, H, W) in [0, 1]. Weights: `config.json`
(`MouthRefinerConfig`) beside `model.safetensors`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CheckpointError, WeightsNotFoundError
from pirender.blocks import AdaIN, activation
from weights.loading import load_safetensors, read_json, save_safetensors, write_json
from weights.registry import bundled_dir

__all__ = [
    "MouthRefinerConfig",
    "MouthRefiner",
    "MouthBox",
    "mouth_box",
    "mouth_opening",
    "lip_colour",
    "cut_patch",
    "condition_for",
    "gap_residual",
    "refine_gap",
    "bundled_refiner",
    "REFINER_DIR",
]

#: Where the shipped weights live.
REFINER_DIR = "mouth_refiner"


@dataclass(frozen=True)
class MouthRefinerConfig:
    """Architecture and box geometry.

    latent_nc: the mapping net's latent; channels: width of the first conv stage (doubled at each
    of the stride-2 stages); size: patch side, pixels; grid: side of the residual's lattice (size
    / 4); bound: the residual's largest magnitude in [0, 1] image units; mouth_margin: box side
    over the inner lips' width; mask_grow: how far the inner-lip mask reaches past the lips, as a
    fraction of the patch; face_model: the coefficients' face model.
    """

    latent_nc: int = 64
    channels: int = 16
    size: int = 96
    grid: int = 24
    bound: float = 0.2
    mouth_margin: float = 1.3
    mask_grow: float = 0.04
    face_model: str = "pirender-mesh-v1"

    #: Opening (x 10), the gap's share of the patch (x 4), the photo's lip RGB (/ 255).
    condition_nc = 5

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MouthRefinerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"mouth refiner config has unknown keys {unknown}")
        return cls(**data)


class _Stage(nn.Module):
    """conv -> AdaIN(z) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, latent_nc: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)
        self.norm = AdaIN(cout, latent_nc, hidden=64)
        self.act = activation()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x), z))


class MouthRefiner(nn.Module):
    """Residual network: (patch, cover, lips, condition) -> residual (B, 3, grid, grid).

    patch: the rendered box, (B, 3, size, size) in [-1, 1]; cover: the painted gap's coverage,
    lips: the inner-lip mask, both (B, 1, size, size) in [0, 1]; condition (B, condition_nc)
    (`condition_for`). The residual is in [-1, 1] units, at most 2 `bound` in magnitude; `correct`
    upsamples it and confines it to the cover.
    """

    def __init__(self, config: MouthRefinerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MouthRefinerConfig()
        if config.size != 4 * config.grid:
            raise CheckpointError(f"mouth refiner: size {config.size} must be 4 x grid {config.grid}")
        c, d = config.channels, config.latent_nc
        self.mapping = nn.Sequential(
            nn.Linear(config.condition_nc, d),
            activation(),
            nn.Linear(d, d),
            activation(),
            nn.Linear(d, d),
        )
        self.enc0 = _Stage(5, c, d, stride=2)  # size / 2
        self.enc1 = _Stage(c, 2 * c, d, stride=2)  # grid
        self.enc2 = _Stage(2 * c, 4 * c, d, stride=2)  # grid / 2
        self.mid1 = _Stage(4 * c, 4 * c, d, dilation=2)
        self.mid2 = _Stage(4 * c, 4 * c, d, dilation=2)
        self.dec = _Stage(4 * c + 2 * c, 2 * c, d)
        self.out = nn.Conv2d(2 * c, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, patch: torch.Tensor, cover: torch.Tensor, lips: torch.Tensor, condition: torch.Tensor
    ) -> torch.Tensor:
        z = self.mapping(condition)
        x1 = self.enc1(self.enc0(torch.cat([patch, cover, lips], dim=1), z), z)
        x = self.mid2(self.mid1(self.enc2(x1, z), z), z)
        x = F.interpolate(x, size=x1.shape[2:], mode="bilinear", align_corners=False)
        x = self.dec(torch.cat([x, x1], dim=1), z)
        return 2.0 * self.config.bound * torch.tanh(self.out(x))

    def upsampled(self, residual: torch.Tensor) -> torch.Tensor:
        """The (B, 3, grid, grid) residual at the patch's size, bilinear."""
        size = self.config.size
        return F.interpolate(residual, size=(size, size), mode="bilinear", align_corners=False)

    def correct(
        self, patch: torch.Tensor, cover: torch.Tensor, lips: torch.Tensor, condition: torch.Tensor
    ) -> torch.Tensor:
        """`patch` with the upsampled residual added where `cover` is (unchanged elsewhere)."""
        residual = self.upsampled(self(patch, cover, lips, condition))
        return (patch + cover * residual).clamp(-1.0, 1.0)

    # --- files -------------------------------------------------------------------------------------

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_json(folder / "config.json", self.config.to_dict())
        save_safetensors(self.state_dict(), folder / "model.safetensors")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MouthRefiner:
        """Load `config.json` + `model.safetensors` with the safe loader: WeightsNotFoundError when
        a file is missing, CheckpointError when it is broken or does not match the config."""
        folder = Path(folder)
        what = "the mouth-interior network"
        config = MouthRefinerConfig.from_dict(read_json(folder / "config.json", what))
        model = cls(config)
        state = load_safetensors(folder / "model.safetensors", what)
        expected = model.state_dict()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"{folder.name}/model.safetensors does not match the mouth network's config "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}); reinstall the weights"
            )
        for key, value in state.items():
            if value.shape != expected[key].shape:
                raise CheckpointError(
                    f"{folder.name}/model.safetensors: '{key}' has shape {tuple(value.shape)}, "
                    f"the config needs {tuple(expected[key].shape)}; reinstall the weights"
                )
        model.load_state_dict(state)
        return model.eval()


def bundled_refiner(face_model: str, folder: Path | None = None) -> MouthRefiner | None:
    """The network in `weights/files/mouth_refiner` (or `folder`) trained for `face_model`; None for
    another face model. WeightsNotFoundError when its files are missing, CheckpointError when broken."""
    folder = folder or bundled_dir() / REFINER_DIR
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise WeightsNotFoundError(
            f"the mouth-interior network's files (config.json, model.safetensors) are missing from "
            f"'{folder.name}'; reinstall the package or turn the network off (PreviewSettings(mouth_net=False))"
        )
    model = MouthRefiner.from_pretrained(folder)
    return model if model.config.face_model == face_model else None


# ------------------------------------------------------------------------------------------------
# Box, conditioning (numpy)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MouthBox:
    """matrix: (2, 3) crop pixels -> patch pixels; size: patch side; lips: (size, size) float32
    inner-lip mask in [0, 1]."""

    matrix: np.ndarray
    size: int
    lips: np.ndarray


def _ring(points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    upper, lower = mouth
    return np.concatenate([points[upper, :2], points[lower[::-1], :2]]).astype(np.float64)


def mouth_box(
    points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray], config: MouthRefinerConfig
) -> MouthBox:
    """The box around the inner lips of a projected mesh (N, 2+) (crop pixels); `mouth` is the
    layout's (upper, lower) inner-lip vertex indices."""
    ring = _ring(points, mouth)
    side = config.mouth_margin * max(float(np.ptp(ring[:, 0])), 4.0)
    scale = config.size / side
    centre = ring.mean(axis=0)
    matrix = np.array(
        [[scale, 0.0, -(centre[0] - side / 2) * scale], [0.0, scale, -(centre[1] - side / 2) * scale]]
    )
    pts = np.round((ring @ matrix[:, :2].T + matrix[:, 2]) * 16).astype(np.int32)
    mask = np.zeros((config.size, config.size), np.uint8)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    r = max(1, round(config.mask_grow * config.size))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(1.0, r / 2.0))
    return MouthBox(matrix, config.size, np.clip(soft, 0.0, 1.0))


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


def condition_for(opening: float, hole: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """(condition_nc,) float32: the target's inner-lip opening (`mouth_opening`, x 10), the hole's
    share of the patch (`hole` (size, size) in [0, 1], x 4) and the photo's lip RGB (0-255, / 255)."""
    share = 4.0 * float(np.mean(hole))
    return np.concatenate([[10.0 * opening, share], np.asarray(lip, np.float32)[:3] / 255.0]).astype(
        np.float32
    )


def cut_patch(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """(size, size, C) patch of `image` through `matrix` (image -> patch), bilinear."""
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def to_tensor(patch: np.ndarray) -> torch.Tensor:
    """(h, w, 3) uint8 -> (1, 3, h, w) in [-1, 1]."""
    return torch.from_numpy(patch.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


@torch.inference_mode()
def gap_residual(
    model: MouthRefiner, crop: np.ndarray, cover: np.ndarray, box: MouthBox, opening: float, lip: np.ndarray
) -> np.ndarray | None:
    """(H, W, 3) float32 residual in 0-255 units for a rendered crop, already multiplied by the
    painted gap's coverage `cover` (H, W) (so 0 wherever the renderer did not paint), or None
    when the gap does not reach the box. crop: (H, W, 3) uint8; box: the target's `mouth_box`;
    opening: the target's `mouth_opening`; lip: the photo's lip RGB (0-255)."""
    if not (cover > 0.0).any():
        return None
    h, w = crop.shape[:2]
    size = box.size
    hole_np = np.clip(cut_patch(cover, box.matrix, size), 0.0, 1.0)
    if not (hole_np > 0.0).any():
        return None
    patch = to_tensor(cut_patch(crop, box.matrix, size))
    hole = torch.from_numpy(hole_np)[None, None]
    lips = torch.from_numpy(box.lips)[None, None]
    condition = torch.from_numpy(condition_for(opening, hole_np, lip))[None]
    residual = model.upsampled(model(patch, hole, lips, condition))[0].permute(1, 2, 0).numpy()
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    up = cv2.warpAffine(127.5 * residual, box.matrix, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    return up * cover[:, :, None]


def refine_gap(
    model: MouthRefiner,
    crop: np.ndarray,
    overlay: np.ndarray,
    cover: np.ndarray,
    box: MouthBox,
    opening: float,
    lip: np.ndarray,
    greyscale: bool = False,
) -> None:
    """Correct the painted mouth gap of a rendered crop and its overlay with the network (in place).

    crop: (H, W, 3) uint8 rendered crop; overlay: the renderer's (f H, f W, 3) uint8 overlay at f
    samples per crop pixel (f >= 1; sample u at crop x (u + 0.5) / f - 0.5); cover: (H, W) float32
    coverage of the painted mouth gap only. Where `cover` is 0 the crop does not change; inside
    it the crop gets `cover * residual` added, and the overlay the same residual bilinearly
    resampled to its resolution (a smooth shading correction under its sharp teeth). greyscale:
    the photo is black and white (the residual's luma on all three channels).
    """
    residual = gap_residual(model, crop, cover, box, opening, lip)
    if residual is None:
        return
    if greyscale:
        luma = residual @ np.array([0.299, 0.587, 0.114], np.float32)
        residual = np.repeat(luma[:, :, None], 3, axis=2)
    ys, xs = np.nonzero(cover > 0.0)
    y0, y1, x0, x1 = max(ys.min() - 1, 0), ys.max() + 2, max(xs.min() - 1, 0), xs.max() + 2
    part = residual[y0:y1, x0:x1]
    crop[y0:y1, x0:x1] = np.clip(crop[y0:y1, x0:x1] + part + 0.5, 0, 255).astype(np.uint8)
    f = overlay.shape[0] // crop.shape[0]
    if f == 1:
        overlay[y0:y1, x0:x1] = np.clip(overlay[y0:y1, x0:x1] + part + 0.5, 0, 255).astype(np.uint8)
        return
    fine = cv2.resize(residual, (overlay.shape[1], overlay.shape[0]), interpolation=cv2.INTER_LINEAR)
    fy0, fy1, fx0, fx1 = f * y0, f * y1, f * x0, f * x1
    region = overlay[fy0:fy1, fx0:fx1].astype(np.float32) + fine[fy0:fy1, fx0:fx1]
    overlay[fy0:fy1, fx0:fx1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
