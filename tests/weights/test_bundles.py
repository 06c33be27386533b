"""`pirender download paper`: the one-step bundle against a local fake hub holding synthetic files.

Covers the licence refusal, resume after an interrupted transfer, corrupt files, the mirror without
BFM_model_front.mat (raw files fetched and the front model built), no BFM at all (the neural level),
offline instructions and the Space start-up function.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli.main import main
from reconstruction.bfm import BFMFaceModel
from tests.weights.synthetic_bfm import write_raw_bfm
from weights import bundles, registry
from weights.bfm_build import RAW_BFM_FILES
from weights.bundles import download_bundle, fetch_paper_weights_on_startup, paper_path_status
from weights.registry import REGISTRY, partial_path

REPO = "someone/mirror"
RENDERER = b"renderer checkpoint bytes " * 4000  # ~100 KB
EXTRACTOR = b"deep3d network bytes " * 3000


class FakeHub(BaseHTTPRequestHandler):
    """`/{repo}/resolve/{revision}/{path}` for the files in `server.files`; 404 otherwise.

    HEAD/GET send what huggingface_hub reads (commit, ETag = sha256 unless overridden in
    `server.etags`, length). GET honours `Range: bytes=N-`. `server.plan[path]` lists how the next
    GETs of that path misbehave: "cut" (half of the body, then the connection closes) or "error" (500).
    """

    def _target(self) -> str | None:
        match = re.match(r"^/(.+?)/resolve/[^/]+/(.+)$", self.path)
        return f"{match.group(1)}/{match.group(2)}" if match else None

    def _send_headers(self, data: bytes, key: str, start: int = 0) -> None:
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", "a" * 40)
        self.send_header("ETag", '"' + self.server.etags.get(key, hashlib.sha256(data).hexdigest()) + '"')
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802 (http.server API)
        key = self._target()
        self.server.requests.append(("HEAD", key, None))
        if key not in self.server.files:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send_headers(self.server.files[key], key)

    def do_GET(self) -> None:  # noqa: N802
        key = self._target()
        rng = self.headers.get("Range")
        self.server.requests.append(("GET", key, rng))
        data = self.server.files.get(key)
        if data is None:
            self.send_error(404)
            return
        action = self.server.plan.get(key, []).pop(0) if self.server.plan.get(key) else None
        if action == "error":
            self.send_error(500)
            return
        start = int(re.match(r"bytes=(\d+)-", rng).group(1)) if rng else 0
        self._send_headers(data, key, start)
        body = data[start:]
        self.wfile.write(body[: len(body) // 2] if action == "cut" else body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """A running fake hub (files under REPO), every bundle entry pointed at it, a fresh weights folder."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    server.files, server.etags, server.plan, server.requests = {}, {}, {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PIRENDER_HUB_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "weights"))
    for var in ("PIRENDER_OFFLINE", "HF_HUB_OFFLINE", bundles.FETCH_ENV, bundles.ACCEPT_ENV):
        monkeypatch.delenv(var, raising=False)
    for name in bundles.BUNDLES["paper"].files():
        monkeypatch.setenv(f"PIRENDER_HUB_REPO_{name.upper().replace('-', '_')}", REPO)
    yield server
    server.shutdown()


def _serve(server, name: str, data: bytes) -> None:
    server.files[f"{REPO}/{REGISTRY[name].repo_filename}"] = data


def _serve_networks(server) -> None:
    _serve(server, "pirender-vox", RENDERER)
    _serve(server, "deep3d-recon", EXTRACTOR)


@pytest.fixture()
def raw_bfm_on_hub(hub, tmp_path, monkeypatch):
    """The mirror holds the synthetic raw BFM files (no front model); the registry pins their hashes."""
    raw = tmp_path / "raw"
    write_raw_bfm(raw)
    (raw / "similarity_Lm3D_all.mat").write_bytes(b"standard points")
    for name in (*RAW_BFM_FILES, "bfm-similarity-lm3d"):
        data = (raw / REGISTRY[name].filename).read_bytes()
        _serve(hub, name, data)
        if REGISTRY[name].sha256:  # the MIT index files: pinned in the registry (here: the synthetic ones)
            pinned = dataclasses.replace(
                REGISTRY[name], sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data)
            )
            monkeypatch.setitem(REGISTRY, name, pinned)
    return hub


def _gets(server, name: str) -> list:
    key = f"{REPO}/{REGISTRY[name].repo_filename}"
    return [r for r in server.requests if r[0] == "GET" and r[1] == key]


