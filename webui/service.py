"""What keeps one server healthy among many users: its run folder, a fair queue, and a clean shutdown.

`RunFolder`: every process gets its own folder `run-<pid>-<random>` under the configured temp root;
Gradio's upload cache (GRADIO_TEMP_DIR) and the per-session folders both live inside it, so one
`rmtree` at shutdown removes everything the process wrote, and at start-up the folders of processes
that no longer exist (killed with SIGKILL, a crashed host) are removed.

`FairQueue`: Gradio runs every queued event; this adds, on top of `trigger_mode="always_last"`
(which only the web page honours), three rules enforced on the server for every client:
- a session may have at most `per_session` events waiting, and one video job waiting or running;
  beyond that its requests are refused at once with a message (other users keep their places);
- a slider preview (or release render) with a newer one of the same session already waiting is
  stale: the handler asks `newer_waiting` and returns at once instead of rendering it;
- jobs therefore queue first come, first served, one per session, and Gradio shows each waiting
  user their place in the queue.
It wraps the `push` of this app's `gradio.queueing.Queue` instance and reads its waiting lists
(`event_queue_per_concurrency_id`, `active_jobs`), which Gradio 6 keeps as plain attributes.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["RunFolder", "FairQueue", "InteractivePace", "JobCancel", "JOBS", "SESSION_BUSY", "JOB_BUSY"]

log = logging.getLogger(__name__)

#: Concurrency group of the video jobs (clips, reenactment, audio animation).
JOBS = "jobs"
SESSION_BUSY = (
    "Too many requests from this page are waiting. Wait for the previous ones to finish, then try again."
)
JOB_BUSY = "One of your video jobs is already waiting or running. Wait for it to finish (or cancel it) first."
_RUN_NAME = re.compile(r"^run-(\d+)-[0-9a-f]+$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class RunFolder:
    """The folder of this process's temporary files under `base` (see the module docstring)."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = Path(base)
        self.path = self.base / f"run-{os.getpid()}-{secrets.token_hex(4)}"

    def claim(self) -> int:
        """Remove the run folders of dead processes, create ours; returns how many were removed."""
        removed = 0
        try:
            entries = list(self.base.iterdir())
        except OSError:
            entries = []
        for entry in entries:
            m = _RUN_NAME.match(entry.name)
            if m and entry.is_dir() and not _alive(int(m.group(1))):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        if removed:
            log.info("removed %d folder(s) left by earlier server processes in %s", removed, self.base)
        self.path.mkdir(parents=True, exist_ok=True)
        return removed

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class FairQueue:
    """Per-session limits on a Gradio queue (see the module docstring)."""

    def __init__(self, per_session: int) -> None:
        self.per_session = int(per_session)
        self.queue: Any = None
        self.refused = 0

    def install(self, queue: Any) -> None:
        """Wrap `queue.push` (the instance's, once)."""
        self.queue = queue
        original = queue.push

        async def push(body: Any, request: Any, username: str | None) -> Any:
            reason = self._refusal(body)
            if reason is not None:
                self.refused += 1
                return False, reason, "queue_full"
            return await original(body, request, username)

        queue.push = push

    def _fn(self, body: Any) -> Any:
        try:
            return self.queue.blocks.fns[body.fn_index]
        except (AttributeError, KeyError, TypeError):
            return None

    def _refusal(self, body: Any) -> str | None:
        session = getattr(body, "session_hash", None)
        fn = self._fn(body)
        if session is None or fn is None:
            return None
        waiting = [e for e in self._waiting() if e.session_hash == session]
        if len(waiting) >= self.per_session:
            return SESSION_BUSY
        if fn.concurrency_id == JOBS:
            running = [e for e in self._running() if e.session_hash == session]
            if any(e.fn.concurrency_id == JOBS for e in (*waiting, *running)):
                return JOB_BUSY
        return None

    def _waiting(self) -> list[Any]:
        if self.queue is None:
            return []
        return [e for q in list(self.queue.event_queue_per_concurrency_id.values()) for e in list(q.queue)]

    def _running(self) -> list[Any]:
        if self.queue is None:
            return []
        return [e for batch in list(self.queue.active_jobs) if batch for e in batch]

    def newer_waiting(self, session_hash: str | None, api_name: str) -> bool:
        """True when an event of the same session and endpoint waits in the queue (this one is stale)."""
        if session_hash is None:
            return False
        return any(
            e.session_hash == session_hash and getattr(e.fn, "api_name", None) == api_name
            for e in self._waiting()
        )

    def waiting_jobs(self) -> int:
        return sum(1 for e in self._waiting() if e.fn.concurrency_id == JOBS)


class InteractivePace:
    """Video jobs give way to slider previews while people drag: every user gets an equal share.

    A job's render thread shares the server's interpreter lock with Gradio's event loop, which
    answers every preview request, and the machine's cores with the preview worker: rendering flat
    out, one job took as much of the server as all dragging users together. Preview handlers call
    `note(session)`; a running job calls `give_way()` between render batches (through `JobCancel`)
    and, while n sessions sent previews within the last `window_s`, sleeps n times as long as it
    worked since its last call (at most `longest_s`), with the lock and a core free meanwhile: the
    job runs at about 1 / (1 + n) of its speed while n others drag, at full speed otherwise.
    """

    def __init__(self, window_s: float = 0.5, longest_s: float = 0.25) -> None:
        self.window_s, self.longest_s = float(window_s), float(longest_s)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def note(self, session: str = "") -> None:
        """Session `session` asked for a preview."""
        now = time.monotonic()
        with self._lock:
            self._last[session] = now
            if len(self._last) > 64:  # forget sessions that stopped dragging
                self._last = {k: t for k, t in self._last.items() if now - t < self.window_s}

    def dragging(self) -> int:
        """How many sessions asked for previews within the last `window_s`."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for t in self._last.values() if now - t < self.window_s)

    def give_way(self, worked_s: float) -> float:
        """Sleep as long as the job must give way after `worked_s` seconds of work; returns the sleep."""
        n = self.dragging() if worked_s > 0 else 0
        if n == 0:
            return 0.0
        pause = min(n * worked_s, self.longest_s)
        time.sleep(pause)
        return pause


class JobCancel(threading.Event):
    """A job's cancel flag (set by its Cancel button or when its session ends). The pipeline checks it
    between render batches, which is also where the job gives way to previews (`InteractivePace`)."""

    def __init__(self) -> None:
        super().__init__()
        self.pace: InteractivePace | None = None
        self._since = time.monotonic()

    def is_set(self) -> bool:
        pace = self.pace
        if pace is not None:
            now = time.monotonic()
            self._since = now + pace.give_way(now - self._since)
        return super().is_set()
