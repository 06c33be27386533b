"""Per-session temporary files and jobs of the web app: isolation, cleanup, bounded disk.

Each browser session (Gradio's `session_hash`) gets its own folder for the files the app writes
(downloads, clips, videos). The folder name is an HMAC of the session hash under a secret made
when the app is built, so one session cannot name, list or guess another's folder.

Lifetime: when a session ends (`Blocks.unload`: tab closed, page reloaded, client gone) its
running jobs are cancelled (their cancel events are set, the pipeline stops at the next frame
boundary), its folder is deleted, the uploads only it used are deleted, and the folder is never
created again: a late write of an ended session raises `Cancelled` instead. A sweeper removes
folders unused for the configured time. Tabs may register an end-of-session callback (`on_end`)
that drops the session's in-memory data at the same moments.

Disk: a session keeps its `keep_downloads` newest downloads (older ones are deleted) within a
size quota; the whole run folder (sessions and Gradio's uploads) has a global quota, enforced by
deleting the downloads of the least recently used other sessions, then uploads no live session
uses; when nothing more can go, `StorageFullError` says so.
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
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from core.errors import InputError, PIRenderError
from pipeline import Cancelled

__all__ = ["SessionFiles", "StorageFullError", "SESSION_ENDED", "folder_size"]

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_MARKER = ".pirender-session"
#: Uploads younger than this are never evicted: the handler that uses them may be about to start.
_UPLOAD_GRACE_S = 60.0
SESSION_ENDED = (
    "This page's session has ended, so the job was stopped and nothing was saved. Reload the page."
)


class StorageFullError(PIRenderError):
    """A disk quota of the server is reached; the message says what to do."""


def folder_size(path: Path) -> int:
    """Bytes of all regular files below `path` (0 when it does not exist)."""
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


class SessionFiles:
    """Folders for per-session files under one root, with lifetime management and quotas.

    Args:
        root: parent folder of all session folders (created on first use).
        ttl_seconds: a folder unused for this long is removed by `sweep()`.
        secret: key of the HMAC that names the folders (random when omitted).
        keep_downloads: downloads (PNGs, videos) kept per session; older ones are deleted.
        session_quota_bytes: most bytes one session's folder may hold (None: no limit).
        total_quota_bytes: most bytes of `quota_root` (None: no limit).
        quota_root: the folder the total quota applies to (default `root`); the app passes its run
            folder, which also holds Gradio's uploads.
    Thread-safe: the app calls it from many worker threads.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        ttl_seconds: float,
        secret: bytes | None = None,
        *,
        keep_downloads: int = 8,
        session_quota_bytes: int | None = None,
        total_quota_bytes: int | None = None,
        quota_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise InputError(f"ttl_seconds must be positive, got {ttl_seconds}")
        if keep_downloads < 1:
            raise InputError(f"keep_downloads must be at least 1, got {keep_downloads}")
        self.root = Path(root)
        self.ttl_seconds = float(ttl_seconds)
        self.keep_downloads = int(keep_downloads)
        self.session_quota_bytes = session_quota_bytes
        self.total_quota_bytes = total_quota_bytes
        self.quota_root = Path(quota_root) if quota_root is not None else self.root
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._on_end: dict[str, list[Callable[[], None]]] = {}  # folder key -> callbacks
        self._ended: dict[str, float] = {}  # folder key -> when the session ended
        self._jobs: dict[str, set[threading.Event]] = {}  # folder key -> cancel events of running jobs
        self._downloads: dict[str, deque[Path]] = {}  # folder key -> downloads, oldest first
        self._uploads: dict[Path, set[str]] = {}  # upload file -> keys of the sessions using it
        self._upload_stamps: dict[Path, tuple[int, int] | None] = {}  # upload file -> (inode, mtime) adopted
        self._pinned: set[Path] = set()  # top-level entries of quota_root that are never evicted

    # --- naming ----------------------------------------------------------------------------------

    def key(self, session_hash: str) -> str:
        """The folder name of a session: hex HMAC-SHA256 of its hash (32 characters)."""
        if not isinstance(session_hash, str) or not session_hash:
            raise InputError("a session needs a non-empty session id")
        return hmac.new(self._secret, session_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def path_of(self, session_hash: str) -> Path:
        """Where the session's folder is (it may not exist yet)."""
        return self.root / self.key(session_hash)

    def ended(self, session_hash: str) -> bool:
        """True once the session has ended (its folder is gone for good)."""
        return self.key(session_hash) in self._ended

    def dir_for(self, session_hash: str) -> Path:
        """The session's folder, created if needed and marked as used now.

        Raises Cancelled when the session has ended: its files must not come back.
        """
        path = self.path_of(session_hash)
        with self._lock:
            if path.name in self._ended:
                raise Cancelled(SESSION_ENDED)
            path.mkdir(parents=True, exist_ok=True)
            (path / _MARKER).touch()
        return path

    def new_path(self, session_hash: str, stem: str, suffix: str, *, download: bool = False) -> Path:
        """A fresh, unused file path in the session's folder: `<stem>-<random><suffix>`.

        `stem` is reduced to safe characters; the random part keeps successive results apart
        (and the browser from showing a cached older file). `download`: the file is a result the
        user keeps (PNG, video): it counts against `keep_downloads` and the quotas, which are
        enforced now (older downloads deleted; StorageFullError when no room can be made).
        """
        clean = _SAFE_NAME.sub("-", stem).strip("-.") or "file"
        if suffix and not suffix.startswith("."):
            suffix = "." + suffix
        folder = self.dir_for(session_hash)
        path = folder / f"{clean[:60]}-{secrets.token_hex(4)}{suffix}"
        if download:
            self._make_room(folder.name)
            self.track(session_hash, [path])
        return path

    def track(self, session_hash: str, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Count files written into the session's folder under other names as downloads."""
        key = self.key(session_hash)
        with self._lock:
            queue = self._downloads.setdefault(key, deque())
            for p in paths:
                if Path(p) not in queue:
                    queue.append(Path(p))
            while len(queue) > self.keep_downloads:
                queue.popleft().unlink(missing_ok=True)

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

    # --- uploads ---------------------------------------------------------------------------------

    def pin_existing(self) -> None:
        """Never evict what `quota_root` holds now (the examples Gradio cached while the app was built)."""
        try:
            entries = set(self.quota_root.iterdir())
        except OSError:
            return
        with self._lock:
            self._pinned |= entries

    def adopt(self, session_hash: str, *paths: str | os.PathLike[str] | None) -> None:
        """Uploads (in Gradio's cache under `quota_root`) used by the session: deleted when the last
        session that used them ends. Gradio names an upload's folder by its content, so two sessions
        uploading the same photo share one file, and a second upload replaces the file before its
        handler runs: the file's stamp is kept so that release can tell it was uploaded again."""
        key = self.key(session_hash)
        root = self.quota_root.resolve()
        with self._lock:
            for p in paths:
                if not p:
                    continue
                path = Path(p).resolve()
                try:
                    top = root / path.relative_to(root).parts[0]
                except (ValueError, IndexError):
                    continue
                if top in self._pinned or path.is_relative_to(self.root.resolve()):
                    continue
                self._uploads.setdefault(path, set()).add(key)
                self._upload_stamps[path] = _stamp(path)

    def _release_uploads(self, key: str) -> int:
        """Delete the uploads no other session uses, unless the file was uploaded again since it was
        adopted (another session's handler is about to adopt it; the sweeper removes it after the
        grace time if none does)."""
        removed = 0
        with self._lock:
            for path, users in list(self._uploads.items()):
                users.discard(key)
                if not users:
                    del self._uploads[path]
                    if _stamp(path) == self._upload_stamps.pop(path, None):
                        removed += _remove_upload(path)
        return removed

    # --- jobs ------------------------------------------------------------------------------------

    def begin_job(self, session_hash: str, cancel: threading.Event) -> None:
        """Register a running job's cancel event: it is set when the session ends.

        Raises Cancelled at once when the session has already ended (a job that waited in the queue).
        """
        key = self.key(session_hash)
        with self._lock:
            if key in self._ended:
                raise Cancelled(SESSION_ENDED)
            self._jobs.setdefault(key, set()).add(cancel)

    def end_job(self, session_hash: str, cancel: threading.Event) -> None:
        key = self.key(session_hash)
        with self._lock:
            events = self._jobs.get(key)
            if events is not None:
                events.discard(cancel)
                if not events:
                    del self._jobs[key]

    def running_jobs(self) -> int:
        with self._lock:
            return sum(len(events) for events in self._jobs.values())

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

    def _cancel_jobs(self, key: str) -> int:
        with self._lock:
            events = self._jobs.pop(key, set())
        for event in events:
            event.set()
        return len(events)

    def remove(self, session_hash: str) -> bool:
        """End a session: cancel its jobs, run its callbacks, delete its folder and the uploads only
        it used; the folder is never created again. True if there was a folder."""
        path = self.path_of(session_hash)
        key = path.name
        with self._lock:
            self._ended[key] = time.time()
        cancelled = self._cancel_jobs(key)
        self._run_callbacks(key)
        with self._lock:
            existed = path.exists()
            shutil.rmtree(path, ignore_errors=True)
            self._downloads.pop(key, None)
        uploads = self._release_uploads(key)
        if existed or cancelled or uploads:
            log.info(
                "session %s ended: %d job(s) cancelled, folder removed, %d upload(s) removed",
                key[:8],
                cancelled,
                uploads,
            )
        return existed

    def end_all(self) -> None:
        """Shutdown: end every session this object knows (jobs cancelled, folders and uploads removed)."""
        with self._lock:
            keys = set(self._jobs) | set(self._on_end) | set(self._downloads)
            keys |= {k for users in self._uploads.values() for k in users}
            for key in keys:
                self._ended[key] = time.time()
        for key in keys:
            self._cancel_jobs(key)
            self._run_callbacks(key)
            self._release_uploads(key)
        shutil.rmtree(self.root, ignore_errors=True)

    def last_used(self, path: Path) -> float:
        """Seconds since the epoch of the folder's last use (its marker's mtime, else the folder's)."""
        for candidate in (path / _MARKER, path):
            try:
                return candidate.stat().st_mtime
            except OSError:
                continue
        return 0.0

    def _session_folders(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and len(p.name) == 32]
        except OSError:
            return []

    def remove_stragglers(self) -> int:
        """Remove the folders of ended sessions that a write racing their removal left behind (a
        preview finishing in the worker process as the tab closed); returns how many."""
        with self._lock:
            stragglers = [self.root / key for key in self._ended if (self.root / key).exists()]
            for path in stragglers:
                shutil.rmtree(path, ignore_errors=True)
        return len(stragglers)

    def sweep(self, now: float | None = None) -> int:
        """Remove the session folders unused for longer than the TTL; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        for path in self._session_folders():
            with self._lock:
                expired = now - self.last_used(path) > self.ttl_seconds
                if expired:
                    shutil.rmtree(path, ignore_errors=True)
                    self._downloads.pop(path.name, None)
                    removed += 1
            if expired:
                self._cancel_jobs(path.name)
                self._run_callbacks(path.name)
                self._release_uploads(path.name)
        with self._lock:  # an ended session is remembered for one TTL (its late jobs), then forgotten
            for key, when in list(self._ended.items()):
                if now - when > self.ttl_seconds:
                    del self._ended[key]
        if removed:
            log.info("removed %d expired session folder(s) from %s", removed, self.root)
        return removed

    # --- quotas ----------------------------------------------------------------------------------

    def _make_room(self, key: str) -> None:
        """Before a new download of session `key`: keep_downloads - 1 older downloads at most, and the
        session and total quotas respected; StorageFullError when no room can be made."""
        with self._lock:
            queue = self._downloads.setdefault(key, deque())
            while len(queue) >= self.keep_downloads:
                queue.popleft().unlink(missing_ok=True)
            quota = self.session_quota_bytes
            if quota is not None:
                folder = self.root / key
                while queue and folder_size(folder) >= quota:
                    queue.popleft().unlink(missing_ok=True)
                if folder_size(folder) >= quota:
                    raise StorageFullError(
                        f"Your results fill this session's storage ({quota / 2**20:.0f} MB). "
                        "Reload the page to start a fresh session."
                    )
        if self.total_quota_bytes is not None and not self.enforce_total(exclude=key):
            raise StorageFullError(
                "The server's storage for results is full right now. Try again in a few minutes."
            )

    def enforce_total(self, exclude: str | None = None, now: float | None = None) -> bool:
        """Bring `quota_root` under the total quota: first the downloads of the least recently used
        other sessions, then uploads that no live session uses (oldest first). True when under it."""
        quota = self.total_quota_bytes
        if quota is None:
            return True
        now = time.time() if now is None else now
        with self._lock:
            total = folder_size(self.quota_root)
            if total < quota:
                return True
            others = sorted((p for p in self._session_folders() if p.name != exclude), key=self.last_used)
            for folder in others:
                queue = self._downloads.get(folder.name)
                while queue and total >= quota:
                    victim = queue.popleft()
                    total -= _unlink_size(victim)
                if total < quota:
                    break
            if total >= quota:
                for upload in self._idle_uploads(now):
                    total -= _remove_upload(upload, count_bytes=True)
                    if total < quota:
                        break
        if total >= quota:
            log.warning("storage quota reached: %.0f MB used of %.0f MB", total / 2**20, quota / 2**20)
        return total < quota

    def _idle_uploads(self, now: float) -> list[Path]:
        """Upload files in `quota_root` no live session uses, older than the grace time, oldest first."""
        found = []
        try:
            tops = [p for p in self.quota_root.iterdir() if p.is_dir()]
        except OSError:
            return []
        root = self.root.resolve()
        for top in tops:
            if top in self._pinned or top.resolve() == root or root.is_relative_to(top.resolve()):
                continue
            for file in top.rglob("*"):
                try:
                    mtime = file.stat().st_mtime
                except OSError:
                    continue
                if file.is_file() and now - mtime > _UPLOAD_GRACE_S and not self._uploads.get(file.resolve()):
                    found.append((mtime, file))
        return [f for _, f in sorted(found)]

    # --- background sweeper ----------------------------------------------------------------------

    def start_sweeper(self, interval_seconds: float | None = None) -> None:
        """Sweep in a daemon thread every `interval_seconds` (default: a quarter of the TTL, 10 s-10 min);
        the total quota is checked and the folders of ended sessions removed again every 2 s
        (uploads arrive without any handler running; a late write may race a session's removal)."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        interval = interval_seconds or min(600.0, max(10.0, self.ttl_seconds / 4))
        tick = min(interval, 2.0)
        self._stop.clear()

        def loop() -> None:
            next_sweep = time.monotonic() + interval
            while not self._stop.wait(tick):
                try:
                    self.enforce_total()
                    self.remove_stragglers()
                    if time.monotonic() >= next_sweep:
                        self.sweep()
                        next_sweep = time.monotonic() + interval
                except OSError as exc:  # a full or read-only disk must not kill the thread
                    log.warning("session sweep failed: %s", exc)

        self._sweeper = threading.Thread(target=loop, name="pirender-session-sweeper", daemon=True)
        self._sweeper.start()

    def stop_sweeper(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
            self._sweeper = None


def _stamp(path: Path) -> tuple[int, int] | None:
    """Inode and modification time: Gradio stores a new upload by renaming a fresh file over it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _unlink_size(path: Path) -> int:
    try:
        size = path.stat().st_size
        path.unlink()
    except OSError:
        return 0
    return size


def _remove_upload(path: Path, count_bytes: bool = False) -> int:
    """Delete an upload file and its (content-named) folder when empty; its size, or 1 when not counting."""
    size = _unlink_size(path)
    try:
        path.parent.rmdir()
    except OSError:
        pass
    return size if count_bytes else int(size > 0 or not path.exists())
