"""Renderers behind one call shape (paper section 3: the generator; plus the product's geometric preview).

Every renderer the product can draw a face with is an `Engine`: `prepare(crop, source_coeffs)`
once per photo returns a per-photo state, then `render(state, target)` draws one target motion
and `render_sequence(state, motion)` a whole clip. The engine objects hold only weights and are
shared by every request of the process; the states belong to one user's photo and live in that
user's session (conventions 8 and 9).

- `GeometricEngine` wraps `pipeline.geometric.GeometricRenderer`: a mesh warp of the photo, needs no
  learned weights, works with any reconstruction backend's face model; instant previews.
- `NeuralEngine` wraps a `PIRenderer` (or its fast CPU path, `pirender.fast.FastRenderer`): the
  paper's generator. It takes only coefficients of the face model its weights were trained on.
- `GeometricPriorEngine` wraps a geometric-warp `PIRenderer` (the project's own renderer,
  `GeneratorConfig.geometric_refiner`): the geometric preview of each target, refined by the
  mapping + editing networks.

`EngineRegistry` knows which engines can run now (files present), loads each once per process
on first use (thread-safe), reports a status table for the app, and `reload()`s after the user
installs or changes weights.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import cv2
import numpy as np

from core.errors import FaceModelMismatchError, InputError, WeightsNotFoundError
from core.coefficients import BFM_DEEP3D, FaceCoefficients, MotionSequence, check_face_model

__all__ = [
    "GEOMETRIC",
    "PUBLIC_NEURAL",
    "OWN_NEURAL",
    "EngineChoice",
    "FrameProgress",
    "Engine",
    "GeometricEngine",
    "NeuralEngine",
    "NeuralState",
    "GeometricPriorEngine",
    "GeometricPriorState",
    "EngineStatus",
    "EngineRegistry",
    "default_registry",
]

log = logging.getLogger(__name__)

#: Engine names.
GEOMETRIC = "geometric"
PUBLIC_NEURAL = "pirender-vox"
OWN_NEURAL = "own"
#: What a request may ask for: the geometric preview, a neural renderer, or the best one available.
EngineChoice = Literal["preview", "neural", "auto"]
ENGINE_CHOICES: tuple[str, ...] = ("preview", "neural", "auto")
#: progress(frames_done, frames_total), called after each batch; raise from it to stop.
FrameProgress = Callable[[int, int], None]

#: The reconstruction backend whose coefficients each neural engine needs.
_BACKEND_OF_FACE_MODEL = {BFM_DEEP3D: "deep3d"}
_DEEP3D_FILES = ("deep3d-recon", "bfm-front")


def _name_of(face_model: object) -> str:
    """The name of a face model given as a name, a model object with `.name`, or a backend's model."""
    if isinstance(face_model, str):
        return face_model
    for attr in ("name", "face_model_name", "face_model"):
        value = getattr(face_model, attr, None)
        if isinstance(value, str):
            return value
    if type(face_model).__name__.startswith("BFM"):
        return BFM_DEEP3D
    raise InputError(f"cannot tell which face model a {type(face_model).__name__} is: give its name")


