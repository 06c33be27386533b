"""Keep the console to the project's own lines: third-party log lines and warnings are hidden.

MediaPipe's TensorFlow Lite and absl write straight to the process's stderr from C++ ("INFO:
Created TensorFlow Lite XNNPACK delegate", "W0000 ... inference_feedback_manager.cc ..."), no
environment variable turns that off, and protobuf / torch raise Python warnings. `quiet_console`
is called once, first thing, by the command line and the web app (before MediaPipe loads):

- logging: the project's loggers at `level`, other libraries' only from ERROR up;
- Python warnings: hidden, except those raised by the project's own modules (which keep
  Python's default filters);
- native stderr: file descriptor 2 goes through a pipe whose reader drops the known third-party
  line formats (TF Lite's "INFO: ...", absl/glog's "W0000 00:00:... file.cc:12] ...") and passes
  everything else on unchanged, progress bars included.

`quiet_console(verbose=True)` shows everything at DEBUG (the `--verbose` flag).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import select
import sys
import threading
import warnings

__all__ = ["PROJECT_PACKAGES", "quiet_console", "is_third_party_noise"]

#: Top-level names of the project's modules (and the command line's "pirender" logger).
PROJECT_PACKAGES = (
    "core", "weights", "reconstruction", "pirender", "audio2motion", "pipeline", "training", "cli", "webui",
    "app", "benchmarks", "__main__",
)  # fmt: skip

_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
#: Lines the C++ side of MediaPipe / TF Lite / absl writes to stderr.
_NOISE = re.compile(
    rb"^(?:"
    rb"(?:INFO|WARNING|ERROR|VERBOSE): |"  # TF Lite minimal logging, absl's pre-init notice
    rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+\s+[^\]\s]+:\d+\] "  # absl / glog prefix
    rb")"
)
#: Module names outside the project (warning filters match the module a warning is attributed to).
_THIRD_PARTY_MODULES = r"^(?!(?:" + "|".join(re.escape(p) for p in PROJECT_PACKAGES) + r")(?:\.|$))"

_lock = threading.Lock()
_stderr_filter: _StderrFilter | None = None


def is_third_party_noise(line: bytes | str) -> bool:
    """True for a stderr line written by TF Lite, absl or glog (the formats `quiet_console` drops)."""
    data = line.encode("utf-8", "replace") if isinstance(line, str) else line
    return _NOISE.match(data.lstrip(b"\r")) is not None


class _ProjectOnly(logging.Filter):
    """Passes the project's records at any level, other libraries' from ERROR up."""

    def filter(self, record: logging.LogRecord) -> bool:
        top = record.name.split(".", 1)[0]
        return top in PROJECT_PACKAGES or record.levelno >= logging.ERROR


def _configure_logging(level: int, verbose: bool) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else min(level, logging.WARNING))
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, _ProjectOnly)]:
            handler.removeFilter(old)
        if not verbose:
            handler.addFilter(_ProjectOnly())
    for name in PROJECT_PACKAGES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else level)


def _configure_warnings() -> None:
    """Ignore warnings raised outside the project; the project's own keep Python's default filters."""
    warnings.filterwarnings("ignore", module=_THIRD_PARTY_MODULES)


class _StderrFilter:
    """Routes file descriptor 2 through a pipe; a reader thread forwards all but third-party noise.

    Child processes (the web app's preview worker, multiprocessing's resource tracker) inherit the
    pipe as their stderr, so it may never reach end-of-file while they run: once `close` is asked
    for, the reader forwards what is still waiting and stops at the first quiet moment (`DRAIN_S`).
    """

    DRAIN_S = 0.1

    def __init__(self) -> None:
        sys.stderr.flush()
        self._target = os.dup(2)  # the real stderr
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._forward, name="stderr-filter", daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        while data:
            data = data[os.write(self._target, data) :]

    def _forward(self) -> None:
        pending = b""
        while True:
            try:
                readable, _, _ = select.select([self._read_end], [], [], self.DRAIN_S)
                if not readable:
                    if self._closing.is_set():
                        break
                    continue
                chunk = os.read(self._read_end, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            # Complete lines end in "\n"; progress bars redraw with "\r": both are forwarded at once.
            parts = re.split(rb"(?<=[\n\r])", pending)
            pending = parts.pop()
            keep = b"".join(p for p in parts if not is_third_party_noise(p))
            if pending and not _could_be_noise(pending):
                keep, pending = keep + pending, b""
            if keep:
                self._write(keep)
        if pending and not is_third_party_noise(pending):
            self._write(pending)
        os.close(self._read_end)

    def close(self) -> None:
        """Put the real stderr back on descriptor 2 and let the reader drain what is left."""
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._target, 2)  # our write end closed; children may still hold theirs
        self._closing.set()
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            os.close(self._target)


def _could_be_noise(partial: bytes) -> bool:
    """Whether an unfinished line may still turn into a noise line (then it waits for its end)."""
    text = partial.lstrip(b"\r")
    for prefix in (b"INFO: ", b"WARNING: ", b"ERROR: ", b"VERBOSE: "):
        if prefix.startswith(text[: len(prefix)]):
            return True
    return re.match(rb"^[IWEF]\d{0,4}(?: [\d:.]*(?:\s+\d*(?:\s+\S*)?)?)?$", text) is not None


def _close_stderr_filter() -> None:
    global _stderr_filter
    with _lock:
        if _stderr_filter is not None:
            _stderr_filter.close()
            _stderr_filter = None


def quiet_console(verbose: bool = False, level: int = logging.INFO) -> None:
    """Show only the project's own log lines (at `level`) and warnings; `verbose`: everything at DEBUG.

    Call it once at start-up, before MediaPipe / TF Lite are imported. The native stderr filter is
    installed only when `sys.stderr` is the process's real stderr (not under a test runner's
    capture), once per process, and removed at exit after the last lines are forwarded.
    """
    global _stderr_filter
    _configure_logging(level, verbose)
    if verbose:
        warnings.resetwarnings()
        return
    _configure_warnings()
    with _lock:
        if _stderr_filter is not None or sys.stderr is not sys.__stderr__:
            return
        try:
            if sys.stderr.fileno() != 2:
                return
            _stderr_filter = _StderrFilter()
        except (AttributeError, OSError, ValueError):
            return
    atexit.register(_close_stderr_filter)
