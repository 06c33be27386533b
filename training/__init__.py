"""Training of the PIRenderer generator (paper section 3.4): data, losses, loop, distributed set-up.

Submodules: `config` (TrainConfig), `dataset` (prepared videos, PairDataset, ResumableSampler),
`vgg` (VGG-19 features for the losses), `losses` (perceptual, style and fallback terms),
`trainer` (Trainer, checkpoints, export), `distributed` (torchrun / DDP set-up). They are not
imported here, so importing the package has no cost and no side effects.
"""

__all__ = ["config", "dataset", "distributed", "losses", "trainer", "vgg"]
