"""Mouth and eye refiner: a small editing network for the regions the geometric warp cannot supply.

PIRenderer's editing network (paper section 3.3) repaints what a warp cannot move into place,
modulated by the mapping network's latent code through AdaIN (section 3.1). Here the same idea
works at region resolution on the geometric renderer's crop: the mouth opening (teeth, tongue,
cavity shading) and the eyes (lids, irises). For each region a box is cut from the target mesh
(known at inference), and the network sees the rendered patch, the photo's patch of the same
region (cut with the photo's mesh) and the region's mask; a small mapping net turns the target's
expression and pose (and the photo's expression) into the latent that modulates it. The output is
confined to the mask: `out = warp + mask * (net - warp)`, so every pixel outside the masks stays
the exact warp; each region's mask is scaled by how much its opening changes (`region_gates`), so
a target that does not open the mouth or move the lids keeps the warp exactly.

Patches: mouth 64 x 64 (a square of `mouth_margin` x the inner lips' width), eyes 48 x 32 (w x h,
`eye_margin` x the lids' width). Images in the network are (B, 3, H, W) in [-1, 1]; masks (B, 1,
H, W) in [0, 1]. Weights: `config.json` (`MouthRefinerConfig`) beside `model.safetensors`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.coefficients import FaceCoefficients
from core.errors import CheckpointError, InputError
from pipeline.face_paint import apply_affine, similarity_2d
from pirender.blocks import AdaIN, activation
from weights.loading import load_safetensors, read_json, save_safetensors, write_json
from weights.registry import bundled_dir

__all__ = [
    "MOUTH",
    "EYE",
    "MouthRefinerConfig",
    "MouthRefiner",
    "Region",
    "regions_for",
    "region_gates",
    "painted_mouth_mask",
    "shut_lid_mask",
    "cut_patch",
    "descriptor_for",
    "refine_crop",
    "bundled_refiner",
]

#: Region kinds (the network's region input).
MOUTH, EYE = 0, 1


@dataclass(frozen=True)
class MouthRefinerConfig:
    """Architecture and region geometry.

    expression_nc: expression coefficients of the face model; latent_nc: width of the mapping
    net's latent; channels: width of the first conv stage (doubled at each of the two stride-2
    stages); mouth_size, eye_size: patch (w, h); mouth_margin, eye_margin: box width over the inner
    lips' / the lids' width; mouth_grow, eye_grow: how far the mask reaches past the inner lips /
    the lids, as a fraction of the box width; face_model: the coefficients' face model.
    """

    expression_nc: int = 32
    latent_nc: int = 64
    channels: int = 16
    mouth_size: tuple[int, int] = (64, 64)
    eye_size: tuple[int, int] = (48, 32)
    mouth_margin: float = 1.3
    eye_margin: float = 1.6
    mouth_grow: float = 0.06
    eye_grow: float = 0.12
    face_model: str = "pirender-mesh-v1"

    @property
    def descriptor_nc(self) -> int:
        """Target expression + target angles + the photo's expression."""
        return 2 * self.expression_nc + 3

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MouthRefinerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"mouth refiner config has unknown keys {unknown}")
        values = dict(data)
        for key in ("mouth_size", "eye_size"):
            if key in values:
                values[key] = tuple(int(v) for v in values[key])
        return cls(**values)


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------


