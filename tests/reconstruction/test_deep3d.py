"""Deep3DFaceRecon network: conformance to the original, strict checkpoint loading, the backend."""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from core.coefficients import BFM_DEEP3D, FaceCoefficients
from core.errors import (
    CheckpointError,
    FaceModelNotInstalledError,
    FaceTooSmallError,
    InputError,
    WeightsNotFoundError,
)
from reconstruction.align import align_face
from reconstruction.deep3d import Deep3DBackend, Deep3DReconNet, load_deep3d_network, split_coefficients
from tests.conftest import offline_weights

SEED = 4242
# Five landmarks of skimage's astronaut (eye centres, nose tip, mouth corners), pixel coordinates, y down.
ASTRONAUT_5 = np.array([[204.3, 102.3], [246.4, 104.6], [223.6, 125.8], [201.8, 139.2], [245.0, 141.0]])


@dataclasses.dataclass
class NotTensors:
    """An arbitrary object, which a weights-only load must refuse to unpickle."""

    value: int = 1


def key_table(test_data: Path) -> list[tuple[int, str, tuple[int, ...]]]:
    rows = (test_data / "deep3d_net_recon_keys.tsv").read_text().splitlines()[1:]
    table = []
    for row in rows:
        index, key, shape, _dtype = row.split("\t")
        dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
        table.append((int(index), key, dims))
    return table


def filled_weights(test_data: Path, seed: int = SEED) -> dict[str, torch.Tensor]:
    """The conformance README's filling rule for net_recon."""
    weights = {}
    for index, key, shape in key_table(test_data):
        if key.endswith("num_batches_tracked"):
            weights[key] = torch.tensor(0, dtype=torch.int64)
            continue
        r = torch.randn(shape, generator=torch.Generator().manual_seed(seed + index), dtype=torch.float32)
        if key.endswith("running_var"):
            weights[key] = 1.0 + 0.1 * r.abs()
        elif len(shape) >= 2:
            weights[key] = r / math.sqrt(math.prod(shape[1:]))
        else:
            weights[key] = 0.1 * r + (1.0 if key.endswith("weight") else 0.0)
    return weights


def cheap_weights(test_data: Path) -> dict[str, torch.Tensor]:
    """Right keys and shapes with one-element storage each (tiny files for the rejection tests)."""
    out = {}
    for _, key, shape in key_table(test_data):
        dtype = torch.int64 if key.endswith("num_batches_tracked") else torch.float32
        out[key] = torch.ones((), dtype=dtype).expand(shape)
    return out


@pytest.fixture(scope="module")
def weights_folder(tmp_path_factory: pytest.TempPathFactory, test_data: Path) -> Path:
    """A user's weights folder: conformance-filled epoch_20.pth and the synthetic BFM."""
    folder = tmp_path_factory.mktemp("weights")
    torch.save({"net_recon": filled_weights(test_data)}, folder / "epoch_20.pth")
    shutil.copy(test_data / "synthetic_BFM_model_front.mat", folder / "BFM_model_front.mat")
    return folder


def test_public_case_conformance(weights_folder: Path, test_data: Path) -> None:
    net = load_deep3d_network(weights_folder / "epoch_20.pth")
    assert not net.training
    case = np.load(test_data / "deep3d_public_case.npz")
    with torch.no_grad():
        coeffs = net(torch.from_numpy(case["image"])).numpy()
    assert coeffs.shape == (1, 257)
    np.testing.assert_allclose(coeffs, case["coeffs"], atol=1e-4, rtol=0)


def test_network_has_the_released_tensor_names(test_data: Path) -> None:
    expected = {key: shape for _, key, shape in key_table(test_data)}
    ours = {key: tuple(t.shape) for key, t in Deep3DReconNet().state_dict().items()}
    assert ours == expected


def test_bare_state_dict_is_accepted(tmp_path: Path, test_data: Path) -> None:
    weights = cheap_weights(test_data)
    weights["final_layers.6.bias"] = torch.tensor([0.25])
    torch.save(weights, tmp_path / "bare.pth")
    net = load_deep3d_network(tmp_path / "bare.pth")
    assert net.final_layers[6].bias.item() == 0.25


