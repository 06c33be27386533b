"""The preview worker: drag previews rendered in a child process, exactly as the server would.

A real child process (spawned, as in the app) renders previews of a real portrait; they must equal
the in-process render pixel for pixel, follow a newly analysed photo, survive the child being
killed (the caller renders meanwhile, a new child takes over) and end with the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import EditRequest, EngineRegistry, edit, photo_canvas, prepare_photo, save_jpeg
from tests.webui.conftest import wait_for
from webui.preview_worker import PreviewWorker

REPO = Path(__file__).resolve().parents[2]
QUALITY = 80


@pytest.fixture(scope="module")
def worker() -> Iterator[PreviewWorker]:
    w = PreviewWorker("default")
    w.start()
    wait_for(lambda: w.ready, timeout=180)
    yield w
    w.close()


@pytest.fixture(scope="module")
def registry() -> EngineRegistry:
    return EngineRegistry(fast=False)


@pytest.fixture(scope="module")
def source(astronaut: np.ndarray, registry: EngineRegistry):  # noqa: ANN201 - a SourceState
    return prepare_photo(astronaut, registry=registry)


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_a_worker_preview_equals_the_in_process_render(
    worker: PreviewWorker, source, registry: EngineRegistry, tmp_path: Path
) -> None:
    canvas = photo_canvas(source, 320)
    request = EditRequest({"yaw": 20.0, "open_mouth": 0.5}, engine="preview")
    before = worker.rendered
    made = worker.render("session-a", source, canvas, request, tmp_path / "w.jpg", QUALITY)
    assert made is not None and worker.rendered == before + 1
    assert worker.pid is not None and worker.pid != os.getpid()
    here = edit(source, request, registry=registry, canvas=canvas)
    save_jpeg(here.full_image, tmp_path / "here.jpg", QUALITY)
    assert np.array_equal(_read(tmp_path / "w.jpg"), _read(tmp_path / "here.jpg"))
    assert made.engine_used == here.engine_used
    np.testing.assert_allclose(made.coeffs.expression, here.coeffs.expression)
    assert made.seconds > 0


def test_a_new_photo_of_the_session_replaces_the_old(
    worker: PreviewWorker, source, astronaut: np.ndarray, registry: EngineRegistry, tmp_path: Path
) -> None:
    request = EditRequest({"yaw": 10.0}, engine="preview")
    first = worker.render(
        "session-b", source, photo_canvas(source, 320), request, tmp_path / "1.jpg", QUALITY
    )
    mirrored = prepare_photo(np.ascontiguousarray(astronaut[:, ::-1]), registry=registry)
    second = worker.render(
        "session-b", mirrored, photo_canvas(mirrored, 320), request, tmp_path / "2.jpg", QUALITY
    )
    assert first is not None and second is not None
    a, b = _read(tmp_path / "1.jpg").astype(float), _read(tmp_path / "2.jpg").astype(float)
    assert np.abs(b[:, ::-1] - a).mean() < np.abs(b - a).mean() / 2  # the second is of the mirrored photo
    worker.drop("session-b")  # forgotten: the next preview sends the photo again
    assert worker.render("session-b", source, photo_canvas(source, 320), request, tmp_path / "3.jpg", QUALITY)


def test_a_preview_into_a_removed_folder_writes_nothing(
    worker: PreviewWorker, source, tmp_path: Path
) -> None:
    gone = tmp_path / "ended-session" / "p.jpg"
    request = EditRequest({"yaw": 5.0}, engine="preview")
    assert worker.render("session-c", source, photo_canvas(source, 320), request, gone, QUALITY) is None
    assert not gone.parent.exists()


def test_a_killed_worker_is_replaced(worker: PreviewWorker, source, tmp_path: Path) -> None:
    canvas, request = photo_canvas(source, 320), EditRequest({"yaw": -10.0}, engine="preview")
    assert worker.render("session-d", source, canvas, request, tmp_path / "a.jpg", QUALITY) is not None
    old = worker.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    time.sleep(0.5)
    answers: list = []
    noticed = threading.Thread(  # as in the server: a request thread notices, then ends
        target=lambda: answers.append(
            worker.render("session-d", source, canvas, request, tmp_path / "b.jpg", 80)
        )
    )
    noticed.start()
    noticed.join()
    assert answers == [None]  # the caller renders this one itself
    wait_for(lambda: worker.ready and worker.pid != old, timeout=180)
    time.sleep(1.0)  # the new child outlives the request thread that asked for it
    assert worker.render("session-d", source, canvas, request, tmp_path / "c.jpg", QUALITY) is not None


CHILD_OF_KILLED_SERVER = """
import sys, time
from webui.preview_worker import PreviewWorker
w = PreviewWorker("default")
w.start()
while not w.ready:
    time.sleep(0.1)
print(w.pid, flush=True)
time.sleep(600)
"""


def test_the_worker_ends_with_a_killed_server() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", CHILD_OF_KILLED_SERVER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        child = int(line.strip())
        os.kill(child, 0)  # running
    finally:
        server.kill()
        server.wait()

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "Z"  # ended, waiting for init to reap it

    wait_for(gone, timeout=15)


STARTING_SERVER = """
import os, time
from webui.preview_worker import PreviewWorker
PreviewWorker("default").start()
print(os.getpid(), flush=True)
time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == str(pid):
                out.append(int(entry.name))
    return out


def _ended(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) == "Z"
    except OSError:
        return True


def test_a_worker_still_starting_ends_with_a_killed_server() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", STARTING_SERVER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        pid = int(server.stdout.readline()) if server.stdout else 0
        children = wait_for(lambda: _children(pid), timeout=30)  # spawned, still importing
    finally:
        server.kill()
        server.wait()
    wait_for(lambda: all(_ended(c) for c in children), timeout=60)


def test_a_closed_worker_renders_nothing(source, tmp_path: Path) -> None:
    w = PreviewWorker("default")
    w.close()
    w.start()  # refused after close
    request = EditRequest({"yaw": 5.0}, engine="preview")
    assert w.render("s", source, photo_canvas(source, 320), request, tmp_path / "x.jpg", QUALITY) is None
