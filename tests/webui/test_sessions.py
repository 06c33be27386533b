"""Per-session folders (webui.sessions) and the server settings (webui.config)."""

from __future__ import annotations

import os
import shutil
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
        "PIRENDER_PREVIEW_PROCESS": "0",
    }
    cfg = ServerConfig.from_env(env)
    assert cfg.preview_process is False
    assert ServerConfig().preview_process is (len(os.sched_getaffinity(0)) >= 2)  # a worker needs a core
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


def test_an_ended_session_cancels_its_jobs_and_never_comes_back(tmp_path: Path) -> None:
    import threading

    from pipeline import Cancelled

    files = SessionFiles(tmp_path, ttl_seconds=100)
    running, other = threading.Event(), threading.Event()
    files.begin_job("gone", running)
    files.begin_job("stays", other)
    folder = files.dir_for("gone")
    assert files.running_jobs() == 2
    files.remove("gone")
    assert running.is_set() and not other.is_set() and not folder.exists()
    with pytest.raises(Cancelled, match="session has ended"):
        files.dir_for("gone")  # a late write of the orphaned job
    with pytest.raises(Cancelled):
        files.begin_job("gone", threading.Event())  # a job that waited in the queue
    assert not folder.exists() and files.ended("gone") and not files.ended("stays")
    folder.mkdir()  # a preview the worker process finished while the folder was being removed
    (folder / "preview-late.jpg").write_bytes(b"late")
    assert files.remove_stragglers() == 1 and not folder.exists()
    assert files.remove_stragglers() == 0 and files.dir_for("stays").exists()


def test_a_video_is_never_written_into_a_removed_folder(tmp_path: Path) -> None:
    import numpy as np

    from pipeline import Cancelled
    from pipeline.media import write_video

    folder = tmp_path / "session"
    folder.mkdir()

    def frames():
        for i in range(10):
            if i == 5:
                shutil.rmtree(folder)  # the session ends while the video is being encoded
            yield np.full((32, 32, 3), 20 * i, np.uint8)

    with pytest.raises(Cancelled):
        write_video(frames(), folder / "out.mp4", 10)
    assert not folder.exists()
    with pytest.raises(Cancelled):
        write_video([np.zeros((32, 32, 3), np.uint8)], tmp_path / "missing" / "out.mp4", 10)
    assert not (tmp_path / "missing").exists()


def test_downloads_are_capped_per_session(tmp_path: Path) -> None:
    from webui.sessions import StorageFullError

    files = SessionFiles(tmp_path, ttl_seconds=100, keep_downloads=3, session_quota_bytes=10_000)
    made = []
    for _ in range(5):
        path = files.new_path("s", "edited", ".png", download=True)
        path.write_bytes(b"x" * 1000)
        made.append(path)
    assert [p.exists() for p in made] == [False, False, True, True, True]  # the last three are kept
    display = files.new_path("s", "preview", ".jpg")  # display files count against the quota ...
    display.write_bytes(b"x" * 20_000)
    with pytest.raises(StorageFullError, match="Reload the page"):  # ... and cannot be evicted here
        files.new_path("s", "edited", ".png", download=True)
    assert not any(p.exists() for p in made)  # every download went first


def test_total_quota_evicts_the_least_recently_used_session_first(tmp_path: Path) -> None:
    from webui.sessions import StorageFullError

    files = SessionFiles(tmp_path, ttl_seconds=100, total_quota_bytes=5_000)
    old = files.new_path("old", "a", ".png", download=True)
    old.write_bytes(b"x" * 2500)
    past = time.time() - 50
    os.utime(files.path_of("old") / ".pirender-session", (past, past))
    recent = files.new_path("recent", "a", ".png", download=True)
    recent.write_bytes(b"x" * 2500)
    mine = files.new_path("me", "a", ".png", download=True)  # over the quota: "old" gives way
    mine.write_bytes(b"x" * 100)
    assert not old.exists() and recent.exists()
    files.new_path("me", "preview", ".jpg").write_bytes(b"x" * 6000)  # a display file: not evictable
    with pytest.raises(StorageFullError, match="Try again in a few minutes"):
        files.new_path("recent", "b", ".png", download=True)
    assert not mine.exists()  # the other session's downloads went first


def test_uploads_go_with_the_last_session_that_used_them(tmp_path: Path) -> None:
    root = tmp_path / "run"
    example = root / "example-hash" / "astronaut.jpg"
    example.parent.mkdir(parents=True)
    example.write_bytes(b"example")
    files = SessionFiles(root / "sessions", ttl_seconds=100, quota_root=root)
    files.pin_existing()
    shared = root / "content-hash" / "photo.jpg"
    shared.parent.mkdir()
    shared.write_bytes(b"photo")
    files.adopt("a", shared, example, None)
    files.adopt("b", shared)
    files.remove("a")
    assert shared.exists()  # "b" still uses it
    files.remove("b")
    assert not shared.exists() and not shared.parent.exists()
    assert example.exists()  # the examples are shared by every session


def test_an_upload_sent_again_outlives_the_session_that_ends(tmp_path: Path) -> None:
    """Seen in CI: a session ended between another session's upload of the same clip (same content,
    same path) and that session's handler, and deleted the file under it."""
    root = tmp_path / "run"
    files = SessionFiles(root / "sessions", ttl_seconds=100, quota_root=root)
    clip = root / "content-hash" / "clip.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"clip")
    files.adopt("a", clip)
    fresh = root / "upload.tmp"
    fresh.write_bytes(b"clip")
    os.rename(fresh, clip)  # how Gradio stores the second upload
    files.remove("a")
    assert clip.exists()
    files.adopt("b", clip)
    files.remove("b")
    assert not clip.exists()


def test_run_folder_removes_what_dead_processes_left(tmp_path: Path) -> None:
    import subprocess
    import sys

    from webui.service import RunFolder

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = tmp_path / f"run-{int(dead.stdout)}-abcd1234"
    (left / "sessions").mkdir(parents=True)
    alive = tmp_path / f"run-{os.getppid()}-abcd1234"
    alive.mkdir()
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    run = RunFolder(tmp_path)
    assert run.claim() == 1
    assert not left.exists() and alive.exists() and unrelated.exists() and run.path.is_dir()
    run.remove()
    assert not run.path.exists()


def test_drag_previews_are_never_larger_than_the_display(tmp_path: Path) -> None:
    cfg = ServerConfig.from_env({"PIRENDER_PREVIEW_MAX_SIDE": "800", "PIRENDER_DISPLAY_MAX_SIDE": "512"})
    assert (cfg.preview_max_side, cfg.drag_max_side) == (800, 512)
    assert ServerConfig.from_env({}).save_concurrency == 1
    with pytest.raises(InputError, match="preview_max_side"):
        ServerConfig.from_env({"PIRENDER_PREVIEW_MAX_SIDE": "100"})
