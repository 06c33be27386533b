"""Deep3DFaceRecon-compatible coefficient extractor, the "deep3d" backend.

PIRenderer's public weights were trained on coefficients from Deep3DFaceRecon (Deng et al.,
CVPR-W 2019): a ResNet-50 whose pooled 2048-d feature feeds seven 1x1 convolutions giving 80
identity, 64 expression, 80 texture, 3 angle, 27 lighting, 2 + 1 translation numbers (257). This
module rebuilds that network with the released tensor names (``backbone.*`` in torchvision's
ResNet layout, ``final_layers.0..6``), loads ``epoch_20.pth`` with strict key and shape checks,
and wraps alignment + network into `Deep3DBackend`, which turns a photo and five landmarks into a
`FaceCoefficients` record of face model `BFM_DEEP3D`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import torch
from torch import nn

from core.coefficients import BFM_DEEP3D, FaceCoefficients, check_face_model
from core.errors import CheckpointError, FaceTooSmallError, InputError, WeightsNotFoundError
from reconstruction.align import STANDARD_POINTS_3D, AlignedFace, align_face, load_standard_points
from reconstruction.bfm import BFMFaceModel, bfm_not_installed
from weights.loading import load_torch_state
from weights.registry import resolve_weights, weights_dir

__all__ = [
    "COEFFICIENT_SIZES",
    "CoefficientParts",
    "Deep3DBackend",
    "Deep3DReconNet",
    "INPUT_SIZE",
    "NUM_COEFFICIENTS",
    "ResNet50",
    "load_deep3d_network",
    "split_coefficients",
]

logger = logging.getLogger(__name__)

#: Side of the network's input crop.
INPUT_SIZE = 224
#: Output sizes of the seven heads: identity, expression, texture, angles, SH lighting, (tx, ty), tz.
HEAD_SIZES = (80, 64, 80, 3, 27, 2, 1)
#: The six named parts of a 257-vector, in order (the translation joins the last two heads).
COEFFICIENT_SIZES = (("id", 80), ("exp", 64), ("tex", 80), ("angles", 3), ("gamma", 27), ("trans", 3))
NUM_COEFFICIENTS = sum(HEAD_SIZES)

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (stride on the 3x3 conv), torchvision's parameter names."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """ResNet-50 without the classifier: (B, 3, H, W) -> pooled features (B, 2048, 1, 1)."""

    feature_dim = 2048

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        for index, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))):
            layers = []
            for b in range(blocks):
                layers.append(Bottleneck(in_channels, width, stride if b == 0 else 1))
                in_channels = width * Bottleneck.expansion
            self.add_module(f"layer{index + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)


class Deep3DReconNet(nn.Module):
    """Deep3DFaceRecon's ``net_recon``: aligned face (B, 3, 224, 224) RGB in [0, 1] -> (B, 257)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = ResNet50()
        self.final_layers = nn.ModuleList(nn.Conv2d(ResNet50.feature_dim, n, 1) for n in HEAD_SIZES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) float RGB in [0, 1] (no mean/std normalisation) -> (B, 257) coefficients."""
        _check_network_input(images)
        feature = self.backbone(images)  # (B, 2048, 1, 1)
        out = torch.cat([head(feature) for head in self.final_layers], dim=1)  # (B, 257, 1, 1)
        return torch.flatten(out, 1)


def _check_network_input(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        found = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"expected a float tensor (B, 3, {INPUT_SIZE}, {INPUT_SIZE}), got {found}")
    if images.ndim != 4 or tuple(images.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE) or images.shape[0] == 0:
        raise InputError(
            f"expected aligned faces of shape (B, 3, {INPUT_SIZE}, {INPUT_SIZE}), got {tuple(images.shape)}; "
            "align them with reconstruction.align.align_face first"
        )
    lo, hi = float(images.min()), float(images.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1e-3 or hi > 1.0 + 1e-3:
        raise InputError(
            f"expected RGB values in [0, 1], found range [{lo:.3g}, {hi:.3g}] "
            "(divide uint8 images by 255; do not normalise by mean/std)"
        )


# --------------------------------------------------------------------------------------------
# Checkpoint
# --------------------------------------------------------------------------------------------


def _list_keys(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    more = f", ... ({len(keys)} in all)" if len(keys) > limit else ""
    return f"{shown}{more}"


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The ``net_recon`` tensors of a checkpoint file (or a bare state dict), without unpickling objects."""
    obj = load_torch_state(
        path, "the 'deep3d' backend: Deep3DFaceRecon's epoch_20.pth, registry entry 'deep3d-recon'"
    )
    if isinstance(obj, dict) and "net_recon" in obj:
        obj = obj["net_recon"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        found = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"{path} is not a Deep3DFaceRecon checkpoint: expected a dict with key 'net_recon' "
            f"(or a bare state dict of tensors), found {found}"
        )
    return obj