class _Stage(nn.Module):
    """conv -> AdaIN(z) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, latent_nc: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.norm = AdaIN(cout, latent_nc, hidden=64)
        self.act = activation()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x), z))


class MouthRefiner(nn.Module):
    """(warp, source, mask, descriptor, region) -> the refined patch (B, 3, H, W) in [-1, 1].

    warp, source: (B, 3, H, W) in [-1, 1]; mask: (B, 1, H, W) in [0, 1]; descriptor: (B,
    descriptor_nc); region: (B,) long, MOUTH or EYE. H and W divisible by 4.
    """

    def __init__(self, config: MouthRefinerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MouthRefinerConfig()
        c, d = config.channels, config.latent_nc
        # Mapping net: descriptor + region one-hot -> latent (the paper's z, here from one frame).
        self.mapping = nn.Sequential(
            nn.Linear(config.descriptor_nc + 2, d),
            activation(),
            nn.Linear(d, d),
            activation(),
            nn.Linear(d, d),
        )
        self.enc0 = _Stage(7, c, d)
        self.enc1 = _Stage(c, 2 * c, d, stride=2)
        self.enc2 = _Stage(2 * c, 4 * c, d, stride=2)
        self.mid = _Stage(4 * c, 4 * c, d)
        self.dec1 = _Stage(4 * c + 2 * c, 2 * c, d)
        self.dec0 = _Stage(2 * c + c, c, d)
        self.out = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # starts as the identity: the refined patch is the warp
        nn.init.zeros_(self.out.bias)

    def latent(self, descriptor: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        onehot = nn.functional.one_hot(region.long(), 2).to(descriptor.dtype)
        return self.mapping(torch.cat([descriptor, onehot], dim=1))

    def forward(
        self,
        warp: torch.Tensor,
        source: torch.Tensor,
        mask: torch.Tensor,
        descriptor: torch.Tensor,
        region: torch.Tensor,
    ) -> torch.Tensor:
        z = self.latent(descriptor, region)  # (B, latent_nc)
        x0 = self.enc0(torch.cat([warp, source, mask], dim=1), z)  # (B, c, H, W)
        x1 = self.enc1(x0, z)  # (B, 2c, H/2, W/2)
        x = self.mid(self.enc2(x1, z), z)  # (B, 4c, H/4, W/4)
        x = nn.functional.interpolate(x, size=x1.shape[2:], mode="bilinear", align_corners=False)
        x = self.dec1(torch.cat([x, x1], dim=1), z)
        x = nn.functional.interpolate(x, size=x0.shape[2:], mode="bilinear", align_corners=False)
        x = self.dec0(torch.cat([x, x0], dim=1), z)
        return (warp + self.out(x)).clamp(-1.0, 1.0)

    def composite(self, warp: torch.Tensor, refined: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """warp + mask * (refined - warp): the output confined to the mask."""
        return warp + mask * (refined - warp)

    # --- files -------------------------------------------------------------------------------------

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_json(folder / "config.json", self.config.to_dict())
        save_safetensors(self.state_dict(), folder / "model.safetensors")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MouthRefiner:
        """Load `config.json` + `model.safetensors`; CheckpointError on missing or mismatched keys."""
        folder = Path(folder)
        what = "the mouth refiner"
        config = MouthRefinerConfig.from_dict(read_json(folder / "config.json", what))
        model = cls(config)
        state = load_safetensors(folder / "model.safetensors", what)
        expected = model.state_dict()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"{folder / 'model.safetensors'} does not match the mouth refiner's config "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        for key, value in state.items():
            if value.shape != expected[key].shape:
                raise CheckpointError(
                    f"{folder / 'model.safetensors'}: '{key}' has shape {tuple(value.shape)}, "
                    f"the config needs {tuple(expected[key].shape)}"
                )
        model.load_state_dict(state)
        return model.eval()


def bundled_refiner(face_model: str) -> MouthRefiner | None:
    """The refiner shipped in `weights/files/mouth_refiner` when it exists and was trained for
    `face_model`; None otherwise (the geometric renderer then keeps its own mouth and lids)."""
    folder = bundled_dir() / "mouth_refiner"
    if not (folder / "model.safetensors").is_file():
        return None
    model = MouthRefiner.from_pretrained(folder)
    return model if model.config.face_model == face_model else None


# ------------------------------------------------------------------------------------------------
# Regions (numpy): boxes and masks from the projected mesh
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """One region of one crop: kind (MOUTH / EYE), matrix (2, 3) crop pixels -> patch pixels,
    size (w, h) of the patch, mask (h, w) float32 in [0, 1], exactly 0 on the patch's border."""

    kind: int
    matrix: np.ndarray
    size: tuple[int, int]
    mask: np.ndarray


def _box_matrix(centre: np.ndarray, box_w: float, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    scale = w / max(box_w, 4.0)
    box_h = h / scale
    x0, y0 = centre[0] - box_w / 2.0, centre[1] - box_h / 2.0
    return np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], np.float64)


def _mask(ring: np.ndarray, matrix: np.ndarray, size: tuple[int, int], grow_px: float) -> np.ndarray:
    w, h = size
    pts = ring @ matrix[:, :2].T + matrix[:, 2]
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    cv2.polylines(mask, [np.round(pts * 16).astype(np.int32)], True, 255, 1, cv2.LINE_AA, shift=4)
    r = max(1, round(grow_px))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(1.0, grow_px / 2.0))
    soft[:2], soft[-2:], soft[:, :2], soft[:, -2:] = 0.0, 0.0, 0.0, 0.0
    return np.clip(soft, 0.0, 1.0)


