"""PIRenderer: portrait images controlled by 3DMM motion descriptors (Ren et al., ICCV 2021)."""

from pirender.config import EditingConfig, GeneratorConfig, MappingConfig, WarpingConfig
from pirender.descriptor import motion_windows, sequence_windows, still_window
from pirender.generator import PIRenderer, RenderOutput, SourceFeatures
from pirender.session import RenderSession

__all__ = [
    "PIRenderer",
    "RenderOutput",
    "RenderSession",
    "SourceFeatures",
    "GeneratorConfig",
    "MappingConfig",
    "WarpingConfig",
    "EditingConfig",
    "motion_windows",
    "sequence_windows",
    "still_window",
]
