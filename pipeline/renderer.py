"""The one contract every renderer fulfils: the product's use cases, the evaluation and the benchmarks call it.

A renderer draws a source photo's face with other coefficients (paper section 3: the generator;
or the product's geometric preview). `prepare(crop, source_coeffs)` does the per-photo work once
and returns a state that belongs to the caller (a user's session); `render(state, target)` draws
one still target; `render_frames(state, motion)` draws the frames of a motion, each driven by
its own temporal window of the whole motion (what the paper's generator takes). Renderer objects
hold only weights and are shared by every request of the process.

Below this contract, `pirender.session.RenderSession` drives the network itself through the
generator's prepared-source protocol (`prepare_source` / `render_prepared`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.coefficients import FaceCoefficients, MotionSequence
from reconstruction.crop import CropTransform
from reconstruction.rim_skin import MagnifiedBand
from reconstruction.squeeze import SqueezedBand

__all__ = ["FrameProgress", "RenderedFrame", "Renderer", "crops"]

#: progress(frames_done, frames_total), called after each batch; raise from it to stop.
FrameProgress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """One rendered crop and, for a renderer that moves the photo's own pixels, how it moved them.

    crop: (c, c, 3) uint8 RGB, the rendered crop. flow: (c, c, 2) float32 backward flow in crop
    pixels (output pixel (x, y) shows the source crop at (x, y) + flow) or None when the crop was
    painted by a network. overlay / overlay_alpha: (c, c, 3) uint8 content drawn on top of the
    moved pixels (an opened mouth; or (n c, n c, 3), drawn n times finer) and its (c, c) float32
    coverage in [0, 1], or None. hidden:
    (c, c) float32 in [0, 1] on the source crop, 1 where the photo must not show (the eyeball
    behind a shut lid, where the flow jumps), or None. back_flow / front_alpha: a second layer
    behind the first, (c, c, 2) float32 and (c, c) float32 in [0, 1]: where front_alpha < 1 the
    output shows the source at (x, y) + back_flow (the background a moved head uncovers), or None.
    skin: (c, c) float32 in [0, 1], where the overlay is painted skin to be given the photo's own
    fine texture at its resolution (`reconstruction.skin.lay_skin_texture`), or None.
    finer: (n, make) or None: `make()` gives the overlay drawn n times finer, worth its time only
    where a crop pixel is laid over at least n output pixels (`pipeline.photo.place_frame`).
    magnified: `make()` gives where the flow magnifies the photo along its rows enough to streak
    (`reconstruction.rim_skin.MagnifiedBand`, or None), to be given an unmagnified outline and fine
    detail at the photo's resolution in final images (not drag previews), or None.
    squeezed: where the flow squeezes the photo under an opened mouth's lower lip, to be smoothed
    along the squeeze on a small photo (`reconstruction.squeeze.lay_squeezed`), or None.
    With a flow, the photo itself is moved at full resolution (`reconstruction.crop.warp_photo`);
    without one, the crop is pasted where it differs from the photo.
    """

    crop: np.ndarray
    flow: np.ndarray | None = None
    overlay: np.ndarray | None = None
    overlay_alpha: np.ndarray | None = None
    hidden: np.ndarray | None = None
    back_flow: np.ndarray | None = None
    front_alpha: np.ndarray | None = None
    skin: np.ndarray | None = None
    finer: tuple[int, Callable[[], np.ndarray]] | None = None
    magnified: Callable[[], MagnifiedBand | None] | None = None
    squeezed: SqueezedBand | None = None


class Renderer(abc.ABC):
    """A renderer. `name` identifies it to users and in provenance; `face_model` is the
    coefficient model it accepts ("*" for any). Images are (H, W, 3) uint8 RGB crops at the size of
    the crop given to `prepare` (256 x 256 for the product's crop).

    A renderer states `prepare` and `render`; a renderer that moves the photo's own pixels also
    states `render_frame` (with its flow and overlay), and one that draws several frames at once
    states `_render_indices`. `render_frames` is built on those, with progress reported after
    every `batch_size` frames and after the last; `crops(...)` keeps only the pictures.
    """

    name: str
    face_model: str

    @abc.abstractmethod
    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> Any:
        """Per-photo work, done once; the returned state belongs to the caller."""

    def prepare_in_photo(
        self,
        crop: np.ndarray,
        source_coeffs: FaceCoefficients,
        transform: CropTransform,
        *,
        hand_at_face: bool = False,
    ) -> Any:
        """`prepare` for a crop taken from a photo at `transform` (a renderer that reads beyond the
        crop's own content, as the whole-head proxy does, learns where the photo ends; one that
        holds the neck still behind a turned jaw learns whether a hand lies at the face)."""
        return self.prepare(crop, source_coeffs)

    @abc.abstractmethod
    def render(self, state: Any, target: FaceCoefficients) -> np.ndarray:
        """One still target -> (H, W, 3) uint8 crop."""

    def render_frame(self, state: Any, target: FaceCoefficients) -> RenderedFrame:
        """One still target -> the crop and, where the renderer moves pixels, its flow and overlay
        (by default the renderer paints the whole crop: no flow)."""
        return RenderedFrame(crop=self.render(state, target))

    def _render_indices(
        self, state: Any, motion: MotionSequence, indices: list[int], batch_size: int
    ) -> Iterator[RenderedFrame]:
        """The `RenderedFrame` of each frame index in order (by default one still frame at a time)."""
        for i in indices:
            yield self.render_frame(state, motion.frame(i))

    def render_frames(
        self,
        state: Any,
        motion: MotionSequence,
        frames: Sequence[int] | None = None,
        batch_size: int = 4,
        progress: FrameProgress | None = None,
    ) -> Iterator[RenderedFrame]:
        """One `RenderedFrame` per frame of `motion` (or per index of `frames`, each driven by its own
        window of the whole motion), `batch_size` frames per step (for output at the photo's resolution)."""
        indices = list(range(len(motion))) if frames is None else [int(i) for i in frames]
        total = len(indices)
        step = max(1, int(batch_size))
        for done, frame in enumerate(self._render_indices(state, motion, indices, step), start=1):
            yield frame
            if progress is not None and (done % step == 0 or done == total):
                progress(done, total)


def crops(frames: Iterable[RenderedFrame]) -> list[np.ndarray]:
    """The (H, W, 3) uint8 crops of rendered frames (evaluation and tests compare crops)."""
    return [frame.crop for frame in frames]