def _check_crop(crop: object) -> np.ndarray:
    if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        found = f"{crop.dtype} {crop.shape}" if isinstance(crop, np.ndarray) else type(crop).__name__
        raise InputError(f"the source crop must be a (H, W, 3) uint8 RGB array, got {found}")
    return crop


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 HWC image -> (H, W) = size; area filter when shrinking, cubic when enlarging."""
    if image.shape[:2] == size:
        return image
    shrink = size[0] < image.shape[0]
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


@runtime_checkable
class Engine(Protocol):
    """One renderer. `name` identifies it; `face_model` is the coefficient model it accepts
    ("*" for any). Images are (H, W, 3) uint8 RGB crops (256 x 256 for the product's crop)."""

    name: str
    face_model: str

    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> Any:
        """Per-photo work, done once; the returned state belongs to the caller."""

    def render(self, state: Any, target: FaceCoefficients) -> np.ndarray:
        """One target motion -> (H, W, 3) uint8 crop."""

    def render_sequence(
        self, state: Any, motion: MotionSequence, batch_size: int = 4, progress: FrameProgress | None = None
    ) -> Iterator[np.ndarray]:
        """Yield one (H, W, 3) uint8 crop per frame of `motion`."""


# ------------------------------------------------------------------------------------------------
# Geometric preview
# ------------------------------------------------------------------------------------------------


class GeometricEngine:
    """The geometric preview renderer (mesh warp of the photo), for the face model it was built with.

    Args:
        face_model: the face model object `GeometricRenderer` needs (a backend's `.model`:
            `LinearFaceModel` or `BFMFaceModel`), or its name when `renderer` is given.
        face_model_name: the coefficients' face model name (default: taken from `face_model`).
        renderer: an already built renderer (tests, or a custom one).
    """

    name = GEOMETRIC

    def __init__(
        self, face_model: object, *, face_model_name: str | None = None, renderer: Any | None = None
    ) -> None:
        if renderer is None:
            from pipeline.geometric import GeometricRenderer

            renderer = GeometricRenderer(face_model)
        self.renderer = renderer
        self.face_model = face_model_name or _name_of(face_model)

    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> Any:
        check_face_model(self.face_model, source_coeffs.face_model, what="geometric preview")
        return self.renderer.prepare(_check_crop(crop), source_coeffs)

    def render(self, state: Any, target: FaceCoefficients) -> np.ndarray:
        check_face_model(self.face_model, target.face_model, what="geometric preview")
        return self.renderer.render(state, target)

    def face_mask(self, state: Any, target: FaceCoefficients) -> np.ndarray:
        """(H, W) uint8, 255 on the target's face (`GeometricRenderer.face_mask`)."""
        check_face_model(self.face_model, target.face_model, what="geometric preview")
        return self.renderer.face_mask(state, target)

    def render_motion(self, state: Any, motion: MotionSequence, indices: Any) -> np.ndarray:
        """Frames `indices` of `motion` -> (N, H, W, 3) uint8 (the evaluator's entry point)."""
        check_face_model(self.face_model, motion.face_model, what="geometric preview")
        return np.stack([self.renderer.render(state, motion.frame(int(i))) for i in indices])

    def render_sequence(
        self, state: Any, motion: MotionSequence, batch_size: int = 4, progress: FrameProgress | None = None
    ) -> Iterator[np.ndarray]:
        check_face_model(self.face_model, motion.face_model, what="geometric preview")
        total = len(motion)
        step = max(1, int(batch_size))
        for i in range(total):
            yield self.renderer.render(state, motion.frame(i))
            if progress is not None and ((i + 1) % step == 0 or i + 1 == total):
                progress(i + 1, total)

    def __repr__(self) -> str:
        return f"GeometricEngine(face_model={self.face_model!r})"


# ------------------------------------------------------------------------------------------------
# Neural renderer
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeuralState:
    """Per-photo state of a neural engine: the prepared source (RenderSession) and the crop size to return."""

    session: Any
    source: FaceCoefficients
    crop_size: tuple[int, int]


class NeuralEngine:
    """The PIRender generator (plain or fast path) behind the `Engine` call shape.

    Args:
        renderer: anything satisfying `pirender.session.RenderEngine` (`PIRenderer`, `FastRenderer`).
        name: engine name shown to users (`PUBLIC_NEURAL`, `OWN_NEURAL`, ...).
    Crops of another size than the generator's `image_size` are resized in and out.
    """

    def __init__(self, renderer: Any, name: str = PUBLIC_NEURAL) -> None:
        self.renderer = renderer
        self.name = name
        self.face_model = renderer.config.face_model
        self.image_size = int(renderer.config.image_size)

    def _check(self, face_model: str) -> None:
        check_face_model(self.face_model, face_model, what=f"neural renderer '{self.name}'")

    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> NeuralState:
        from pirender.session import RenderSession

        self._check(source_coeffs.face_model)
        crop = _check_crop(crop)
        s = self.image_size
        session = RenderSession(self.renderer, np.ascontiguousarray(_resize(crop, (s, s))))
        return NeuralState(session, source_coeffs, crop.shape[:2])

    def render(self, state: NeuralState, target: FaceCoefficients) -> np.ndarray:
        self._check(target.face_model)
        return _resize(state.session.render_image(target), state.crop_size)

    def render_sequence(
        self,
        state: NeuralState,
        motion: MotionSequence,
        batch_size: int = 4,
        progress: FrameProgress | None = None,
    ) -> Iterator[np.ndarray]:
        self._check(motion.face_model)
        for frame in state.session.render_frames(
            motion, batch_size=max(1, int(batch_size)), progress=progress
        ):
            yield _resize(frame, state.crop_size)

    def __repr__(self) -> str:
        return f"NeuralEngine(name={self.name!r}, face_model={self.face_model!r}, renderer={type(self.renderer).__name__})"


@dataclass(frozen=True)
class GeometricPriorState:
    """Per-photo state of a `GeometricPriorEngine`: the preview's state and the network's source features."""

    preview: Any
    prepared: Any
    source: FaceCoefficients
    crop_size: tuple[int, int]
    person_mask: Any = None  # (1, 1, s, s) tensor when the model keeps its flow near the person


class GeometricPriorEngine:
    """A geometric-warp generator behind the `Engine` call shape: the geometric preview draws each
    target, the network (mapping + residual editing net) repairs it.

    Args:
        model: a `PIRenderer` whose `config.warp_source` is "geometric".
        geometric: the `GeometricEngine` of the model's face model (draws the warped input).
        name: engine name shown to users.
    Crops of another size than the model's `image_size` are resized in and out.
    """

    def __init__(self, model: Any, geometric: GeometricEngine, name: str = OWN_NEURAL) -> None:
        if not model.config.geometric_warp:
            raise InputError("GeometricPriorEngine needs a generator with warp_source='geometric'")
        self.model = model.eval()
        self.geometric = geometric
        self.name = name
        self.face_model = model.config.face_model
        check_face_model(self.face_model, geometric.face_model, what=f"neural renderer '{name}'")
        self.image_size = int(model.config.image_size)
        self.window = int(model.config.window)
        self._segmenter: Any = None  # built on first use when the model needs person masks

    @property
    def config(self) -> Any:
        return self.model.config

    def _check(self, face_model: str) -> None:
        check_face_model(self.face_model, face_model, what=f"neural renderer '{self.name}'")

    def _device(self) -> Any:
        return next(self.model.parameters()).device

    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> GeometricPriorState:
        import torch

        from pirender.tensors import image_to_tensor

        self._check(source_coeffs.face_model)
        crop = _check_crop(crop)
        s = self.image_size
        small = np.ascontiguousarray(_resize(crop, (s, s)))
        preview = self.geometric.prepare(small, source_coeffs)
        with torch.inference_mode():
            prepared = self.model.prepare_source(image_to_tensor(small, self._device()))
        person = None
        if self.model.config.flow_person_margin:
            if self._segmenter is None:
                from reconstruction.segmentation import PersonSegmenter

                self._segmenter = PersonSegmenter()
            person = torch.from_numpy(self._segmenter.person_mask(small)).to(self._device())[None, None]
        return GeometricPriorState(preview, prepared, source_coeffs, crop.shape[:2], person)

    def _render_windows(
        self, state: GeometricPriorState, frames: list[FaceCoefficients], windows: Any
    ) -> list[np.ndarray]:
        """Targets (their records and (B, C, window) descriptor windows) -> crops at the photo's size."""
        import torch

        from pirender.tensors import tensor_to_images

        warped = np.stack([self.geometric.render(state.preview, f) for f in frames])
        device = self._device()
        warped_t = torch.from_numpy(warped).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        face_t = None
        if self.model.config.flow_outside_face:
            faces = np.stack([self.geometric.face_mask(state.preview, f) for f in frames])
            face_t = torch.from_numpy(faces).to(device)[:, None].float() / 255.0
        with torch.inference_mode():
            out = self.model.render_prepared(
                state.prepared, windows.to(device), warped=warped_t, face_mask=face_t, person_mask=state.person_mask
            )
        return [_resize(image, state.crop_size) for image in tensor_to_images(out.fake_image)]

    def render(self, state: GeometricPriorState, target: FaceCoefficients) -> np.ndarray:
        from pirender.descriptor import motion_windows

        self._check(target.face_model)
        return self._render_windows(state, [target], motion_windows(target, self.face_model, self.window))[0]

    def render_motion(self, state: GeometricPriorState, motion: MotionSequence, indices: Any) -> np.ndarray:
        """Frames `indices` of `motion`, each driven by its own descriptor window -> (N, H, W, 3) uint8."""
        from pirender.descriptor import motion_windows

        self._check(motion.face_model)
        windows = motion_windows(motion, self.face_model, self.window)
        idx = [int(i) for i in indices]
        out: list[np.ndarray] = []
        for start in range(0, len(idx), 4):
            chunk = idx[start : start + 4]
            out += self._render_windows(state, [motion.frame(i) for i in chunk], windows[chunk])
        return np.stack(out)

    def render_sequence(
        self,
        state: GeometricPriorState,
        motion: MotionSequence,
        batch_size: int = 4,
        progress: FrameProgress | None = None,
    ) -> Iterator[np.ndarray]:
        from pirender.descriptor import motion_windows

        self._check(motion.face_model)
        windows = motion_windows(motion, self.face_model, self.window)
        total = len(motion)
        step = max(1, int(batch_size))
        for start in range(0, total, step):
            chunk = list(range(start, min(start + step, total)))
            yield from self._render_windows(state, [motion.frame(i) for i in chunk], windows[chunk])
            if progress is not None:
                progress(chunk[-1] + 1, total)

    def __repr__(self) -> str:
        return f"GeometricPriorEngine(name={self.name!r}, face_model={self.face_model!r})"


# ------------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineStatus:
    """One row of the app's engine panel.

    available: its files are present (it can be loaded now); loaded: it is in memory;
    face_model: the coefficients it takes ("*": any backend's); missing: what to install where
    (None when available); path: the weights it loads from (None for the geometric engine).
    """

    name: str
    kind: Literal["preview", "neural"]
    available: bool
    loaded: bool
    face_model: str
    licence: str
    enables: str
    missing: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class EngineRegistry:
    """Which engines exist here, loaded lazily and once per process; safe to share between threads.

    Args:
        own_dir: folder of a project-trained renderer (config.json + model.safetensors);
            default: `<weights dir>/renderer/` (a model you trained), else the bundled
            `weights/files/renderer/`, looked up at each use so that `reload()` sees a new one.
        fast: wrap neural generators in the fast CPU path (`pirender.fast`, compiled once).
        fast_options: `pirender.fast.FastOptions` for it (None: its defaults).
        device: torch device for the neural generators.
    """

    def __init__(
        self,
        *,
        own_dir: str | Path | None = None,
        fast: bool = True,
        fast_options: Any | None = None,
        device: str = "cpu",
    ) -> None:
        self._own_dir = Path(own_dir) if own_dir is not None else None
        self.fast = fast
        self.fast_options = fast_options
        self.device = device
        self._lock = threading.Lock()  # guards the dicts below (never held while loading)
        self._key_locks: dict[str, threading.Lock] = {}
        self._engines: dict[str, Engine] = {}
        self._backends: dict[str, Any] = {}
        self._audio_models: dict[str, Any] = {}
        self._generation = 0  # incremented by reload()

    @property
    def own_dir(self) -> Path:
        """Folder of the project-trained renderer in use (or, when there is none, where to put one)."""
        if self._own_dir is not None:
            return self._own_dir
        from weights.registry import bundled_dir, weights_dir

        candidates = [weights_dir() / "renderer", bundled_dir() / "renderer"]
        return next((c for c in candidates if (c / "config.json").is_file()), candidates[0])

    # --- loading, once per key ---------------------------------------------------------------

    def _once(self, cache: dict[str, Any], key: str, build: Callable[[], Any]) -> Any:
        """cache[key], built by `build()` exactly once even when many threads ask at the same time."""
        value = cache.get(key)
        if value is not None:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(f"{id(cache)}:{key}", threading.Lock())
            generation = self._generation
        with key_lock:
            value = cache.get(key)
            if value is None:
                value = build()
                with self._lock:
                    if generation == self._generation:  # not cached when a reload happened meanwhile
                        cache[key] = value
        return value

    def backend(self, name: str = "default") -> Any:
        """The reconstruction backend `name` ("default" | "deep3d"), loaded once."""
        from reconstruction.backends import get_backend

        key = str(name).lower()
        return self._once(self._backends, key, lambda: get_backend(key))

    def geometric(self, backend: str = "default") -> GeometricEngine:
        """The geometric preview for the face model of reconstruction backend `backend`."""

        def build() -> GeometricEngine:
            b = self.backend(backend)
            return GeometricEngine(b.model, face_model_name=b.face_model)

        return self._once(self._engines, f"{GEOMETRIC}:{str(backend).lower()}", build)

    def neural(self, name: str) -> NeuralEngine | GeometricPriorEngine:
        """Neural engine `name` (PUBLIC_NEURAL or OWN_NEURAL); WeightsNotFoundError when its files are missing."""
        if name not in (PUBLIC_NEURAL, OWN_NEURAL):
            raise InputError(f"unknown neural engine '{name}'; known: {PUBLIC_NEURAL}, {OWN_NEURAL}")
        return self._once(self._engines, name, lambda: self._load_neural(name))

    def _load_neural(self, name: str) -> NeuralEngine | GeometricPriorEngine:
        from pirender.generator import PIRenderer

        missing = self._missing(name)
        if missing:
            raise WeightsNotFoundError(missing)
        if name == PUBLIC_NEURAL:
            from weights.registry import resolve_weights

            model = PIRenderer.from_checkpoint(resolve_weights(PUBLIC_NEURAL), device=self.device)
        else:
            model = PIRenderer.from_pretrained(self.own_dir, device=self.device)
        if model.config.geometric_warp:
            backend = _BACKEND_OF_FACE_MODEL.get(model.config.face_model, "default")
            log.info("loaded neural engine %s (geometric preview + refiner, face model %s)", name, model.config.face_model)
            return GeometricPriorEngine(model, self.geometric(backend), name)
        renderer: Any = model
        if self.fast:
            from pirender.fast import cached_fast_renderer

            renderer = cached_fast_renderer(model, self.fast_options)
        log.info(
            "loaded neural engine %s (%s, face model %s)",
            name,
            type(renderer).__name__,
            model.config.face_model,
        )
        return NeuralEngine(renderer, name)

    def audio_model(self, directory: str | Path) -> Any:
        """The `audio2motion.AudioToMotion` saved in `directory`, loaded once (weights only, shared)."""

        def build() -> Any:
            from audio2motion import AudioToMotion

            return AudioToMotion.from_pretrained(directory)

        return self._once(self._audio_models, str(Path(directory).resolve()), build)

    def get(self, name: str, backend: str = "default") -> Engine:
        """Engine by name: GEOMETRIC (for `backend`'s face model), PUBLIC_NEURAL or OWN_NEURAL."""
        return self.geometric(backend) if name == GEOMETRIC else self.neural(name)

    # --- availability ----------------------------------------------------------------------------

    def _missing(self, name: str) -> str | None:
        """What is missing for engine `name` to run (None: nothing)."""
        from weights.registry import REGISTRY, local_path, missing_message

        if name == GEOMETRIC:
            return None
        if name == PUBLIC_NEURAL:
            needed = (PUBLIC_NEURAL, *_DEEP3D_FILES)
            parts = [missing_message(REGISTRY[n]) for n in needed if not local_path(n).is_file()]
            if parts and local_path(PUBLIC_NEURAL).is_file():
                parts.insert(
                    0,
                    "The public renderer needs coefficients from the deep3d backend, whose files are missing.",
                )
            return " ".join(parts) or None
        files = [self.own_dir / "config.json", self.own_dir / "model.safetensors"]
        if all(f.is_file() for f in files):
            return None
        return (
            f"No project-trained renderer at {self.own_dir} (it needs config.json and model.safetensors). "
            "Train one with `bash scripts/train_own_renderer.sh` (or `pirender train DATASET RUN --generator "
            f"refiner`) and copy RUN/export to {self.own_dir}; the app uses the geometric preview meanwhile."
        )

    def available(self) -> list[str]:
        """Names of the engines that can run now, geometric first."""
        return [n for n in (GEOMETRIC, PUBLIC_NEURAL, OWN_NEURAL) if self._missing(n) is None]

    def _own_config(self) -> dict[str, Any]:
        try:
            data = json.loads((self.own_dir / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def neural_face_model(self, name: str) -> str | None:
        """Face model a neural engine takes, known without loading its weights (None if unknown)."""
        if name == PUBLIC_NEURAL:
            return BFM_DEEP3D
        engine = self._engines.get(name)
        if engine is not None:
            return engine.face_model
        generator = self._own_config().get("generator")
        if isinstance(generator, dict):
            value = generator.get("face_model", BFM_DEEP3D)
            return value if isinstance(value, str) else None
        return None

    def status(self) -> list[EngineStatus]:
        """One record per engine for a status panel (cheap: checks files, loads nothing)."""
        from weights.registry import REGISTRY, local_path

        public = REGISTRY[PUBLIC_NEURAL]
        own_meta = self._own_config().get("metadata") or {}
        own_licence = own_meta.get("licence") if isinstance(own_meta, dict) else None
        rows = [
            EngineStatus(
                GEOMETRIC,
                "preview",
                True,
                any(k.startswith(GEOMETRIC + ":") for k in self._engines),
                "*",
                "project code (no learned weights)",
                "instant previews of every edit: the photo is warped along the fitted 3D face mesh",
            ),
            EngineStatus(
                PUBLIC_NEURAL,
                "neural",
                self._missing(PUBLIC_NEURAL) is None,
                PUBLIC_NEURAL in self._engines,
                BFM_DEEP3D,
                f"{public.licence}; the deep3d backend's files have their own terms ({REGISTRY['bfm-front'].licence})",
                public.needed_for,
                self._missing(PUBLIC_NEURAL),
                str(local_path(PUBLIC_NEURAL)),
            ),
            EngineStatus(
                OWN_NEURAL,
                "neural",
                self._missing(OWN_NEURAL) is None,
                OWN_NEURAL in self._engines,
                self.neural_face_model(OWN_NEURAL) or "unknown",
                str(own_licence or "project-trained weights; the licences of their training data apply"),
                "neural rendering with the project's own renderer (coefficients of the default backend)",
                self._missing(OWN_NEURAL),
                str(self.own_dir),
            ),
        ]
        return rows

    # --- choosing an engine for a request --------------------------------------------------------

    def neural_for(self, face_model: str) -> NeuralEngine | GeometricPriorEngine | None:
        """The first available neural engine that takes `face_model` coefficients (loading it), or None."""
        for name in (PUBLIC_NEURAL, OWN_NEURAL):
            if self._missing(name) is None and self.neural_face_model(name) == face_model:
                return self.neural(name)
        return None

    def select(self, choice: str, backend: str, face_model: str) -> Engine:
        """The engine for a request: "preview" (geometric), "neural", or "auto" (neural when one fits).

        Raises WeightsNotFoundError when "neural" is asked for and none is installed, and
        FaceModelMismatchError when the installed ones take another face model's coefficients.
        """
        if choice not in ENGINE_CHOICES:
            raise InputError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, got {choice!r}")
        if choice == "preview":
            return self.geometric(backend)
        engine = self.neural_for(face_model)
        if engine is not None:
            return engine
        if choice == "auto":
            return self.geometric(backend)
        installed = [n for n in (PUBLIC_NEURAL, OWN_NEURAL) if self._missing(n) is None]
        if not installed:
            raise WeightsNotFoundError(
                f"No neural renderer is installed. {self._missing(PUBLIC_NEURAL)} "
                f"(A renderer you trained yourself for the default face model goes in {self.own_dir}: "
                "see docs/OWN_RENDERER.md.) Until then, use the preview engine."
            )
        wanted = {n: self.neural_face_model(n) for n in installed}
        hints = "; ".join(
            f"'{n}' takes '{fm}' coefficients (backend '{_BACKEND_OF_FACE_MODEL.get(fm or '', 'default')}')"
            for n, fm in wanted.items()
        )
        raise FaceModelMismatchError(
            f"This photo was analysed with backend '{backend}' (face model '{face_model}'), but the installed "
            f"neural renderers take other coefficients: {hints}. Analyse the photo with that backend, "
            "or use the preview engine."
        )

    def reload(self) -> None:
        """Forget every loaded engine and backend: the next request loads the files present then.

        States prepared by the old engines stay valid for their own engine; new requests use new ones.
        """
        with self._lock:
            self._engines.clear()
            self._backends.clear()
            self._audio_models.clear()
            self._key_locks.clear()
            self._generation += 1
        log.info("engine registry reloaded")


_DEFAULT: EngineRegistry | None = None
_DEFAULT_LOCK = threading.Lock()


def default_registry() -> EngineRegistry:
    """The process-wide registry (created on first use, never at import)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = EngineRegistry()
        return _DEFAULT
