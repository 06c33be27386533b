"""Audio to motion (paper section 3.3): speech audio -> per-frame 3DMM expression and head pose.

Two conditional normalizing flows (expression, pose) sample motion frame by frame from the
source photo's own coefficients, conditioned on log-mel audio features. Typical use::

    from audio2motion import AudioToMotion
    model = AudioToMotion.from_pretrained("weights/files/audio2motion")  # the shipped model
    motion = model.generate(source_coefficients, "speech.wav", fps=25, seed=0)

The shipped model (default face model `pirender-mesh-v1`) and the commands that reproduce it are
described in weights/files/audio2motion/README.md.

Data: `python -m audio2motion.prepare VIDEOS CLIPS`; training: `python -m audio2motion.training`
(`audio2motion.train` / `train_main`) on a folder of prepared clips (`audio2motion.dataset`);
evaluation: `python -m audio2motion.evaluate` (`audio2motion.evaluate`).
"""

from .audio import AudioFeatureConfig, audio_features, load_audio, loudness_envelope, silence_features
from .dataset import ClipArrays, ClipEntry, discover_clips, save_clip
from .evaluate import EvaluationReport, evaluate
from .flows import ConditionalFlow, FlowConfig
from .model import AudioToMotion, AudioToMotionConfig, NormalizationStats, resample_motion

__all__ = [
    "AudioFeatureConfig",
    "AudioToMotion",
    "AudioToMotionConfig",
    "ClipArrays",
    "ClipEntry",
    "ConditionalFlow",
    "EvaluationReport",
    "FlowConfig",
    "NormalizationStats",
    "TrainConfig",
    "TrainResult",
    "audio_features",
    "discover_clips",
    "evaluate",
    "load_audio",
    "loudness_envelope",
    "resample_motion",
    "save_clip",
    "silence_features",
    "train",
    "train_main",
]

_TRAINING_NAMES = ("TrainConfig", "TrainResult", "train", "train_main")


def __getattr__(name: str) -> object:
    """Training names load lazily, so `python -m audio2motion.training` starts cleanly."""
    if name in _TRAINING_NAMES:
        from . import training

        return getattr(training, name)
    raise AttributeError(f"module 'audio2motion' has no attribute {name!r}")
