"""A small editing network for shut lids, the regions the geometric warp cannot supply (off by default).

After the geometric renderer has drawn a shut lid (`pipeline.eyes`, `pipeline.lid_skin`), each eye
the target shuts is cut into a `PATCH` box around the target's eye (`eye_box`: a similarity
from its corners), together with the photo's own open eye through its own box (`eye_box` of the
photo's lids) and the lid mask (`lid_mask`: from a little above the photo's open upper lid,
carried into the target's frame, down to just below the target's lower lid). A small
encoder-decoder whose normalisations are AdaIN-modulated (PIRenderer section 3.1) by the latent
of a mapping network over the target's descriptor (`condition`: the eye's closure and the photo's
exposure) sees the boxes normalised (exposure and white balance removed) and outputs a bounded
correction, a smooth shading and small smooth chroma change plus a high-passed luma detail
(`LidNet`, docs/LID_NET.md round 2); multiplied by the mask it is added to the crop
(`refine_shut_lids`) and, at the photo's own resolution, to the photo after the warp
(`lay_residual`), so every pixel outside the mask stays the geometric output exactly and the
warp's fine detail stays under the residual.

Images in the network are (B, C, H, W) in [-1, 1], H x W = 40 x 64; crop points are pixels (x
right, y down). Weights: `config.json` (`LidNetConfig`) beside `model.safetensors`, read through
`weights.loading` (never unpickled).
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
from pipeline.eyes import shut_opening
from pirender.blocks import AdaIN, activation
from weights.loading import load_safetensors, read_json, save_safetensors, write_json
from weights.registry import bundled_dir

__all__ = [
    "LidNetConfig",
    "LidNet",
    "LID_DIR",
    "PATCH",
    "bundled_lid_net",
    "shared_lid_net",
    "shut_lids",
    "eye_box",
    "lid_mask",
    "condition",
    "closure",
    "net_inputs",
    "refine_shut_lids",
    "net_residual",
    "lay_residual",
]

#: Where the shipped weights live (under `weights/files`).
LID_DIR = "lid_net"
#: The eye box's (width, height) in pixels; the eye's width spans `_EYE_SPAN` of them.
PATCH = (64, 40)
_EYE_SPAN = 40.0
#: The box's centre above the corners' midpoint, in eye widths.
_BOX_RAISE = 0.12
#: The lid mask: its top above the photo's open upper lid, its bottom below the target's lower
#: lid, its reach beyond the corners (eye widths), its feather (eye widths, Gaussian sigma).
_MASK_TOP, _MASK_BOTTOM, _MASK_SIDE, _MASK_SOFT = 0.3, 0.06, 0.04, 0.04


@dataclass(frozen=True)
class LidNetConfig:
    """latent_nc: the mapping net's latent; channels: the first stage's width (x2, x3 below);
    residual_scale: the largest residual, in [-1, 1] image units; face_model: the coefficients'
    face model the weights were trained with. The bounds are in units of the box's contrast
    scale (`LidNet.normalise`): gain_bound the smooth luma gain, offset_bound the smooth luma
    offset, chroma_bound the smooth chroma offset (a colour cast cannot exceed it), detail_bound
    the high-passed luma detail (high-passed at detail_sigma box pixels); scale_range: the
    contrast scale's floor and ceiling."""

    latent_nc: int = 32
    channels: int = 16
    residual_scale: float = 0.5
    face_model: str = "pirender-mesh-v1"
    gain_bound: float = 0.5
    offset_bound: float = 1.5
    chroma_bound: float = 0.25
    detail_bound: float = 0.6
    detail_sigma: float = 1.5
    scale_range: tuple[float, float] = (0.04, 0.35)
    #: Closure of the eye (0 open, 1 shut), the photo's exposure (mean face brightness / 128).
    condition_nc = 2
    #: geometric patch (3), the photo's open eye (3), the lid mask (1).
    input_nc = 7

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LidNetConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"lid network config has unknown keys {unknown}; reinstall the weights")
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


