"""Drag previews rendered in a child process, outside the server's interpreter lock.

With every drag preview rendered in the server process, a render thread held the interpreter lock
for most of its ~13 ms while Gradio's event loop needed it for every socket read and write of
every session's requests: under load the loop waited for renders (and renders for the loop) even
with the second core idle. `PreviewWorker` moves the render (target coefficients -> geometric
renderer -> paste into the drag-size canvas -> JPEG file) into one child process, so the server
only routes requests while the other core renders.

Each analysed photo is sent to the worker once, when it is analysed (the crop, the coefficients
and the drag-size canvas, never the full-resolution photo); a preview sends the slider values and the
file to write, and gets back the coefficients and the engine's name. Whenever the worker cannot answer
(still starting, restarted after a crash, the photo unknown to it, any error, too slow) `render`
returns None and the caller renders in its own process as before: a preview never fails because of
the worker. The child ends with the server, even when the server is killed.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from core.coefficients import FaceCoefficients
from pipeline import Canvas, EditRequest, EngineRegistry, Provenance, SourceState, edit, save_jpeg

__all__ = ["PreviewWorker", "WorkerPreview"]

log = logging.getLogger(__name__)

#: Photos the worker keeps (one per session that analysed one; the least recently used go first).
MAX_SOURCES = 64
#: Longest wait, seconds, for one preview from the worker before rendering it here instead.
RENDER_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerPreview:
    """A preview the worker wrote: its target coefficients, the engine that drew it, render seconds."""

    coeffs: FaceCoefficients
    engine_used: str
    seconds: float


class _Unknown(LookupError):
    """The worker does not hold this photo (restarted, evicted, or a newer analysis replaced it)."""


# --- in the child process ------------------------------------------------------------------------

_registry: EngineRegistry | None = None
_sources: OrderedDict[str, tuple[int, SourceState, Canvas]] = OrderedDict()


def _end_with_parent(parent: int) -> None:
    """End with the server (`parent`): the kernel kills this process when the server thread that
    started it ends (Linux; elsewhere a thread checks every second); a server that died while
    this process was still starting is noticed at once."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL)) == 0:
            if os.getppid() != parent:
                os._exit(0)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _start_child(parent: int) -> None:
    global _registry
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    _end_with_parent(parent)
    _registry = EngineRegistry(fast=False)


def _warm(backend: str) -> int:
    """Load the backend and its geometric renderer now, not at the first preview."""
    assert _registry is not None
    _registry.geometric(backend)
    return os.getpid()


def _load(key: str, token: int, source: SourceState, canvas: Canvas) -> None:
    assert _registry is not None
    source.engine_state(_registry.geometric(source.backend))  # prepared now, not at the first preview
    _sources[key] = (token, source, canvas)
    _sources.move_to_end(key)
    while len(_sources) > MAX_SOURCES:
        _sources.popitem(last=False)


def _drop(key: str) -> None:
    _sources.pop(key, None)


def _render(key: str, token: int, request: EditRequest, path: str, quality: int) -> WorkerPreview:
    entry = _sources.get(key)
    if entry is None or entry[0] != token:
        raise _Unknown(key)
    _, source, canvas = entry
    _sources.move_to_end(key)
    t0 = time.perf_counter()
    result = edit(source, request, registry=_registry, canvas=canvas)
    seconds = time.perf_counter() - t0
    comment = Provenance("edit", result.engine_used, source.face_model).comment
    save_jpeg(result.full_image, Path(path), quality, comment=comment)  # never creates a folder
    return WorkerPreview(result.coeffs, result.engine_used, seconds)


# --- in the server -------------------------------------------------------------------------------