def _corrupt(kind: str, path: Path, weights: dict[str, torch.Tensor]) -> str:
    """Write a bad checkpoint of `kind` to `path`; return a text the error must contain."""
    if kind == "missing":
        del weights["backbone.layer3.2.bn2.running_var"]
        torch.save({"net_recon": weights}, path)
        return "backbone.layer3.2.bn2.running_var"
    if kind == "many_missing":
        torch.save({"net_recon": {k: v for k, v in weights.items() if "layer4" not in k}}, path)
        return "in all"
    if kind == "wrong_shape":
        weights["final_layers.1.weight"] = torch.zeros(65, 2048, 1, 1)
        torch.save({"net_recon": weights}, path)
        return "final_layers.1.weight"
    if kind == "extra":
        weights["backbone.fc.weight"] = torch.zeros(257, 2048)
        torch.save({"net_recon": weights}, path)
        return "backbone.fc.weight"
    if kind == "other_model":
        torch.save({"net_G_ema": weights}, path)
        return "net_recon"
    if kind == "object":
        torch.save({"net_recon": NotTensors()}, path)
        return "checkpoint"
    if kind == "truncated":
        torch.save({"net_recon": weights}, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return "truncated"
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        return "checkpoint"
    path.write_bytes(b"")
    return "checkpoint"


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "many_missing",
        "wrong_shape",
        "extra",
        "other_model",
        "object",
        "truncated",
        "random",
        "empty",
    ],
)
def test_wrong_checkpoints_are_rejected(kind: str, tmp_path: Path, test_data: Path) -> None:
    path = tmp_path / f"bad_{kind}.pth"
    must_contain = _corrupt(kind, path, cheap_weights(test_data))
    with pytest.raises(CheckpointError) as info:
        load_deep3d_network(path)
    assert str(path) in str(info.value)
    assert must_contain in str(info.value)


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="epoch_20"):
        load_deep3d_network(tmp_path / "nothing.pth")


@pytest.mark.parametrize(
    "images",
    [
        torch.zeros(1, 3, 256, 256),  # wrong size
        torch.zeros(3, 224, 224),  # no batch
        torch.zeros(1, 1, 224, 224),  # grey
        torch.zeros(1, 3, 224, 224, dtype=torch.uint8),  # not float
        torch.full((1, 3, 224, 224), 255.0),  # [0, 255] instead of [0, 1]
        torch.full((1, 3, 224, 224), float("nan")),
    ],
)
def test_network_rejects_bad_input(images: torch.Tensor) -> None:
    with pytest.raises(InputError):
        Deep3DReconNet()(images)


def test_split_coefficients() -> None:
    coeffs = np.arange(2 * 257, dtype=np.float32).reshape(2, 257)
    parts = split_coefficients(coeffs)
    sizes = {f.name: getattr(parts, f.name).shape[-1] for f in dataclasses.fields(parts)}
    assert sizes == {"id": 80, "exp": 64, "tex": 80, "angles": 3, "gamma": 27, "trans": 3}
    joined = np.concatenate([getattr(parts, f.name) for f in dataclasses.fields(parts)], axis=-1)
    np.testing.assert_array_equal(joined, coeffs)
    assert parts.angles[0, 0] == 224 and parts.trans[0, 0] == 254
    torch_parts = split_coefficients(torch.from_numpy(coeffs[0]))
    assert torch_parts.exp.shape == (64,) and float(torch_parts.exp[0]) == 80
    with pytest.raises(InputError):
        split_coefficients(np.zeros((1, 256)))


@pytest.fixture(scope="module")
def backend(weights_folder: Path) -> Iterator[Deep3DBackend]:
    """Constructed with no paths: every file is resolved through the registry's weights folder."""
    with offline_weights(weights_folder):
        yield Deep3DBackend(batch_size=2)


def test_backend_fit_returns_bfm_coefficients(backend: Deep3DBackend, astronaut: np.ndarray) -> None:
    single = backend.fit(astronaut, ASTRONAUT_5)
    assert isinstance(single, FaceCoefficients)
    assert single.face_model == BFM_DEEP3D
    assert (
        single.expression.shape == (64,) and single.angles.shape == (3,) and single.translation.shape == (3,)
    )
    assert single.identity.shape == (80,) and single.texture.shape == (80,) and single.lighting.shape == (27,)
    assert single.descriptor_rows().shape == (73,)
    aligned = align_face(astronaut, ASTRONAUT_5)
    np.testing.assert_array_equal(single.crop, aligned.crop)

    darker = (astronaut * 0.7).astype(np.uint8)
    batch = backend.fit_batch([astronaut, darker], np.stack([ASTRONAUT_5, ASTRONAUT_5]))
    assert len(batch) == 2
    np.testing.assert_allclose(batch[0].descriptor_rows(), single.descriptor_rows(), atol=1e-4)
    np.testing.assert_allclose(batch[0].identity, single.identity, atol=1e-4)
    assert not np.allclose(batch[1].expression, single.expression, atol=1e-4)

    lm68 = backend.landmarks68(single)
    assert lm68.shape == (68, 2) and np.all(np.isfinite(lm68))


