"""PIRenderer: portrait images controlled by 3DMM motion descriptors (Ren et al., ICCV 2021).

Names are imported lazily (PEP 562) so that light modules such as `core.errors` can be used
by the other packages without importing torch or creating import cycles.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PIRenderer": "pirender.generator",
    "RenderOutput": "pirender.generator",
    "SourceFeatures": "pirender.generator",
    "RenderSession": "pirender.session",
    "GeneratorConfig": "pirender.config",
    "MappingConfig": "pirender.config",
    "WarpingConfig": "pirender.config",
    "EditingConfig": "pirender.config",
    "motion_windows": "pirender.descriptor",
    "sequence_windows": "pirender.descriptor",
    "still_window": "pirender.descriptor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pirender' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
