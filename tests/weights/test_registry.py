"""The weight registry: actionable messages offline, licence opt-in, and a real hub download from a local server."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cli.main import main
from core.errors import LicenceNotAcceptedError, WeightsNotFoundError
from weights.registry import REGISTRY, resolve_weights

PAYLOAD = b"fake checkpoint bytes " * 1000


@pytest.fixture()
def weights_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.delenv("PIRENDER_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "weights"


def test_missing_file_message_names_file_place_feature_and_licence(weights_home):
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights("pirender-vox")
    text = str(info.value)
    assert "epoch_00190_iteration_000400000_checkpoint.pt" in text
    assert str(weights_home) in text and "CC BY-NC 4.0" in text and "neural renderer" in text
    assert "vinthony/SadTalker-V002rc" in text and "unofficial" in text


def test_local_file_and_explicit_path_are_used(weights_home, tmp_path):
    weights_home.mkdir(parents=True)
    (weights_home / "epoch_20.pth").write_bytes(b"x")
    assert resolve_weights("deep3d-recon") == weights_home / "epoch_20.pth"
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        resolve_weights("deep3d-recon", path=tmp_path / "nope.pth")


def test_download_needs_licence_acceptance(weights_home):
    with pytest.raises(LicenceNotAcceptedError, match="CC BY-NC 4.0"):
        resolve_weights("pirender-vox", allow_download=True)


def test_offline_switch_forbids_downloads(weights_home, monkeypatch):
    monkeypatch.setenv("PIRENDER_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="Put the file at"):
        resolve_weights("pirender-vox", allow_download=True, accept_licence=True)


class _FakeHub(BaseHTTPRequestHandler):
    """Serves `/{repo}/resolve/{revision}/{filename}` with the headers huggingface_hub reads."""

    def _headers(self) -> None:
        self.send_response(200)
        self.send_header("X-Repo-Commit", "a" * 40)
        self.send_header("ETag", '"' + hashlib.sha256(PAYLOAD).hexdigest() + '"')
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802 (http.server API)
        if "/resolve/" not in self.path:
            self.send_error(404)
            return
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        self._headers()

    def do_GET(self) -> None:  # noqa: N802
        self.do_HEAD()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def fake_hub(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PIRENDER_HUB_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    yield server
    server.shutdown()


def test_real_hub_download_from_local_server(weights_home, fake_hub, monkeypatch):
    monkeypatch.setenv("PIRENDER_HUB_REPO_PIRENDER_VOX", "someone/mirror")
    path = resolve_weights("pirender-vox", allow_download=True, accept_licence=True)
    assert path == weights_home / REGISTRY["pirender-vox"].filename
    assert path.read_bytes() == PAYLOAD
    assert any(r.startswith("/someone/mirror/resolve/") for r in fake_hub.requests)
    # second call: found locally, no new request
    count = len(fake_hub.requests)
    assert resolve_weights("pirender-vox") == path and len(fake_hub.requests) == count


def test_download_command_refuses_without_acceptance(weights_home, capsys):
    assert main(["download", "pirender-vox"]) == 2
    assert "requires accepting its licence" in capsys.readouterr().err
    assert main(["weights"]) == 0


def test_weights_command_lists_the_project_trained_models(weights_home, capsys, monkeypatch):
    monkeypatch.delenv("PIRENDER_AUDIO_MODEL", raising=False)
    assert main(["weights", "--verbose-missing"]) == 0
    rows = {
        line[:22].strip(): line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")
    }
    assert "audio2motion" in rows and "installed" in rows["audio2motion"]  # the bundled model
    own = rows["own renderer"]
    if "missing" in own:  # nothing trained here: it says where one goes
        assert str(weights_home / "renderer") in own