class PreviewWorker:
    """The server's handle on the child process (see the module docstring).

    backend: the reconstruction backend whose geometric renderer the child loads at start.
    """

    def __init__(self, backend: str = "default") -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None  # set by the keeper thread once the child starts
        self._ended: threading.Event | None = None  # set: the keeper thread ends
        self._starting = False
        self._ready = threading.Event()
        self._loaded: dict[str, tuple[int, weakref.ref, weakref.ref]] = {}
        self._counter = itertools.count(1)
        self._closed = False
        self.pid: int | None = None
        self.rendered = 0  # previews the worker made (the rest were rendered by the caller)

    @property
    def ready(self) -> bool:
        """The child has started and loaded its renderer."""
        return self._ready.is_set()

    def start(self) -> None:
        """Start the child in the background (it takes a few seconds to import and load).

        The child is started by a thread of its own that lives as long as the child is wanted: the
        kernel kills the child when the thread that started it ends (or the whole server dies), so
        the start must not happen in a short-lived request thread.
        """
        with self._lock:
            if self._closed or self._starting or self._pool is not None:
                return
            self._starting = True
            self._ready.clear()
            self._loaded.clear()
        threading.Thread(target=self._keep, name="pirender-preview-worker", daemon=True).start()

    def _keep(self) -> None:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(os.getpid(),),
        )
        pool.submit(_warm, self.backend).add_done_callback(self._started)  # starts the child, here
        ended = threading.Event()
        with self._lock:
            closed, self._starting = self._closed, False
            if not closed:
                self._pool, self._ended = pool, ended
        if closed:  # closed while starting
            pool.shutdown(wait=False, cancel_futures=True)
            return
        ended.wait()

    def _started(self, future: Future) -> None:
        if future.cancelled() or future.exception() is not None:
            log.warning("the preview worker did not start (%s); previews render in the server", future)
            return
        self.pid = future.result()
        self._ready.set()
        log.info("preview worker ready (pid %d)", self.pid)

    def _stop(self) -> None:
        """Shut the current pool down and end its keeper thread (the caller holds no lock)."""
        with self._lock:
            pool, ended, self._pool, self._ended = self._pool, self._ended, None, None
            self._loaded.clear()
        self._ready.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if ended is not None:
            ended.set()

    def _restart(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not pool:  # another thread restarted it already
                return
        self._stop()
        log.warning("the preview worker stopped; starting a new one")
        self.start()

    def _send(self, pool: ProcessPoolExecutor, key: str, source: SourceState, canvas: Canvas) -> int:
        """Give the worker session `key`'s photo drawn into `canvas` (replacing the one it had)."""
        with self._lock:
            token = next(self._counter)
            self._loaded[key] = (token, weakref.ref(source), weakref.ref(canvas))
        pool.submit(_load, key, token, source.at_canvas(canvas), canvas)
        return token

    def load(self, key: str, source: SourceState, canvas: Canvas) -> None:
        """Send session `key`'s newly analysed photo now (the worker prepares it while the user
        reaches for a slider); without this the first preview sends it."""
        with self._lock:
            pool = self._pool
        if pool is None:
            return
        try:
            self._send(pool, key, source, canvas)
        except (BrokenProcessPool, RuntimeError):
            self._restart(pool)

    def drop(self, key: str) -> None:
        """Forget the photo of session `key` (the session ended)."""
        with self._lock:
            pool = self._pool
            known = self._loaded.pop(key, None) is not None
        if pool is not None and known:
            try:
                pool.submit(_drop, key)
            except (BrokenProcessPool, RuntimeError):
                pass

    def render(
        self, key: str, source: SourceState, canvas: Canvas, request: EditRequest, path: Path, quality: int
    ) -> WorkerPreview | None:
        """Render `request` of `source` (session `key`'s photo) into `canvas`, written as the JPEG
        `path`; None: not done, render it yourself. The photo is sent to the worker on first use."""
        with self._lock:
            pool, entry = self._pool, self._loaded.get(key)
        if pool is None or not self._ready.is_set():
            return None
        try:
            if entry is None or entry[1]() is not source or entry[2]() is not canvas:
                token = self._send(pool, key, source, canvas)
            else:
                token = entry[0]
            made = pool.submit(_render, key, token, request, str(path), int(quality)).result(RENDER_TIMEOUT_S)
            self.rendered += 1
            return made
        except BrokenProcessPool:
            self._restart(pool)
        except _Unknown:  # evicted in the worker: sent again next time
            with self._lock:
                self._loaded.pop(key, None)
        except Exception as exc:  # noqa: BLE001 - any failure: the caller renders in its own process
            log.debug("preview worker could not render (%s: %s)", type(exc).__name__, exc)
        return None

    def close(self) -> None:
        """Stop the child (shutdown); later calls render nothing."""
        with self._lock:
            self._closed = True
        self._stop()