def test_licences_are_shown_and_nothing_is_fetched_without_acceptance(hub, capsys):
    _serve_networks(hub)
    assert main(["download", "paper"]) == 2
    out, err = capsys.readouterr()
    for text in ("epoch_00190_iteration_000400000_checkpoint.pt", "epoch_20.pth", "01_MorphableModel.mat"):
        assert text in out
    assert "CC BY-NC 4.0" in out and "MIT" in out and "Basel Face Model licence" in out
    assert "requires accepting these licences" in err and "CC BY-NC 4.0" in err and "Basel" in err
    assert hub.requests == []  # nothing fetched, not even looked up


def test_one_step_with_raw_bfm_builds_the_front_model(raw_bfm_on_hub, capsys):
    hub = raw_bfm_on_hub
    _serve_networks(hub)
    assert main(["download", "paper", "--accept-licence"]) == 0
    out = capsys.readouterr().out
    folder = paper_path_status().weights_dir
    assert (folder / "epoch_20.pth").read_bytes() == EXTRACTOR
    assert (folder / REGISTRY["pirender-vox"].filename).read_bytes() == RENDERER
    model = BFMFaceModel.from_mat(folder / "BFM_model_front.mat")
    assert model.num_vertices == 20
    last = out.strip().splitlines()[-1]
    assert (
        last
        == "neural engine ready: pirender-vox with deep3d coefficients; BFM: yes -> BFM preview and semantic sliders available"
    )
    status = paper_path_status()
    assert status.level == "neural+bfm" and status.missing == () and status.bfm_buildable
    # the mirror was asked for the front model first (404), then the raw files were fetched
    assert any(r[1] == f"{REPO}/BFM_Fitting/BFM_model_front.mat" for r in hub.requests)
    assert not list((folder / ".partial").glob("*.part"))
    # a second run fetches nothing
    count = len(hub.requests)
    result = download_bundle("paper", accept_licence=True)
    assert result.fetched == () and not result.built and len(hub.requests) == count


def test_front_model_from_the_mirror_when_it_has_one(hub, test_data, tmp_path):
    _serve_networks(hub)
    _serve(hub, "bfm-front", (test_data / "synthetic_BFM_model_front.mat").read_bytes())
    result = download_bundle("paper", accept_licence=True)
    assert result.status.level == "neural+bfm" and not result.built
    assert "bfm-front" in result.fetched and not any(n in result.fetched for n in RAW_BFM_FILES)


def test_no_bfm_anywhere_still_gives_the_neural_level(hub, capsys):
    _serve_networks(hub)
    assert main(["download", "paper", "--accept-licence"]) == 0
    captured = capsys.readouterr()
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith("neural engine ready: pirender-vox with deep3d coefficients; BFM: no ->")
    assert "problem: 01_MorphableModel.mat" in captured.out and "Traceback" not in captured.err
    status = paper_path_status()
    assert status.level == "neural" and not status.bfm and status.missing == ("bfm-front",)


def test_interrupted_transfer_resumes_and_is_never_taken_as_complete(hub, monkeypatch):
    import huggingface_hub.constants

    # the HTTP client writes whole chunks: test-sized chunks so that a cut file keeps what arrived
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1500)
    _serve_networks(hub)
    # first attempt: the connection drops mid-file (huggingface_hub resumes it within the call), then
    # the server fails: the call gives up with the bytes received so far kept aside
    hub.plan[f"{REPO}/{REGISTRY['deep3d-recon'].repo_filename}"] = ["cut", "error"]
    result = download_bundle("paper", accept_licence=True)
    assert not result.status.extractor and result.status.renderer and not result.status.neural
    assert any("epoch_20.pth" in p and "resume" in p for p in result.problems)
    folder = paper_path_status().weights_dir
    assert not (folder / "epoch_20.pth").exists()
    part = partial_path(REGISTRY["deep3d-recon"], hashlib.sha256(EXTRACTOR).hexdigest())
    half = len(EXTRACTOR) // 2
    assert part.is_file() and part.stat().st_size == half  # the first half, under another name
    assert "neural engine not ready (missing epoch_20.pth)" in result.status.summary()

    # second run: the transfer continues where it stopped (HTTP range request), nothing is refetched
    result = download_bundle("paper", accept_licence=True)
    assert result.status.neural and result.fetched == ("deep3d-recon",)
    assert (folder / "epoch_20.pth").read_bytes() == EXTRACTOR and not part.exists()
    ranges = [r[2] for r in _gets(hub, "deep3d-recon")]
    assert ranges == [None, f"bytes={half}-", f"bytes={half}-"]  # whole, in-call resume, next-run resume
    assert len(_gets(hub, "pirender-vox")) == 1


