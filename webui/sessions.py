"""Per-session temporary files of the web app (service quality: isolation and cleanup).

Each browser session (Gradio's `session_hash`) gets its own folder for the files the app writes
(downloads, clips, videos). The folder name is an HMAC of the session hash under a secret made
when the app is built, so one session cannot name, list or guess another's folder. A folder is
deleted when its session ends (`Blocks.unload`) and by a sweeper once it has not been used for
the configured time. Tabs may register an end-of-session callback (`on_end`) that drops the
session's in-memory data (a 12-megapixel photo and its render state) at the same moments,
instead of when Gradio forgets the `gr.State` an hour after the tab is closed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.errors import InputError

__all__ = ["SessionFiles"]

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_MARKER = ".pirender-session"


class SessionFiles:
    """Folders for per-session files under one root, with lifetime management.

    Args:
        root: parent folder of all session folders (created on first use).
        ttl_seconds: a folder unused for this long is removed by `sweep()`.
        secret: key of the HMAC that names the folders (random when omitted).
    Thread-safe: the app calls it from many worker threads.
    """

    def __init__(self, root: str | os.PathLike[str], ttl_seconds: float, secret: bytes | None = None) -> None:
        if ttl_seconds <= 0:
            raise InputError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self.root = Path(root)
        self.ttl_seconds = float(ttl_seconds)
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._on_end: dict[str, list[Callable[[], None]]] = {}  # folder key -> callbacks

    # --- naming ----------------------------------------------------------------------------------

    def key(self, session_hash: str) -> str:
        """The folder name of a session: hex HMAC-SHA256 of its hash (32 characters)."""
        if not isinstance(session_hash, str) or not session_hash:
            raise InputError("a session needs a non-empty session id")
        return hmac.new(self._secret, session_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def path_of(self, session_hash: str) -> Path:
        """Where the session's folder is (it may not exist yet)."""
        return self.root / self.key(session_hash)

    def dir_for(self, session_hash: str) -> Path:
        """The session's folder, created if needed and marked as used now."""
        path = self.path_of(session_hash)
        with self._lock:
            path.mkdir(parents=True, exist_ok=True)
            marker = path / _MARKER
            marker.touch()
        return path

    def new_path(self, session_hash: str, stem: str, suffix: str) -> Path:
        """A fresh, unused file path in the session's folder: `<stem>-<random><suffix>`.

        `stem` is reduced to safe characters; the random part keeps successive results apart
        (and the browser from showing a cached older file).
        """
        clean = _SAFE_NAME.sub("-", stem).strip("-.") or "file"
        if suffix and not suffix.startswith("."):
            suffix = "." + suffix
        return self.dir_for(session_hash) / f"{clean[:60]}-{secrets.token_hex(4)}{suffix}"

    def subdir(self, session_hash: str, name: str) -> Path:
        """A named sub-folder of the session's folder (e.g. a per-job working folder)."""
        clean = _SAFE_NAME.sub("-", name).strip("-.") or "work"
        path = self.dir_for(session_hash) / clean
        path.mkdir(parents=True, exist_ok=True)
        return path

    def owns(self, session_hash: str, path: str | os.PathLike[str]) -> bool:
        """True when `path` lies inside this session's folder."""
        try:
            Path(path).resolve().relative_to(self.path_of(session_hash).resolve())
        except ValueError:
            return False
        return True

    # --- cleanup ----------------------------------------------------------------------------------

    def on_end(self, session_hash: str, callback: Callable[[], None]) -> None:
        """Call `callback()` once when the session ends or expires (registering it twice is harmless)."""
        key = self.key(session_hash)
        with self._lock:
            callbacks = self._on_end.setdefault(key, [])
            if callback not in callbacks:
                callbacks.append(callback)

    def _run_callbacks(self, key: str) -> None:
        with self._lock:
            callbacks = self._on_end.pop(key, [])
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - one failing callback must not stop the cleanup
                log.exception("end-of-session callback failed")

    def remove(self, session_hash: str) -> bool:
        """End a session: run its callbacks, delete its folder; True if there was a folder."""
        path = self.path_of(session_hash)
        self._run_callbacks(path.name)
        with self._lock:
            existed = path.exists()
            shutil.rmtree(path, ignore_errors=True)
        if existed:
            log.info("removed the files of an ended session (%s)", path.name[:8])
        return existed

    def last_used(self, path: Path) -> float:
        """Seconds since the epoch of the folder's last use (its marker's mtime, else the folder's)."""
        for candidate in (path / _MARKER, path):
            try:
                return candidate.stat().st_mtime
            except OSError:
                continue
        return 0.0

    def sweep(self, now: float | None = None) -> int:
        """Remove the session folders unused for longer than the TTL; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return 0
        for path in entries:
            if not path.is_dir() or len(path.name) != 32:
                continue
            with self._lock:
                expired = now - self.last_used(path) > self.ttl_seconds
                if expired:
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
            if expired:
                self._run_callbacks(path.name)
        if removed:
            log.info("removed %d expired session folder(s) from %s", removed, self.root)
        return removed

    def start_sweeper(self, interval_seconds: float | None = None) -> None:
        """Sweep in a daemon thread every `interval_seconds` (default: a quarter of the TTL, 10 s-10 min)."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        interval = interval_seconds or min(600.0, max(10.0, self.ttl_seconds / 4))
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sweep()
                except OSError as exc:  # a full or read-only disk must not kill the thread
                    log.warning("session sweep failed: %s", exc)

        self._sweeper = threading.Thread(target=loop, name="pirender-session-sweeper", daemon=True)
        self._sweeper.start()

    def stop_sweeper(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
            self._sweeper = None
