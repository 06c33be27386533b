"""Per-session folders (webui.sessions) and the server settings (webui.config)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.errors import InputError
from webui.config import ServerConfig
from webui.sessions import SessionFiles


def test_each_session_has_its_own_unguessable_folder(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path, ttl_seconds=60)
    a, b = files.dir_for("session-a"), files.dir_for("session-b")
    assert a != b and a.parent == b.parent == tmp_path
    assert "session-a" not in a.name and len(a.name) == 32
    assert SessionFiles(tmp_path, 60).key("session-a") != files.key("session-a")  # keyed by a per-app secret
    p = files.new_path("session-a", "my photo/../x", ".png")
    assert p.parent == a and p.suffix == ".png" and "/" not in p.name and ".." not in p.name
    assert files.owns("session-a", p) and not files.owns("session-b", p)
    with pytest.raises(InputError):
        files.dir_for("")


def test_remove_and_sweep(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path, ttl_seconds=100)
    old = files.dir_for("old")
    (old / "result.png").write_bytes(b"x")
    fresh = files.dir_for("fresh")
    past = time.time() - 500
    for path in (old / ".pirender-session", old):
        os.utime(path, (past, past))
    assert files.sweep() == 1
    assert not old.exists() and fresh.exists()
    assert files.remove("fresh") and not fresh.exists()
    assert not files.remove("fresh")


def test_sweeper_thread_removes_expired_folders(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path, ttl_seconds=0.2)
    folder = files.dir_for("short-lived")
    files.start_sweeper(interval_seconds=0.1)
    try:
        deadline = time.monotonic() + 10
        while folder.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        files.stop_sweeper()
    assert not folder.exists()


def test_config_from_environment(tmp_path: Path) -> None:
    env = {
        "GRADIO_SERVER_NAME": "0.0.0.0",
        "GRADIO_SERVER_PORT": "7861",
        "PIRENDER_MAX_UPLOAD_MB": "12.5",
        "PIRENDER_MAX_VIDEO_SECONDS": "20",
        "PIRENDER_JOB_CONCURRENCY": "2",
        "PIRENDER_TEMP_DIR": str(tmp_path),
        "PIRENDER_UI_DOWNLOADS": "0",
    }
    cfg = ServerConfig.from_env(env)
    assert (cfg.host, cfg.port, cfg.max_upload_mb, cfg.max_video_seconds) == ("0.0.0.0", 7861, 12.5, 20.0)
    assert cfg.job_concurrency == 2 and cfg.temp_dir == tmp_path and cfg.ui_downloads is False
    assert cfg.max_upload_bytes == int(12.5 * 2**20)
    assert ServerConfig.from_env({}, port=0).port == 0


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"GRADIO_SERVER_PORT": "http"}, "GRADIO_SERVER_PORT"),
        ({"PIRENDER_MAX_UPLOAD_MB": "-1"}, "max_upload_mb"),
        ({"PIRENDER_JOB_CONCURRENCY": "0"}, "job_concurrency"),
        ({"PIRENDER_UI_DOWNLOADS": "maybe"}, "PIRENDER_UI_DOWNLOADS"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        ServerConfig.from_env(env)


def test_end_of_session_callbacks_run_once(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path, ttl_seconds=100)
    calls: list[str] = []
    files.dir_for("s1")
    files.on_end("s1", lambda: calls.append("photo dropped"))
    files.remove("s1")
    files.remove("s1")
    assert calls == ["photo dropped"]
    files.dir_for("s2")
    files.on_end("s2", lambda: calls.append("expired"))
    past = time.time() - 500
    folder = files.path_of("s2")
    for path in (folder / ".pirender-session", folder):
        os.utime(path, (past, past))
    files.sweep()
    assert calls == ["photo dropped", "expired"]