def _check_state_dict(path: Path, given: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Raise CheckpointError naming the file and every missing, unexpected or mis-shaped tensor."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    wrong = [
        f"{k} (expected {tuple(v.shape)}, found {tuple(given[k].shape)})"
        for k, v in expected.items()
        if k in given and tuple(given[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensor(s): {_list_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensor(s): {_list_keys(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} tensor(s) of the wrong shape: {_list_keys(wrong)}")
    if problems:
        raise CheckpointError(
            f"{path} does not match Deep3DFaceRecon's net_recon (ResNet-50 + 7 heads): "
            + "; ".join(problems)
            + ". Use the released epoch_20.pth of Deep3DFaceRecon_pytorch."
        )


def load_deep3d_network(path: str | Path, device: str | torch.device = "cpu") -> Deep3DReconNet:
    """Build `Deep3DReconNet` and load ``epoch_20.pth`` (dict with ``net_recon``, or a bare state dict).

    Keys and shapes are checked strictly; the network is returned in eval mode on `device`.
    Raises WeightsNotFoundError (no file) or CheckpointError (unreadable / not this network).
    """
    path = Path(path).expanduser()
    state = _read_state_dict(path)
    net = Deep3DReconNet()
    _check_state_dict(path, state, net.state_dict())
    net.load_state_dict(state, strict=True)
    logger.info("loaded Deep3DFaceRecon network from %s", path)
    return net.to(device).eval()


# --------------------------------------------------------------------------------------------
# Coefficients
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoefficientParts(Generic[ArrayT]):
    """The named parts of (..., 257) coefficients (numpy arrays or torch tensors, sliced on the last axis).

    Attributes:
        id: (..., 80) identity (shape) coefficients.
        exp: (..., 64) expression coefficients.
        tex: (..., 80) albedo coefficients.
        angles: (..., 3) rotation about x, y, z in radians.
        gamma: (..., 27) spherical-harmonics lighting, 9 per RGB channel.
        trans: (..., 3) translation tx, ty, tz.
    """

    id: ArrayT
    exp: ArrayT
    tex: ArrayT
    angles: ArrayT
    gamma: ArrayT
    trans: ArrayT


def split_coefficients(coeffs257: ArrayT) -> CoefficientParts[ArrayT]:
    """Split (..., 257) Deep3DFaceRecon coefficients into `CoefficientParts` (views, no copies)."""
    if coeffs257.shape[-1] != NUM_COEFFICIENTS:
        raise InputError(
            f"expected (..., {NUM_COEFFICIENTS}) coefficients, got shape {tuple(coeffs257.shape)}"
        )
    parts = {}
    start = 0
    for name, size in COEFFICIENT_SIZES:
        parts[name] = coeffs257[..., start : start + size]
        start += size
    return CoefficientParts(**parts)


# --------------------------------------------------------------------------------------------
# Backend
# --------------------------------------------------------------------------------------------

_HOW_TO_GET = (
    "The Basel Face Model cannot be shipped with this project: register at the University of Basel "
    "site (https://faces.dmi.unibas.ch/bfm/) and accept its licence; `pirender download paper` builds "
    "BFM_model_front.mat from 01_MorphableModel.mat + Guo et al.'s Exp_Pca.bin in the weights folder. "
    "epoch_20.pth is released by the Deep3DFaceRecon_pytorch authors (link in their README). "
    "Copies on the Hugging Face Hub (e.g. vinthony/SadTalker) are unofficial mirrors, not the "
    "original publishers: check their provenance and licence before use."
)


def _resolve_files(
    recon_path: str | Path | None,
    bfm_path: str | Path | None,
    lm3d_path: str | Path | None,
    allow_download: bool,
    accept_licence: bool,
) -> tuple[Path, Path | None, Path | None]:
    """Local paths of the network, the BFM and the standard points; one error for all missing.

    Only the network is required: without the BFM (not given, and not in the weights folder) the
    coefficients still come out, and the BFM path is None. Files given explicitly must exist.
    """
    found: dict[str, Path | None] = {}
    missing: list[str] = []
    wanted = (("deep3d-recon", recon_path), ("bfm-front", bfm_path), ("bfm-similarity-lm3d", lm3d_path))
    for name, path in wanted:
        try:
            found[name] = resolve_weights(
                name, path, allow_download=allow_download, accept_licence=accept_licence
            )
        except WeightsNotFoundError as exc:
            found[name] = None
            if name == "deep3d-recon" or path is not None:
                missing.append(f"  - [{name}] {exc}")
            else:
                logger.debug("%s not installed: %s", name, exc)
    recon = found["deep3d-recon"]
    if missing or recon is None:
        note = (
            ""
            if found["bfm-front"]
            else ("\n(BFM_model_front.mat is optional: it adds the BFM preview and semantic sliders.)")
        )
        raise WeightsNotFoundError(
            f"The deep3d reconstruction backend is missing {len(missing)} file(s):\n"
            + "\n".join(missing)
            + f"\nPut them in {weights_dir()} (or pass their paths), or run "
            f"`pirender download paper --accept-licence`. {_HOW_TO_GET}{note}"
        )
    if found["bfm-front"] is None:
        logger.info("deep3d backend without the BFM: coefficients only (no BFM preview or sliders)")
    return recon, found["bfm-front"], found["bfm-similarity-lm3d"]


class Deep3DBackend:
    """Photo + 5 landmarks -> BFM coefficients, as Deep3DFaceRecon computes them for PIRenderer.

    Holds only weights (network, face model, standard points): safe to share between requests.
    Paths left as None are resolved with `weights.registry.resolve_weights`; every missing file is
    reported at once. Only ``epoch_20.pth`` is required: the network and the five-point alignment
    give the 257 coefficients (and the renderer's 73 rows) on their own. ``BFM_model_front.mat`` is
    optional (`face_model` is None without it; `landmarks68` and the callers of
    `require_face_model` then raise FaceModelNotInstalledError); ``similarity_Lm3D_all.mat`` is
    optional too (the standard points are embedded).
    ``exact_resize=False`` makes the alignment of large video frames ~10x faster (see `align_face`).
    """

    face_model_name = BFM_DEEP3D

    def __init__(
        self,
        recon_path: str | Path | None = None,
        bfm_path: str | Path | None = None,
        lm3d_path: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        min_eye_distance_px: float = 8.0,
        exact_resize: bool = True,
        allow_download: bool = False,
        accept_licence: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        recon, bfm, lm3d = _resolve_files(recon_path, bfm_path, lm3d_path, allow_download, accept_licence)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.min_eye_distance_px = float(min_eye_distance_px)
        self.exact_resize = exact_resize
        self.network = load_deep3d_network(recon, self.device)
        self.face_model: BFMFaceModel | None = (
            None if bfm is None else BFMFaceModel.from_mat(bfm).to(self.device)
        )
        self.standard_points = STANDARD_POINTS_3D if lm3d is None else load_standard_points(lm3d)

    @property
    def has_face_model(self) -> bool:
        """BFM_model_front.mat is loaded (BFM preview, semantic sliders, `landmarks68`)."""
        return self.face_model is not None

    def require_face_model(self, what: str = "this feature") -> BFMFaceModel:
        """The loaded `BFMFaceModel`; FaceModelNotInstalledError naming `what` when it is not installed."""
        if self.face_model is None:
            raise bfm_not_installed(what)
        return self.face_model

    def align(self, image_rgb: np.ndarray, landmarks_xy: np.ndarray) -> AlignedFace:
        """The 224-px crop of one face; landmarks (5, 2) or (68, 2) pixel coordinates, y down."""
        aligned = align_face(image_rgb, landmarks_xy, self.standard_points, exact=self.exact_resize)
        eyes = np.asarray(landmarks_xy, dtype=np.float64)
        eye_distance = (
            float(np.linalg.norm(eyes[0] - eyes[1]))
            if eyes.shape[0] == 5
            else float(np.linalg.norm(eyes[36:40].mean(0) - eyes[42:48].mean(0)))
        )
        if eye_distance < self.min_eye_distance_px:
            raise FaceTooSmallError(
                f"the eyes are {eye_distance:.1f} px apart; at least {self.min_eye_distance_px:.0f} px are "
                "needed for a usable reconstruction. Use a larger or closer view of the face."
            )
        return aligned

    @torch.inference_mode()
    def coefficients_of_crops(self, crops: np.ndarray) -> np.ndarray:
        """(B, 224, 224, 3) uint8 aligned crops -> (B, 257) float32 coefficients, in batches."""
        out = []
        for start in range(0, crops.shape[0], self.batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(crops[start : start + self.batch_size]))
            x = chunk.to(self.device).permute(0, 3, 1, 2).float() / 255.0  # (b, 3, 224, 224) in [0, 1]
            out.append(self.network(x).cpu().numpy())
        return np.concatenate(out, axis=0)

    def _record(self, coeffs: np.ndarray, aligned: AlignedFace) -> FaceCoefficients:
        parts = split_coefficients(coeffs)
        return FaceCoefficients(
            face_model=BFM_DEEP3D,
            expression=parts.exp,
            angles=parts.angles,
            translation=parts.trans,
            crop=aligned.crop,
            identity=parts.id,
            texture=parts.tex,
            lighting=parts.gamma,
        )

    def fit(self, image_rgb_uint8_hwc: np.ndarray, five_landmarks_xy: np.ndarray) -> FaceCoefficients:
        """Coefficients of one face.

        Args:
            image_rgb_uint8_hwc: (H, W, 3) uint8 RGB photo.
            five_landmarks_xy: (5, 2) left eye, right eye, nose tip, left / right mouth corner in pixel
                coordinates, y down ((68, 2) iBUG landmarks are accepted too).
        Returns:
            `FaceCoefficients` of `BFM_DEEP3D`: expression (64,), angles (3,) radians, translation (3,),
            crop (s, tx, ty) of the alignment, identity (80,), texture (80,), lighting (27,).
        """
        aligned = self.align(image_rgb_uint8_hwc, five_landmarks_xy)
        return self._record(self.coefficients_of_crops(aligned.image[None])[0], aligned)

    def fit_batch(
        self, frames_rgb: Sequence[np.ndarray], landmarks_xy: Sequence[np.ndarray] | np.ndarray
    ) -> list[FaceCoefficients]:
        """Coefficients of one face per frame (video): T images (H, W, 3) uint8 and T landmark sets."""
        if len(frames_rgb) != len(landmarks_xy):
            raise InputError(f"got {len(frames_rgb)} frames but {len(landmarks_xy)} landmark sets")
        if len(frames_rgb) == 0:
            return []
        aligned = [self.align(f, lm) for f, lm in zip(frames_rgb, landmarks_xy, strict=True)]
        coeffs = self.coefficients_of_crops(np.stack([a.image for a in aligned]))
        return [self._record(c, a) for c, a in zip(coeffs, aligned, strict=True)]

    @torch.inference_mode()
    def landmarks68(self, coeffs: FaceCoefficients) -> np.ndarray:
        """(68, 2) float32 landmarks of the fitted face in the 224-px crop, pixel coordinates with y down."""
        check_face_model(BFM_DEEP3D, coeffs.face_model, what="BFM landmark projection")
        if coeffs.identity is None:
            raise InputError("landmarks68 needs the identity coefficients the backend returned")

        def batch(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values, dtype=torch.float32, device=self.device)[None]

        geometry = self.require_face_model("the BFM landmark projection").geometry(
            batch(coeffs.identity), batch(coeffs.expression), batch(coeffs.angles), batch(coeffs.translation)
        )
        lm = geometry.landmarks68[0].cpu().numpy()
        return np.stack([lm[:, 0], INPUT_SIZE - lm[:, 1]], axis=1).astype(np.float32)  # y up -> y down
