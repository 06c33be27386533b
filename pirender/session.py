"""Interactive rendering: one source photo, many target motions (paper application: portrait editing).

`RenderSession` computes the source-only part of the network once (`prepare_source`) and then
renders each target motion (a slider move, a video frame) from it, so that a slider drag only
pays for the work that depends on the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import torch

from core.coefficients import FaceCoefficients, MotionSequence
from pirender.config import GeneratorConfig
from pirender.descriptor import motion_windows
from pirender.generator import RenderOutput, SourceFeatures
from pirender.tensors import image_to_tensor, tensor_to_images

__all__ = ["RenderEngine", "RenderSession"]


class RenderEngine(Protocol):
    """What a session needs of a renderer (the plain `PIRenderer` and the fast path both provide it)."""

    config: GeneratorConfig

    def prepare_source(self, source: torch.Tensor) -> SourceFeatures: ...

    def render_prepared(self, prepared: SourceFeatures, descriptor: torch.Tensor) -> RenderOutput: ...


class RenderSession:
    """Holds one prepared source; renders target motions for it.

    Args:
        engine: a `PIRenderer` (or the fast path built from one).
        source: (H, W, 3) uint8 RGB crop at the engine's resolution, or a (1, 3, H, W) tensor in [-1, 1].
    """

    def __init__(self, engine: RenderEngine, source: np.ndarray | torch.Tensor) -> None:
        self.engine = engine
        device = next(iter(engine.parameters())).device if hasattr(engine, "parameters") else "cpu"
        tensor = image_to_tensor(source, device) if isinstance(source, np.ndarray) else source
        with torch.inference_mode():
            self.prepared = engine.prepare_source(tensor)

    @property
    def config(self) -> GeneratorConfig:
        return self.engine.config

    def render(self, target: FaceCoefficients | MotionSequence | torch.Tensor) -> RenderOutput:
        """Render one record (a still edit), a whole sequence, or raw descriptor windows (B, C, window)."""
        if isinstance(target, torch.Tensor):
            descriptor = target
        else:
            descriptor = motion_windows(target, self.config.face_model, self.config.window)
        with torch.inference_mode():
            return self.engine.render_prepared(self.prepared, descriptor.to(self.prepared.source.device))

    def render_image(self, target: FaceCoefficients) -> np.ndarray:
        """One still edit -> (H, W, 3) uint8 RGB."""
        return tensor_to_images(self.render(target).fake_image)[0]

    def render_frames(
        self,
        motion: MotionSequence,
        batch_size: int = 4,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 frames of a motion sequence, rendering `batch_size` frames at a time.

        `progress(done, total)` is called after each batch (for progress bars and cancellation: raise
        from it to stop).
        """
        windows = motion_windows(motion, self.config.face_model, self.config.window)
        total = windows.shape[0]
        for start in range(0, total, batch_size):
            out = self.render(windows[start : start + batch_size])
            yield from tensor_to_images(out.fake_image)
            if progress is not None:
                progress(min(start + batch_size, total), total)
