"""Audio to motion (paper section 3.3): speech audio -> per-frame 3DMM expression and head pose.

Two conditional normalizing flows (expression, pose) sample motion frame by frame from the
source photo's own coefficients, conditioned on log-mel audio features. Typical use::

    from audio2motion import AudioToMotion
    model = AudioToMotion.from_pretrained("weights/files/audio2motion")  # the shipped model
    motion = model.generate(source_coefficients, "speech.wav", fps=25, seed=0)

    # lip sync controls : separate strengths, still mode, blinks, reference head motion
    from audio2motion import AnimationControls
    controls = AnimationControls(lips=1.0, expression=0.5, head=0.0, still=True, blinks_per_minute=12)
    motion = model.generate(source_coefficients, "speech.wav", fps=25, seed=0, controls=controls)

The shipped model conditions on log-mel *and* phonetic features (`audio2motion.phonetics`:
pocketsphinx phones -> visemes); a viseme -> expression lip component gives the lips, the flows
add expression and head variety on top. Lip-sync evaluation on real clips: `training.evaluation.lipsync`.

The shipped model (default face model `pirender-mesh-v1`) and the commands that reproduce it are
described in weights/files/audio2motion/README.md.

Data: `pirender audio-prepare VIDEOS CLIPS`; training: `pirender audio-train`
(`audio2motion.train` / `train_main`) on a folder of prepared clips (`audio2motion.dataset`);
evaluation: `pirender audio-evaluate` (`audio2motion.evaluate`); each is also `python -m audio2motion.<module>`.
"""

from .audio import AudioFeatureConfig, audio_features, load_audio, loudness_envelope, silence_features
from .controls import AnimationControls
from .dataset import ClipArrays, ClipEntry, discover_clips, save_clip
from .evaluate import EvaluationReport, evaluate
from .flows import ConditionalFlow, FlowConfig
from .model import AudioToMotion, AudioToMotionConfig, NormalizationStats, resample_motion
from .phonetics import PhoneticConfig, viseme_features

__all__ = [
    "AnimationControls",
    "AudioFeatureConfig",
    "AudioToMotion",
    "AudioToMotionConfig",
    "ClipArrays",
    "ClipEntry",
    "ConditionalFlow",
    "EvaluationReport",
    "FlowConfig",
    "NormalizationStats",
    "PhoneticConfig",
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
    "viseme_features",
]

_TRAINING_NAMES = ("TrainConfig", "TrainResult", "train", "train_main")


def __getattr__(name: str) -> object:
    """Training names load lazily, so `python -m audio2motion.training` starts cleanly."""
    if name in _TRAINING_NAMES:
        from . import training

        return getattr(training, name)
    raise AttributeError(f"module 'audio2motion' has no attribute {name!r}")
