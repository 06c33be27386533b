"""A running web app for the API and browser tests: real server on 127.0.0.1 (free port), no weights.

The server is started once for the webui tests with small limits (so the limit messages can be
tested with small files), an empty weights folder (so the tests do not depend on what a
developer has installed) and its own temporary folders.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webui.config import ServerConfig

#: Limits of the test server (small, so that limit tests need only small files).
TEST_LIMITS = {
    "max_upload_mb": 1.0,
    "max_megapixels": 1.0,
    "max_video_seconds": 4.0,
    "max_audio_seconds": 3.0,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningApp:
    url: str
    demo: Any
    config: ServerConfig

    @property
    def ctx(self) -> Any:
        return self.demo.pirender_context

    def client(self) -> Any:
        """A new gradio_client session (each client is its own user session)."""
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=str(self.config.temp_dir.parent / "client"))


@pytest.fixture(scope="package")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app, launched in this process on a free port, shared by the webui tests."""
    pytest.importorskip("gradio_client")
    from pipeline import EngineRegistry
    from webui.app import build_app, launch_kwargs, shutdown

    root = tmp_path_factory.mktemp("webui")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIRENDER_WEIGHTS_DIR", str(root / "weights"))
        mp.delenv("PIRENDER_AUDIO_MODEL", raising=False)
        mp.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))  # restored afterwards (the app sets its own)
        mp.setenv("GRADIO_HEARTBEAT_INTERVAL", "2")  # a closed session is noticed within seconds
        config = ServerConfig.from_env(
            environ={},
            host="127.0.0.1",
            port=free_port(),
            temp_dir=root / "sessions",
            cache_dir=root / "cache",
            temp_ttl_seconds=600.0,
            **TEST_LIMITS,
        )
        registry = EngineRegistry(own_dir=root / "no-renderer", fast=False)
        demo = build_app(config, registry=registry)
        kwargs = launch_kwargs(config)
        demo.launch(prevent_thread_lock=True, quiet=True, **kwargs)
        try:
            yield RunningApp(f"http://127.0.0.1:{config.port}/", demo, config)
        finally:
            shutdown(demo)


@pytest.fixture(scope="package")
def example_photo(running_app: RunningApp) -> Path:
    return running_app.ctx.examples[0]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Encode (H, W, 3) uint8 frames to a silent H.264 mp4 with the bundled ffmpeg."""
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=2,
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def write_random_renderer(directory: Path, num_expression: int, size: str = "small") -> Path:
    """A neural renderer with random weights for the default face model (speed and wiring only).

    size "small": the tiny test architecture (64 px); "released": the paper's architecture (22.5 M
    parameters, 256 px), for timing. The pictures it draws are meaningless.
    """
    import dataclasses

    import torch

    from core.coefficients import DEFAULT_FACE_MODEL, descriptor_size
    from pirender.checkpoint import save_pretrained
    from pirender.config import GeneratorConfig
    from pirender.generator import PIRenderer

    base = GeneratorConfig.small() if size == "small" else GeneratorConfig.released()
    config = dataclasses.replace(
        base,
        mapping=dataclasses.replace(base.mapping, coeff_nc=descriptor_size(num_expression)),
        face_model=DEFAULT_FACE_MODEL,
    )
    torch.manual_seed(0)
    model = PIRenderer(config).eval()
    return save_pretrained(
        model, directory, metadata={"licence": "random weights for tests (no licence needed)"}
    )
