"""The short load and fault test (benchmarks/load_test.py --short) against a real server process.

3 sessions drag sliders for a few seconds while a reenactment and an audio animation run; a client
is killed mid-job; then the server is stopped with SIGTERM, killed with SIGKILL and restarted.
Checks: no errors, no picture of one session returned to another, the orphaned job's slot freed
quickly, no file of a closed session left, nothing left after a shutdown or after the restart
that follows a kill.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_short_load_and_faults(tmp_path: Path) -> None:
    pytest.importorskip("gradio_client")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.load_test import run

    report = run(sessions=3, seconds=4.0, rate=10.0, short=True, work=tmp_path)
    assert report["errors"] == [], report["errors"]
    assert report["endpoints"]["/preview"]["n"] >= 3 * 3  # the count depends on the machine's load
    assert {"/reenact", "/animate", "/save_png", "/refine"} <= set(report["endpoints"])
    assert report["leaks"]["pictures_checked"] >= 9 and report["leaks"]["from_another_session"] == 0
    orphan = report["orphan"]
    assert orphan["probe_job_ok"] and orphan["slot_released_s"] is not None
    assert orphan["slot_released_s"] < 3.0, orphan  # cancelled at the next frame boundary
    assert report["session_files_10s_after_close"] == 0
    assert report["files_after_shutdown"] == 0
    assert report["restart"]["files_left_by_killed_server"] > 0
    assert report["restart"]["processes_left_by_killed_server"] == 0  # its preview worker ended with it
    assert report["restart"]["run_folders_after_restart"] == 1
    assert report["files_after_second_shutdown"] == 0