def test_corrupt_download_is_removed_and_reported(raw_bfm_on_hub):
    hub = raw_bfm_on_hub
    _serve_networks(hub)
    # the renderer's bytes do not match the hub's announced sha256 (its ETag) ...
    hub.etags[f"{REPO}/{REGISTRY['pirender-vox'].repo_filename}"] = "0" * 64
    # ... and an index file does not match the sha256 pinned in the registry
    _serve(hub, "bfm-std-exp", b"1.0\n" * 79)
    result = download_bundle("paper", accept_licence=True)
    folder = result.status.weights_dir
    assert not result.status.renderer and not (folder / REGISTRY["pirender-vox"].filename).exists()
    assert not result.status.bfm and not (folder / "std_exp.txt").exists()
    text = "\n".join(result.problems)
    assert "checkpoint.pt was corrupt (sha256 mismatch) and has been removed" in text
    assert "std_exp.txt was corrupt" in text
    assert not list((folder / ".partial").glob("*.part"))


def test_corrupt_local_file_with_pinned_hash_is_replaced(raw_bfm_on_hub):
    hub = raw_bfm_on_hub
    _serve_networks(hub)
    folder = paper_path_status().weights_dir
    folder.mkdir(parents=True)
    (folder / "BFM_front_idx.mat").write_bytes(b"truncated")
    result = download_bundle("paper", accept_licence=True)
    assert any("BFM_front_idx.mat was corrupt" in p for p in result.problems)
    assert result.status.level == "neural+bfm" and "bfm-front-idx" in result.fetched


def test_offline_says_what_to_put_where_without_a_trace(hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["download", "paper", "--accept-licence"]) == 2
    err = capsys.readouterr().err
    folder = paper_path_status().weights_dir
    assert "Downloads are switched off" in err and str(folder) in err
    assert "epoch_20.pth" in err and f"hub repo {REPO}" in err and "Traceback" not in err
    assert hub.requests == []


def test_offline_builds_from_raw_files_already_there(hub, monkeypatch, capsys):
    folder = paper_path_status().weights_dir
    write_raw_bfm(folder)
    for name in ("bfm-front-idx", "bfm-exp-idx", "bfm-facemodel-info", "bfm-std-exp"):
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(REGISTRY[name], sha256=None, size_bytes=None))
    (folder / "epoch_20.pth").write_bytes(EXTRACTOR)
    (folder / REGISTRY["pirender-vox"].filename).write_bytes(RENDERER)
    status = paper_path_status()
    assert status.level == "neural" and status.bfm_buildable and "builds it" in status.summary()
    monkeypatch.setenv("PIRENDER_OFFLINE", "1")
    assert main(["download", "paper"]) == 0  # nothing to fetch: no licence needed, the build is local
    assert paper_path_status().level == "neural+bfm" and hub.requests == []


def test_space_startup(hub, tmp_path, monkeypatch):
    _serve_networks(hub)
    monkeypatch.delenv("PIRENDER_WEIGHTS_DIR")
    monkeypatch.delenv("HF_HOME", raising=False)
    persistent = tmp_path / "data"
    persistent.mkdir()
    # not asked: only the status (and persistent storage chosen)
    report = fetch_paper_weights_on_startup(persistent_root=persistent)
    assert not report.requested and report.status.level == "default" and hub.requests == []
    assert report.weights_dir == persistent / "pirender" / "weights"
    assert any("CC BY-NC 4.0" in n.licence for n in report.licences)
    # asked, licences not accepted: a clear error, no exception, nothing fetched
    monkeypatch.setenv(bundles.FETCH_ENV, "1")
    report = fetch_paper_weights_on_startup(persistent_root=persistent)
    assert report.error and bundles.ACCEPT_ENV in report.error and hub.requests == []
    # accepted: fetched into persistent storage
    monkeypatch.setenv(bundles.ACCEPT_ENV, "1")
    report = fetch_paper_weights_on_startup(persistent_root=persistent)
    assert report.error is None and report.status.level == "neural"
    assert (persistent / "pirender" / "weights" / "epoch_20.pth").read_bytes() == EXTRACTOR
    assert report.message().startswith("neural engine ready")
    # a failing hub: still no exception
    monkeypatch.setenv("PIRENDER_HUB_ENDPOINT", "http://127.0.0.1:9")
    (persistent / "pirender" / "weights" / "epoch_20.pth").unlink()
    report = fetch_paper_weights_on_startup(persistent_root=persistent)
    assert report.error and not report.status.neural and "not ready" in report.message()


def test_registry_keeps_pinned_index_hashes():
    for name in ("bfm-front-idx", "bfm-exp-idx", "bfm-facemodel-info", "bfm-std-exp", "bfm-similarity-lm3d"):
        entry = registry.REGISTRY[name]
        assert entry.sha256 and entry.size_bytes and not entry.requires_acceptance and "MIT" in entry.licence
    assert Path(registry.REGISTRY["bfm-morphable-model"].repo_filename).name == "01_MorphableModel.mat"
