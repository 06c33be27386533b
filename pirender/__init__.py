"""PIRenderer: portrait images controlled by 3DMM motion descriptors (Ren et al., ICCV 2021).

One module per part of the paper's network: `mapping`, `warping`, `editing` (on the shared
`blocks` and `flow`), assembled by `generator`; `config` (architecture dataclasses), `checkpoint`
(public weights and our format), `descriptor` (motion windows), `session` (one photo, many
motions), `fast` (the fast CPU inference path) and `testing` (the conformance weights).
"""

from pirender.checkpoint import load_generator, load_pretrained, save_pretrained
from pirender.config import EditingConfig, GeneratorConfig, MappingConfig, WarpingConfig
from pirender.descriptor import motion_windows, sequence_windows, still_window
from pirender.generator import PIRenderer, RenderOutput, SourceFeatures
from pirender.session import RenderSession

__all__ = [
    "EditingConfig",
    "GeneratorConfig",
    "MappingConfig",
    "PIRenderer",
    "RenderOutput",
    "RenderSession",
    "SourceFeatures",
    "WarpingConfig",
    "load_generator",
    "load_pretrained",
    "motion_windows",
    "save_pretrained",
    "sequence_windows",
    "still_window",
]
