"""The product's renderers behind the `Renderer` contract, and the registry that chooses one per request.

- `GeometricEngine` wraps `pipeline.geometric.GeometricRenderer`: a mesh warp of the photo, needs no
  learned weights, works with any reconstruction backend's face model; instant previews.
- `NeuralEngine` wraps a `PIRenderer` (or its fast CPU path, `pirender.fast.FastRenderer`): the
  paper's generator (section 3). It takes only coefficients of the face model its weights were
  trained on. Two are known: the public weights (`PUBLIC_NEURAL`) and a renderer the user trained
  with `pirender train` (`OWN_NEURAL`, in `<weights dir>/renderer`).

The engine objects hold only weights and are shared by every request of the process; the states
they prepare belong to one user's photo and live in that user's session. `EngineRegistry` knows
which engines can run now (files present), loads each once per process on first use
(thread-safe), reports a status table for the app, and `reload()`s after the user installs or
changes weights.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from audio2motion import AudioToMotion
from core.coefficients import BFM_DEEP3D, FaceCoefficients, MotionSequence, check_face_model
from core.errors import FaceModelMismatchError, InputError, WeightsNotFoundError
from pipeline.geometric import GeometricRenderer
from pipeline.renderer import RenderedFrame, Renderer
from pirender.checkpoint import load_generator, load_pretrained
from pirender.descriptor import motion_windows
from pirender.fast import cached_fast_renderer
from pirender.session import RenderSession
from pirender.tensors import tensor_to_images
from reconstruction.backends import get_backend
from reconstruction.crop import CropTransform
from weights.registry import REGISTRY, local_path, missing_message, resolve_weights, weights_dir

__all__ = [
    "GEOMETRIC",
    "PUBLIC_NEURAL",
    "OWN_NEURAL",
    "ENGINE_CHOICES",
    "EngineChoice",
    "check_engine_choice",
    "GeometricEngine",
    "NeuralEngine",
    "NeuralState",
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

#: The reconstruction backend whose coefficients each neural engine needs.
_BACKEND_OF_FACE_MODEL = {BFM_DEEP3D: "deep3d"}
#: The deep3d backend needs only the extractor to give the public renderer its coefficients; the
#: BFM adds the geometric preview of its face model and the semantic sliders.
_DEEP3D_FILES = ("deep3d-recon",)


def check_engine_choice(choice: str) -> None:
    """InputError unless `choice` is one of ENGINE_CHOICES."""
    if choice not in ENGINE_CHOICES:
        raise InputError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, got {choice!r}")


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


# ------------------------------------------------------------------------------------------------
# Geometric preview
# ------------------------------------------------------------------------------------------------


class GeometricEngine(Renderer):
    """The geometric preview renderer (mesh warp of the photo), for the face model it was built with.

    Args:
        face_model: the face model object `GeometricRenderer` needs (a backend's `.model`:
            `LinearFaceModel` or `BFMFaceModel`), or the default model's name.
        face_model_name: the coefficients' face model name (default: the renderer's).
        renderer: an already built renderer (tests, or a custom one).
    """

    name = GEOMETRIC

    def __init__(
        self, face_model: object, *, face_model_name: str | None = None, renderer: Any | None = None
    ) -> None:
        if renderer is None:
            renderer = GeometricRenderer(face_model)
        self.renderer = renderer
        self.face_model = face_model_name or getattr(renderer, "face_model", None) or str(face_model)

    def _check(self, face_model: str) -> None:
        check_face_model(self.face_model, face_model, what="geometric preview")

    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> Any:
        self._check(source_coeffs.face_model)
        return self.renderer.prepare(_check_crop(crop), source_coeffs)

    def prepare_in_photo(
        self,
        crop: np.ndarray,
        source_coeffs: FaceCoefficients,
        transform: CropTransform,
        *,
        hand_at_face: bool = False,
    ) -> Any:
        """`prepare`, telling the renderer where the crop lies in its photo (the whole-head proxy
        reads the background only from the photo itself, not from the crop's padding) and whether
        a hand touches the face (the neck is then not held behind the jaw: docs/JAW_EDGE.md)."""
        self._check(source_coeffs.face_model)
        return self.renderer.prepare(
            _check_crop(crop), source_coeffs, transform=transform, hand_at_face=hand_at_face
        )

    def render(self, state: Any, target: FaceCoefficients) -> np.ndarray:
        self._check(target.face_model)
        return self.renderer.render(state, target)

    def render_frame(self, state: Any, target: FaceCoefficients) -> RenderedFrame:
        self._check(target.face_model)
        return self.renderer.render_frame(state, target)

    def _render_indices(
        self, state: Any, motion: MotionSequence, indices: list[int], batch_size: int
    ) -> Iterator[RenderedFrame]:
        """One frame at a time, each with its flow and overlay (for full-resolution output)."""
        self._check(motion.face_model)
        for i in indices:
            yield self.renderer.render_frame(state, motion.frame(i))

    def __repr__(self) -> str:
        return f"GeometricEngine(face_model={self.face_model!r})"


# ------------------------------------------------------------------------------------------------
# Neural renderer
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeuralState:
    """Per-photo state of a neural engine: the prepared source (RenderSession) and the crop size to return."""

    session: RenderSession
    source: FaceCoefficients
    crop_size: tuple[int, int]


class NeuralEngine(Renderer):
    """The PIRender generator (plain or fast path) behind the `Renderer` contract.

    Args:
        renderer: a `PIRenderer` or a `FastRenderer` (anything `RenderSession` drives).
        name: engine name shown to users (`PUBLIC_NEURAL`, `OWN_NEURAL`, a checkpoint's name...).
    Crops of another size than the generator's `image_size` are resized in and out.
    """

    def __init__(self, renderer: Any, name: str = PUBLIC_NEURAL) -> None:
        self.renderer = renderer
        self.name = name
        self.face_model = renderer.config.face_model
        self.image_size = int(renderer.config.image_size)
        self.window = int(renderer.config.window)

    def _check(self, face_model: str) -> None:
        check_face_model(self.face_model, face_model, what=f"neural renderer '{self.name}'")

    def prepare(self, crop: np.ndarray, source_coeffs: FaceCoefficients) -> NeuralState:
        self._check(source_coeffs.face_model)
        crop = _check_crop(crop)
        s = self.image_size
        session = RenderSession(self.renderer, np.ascontiguousarray(_resize(crop, (s, s))))
        return NeuralState(session, source_coeffs, crop.shape[:2])

    def render(self, state: NeuralState, target: FaceCoefficients) -> np.ndarray:
        self._check(target.face_model)
        return _resize(state.session.render_image(target), state.crop_size)

    def _render_indices(
        self, state: NeuralState, motion: MotionSequence, indices: list[int], batch_size: int
    ) -> Iterator[RenderedFrame]:
        """`batch_size` frames per pass of the network, each driven by its window of the whole motion."""
        self._check(motion.face_model)
        windows = motion_windows(motion, self.face_model, self.window)[indices]  # (len(indices), C, window)
        for start in range(0, len(indices), batch_size):
            out = state.session.render(windows[start : start + batch_size])
            for image in tensor_to_images(out.fake_image):
                yield RenderedFrame(crop=_resize(image, state.crop_size))

    def __repr__(self) -> str:
        kind = type(self.renderer).__name__
        return f"NeuralEngine(name={self.name!r}, face_model={self.face_model!r}, renderer={kind})"


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
        own_dir: folder of a renderer trained with `pirender train` (config.json + model.safetensors);
            default: `<weights dir>/renderer/`, looked up at each use so that `reload()` sees a new one.
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
        self._engines: dict[str, Renderer] = {}
        self._backends: dict[str, Any] = {}
        self._audio_models: dict[str, Any] = {}
        self._generation = 0  # incremented by reload()

    @property
    def own_dir(self) -> Path:
        """Folder of the renderer the user trained (where to put one when there is none)."""
        return self._own_dir if self._own_dir is not None else weights_dir() / "renderer"

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
        key = str(name).lower()
        return self._once(self._backends, key, lambda: get_backend(key))

    def geometric(self, backend: str = "default") -> GeometricEngine:
        """The geometric preview for the face model of reconstruction backend `backend`."""

        def build() -> GeometricEngine:
            b = self.backend(backend)
            model = b.require_model("the geometric preview") if hasattr(b, "require_model") else b.model
            return GeometricEngine(model, face_model_name=b.face_model)

        return self._once(self._engines, f"{GEOMETRIC}:{str(backend).lower()}", build)

    def neural(self, name: str) -> NeuralEngine:
        """Neural engine `name` (PUBLIC_NEURAL or OWN_NEURAL); WeightsNotFoundError when its files are missing."""
        if name not in (PUBLIC_NEURAL, OWN_NEURAL):
            raise InputError(f"unknown neural engine '{name}'; known: {PUBLIC_NEURAL}, {OWN_NEURAL}")
        return self._once(self._engines, name, lambda: self._load_neural(name))

    def _load_neural(self, name: str) -> NeuralEngine:
        missing = self._missing(name)
        if missing:
            raise WeightsNotFoundError(missing)
        if name == PUBLIC_NEURAL:
            model = load_generator(resolve_weights(PUBLIC_NEURAL), device=self.device)
        else:
            model = load_pretrained(self.own_dir, device=self.device)
        renderer = cached_fast_renderer(model, self.fast_options) if self.fast else model
        log.info(
            "loaded neural engine %s (%s, face model %s)",
            name,
            type(renderer).__name__,
            model.config.face_model,
        )
        return NeuralEngine(renderer, name)

    def audio_model(self, directory: str | Path) -> AudioToMotion:
        """The `audio2motion.AudioToMotion` saved in `directory`, loaded once (weights only, shared)."""
        key = str(Path(directory).resolve())
        return self._once(self._audio_models, key, lambda: AudioToMotion.from_pretrained(directory))

    def get(self, name: str, backend: str = "default") -> Renderer:
        """Engine by name: GEOMETRIC (for `backend`'s face model), PUBLIC_NEURAL or OWN_NEURAL."""
        return self.geometric(backend) if name == GEOMETRIC else self.neural(name)

    # --- availability ----------------------------------------------------------------------------

    def _missing(self, name: str) -> str | None:
        """What is missing for engine `name` to run (None: nothing)."""
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
            f"No renderer of your own at {self.own_dir} (it needs config.json and model.safetensors). "
            "Train one with `pirender train DATASET RUN` and copy RUN/export to "
            f"{self.own_dir}; the app uses the geometric preview meanwhile."
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
        public = REGISTRY[PUBLIC_NEURAL]
        own_meta = self._own_config().get("metadata") or {}
        own_licence = own_meta.get("licence") if isinstance(own_meta, dict) else None
        return [
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
                str(own_licence or "weights you trained; the licences of their training data apply"),
                "neural rendering with a renderer you trained (coefficients of the backend it was trained on)",
                self._missing(OWN_NEURAL),
                str(self.own_dir),
            ),
        ]

    # --- choosing an engine for a request --------------------------------------------------------

    def neural_for(self, face_model: str) -> NeuralEngine | None:
        """The first available neural engine that takes `face_model` coefficients (loading it), or None."""
        for name in (PUBLIC_NEURAL, OWN_NEURAL):
            if self._missing(name) is None and self.neural_face_model(name) == face_model:
                return self.neural(name)
        return None

    def select(self, choice: str, backend: str, face_model: str) -> Renderer:
        """The engine for a request: "preview" (geometric), "neural", or "auto" (neural when one fits).

        Raises WeightsNotFoundError when "neural" is asked for and none is installed, and
        FaceModelMismatchError when the installed ones take another face model's coefficients.
        """
        check_engine_choice(choice)
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
                f"(A renderer you trained yourself with `pirender train` goes in {self.own_dir}.) "
                "Until then, use the preview engine."
            )
        hints = "; ".join(
            f"'{n}' takes '{fm}' coefficients (backend '{_BACKEND_OF_FACE_MODEL.get(fm or '', 'default')}')"
            for n, fm in ((n, self.neural_face_model(n)) for n in installed)
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
