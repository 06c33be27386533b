"""Shared fixtures: where the real sample data lives, a real portrait that ships with scikit-image,
small checkpoints in the public layout, and one intra-op thread for small models; and helpers the
test folders share (imported as `tests.conftest`): wav writers, an offline weights folder, a pickle
that runs code, the missing/empty file checks of a loader, a random face of the default model."""

from __future__ import annotations

import os
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from core.coefficients import DEFAULT_FACE_MODEL, FaceCoefficients
from pirender.testing import fill_original_weights

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"


def shared_dir() -> Path:
    """../shared beside the project, or $PIRENDER_SHARED."""
    return Path(os.environ.get("PIRENDER_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample media (videos, audio); tests using it skip cleanly when it is absent."""
    path = shared_dir() / "data"
    if not path.is_dir():
        pytest.skip(f"real sample data not found at {path} (set PIRENDER_SHARED)")
    return path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """(512, 512, 3) uint8 RGB: a real portrait bundled with scikit-image."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture
def one_thread():
    """One intra-op thread: on 2 shared cores small models run several times faster and their timing is steadier."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def small_original_state() -> dict[str, torch.Tensor]:
    return fill_original_weights(TEST_DATA / "small_config_state_dict_keys.tsv", 3000)


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory, small_original_state) -> Path:
    """A file shaped like the public checkpoint (net_G_ema + net_G + optimiser state), small config."""
    path = tmp_path_factory.mktemp("ckpt") / "small_checkpoint.pt"
    torch.save(
        {
            "net_G": small_original_state,
            "net_G_ema": small_original_state,
            "opt_G": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.5, 0.999), "params": [0, 1]}]},
            "current_epoch": 190,
            "current_iteration": 400000,
        },
        path,
    )
    return path


def write_pcm(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """A mono 16-bit wav of `samples` in [-1, 1]."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())
    return path


def write_speech_like(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A mono 16-bit wav of a speech-like tone: 180 Hz, its loudness pulsing 3 times a second."""
    t = np.arange(int(seconds * rate)) / rate
    return write_pcm(path, 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)), rate)


@contextmanager
def offline_weights(folder: Path) -> Iterator[None]:
    """Within: every weight file is looked up in `folder`, and nothing is downloaded."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIRENDER_WEIGHTS_DIR", str(folder))
        patch.setenv("PIRENDER_OFFLINE", "1")
        yield


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


def write_code_pickle(path: Path, key: str) -> Path:
    """A torch file whose `key` entry runs code when unpickled: a safe loader must refuse it."""
    torch.save({key: _RunsCodeWhenUnpickled()}, path)
    return path


def check_missing_and_empty_files(
    load: Callable[[Path], object], error: type[Exception], folder: Path, suffix: str
) -> None:
    """`load` raises `error` saying "not found" for a missing file, and naming an empty one."""
    with pytest.raises(error, match="not found"):
        load(folder / f"missing{suffix}")
    empty = folder / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(error, match=empty.name):
        load(empty)


def random_face(seed: int, angles_deg: list[float], translation: list[float]) -> FaceCoefficients:
    """Default-model coefficients: random expression and identity (from `seed`), the given pose, no crop."""
    rng = np.random.default_rng(seed)
    return FaceCoefficients(
        DEFAULT_FACE_MODEL,
        expression=rng.normal(size=32),
        angles=np.radians(angles_deg),
        translation=np.array(translation),
        crop=np.array([1.0, 0.0, 0.0]),
        identity=rng.normal(size=16),
    )
