"""Progress reports and cancellation of the long use cases (clips, reenactment, audio animation).

Every long call takes `progress(fraction, message)` (fraction in [0, 1]) and `cancel` (a
`threading.Event`, checked between render batches: setting it raises `Cancelled`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from core.errors import PIRenderError

__all__ = ["Progress", "Cancelled", "Reporter"]

#: progress(fraction in [0, 1], message)
Progress = Callable[[float, str], None]


class Cancelled(PIRenderError):
    """The user cancelled a long operation; no output file was written."""


class Reporter:
    """Maps the progress of one phase onto [start, end] of the whole call and checks `cancel`."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None) -> None:
        self.progress = progress
        self.cancel = cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Cancelled by the user; no file was written.")

    def report(self, fraction: float, message: str) -> None:
        self.check()
        if self.progress is not None:
            self.progress(float(min(max(fraction, 0.0), 1.0)), message)

    def frames(self, start: float, end: float, message: str) -> Callable[[int, int], None]:
        """A `(done, total)` callback for a render phase spanning [start, end]."""

        def callback(done: int, total: int) -> None:
            self.report(start + (end - start) * done / max(total, 1), f"{message} {done}/{total}")

        return callback

    def phase(self, start: float, end: float, message: str) -> Callable[..., None]:
        """A callback for another package's progress: accepts (done, total), (fraction,) or (fraction, text)."""

        def callback(*args: Any) -> None:
            fraction = 0.0
            if len(args) >= 2 and all(isinstance(a, (int, float)) for a in args[:2]):
                fraction = float(args[0]) / max(float(args[1]), 1e-9)
            elif args and isinstance(args[0], (int, float)):
                fraction = float(args[0])
            self.report(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

        return callback
