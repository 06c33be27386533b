"""Shared fixtures: where the real sample data lives, and a real portrait that ships with scikit-image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

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