def regions_for(points: np.ndarray, layout: object, config: MouthRefinerConfig) -> list[Region]:
    """The mouth and the eyes of one projected mesh: (N, 2+) crop pixels + its `MeshLayout`."""
    upper, lower = layout.mouth
    ring = np.concatenate([points[upper, :2], points[lower[::-1], :2]]).astype(np.float64)
    width = float(np.ptp(ring[:, 0]))
    box_w = config.mouth_margin * max(width, 4.0)
    matrix = _box_matrix(ring.mean(axis=0), box_w, config.mouth_size)
    grow = config.mouth_grow * config.mouth_size[0]
    regions = [Region(MOUTH, matrix, config.mouth_size, _mask(ring, matrix, config.mouth_size, grow))]
    for up, lo in layout.eyes:
        ring = np.concatenate([points[up, :2], points[lo[::-1], :2]]).astype(np.float64)
        box_w = config.eye_margin * max(float(np.ptp(ring[:, 0])), 4.0)
        matrix = _box_matrix(ring.mean(axis=0), box_w, config.eye_size)
        grow = config.eye_grow * config.eye_size[0]
        regions.append(Region(EYE, matrix, config.eye_size, _mask(ring, matrix, config.eye_size, grow)))
    return regions


def _opening(points: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """Area of an opening (upper curve, then the lower one back) over its width squared."""
    ring = np.concatenate([points[upper, :2], points[lower[::-1], :2]]).astype(np.float64)
    x, y = ring[:, 0], ring[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return area / max(float(np.ptp(x)), 1.0) ** 2


def region_gates(
    target_points: np.ndarray,
    source_points: np.ndarray,
    layout: object,
    low: float = 0.02,
    high: float = 0.06,
) -> list[float]:
    """How much each region (mouth, then the eyes) needs the network, in [0, 1]: the change of its
    opening (area / width^2) from the photo to the target, ramped from `low` to `high`. The mouth
    counts only opening further (what a closing mouth needs, the warp has); an eye counts opening
    and closing. A target that barely moves the openings leaves the warp as it is."""

    def ramp(change: float) -> float:
        return float(np.clip((change - low) / (high - low), 0.0, 1.0))

    upper, lower = layout.mouth
    gates = [ramp(_opening(target_points, upper, lower) - _opening(source_points, upper, lower))]
    for up, lo in layout.eyes:
        gates.append(ramp(abs(_opening(target_points, up, lo) - _opening(source_points, up, lo))))
    return gates


def painted_mouth_mask(painted: np.ndarray) -> np.ndarray:
    """(H, W) float32: the painted mouth coverage grown by 3 px and feathered (the refined gap
    meets the photo's teeth and lips without a seam)."""
    grown = cv2.dilate((painted > 0.02).astype(np.uint8), np.ones((7, 7), np.uint8))
    return np.clip(cv2.GaussianBlur(grown.astype(np.float32), (0, 0), 1.5) * 1.5, 0.0, 1.0)


def cut_patch(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 patch of `image` through `matrix` (crop -> patch)."""
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def descriptor_for(
    target: FaceCoefficients, source: FaceCoefficients, config: MouthRefinerConfig
) -> np.ndarray:
    """(descriptor_nc,) float32: target expression, target angles, the photo's expression."""
    for what, coeffs in (("target", target), ("photo", source)):
        if coeffs.expression.shape[0] != config.expression_nc:
            raise InputError(
                f"the mouth refiner needs {config.expression_nc} expression coefficients, the {what} has "
                f"{coeffs.expression.shape[0]}"
            )
    return np.concatenate([target.expression, target.angles, source.expression]).astype(np.float32)


def _to_tensor(patches: list[np.ndarray]) -> torch.Tensor:
    arr = np.stack(patches).astype(np.float32) / 127.5 - 1.0  # (B, h, w, 3) in [-1, 1]
    return torch.from_numpy(arr).permute(0, 3, 1, 2)


def shut_lid_mask(
    target_points: np.ndarray, source_points: np.ndarray, layout: object, shape: tuple[int, int]
) -> np.ndarray:
    """(H, W) float32 in [0, 1]: where a closing lid now covers what the photo showed open.

    Each eye's opening in the photo is carried into the target by the similarity of its two
    corners (how the eyeball moves in the warp); what of it the target's opening no longer shows
    is the shut lid. Grown by a tenth of the eye's width and feathered, so the refined lid meets
    the photo's skin without a seam; 0 for eyes that stay open or open wider."""
    h, w = shape
    shut = np.zeros((h, w), np.float32)
    for upper, lower in layout.eyes:
        corners = [int(upper[0]), int(upper[-1])]
        to_target = similarity_2d(source_points[corners, :2], target_points[corners, :2])
        shown = np.concatenate([source_points[upper, :2], source_points[lower[::-1], :2]])
        still_open = np.concatenate([target_points[upper, :2], target_points[lower[::-1], :2]])
        was, now = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
        cv2.fillPoly(was, [np.round(apply_affine(to_target, shown) * 16).astype(np.int32)], 1, shift=4)
        cv2.fillPoly(now, [np.round(still_open * 16).astype(np.int32)], 1, shift=4)
        lid = (was & (1 - now)).astype(np.uint8)
        if not lid.any():
            continue
        r = max(1, round(0.1 * float(np.ptp(still_open[:, 0]))))
        lid = cv2.dilate(lid, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        soft = cv2.GaussianBlur(lid.astype(np.float32), (0, 0), max(1.0, r / 2.0))
        np.maximum(shut, np.clip(soft * 1.5, 0.0, 1.0), out=shut)
    return shut


@torch.inference_mode()
def refine_crop(
    model: MouthRefiner,
    crop: np.ndarray,
    source: np.ndarray,
    target_points: np.ndarray,
    source_points: np.ndarray,
    layout: object,
    descriptor: np.ndarray,
    painted: np.ndarray | None = None,
    kinds: tuple[int, ...] = (MOUTH, EYE),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refine the mouth and the eyes of a rendered crop where the photo never showed them.

    crop: (H, W, 3) uint8 rendered crop; source: the photo's crop; target_points, source_points:
    (N, 2+) projected meshes; descriptor: `descriptor_for(...)`; painted: optional (H, W) float32
    coverage of what the renderer synthesised in the mouth (the gap the photo never showed): the
    mouth is then refined only there (`painted_mouth_mask`), and the photo's own teeth and lips,
    moved by the warp, stay as they are; the eyes only where a lid shuts (`shut_lid_mask`);
    kinds: the regions to refine (MOUTH, EYE).

    Returns the refined crop (H, W, 3) uint8, equal to `crop` wherever the returned (H, W) float32
    coverage is 0 (outside the masks), and the (H, W) float32 share of the photo's fine detail to
    keep under it: 1 on the refined lids (the network supplies their colour and shading, the
    moved photo its skin grain and lashes at the photo's resolution), 0 in the mouth gap (which
    has no photo detail).
    """
    h, w = crop.shape[:2]
    config = model.config
    cover = np.zeros((h, w), np.float32)
    detail = np.zeros((h, w), np.float32)
    gates = region_gates(target_points, source_points, layout)
    lids = shut_lid_mask(target_points, source_points, layout, (h, w)) if EYE in kinds else None
    if max(gates) <= 0.0 or (MOUTH not in kinds and (lids is None or lids.max() <= 0.0)):
        return crop.copy(), cover, detail
    target_regions = regions_for(target_points, layout, config)
    source_regions = regions_for(source_points, layout, config)
    out = crop.astype(np.float32)
    z = torch.from_numpy(np.asarray(descriptor, np.float32))[None]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for kind in kinds:
        pairs = [
            (t, s, g)
            for t, s, g in zip(target_regions, source_regions, gates, strict=True)
            if t.kind == kind and g > 0.0
        ]
        if not pairs:
            continue
        warp = _to_tensor([cut_patch(crop, t.matrix, t.size) for t, _, _ in pairs])
        src = _to_tensor([cut_patch(source, s.matrix, s.size) for _, s, _ in pairs])
        mask = torch.from_numpy(np.stack([t.mask for t, _, _ in pairs]))[:, None]
        region = torch.full((len(pairs),), kind, dtype=torch.long)
        refined = model(warp, src, mask, z.expand(len(pairs), -1), region)
        refined = ((refined.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).astype(np.float32)
        for (t, _, gate), patch in zip(pairs, refined, strict=True):
            up = cv2.warpAffine(patch, t.matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            alpha = gate * cv2.warpAffine(t.mask, t.matrix, (w, h), flags=flags, borderValue=0.0)
            if kind == MOUTH and painted is not None:
                alpha *= painted_mouth_mask(painted)
            if kind == EYE:
                alpha *= lids
                detail[alpha > 0.0] = 1.0
            out += alpha[:, :, None] * (up - out)
            np.maximum(cover, alpha, out=cover)
    refined_crop = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    refined_crop[cover <= 0.0] = crop[cover <= 0.0]
    detail[cover <= 0.0] = 0.0
    return refined_crop, cover, detail