#: Luma weights and the two unit chroma directions (orthogonal to grey) of an RGB offset.
_LUMA = (0.299, 0.587, 0.114)
_CHROMA = ((0.7071, -0.7071, 0.0), (0.4082, 0.4082, -0.8165))


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), replicate borders."""
    radius = max(int(np.ceil(3 * sigma)), 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = (g / g.sum()).repeat(x.shape[1], 1)
    x = nn.functional.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = nn.functional.conv2d(x, g[:, None, None, :], groups=x.shape[1])
    return nn.functional.conv2d(x, g[:, None, :, None], groups=x.shape[1])


class LidNet(nn.Module):
    """(inputs (B, 7, 40, 64) in [-1, 1] (geometric patch, photo's eye, mask in [0, 1]),
    condition (B, 2)) -> (B, 3, 40, 64) residual in [-residual_scale, residual_scale], already
    multiplied by the mask (zero outside it).

    Why not free RGB (round 1): a free residual trained on a few clip identities drew smudges,
    blotches and colour casts on photos of other light and sharpness. Here the boxes are
    normalised (exposure and white balance removed) and the output is a smooth shading and a
    small smooth chroma correction (a 10 x 16 grid, upsampled) plus a bounded luma-only detail
    term that is high-passed, so no patch of one tone or colour can appear."""

    def __init__(self, config: LidNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LidNetConfig()
        c, d = config.channels, config.latent_nc
        self.mapping = nn.Sequential(
            nn.Linear(config.condition_nc, d), activation(), nn.Linear(d, d), activation(), nn.Linear(d, d)
        )
        self.enc0 = _Block(config.input_nc, c, d)  # 40 x 64
        self.enc1 = _Block(c, 2 * c, d, stride=2)  # 20 x 32
        self.enc2 = _Block(2 * c, 3 * c, d, stride=2)  # 10 x 16
        self.mid = _Block(3 * c, 3 * c, d)
        self.dec1 = _Block(3 * c + 2 * c, 2 * c, d)  # 20 x 32, after upsampling
        self.dec0 = _Block(2 * c + c, c, d)  # 40 x 64
        self.smooth = nn.Conv2d(3 * c, 4, 3, padding=1)  # luma gain, luma offset, 2 chroma (10 x 16)
        self.detail = nn.Conv2d(c, 1, 3, padding=1)  # luma detail (40 x 64)
        for head in (self.smooth, self.detail):  # starts as the geometric output itself
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def normalise(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the network's (B, 7, H, W) input, the geometric patch's (B, 3, 1, 1) mean colour
        inside the mask, the (B, 1, 1, 1) contrast scale): each image minus its own mean colour
        (the geometric patch's inside the mask), over the luma spread of the photo's open eye."""
        geo, src, mask = inputs[:, :3], inputs[:, 3:6], inputs[:, 6:7]
        weight = mask + 1e-3
        mean_geo = (geo * weight).sum((2, 3), keepdim=True) / weight.sum((2, 3), keepdim=True)
        mean_src = src.mean((2, 3), keepdim=True)
        luma = torch.tensor(_LUMA, dtype=src.dtype, device=src.device)[None, :, None, None]
        spread = (src * luma).sum(1, keepdim=True).flatten(1).std(1)[:, None, None, None]
        scale = spread.clamp(*self.config.scale_range)
        x = torch.cat([(geo - mean_geo) / scale, (src - mean_src) / scale, mask], dim=1)
        return x, mean_geo, scale

    def forward(self, inputs: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        x, _, scale = self.normalise(inputs)
        z = self.mapping(cond)
        e0 = self.enc0(x, z)
        e1 = self.enc1(e0, z)
        m = self.mid(self.enc2(e1, z), z)
        y = nn.functional.interpolate(m, size=e1.shape[2:], mode="bilinear", align_corners=False)
        y = self.dec1(torch.cat([y, e1], dim=1), z)
        y = nn.functional.interpolate(y, size=e0.shape[2:], mode="bilinear", align_corners=False)
        y = self.dec0(torch.cat([y, e0], dim=1), z)
        fields = torch.tanh(self.smooth(m))
        fields = nn.functional.interpolate(fields, size=e0.shape[2:], mode="bilinear", align_corners=False)
        chroma = torch.tensor(_CHROMA, dtype=x.dtype, device=x.device)  # (2, 3)
        colour = torch.einsum("bkhw,kc->bchw", fields[:, 2:4], chroma)
        detail = torch.tanh(self.detail(y))
        detail = detail - _gaussian_blur(detail, cfg.detail_sigma)
        change = (
            x[:, :3] * cfg.gain_bound * fields[:, 0:1]
            + cfg.offset_bound * fields[:, 1:2]
            + cfg.chroma_bound * colour
            + cfg.detail_bound * detail
        )
        residual = (scale * change).clamp(-cfg.residual_scale, cfg.residual_scale)
        return residual * inputs[:, 6:7]

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_json(folder / "config.json", self.config.to_dict())
        save_safetensors(self.state_dict(), folder / "model.safetensors")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> LidNet:
        """Load `config.json` + `model.safetensors` with the safe loader: WeightsNotFoundError when
        a file is missing, CheckpointError when it is broken or does not match the config."""
        folder = Path(folder)
        what = "the lid network"
        config = LidNetConfig.from_dict(read_json(folder / "config.json", what))
        model = cls(config)
        state = load_safetensors(folder / "model.safetensors", what)
        expected = model.state_dict()
        wrong = sorted(set(expected) ^ set(state)) or [
            k for k, v in state.items() if v.shape != expected[k].shape
        ]
        if wrong:
            raise CheckpointError(
                f"{folder.name}/model.safetensors does not match the lid network's config "
                f"(first mismatch: '{wrong[0]}'); reinstall the weights"
            )
        model.load_state_dict(state)
        return model.eval()


def bundled_lid_net(face_model: str, folder: Path | None = None) -> LidNet | None:
    """The network in `weights/files/lid_net` (or `folder`) trained for `face_model`; None for
    another face model. WeightsNotFoundError when its files are missing, CheckpointError when broken."""
    folder = folder or bundled_dir() / LID_DIR
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise WeightsNotFoundError(
            f"the lid network's files (config.json, model.safetensors) are missing from "
            f"'{folder.name}'; reinstall the package or turn it off (PreviewSettings(lid_net=False))"
        )
    model = LidNet.from_pretrained(folder)
    return model if model.config.face_model == face_model else None


_SHARED: dict[str, LidNet | None] = {}
_SHARED_LOCK = threading.Lock()


def shared_lid_net(face_model: str) -> LidNet | None:
    """The bundled network, loaded once per process and shared read-only by all sessions (it holds
    no per-request state); None when it was trained for another face model."""
    with _SHARED_LOCK:
        if face_model not in _SHARED:
            _SHARED[face_model] = bundled_lid_net(face_model)
        return _SHARED[face_model]


# ------------------------------------------------------------------------------------------------
# Geometry of one eye (crop pixels)
# ------------------------------------------------------------------------------------------------


def eye_box(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(2, 3) crop -> `PATCH` box of an eye whose lid curves (K, 2) run between its corners: a
    similarity putting the corners level, the eye's width over `_EYE_SPAN` px, centred
    `_BOX_RAISE` widths above the corners' midpoint."""
    left, right = np.asarray(upper[0], np.float64), np.asarray(upper[-1], np.float64)
    along = right - left
    width = max(float(np.hypot(*along)), 2.0)
    cos, sin = along / width
    scale = _EYE_SPAN / width
    # The box's up direction: (sin, -cos) in crop pixels (y down).
    centre = 0.5 * (left + right) + _BOX_RAISE * width * np.array([sin, -cos])
    rot = scale * np.array([[cos, sin], [-sin, cos]])
    shift = np.array([PATCH[0] / 2, PATCH[1] / 2]) - rot @ centre
    return np.concatenate([rot, shift[:, None]], axis=1)


def _to_target(
    source_curve: np.ndarray, source_corners: np.ndarray, target_corners: np.ndarray
) -> np.ndarray:
    """A photo's lid curve (K, 2) carried into the target's frame by the similarity between the
    eyes' corners."""
    s0, s1 = source_corners
    t0, t1 = target_corners
    ds, dt = s1 - s0, t1 - t0
    zs, zt = complex(*ds), complex(*dt)
    m = zt / zs if abs(zs) > 1e-6 else 1.0
    z = (source_curve[:, 0] - s0[0]) + 1j * (source_curve[:, 1] - s0[1])
    w = z * m
    return np.stack([w.real + t0[0], w.imag + t0[1]], axis=1)


def lid_mask(
    source_lids: tuple[np.ndarray, np.ndarray],
    target_lids: tuple[np.ndarray, np.ndarray],
    size: tuple[int, int],
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The shut lid's (h, w) float32 mask in [0, 1] on its box (x0, y0, x1, y1) of the (H, W)
    crop, or None when the box leaves the crop: from `_MASK_TOP` widths above the photo's open
    upper lid (carried into the target's frame) down to `_MASK_BOTTOM` below the target's lower
    lid, feathered; zero outside."""
    (up_s, _), (up_t, lo_t) = source_lids, target_lids
    corners_t = np.stack([up_t[0], up_t[-1]]).astype(np.float64)
    width = max(float(np.hypot(*(corners_t[1] - corners_t[0]))), 2.0)
    top = _to_target(
        np.asarray(up_s, np.float64), np.stack([up_s[0], up_s[-1]]).astype(np.float64), corners_t
    )
    t = np.linspace(0.0, 1.0, len(top))
    bump = np.sqrt(np.sin(np.pi * t))[:, None]
    along = (corners_t[1] - corners_t[0]) / width
    up = np.array([along[1], -along[0]])
    top = top + _MASK_TOP * width * bump * up
    bottom = np.asarray(lo_t, np.float64) - _MASK_BOTTOM * width * bump * up
    side = _MASK_SIDE * width * along
    top[0] -= side
    top[-1] += side
    bottom[0] -= side
    bottom[-1] += side
    ring = np.concatenate([top, bottom[::-1]])
    soft = max(_MASK_SOFT * width, 0.5)
    pad = int(np.ceil(3 * soft)) + 1
    h, w = size
    x0, y0 = int(np.floor(ring[:, 0].min())) - pad, int(np.floor(ring[:, 1].min())) - pad
    x1, y1 = int(np.ceil(ring[:, 0].max())) + pad + 1, int(np.ceil(ring[:, 1].max())) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    poly = np.round((ring - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1.0, lineType=cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(mask, (0, 0), soft)
    mask[mask < 2e-3] = 0.0
    return mask, (x0, y0, x1, y1)


def closure(source_lids: tuple[np.ndarray, np.ndarray], target_lids: tuple[np.ndarray, np.ndarray]) -> float:
    """0 (as open as the photo's eye) .. 1 (shut): one minus the target's mean lid gap over the
    photo's, each in its eye's widths."""

    def gap(upper: np.ndarray, lower: np.ndarray) -> float:
        width = max(float(np.hypot(*(upper[-1] - upper[0]))), 1e-6)
        return float(np.mean(lower[1:-1, 1] - upper[1:-1, 1])) / width

    open_s = gap(*source_lids)
    return float(np.clip(1.0 - gap(*target_lids) / open_s, 0.0, 1.0)) if open_s > 1e-3 else 1.0


def condition(closed: float, exposure: float) -> np.ndarray:
    """(condition_nc,) float32 descriptor: the eye's closure, the photo's exposure."""
    return np.array([closed, exposure], np.float32)


def net_inputs(
    out: np.ndarray,
    source: np.ndarray,
    source_lids: tuple[np.ndarray, np.ndarray],
    target_lids: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple] | None:
    """For one shut eye: (the (40, 64, 7) float32 input in [-1, 1] / mask in [0, 1], the (2, 3)
    crop -> box matrix, the crop's (h, w) lid mask, its box) or None when the eye leaves the crop.
    out: the geometric (H, W, 3) uint8 crop; source: the photo's crop."""
    made = lid_mask(source_lids, target_lids, out.shape[:2])
    if made is None:
        return None
    mask, (x0, y0, x1, y1) = made
    matrix = eye_box(*target_lids)
    full = np.zeros(out.shape[:2], np.float32)
    full[y0:y1, x0:x1] = mask
    geo = cv2.warpAffine(out, matrix, PATCH, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    src = cv2.warpAffine(
        source, eye_box(*source_lids), PATCH, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    m = cv2.warpAffine(full, matrix, PATCH, flags=cv2.INTER_LINEAR, borderValue=0.0)
    stacked = np.concatenate(
        [geo.astype(np.float32) / 127.5 - 1.0, src.astype(np.float32) / 127.5 - 1.0, m[:, :, None]], axis=2
    )
    return stacked, matrix, mask, (x0, y0, x1, y1)


Lids = tuple[np.ndarray, np.ndarray]


def shut_lids(
    source_points: np.ndarray,
    target_points: np.ndarray,
    eyes: tuple[tuple[np.ndarray, np.ndarray], ...],
    size: tuple[int, int],
) -> list[tuple[int, Lids, Lids]]:
    """(eye index, photo's lids, target's lids) of each eye the target shuts (`eyes.shut_opening`);
    points: projected meshes (N, 2+), crop pixels; eyes: the layout's (upper, lower) vertex indices."""
    shut = []
    for k, (u, lo) in enumerate(eyes):
        lids = (source_points[u, :2], source_points[lo, :2]), (target_points[u, :2], target_points[lo, :2])
        if shut_opening(*lids, size) is not None:
            shut.append((k, *lids))
    return shut


@torch.inference_mode()
def refine_shut_lids(
    model: LidNet | None,
    out: np.ndarray,
    source: np.ndarray,
    eyes: list[tuple[int, Lids, Lids]],
    exposure: float,
    greyscale: bool = False,
) -> np.ndarray | None:
    """The network's residual over each shut eye's lid mask: (H, W, 3) float32 in 8-bit levels,
    zero wherever the mask is zero, or None (no `model`, no eye in the crop). `out`, the (H, W, 3)
    uint8 geometric crop, becomes out + residual in place (nothing changes where the mask is zero);
    the photo gets the same residual at its own resolution (`lay_residual`), so the warp's detail
    stays. eyes: `shut_lids`; source: the photo's (H, W, 3) uint8 crop; greyscale: a grey residual."""
    if model is None:
        return None
    items = []
    for _, source_lids, target_lids in eyes:
        made = net_inputs(out, source, source_lids, target_lids)
        if made is not None:
            items.append((made, condition(closure(source_lids, target_lids), exposure)))
    if not items:
        return None
    x = torch.from_numpy(np.stack([m[0] for m, _ in items])).permute(0, 3, 1, 2)
    c = torch.from_numpy(np.stack([cond for _, cond in items]))
    patches = model(x, c).permute(0, 2, 3, 1).numpy() * 127.5  # (E, 40, 64, 3), 8-bit levels
    h, w = out.shape[:2]
    residual = np.zeros((h, w, 3), np.float32)
    for ((_, matrix, mask, (x0, y0, x1, y1)), _), patch in zip(items, patches, strict=True):
        back = cv2.warpAffine(
            np.ascontiguousarray(patch), matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )[y0:y1, x0:x1]
        residual[y0:y1, x0:x1] += back * mask[:, :, None]
    if greyscale:
        residual[:] = residual.mean(axis=2, keepdims=True)
    inside = np.any(residual != 0.0, axis=2)
    out[inside] = np.clip(np.round(out[inside] + residual[inside]), 0, 255).astype(np.uint8)
    return residual


def net_residual(
    face_model: str,
    out: np.ndarray,
    state: object,
    target_points: np.ndarray,
    eyes: tuple[tuple[np.ndarray, np.ndarray], ...],
) -> np.ndarray | None:
    """The bundled network's residual over the shut lids of one geometric frame (`refine_shut_lids`,
    `out` changed in place); state: the renderer's `PreviewState` (points, source, size, exposure,
    greyscale)."""
    shut = shut_lids(state.points, target_points, eyes, state.size)
    model = shared_lid_net(face_model)
    return refine_shut_lids(model, out, state.source, shut, state.exposure, state.greyscale)


def lay_residual(image: np.ndarray, residual: np.ndarray, photo_to_crop: np.ndarray) -> None:
    """Add a crop's (c, c, 3) float32 `residual` to the (H, W, 3) uint8 `image` (the photo or its
    canvas) at the image's resolution, in place, bilinear; only inside the residual's footprint
    (pixels it does not reach keep their values exactly). photo_to_crop: the (2, 3) image -> crop
    affine (`CropTransform.matrix`)."""
    ys, xs = np.nonzero(np.any(residual != 0.0, axis=2))
    if len(xs) == 0:
        return
    to_photo = cv2.invertAffineTransform(photo_to_crop)
    corners = np.array(
        [
            [xs.min() - 1, ys.min() - 1],
            [xs.max() + 1, ys.min() - 1],
            [xs.min() - 1, ys.max() + 1],
            [xs.max() + 1, ys.max() + 1],
        ],
        np.float64,
    )
    pts = corners @ to_photo[:, :2].T + to_photo[:, 2]
    h, w = image.shape[:2]
    x0, y0 = max(int(np.floor(pts[:, 0].min())), 0), max(int(np.floor(pts[:, 1].min())), 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + 1, w), min(int(np.ceil(pts[:, 1].max())) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    m = np.asarray(photo_to_crop, np.float64).copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)  # box pixel -> crop pixel
    laid = cv2.warpAffine(residual, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    inside = np.any(laid != 0.0, axis=2)
    region = image[y0:y1, x0:x1]
    region[inside] = np.clip(np.round(region[inside] + laid[inside]), 0, 255).astype(np.uint8)
