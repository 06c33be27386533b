"""The product's use cases (paper section 4 applications): what the web UI and the CLI call.

- `photo`: prepare a photo once (`prepare_photo` -> `SourceState`), then `edit` it per slider move.
- `video`: `make_clip` (photo -> edit morph) and `reenact` (imitate a driving video; what it moves:
  the `REENACT_PARTS` choices).
- `video_edit`: `edit_video` (the edit controls applied to every frame of a video).
- `audio`: `animate` (a photo speaks a recording; `AnimationControls` for lips, expression, head, blinks).
- `renderer`: the one `Renderer` contract; `engines`: the geometric and neural renderers and the
  registry that chooses one per request; `geometric`: the geometric preview renderer.
- `media`: output files labelled as synthesized; `progress`: progress reports and cancellation;
  `weight_files`: which weight files are installed.

Shared objects (the engine registry, the models) hold no per-request state; everything a request
needs is passed in. The names the user interfaces need from the layers below (control table,
presets, image loading) are re-exported here, so that they depend on this layer only.
"""

from audio2motion import AnimationControls
from pipeline.audio import (
    AnimateOptions,
    AudioModelNotInstalledError,
    animate,
    audio_model_dir,
    head_motion_from_video,
)
from pipeline.engines import (
    ENGINE_CHOICES,
    GEOMETRIC,
    OWN_NEURAL,
    PUBLIC_NEURAL,
    EngineRegistry,
    EngineStatus,
    GeometricEngine,
    NeuralEngine,
    default_registry,
)
from pipeline.media import (
    SYNTHESIZED_NOTICE,
    Provenance,
    VideoInfo,
    read_video_metadata,
    save_image,
    save_jpeg,
)
from pipeline.photo import (
    Canvas,
    EditRequest,
    EditResult,
    SourceState,
    edit,
    photo_canvas,
    prepare_photo,
    request_from_preset,
    target_coefficients,
)
from pipeline.progress import Cancelled, Progress
from pipeline.renderer import FrameProgress, Renderer
from pipeline.video import (
    DEFAULT_MAX_VIDEO_SIDE,
    REENACT_PARTS,
    PartsChoice,
    ReenactOptions,
    make_clip,
    reenact,
    reenact_parts,
)
from pipeline.video_edit import VideoEditOptions, edit_video
from pipeline.weight_files import (
    PaperPathStatus,
    StartupFetch,
    downloads_allowed,
    fetch_paper_weights_on_startup,
    install_paper_bundle,
    install_weights,
    paper_bundle_licences,
    paper_path_status,
    weight_file_names,
    weight_files,
    weights_dir,
)
from reconstruction.controls import CONTROL_SPECS, PRESETS, ControlSpec, control_set_for, preset_values
from reconstruction.images import load_image

__all__ = [
    # photo editing
    "SourceState",
    "Canvas",
    "EditRequest",
    "EditResult",
    "prepare_photo",
    "edit",
    "photo_canvas",
    "request_from_preset",
    "target_coefficients",
    # videos
    "DEFAULT_MAX_VIDEO_SIDE",
    "ReenactOptions",
    "PartsChoice",
    "REENACT_PARTS",
    "reenact_parts",
    "make_clip",
    "reenact",
    "VideoEditOptions",
    "edit_video",
    # audio
    "AnimateOptions",
    "AnimationControls",
    "AudioModelNotInstalledError",
    "animate",
    "audio_model_dir",
    "head_motion_from_video",
    # progress
    "Progress",
    "Cancelled",
    # renderers
    "Renderer",
    "FrameProgress",
    "ENGINE_CHOICES",
    "GEOMETRIC",
    "PUBLIC_NEURAL",
    "OWN_NEURAL",
    "EngineRegistry",
    "EngineStatus",
    "GeometricEngine",
    "NeuralEngine",
    "default_registry",
    # output files
    "SYNTHESIZED_NOTICE",
    "Provenance",
    "VideoInfo",
    "read_video_metadata",
    "save_image",
    "save_jpeg",
    # weight files
    "weight_files",
    "weight_file_names",
    "install_weights",
    "install_paper_bundle",
    "paper_bundle_licences",
    "paper_path_status",
    "fetch_paper_weights_on_startup",
    "PaperPathStatus",
    "StartupFetch",
    "weights_dir",
    "downloads_allowed",
    # from the layers below, for the user interfaces
    "CONTROL_SPECS",
    "ControlSpec",
    "PRESETS",
    "preset_values",
    "control_set_for",
    "load_image",
]