def test_backend_rejects_bad_input(backend: Deep3DBackend, astronaut: np.ndarray) -> None:
    with pytest.raises(InputError):
        backend.fit(astronaut.astype(np.float32), ASTRONAUT_5)
    with pytest.raises(InputError):
        backend.fit_batch([astronaut], [ASTRONAUT_5, ASTRONAUT_5])
    tiny = (ASTRONAUT_5 - ASTRONAUT_5.mean(0)) * 0.1 + 200.0  # eyes ~4 px apart
    with pytest.raises(FaceTooSmallError):
        backend.fit(astronaut, tiny)
    assert backend.fit_batch([], []) == []


def test_missing_files_are_all_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("PIRENDER_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as info:
        Deep3DBackend()
    text = str(info.value)
    for needed in ("epoch_20.pth", "BFM_model_front.mat", str(tmp_path / "empty"), "vinthony/SadTalker"):
        assert needed in text
    assert "register" in text and "unofficial" in text
    assert "similarity_Lm3D_all.mat" not in text  # optional: the standard points are embedded


def test_missing_explicit_paths_are_all_listed(tmp_path: Path, test_data: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        Deep3DBackend(
            recon_path=tmp_path / "my_recon.pth",
            bfm_path=test_data / "synthetic_BFM_model_front.mat",
            lm3d_path=tmp_path / "my_lm3d.mat",
        )
    text = str(info.value)
    assert "my_recon.pth" in text and "my_lm3d.mat" in text and "2 file(s)" in text


@pytest.fixture(scope="module")
def backend_without_bfm(
    weights_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deep3DBackend]:
    """A weights folder with epoch_20.pth only (the public renderer's user who has no BFM)."""
    folder = tmp_path_factory.mktemp("weights_no_bfm")
    (folder / "epoch_20.pth").symlink_to(weights_folder / "epoch_20.pth")
    with offline_weights(folder):
        yield Deep3DBackend(batch_size=2)


def test_without_the_bfm_the_network_gives_the_coefficients(
    backend_without_bfm: Deep3DBackend, backend: Deep3DBackend, astronaut: np.ndarray, test_data: Path
) -> None:
    from reconstruction.controls import control_set_for
    from reconstruction.motion import relative_motion

    assert not backend_without_bfm.has_face_model and backend_without_bfm.face_model is None
    case = np.load(test_data / "deep3d_public_case.npz")
    with torch.no_grad():
        coeffs = backend_without_bfm.network(torch.from_numpy(case["image"])).numpy()
    np.testing.assert_allclose(coeffs, case["coeffs"], atol=1e-4, rtol=0)  # the 257 numbers, conformant

    alone = backend_without_bfm.fit(astronaut, ASTRONAUT_5)
    full = backend.fit(astronaut, ASTRONAUT_5)
    assert alone.face_model == BFM_DEEP3D and alone.descriptor_rows().shape == (73,)
    np.testing.assert_allclose(alone.descriptor_rows(), full.descriptor_rows(), atol=1e-5)
    np.testing.assert_allclose(alone.identity, full.identity, atol=1e-5)

    # the whole-expression / pose transfer of reenactment needs no face model ...
    from core.coefficients import MotionSequence

    driving = MotionSequence.from_frames([alone, full], fps=25.0)
    moved = relative_motion(alone, driving, parts="all", face_model=backend_without_bfm.face_model)
    assert moved.expression.shape == (2, 64)
    # ... while what needs the BFM says so, with a typed error
    with pytest.raises(FaceModelNotInstalledError, match="works without it"):
        backend_without_bfm.landmarks68(alone)
    with pytest.raises(FaceModelNotInstalledError, match="semantic sliders"):
        control_set_for(backend_without_bfm.face_model)
    with pytest.raises(FaceModelNotInstalledError, match="mouth"):
        relative_motion(alone, driving, parts="mouth", face_model=backend_without_bfm.face_model)
    with pytest.raises(FaceModelNotInstalledError, match="BFM preview"):
        backend_without_bfm.require_face_model("the BFM preview")
    assert backend.require_face_model() is backend.face_model


def test_an_explicit_bfm_path_must_exist(weights_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="my_bfm.mat"):
        Deep3DBackend(recon_path=weights_folder / "epoch_20.pth", bfm_path=tmp_path / "my_bfm.mat")
