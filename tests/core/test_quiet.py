"""`core.quiet`: third-party log lines are recognised and dropped; the project's lines pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.quiet import is_third_party_noise

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "line",
    [
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "W0000 00:00:1796553854.095299   25944 inference_feedback_manager.cc:114] Feedback manager "
        "requires a model with a single signature inference.\n",
        "I0512 10:03:04.123456  1234 gl_context.cc:357] GL version: 3.2\n",
    ],
)
def test_native_log_formats_are_noise(line: str) -> None:
    assert is_third_party_noise(line)


@pytest.mark.parametrize(
    "line",
    [
        "faces found: 1 (using face 0, the largest: 106 px)\n",
        "INFO pipeline.video: edit-video: 125 frames\n",
        "error: Input file not found: x.png. Pass a photo or a video file.\n",
        "\ranalysing:  40%|####      | 40/100\r",
        "WARNING cli.evaluate: AED/APD will be skipped\n",
    ],
)
def test_project_lines_are_not_noise(line: str) -> None:
    assert not is_third_party_noise(line)


def test_filter_in_a_real_process() -> None:
    """Native writes to descriptor 2, Python warnings and third-party loggers are hidden; ours pass."""
    script = textwrap.dedent(
        """
        import logging, os, sys, warnings
        from core.quiet import quiet_console
        quiet_console()
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
        os.write(2, b"W0000 00:00:1796553854.095299   25944 inference_feedback_manager.cc:114] noise\\n")
        os.write(2, b"W0000 00:00:17965")  # a noise line written in two pieces
        os.write(2, b"53854.095299   25944 x.cc:1] more noise\\n")
        warnings.warn_explicit("deprecated", UserWarning, "symbol_database.py", 55, "google.protobuf.x")
        warnings.warn_explicit("ours", UserWarning, "motion.py", 1, "reconstruction.motion")
        logging.getLogger("absl").warning("absl says something")
        logging.getLogger("pipeline.video").info("our own line")
        sys.stderr.write("error: a readable message\\n")
        print("stdout line")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "stdout line\n"
    assert done.stderr == (
        "motion.py:1: UserWarning: ours\nINFO pipeline.video: our own line\nerror: a readable message\n"
    )


def test_a_child_holding_stderr_does_not_hold_up_the_exit() -> None:
    """A child process (the web app's preview worker) inherits the filtered stderr; the server still
    exits at once, with its own last lines forwarded."""
    script = textwrap.dedent(
        """
        import subprocess, sys, time
        from core.quiet import quiet_console
        quiet_console()
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], stdout=subprocess.DEVNULL)
        sys.stderr.write("last line\\n")
        print(child.pid, flush=True)
        """
    )
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    elapsed = time.monotonic() - t0
    os.kill(int(done.stdout), signal.SIGKILL)
    assert done.stderr == "last line\n"
    assert elapsed < 1.8, elapsed  # it used to wait 2 s for end-of-file that never came
