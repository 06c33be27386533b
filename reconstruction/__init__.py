"""Image -> face -> crop -> 3DMM coefficients (pipeline stage 1).

Names are imported lazily (PEP 562): `import core.coefficients` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_deep3d_network": "reconstruction.deep3d",
    "Deep3DBackend": "reconstruction.deep3d",
    "FaceCoefficients": "core.coefficients",
    "MotionSequence": "core.coefficients",
    "load_image": "reconstruction.images",
    "FaceDetector": "reconstruction.detection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reconstruction' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
