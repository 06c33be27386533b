"""The Edit tab's handlers without a server: no work is done twice per request.

Counted on the geometric engine of the shared registry (no neural weights installed): a slider
release shows the picture the drag already rendered instead of rendering it again; downloads and
clips reuse the session's prepared photo and the engine state prepared for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from pipeline import GEOMETRIC, EngineRegistry, control_set_for
from webui.common import AppContext
from webui.config import ServerConfig
from webui.edit_handlers import EditHandlers, EditSession
from webui.sessions import SessionFiles


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> AppContext:
    root = tmp_path_factory.mktemp("edit-handlers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIRENDER_WEIGHTS_DIR", str(root / "weights"))
        config = ServerConfig.from_env(environ={}, temp_dir=root / "sessions", cache_dir=root / "cache")
        registry = EngineRegistry(own_dir=root / "no-renderer", fast=False)
        num_expression = control_set_for(registry.backend("default").face_model).num_expression
        yield AppContext(config, registry, SessionFiles(config.temp_dir, 600.0), "default", num_expression)


@pytest.fixture()
def photo(astronaut: np.ndarray, tmp_path: Path) -> Path:
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


def _count(monkeypatch: pytest.MonkeyPatch, obj: Any, method: str) -> list[int]:
    """Count the calls of obj.method (a one-element list, so the count can be read later)."""
    calls = [0]
    original: Callable[..., Any] = getattr(obj, method)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, method, counted)
    return calls


def test_a_release_after_a_drag_is_rendered_finished(
    ctx: AppContext, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small photo's drag previews go to a canvas of their own (`Canvas.quick`: they leave out
    the finishing a release lays), so a release is rendered again, at display size."""
    handlers, session, request = EditHandlers(ctx), EditSession(), SimpleNamespace(session_hash="user-a")
    handlers.analyse(str(photo), None, session, request)
    assert session.drag_canvas.quick and not session.canvas.quick
    renders = _count(monkeypatch, ctx.registry.geometric("default"), "render_frame")
    handlers.preview(session, request, yaw=15.0, smile=0.6)
    assert renders[0] == 1
    result, compare, note, record = handlers.refine(session, "auto", request, yaw=15.0, smile=0.6)
    assert renders[0] == 2
    assert compare == (str(session.before), result) and Path(result).is_file()
    assert record["engine"] == GEOMETRIC and "geometric preview" in note
    for _ in range(8):  # later previews do not delete the picture the compare view shows
        handlers.preview(session, request, yaw=3.0)
    assert Path(result).is_file() and Path(result) in session.shown["edit"]


class _Sum:
    """Reads as the sum of several call counters (`_Sum(a, b)[0]`)."""

    def __init__(self, *counters: list[int]) -> None:
        self.counters = counters

    def __getitem__(self, index: int) -> int:
        return sum(counter[index] for counter in self.counters)


def test_downloads_reuse_the_prepared_photo_and_engine(
    ctx: AppContext, photo: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers, session, request = EditHandlers(ctx), EditSession(), SimpleNamespace(session_hash="user-b")
    engine = ctx.registry.geometric("default")
    plain, in_photo = _count(monkeypatch, engine, "prepare"), _count(monkeypatch, engine, "prepare_in_photo")
    prepares = _Sum(plain, in_photo)
    analyses = _count(monkeypatch, ctx.registry.backend("default"), "analyze_photo")
    handlers.analyse(str(photo), None, session, request)
    handlers.preview(session, request, yaw=-10.0)
    handlers.refine(session, "auto", request, yaw=-10.0)
    assert (analyses[0], prepares[0]) == (1, 1)
    full = handlers.save_png(session, "auto", "photo", request, yaw=-10.0)
    crop = handlers.save_png(session, "auto", "crop", request, yaw=-10.0)
    clip = handlers.clip(session, "auto", 0.2, request, progress=lambda *a, **k: None, yaw=-10.0)
    assert (analyses[0], prepares[0]) == (1, 1)  # nothing analysed or prepared again
    assert np.asarray(Image.open(full)).shape == astronaut.shape
    assert np.asarray(Image.open(crop)).shape == (256, 256, 3) and Path(clip).is_file()


def test_a_drag_preview_is_drag_sized_and_the_release_display_sized(
    ctx: AppContext, astronaut: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = np.asarray(Image.fromarray(astronaut).resize((1400, 1400)))
    path = tmp_path / "big.png"
    Image.fromarray(big).save(path)
    handlers, session, request = EditHandlers(ctx), EditSession(), SimpleNamespace(session_hash="user-c")
    handlers.analyse(str(path), None, session, request)
    renders = _count(monkeypatch, ctx.registry.geometric("default"), "render_frame")
    shown = handlers.preview(session, request, yaw=12.0)
    assert max(Image.open(shown).size) == ctx.config.drag_max_side == 640
    result, compare, _, _ = handlers.refine(session, "auto", request, yaw=12.0)
    assert renders[0] == 2  # the drag's small picture is not what a release shows: rendered again
    assert max(Image.open(result).size) == ctx.config.display_max_side and compare[1] == result


def test_a_drag_event_sends_its_group_and_the_session_keeps_the_rest(ctx: AppContext, photo: Path) -> None:
    handlers, session, request = EditHandlers(ctx), EditSession(), SimpleNamespace(session_hash="user-d")
    handlers.analyse(str(photo), None, session, request)
    handlers.refine(session, "auto", request, yaw=12.0, raw_00=0.0)
    handlers.preview(session, request, "preview_raw", raw_00=1.5, raw_01=0.0)  # yaw comes from the session
    assert (session.values["yaw"], session.values["raw_00"]) == (12.0, 1.5)
    handlers.preview(session, request, "preview", yaw=-5.0, smile=0.3)  # raw_00 comes from the session
    assert (session.values["yaw"], session.values["smile"], session.values["raw_00"]) == (-5.0, 0.3, 1.5)
    with pytest.raises(InputError, match="raw_01"):  # drag events come unprocessed: checked here
        handlers.preview(session, request, "preview_raw", raw_01=7.0)
    with pytest.raises(InputError, match="yaw"):
        handlers.preview(session, request, "preview", yaw="left")
    handlers.analyse(str(photo), None, session, request)  # a new photo starts from zero
    assert session.values == {}


def test_drags_change_nothing_a_release_or_a_save_shows(
    ctx: AppContext, astronaut: np.ndarray, tmp_path: Path
) -> None:
    """Bit-identical release and PNG whether or not the session dragged first (per-photo caches and
    drag-sized renders do not leak into them)."""
    path = tmp_path / "big.png"
    Image.fromarray(np.asarray(Image.fromarray(astronaut).resize((1400, 1400)))).save(path)
    values = {"yaw": 14.0, "smile": 0.7, "open_mouth": 0.3}
    shown = {}
    for drags in (0, 6):
        handlers, session = EditHandlers(ctx), EditSession()
        request = SimpleNamespace(session_hash=f"user-e{drags}")
        handlers.analyse(str(path), None, session, request)
        for k in range(drags):
            handlers.preview(session, request, "preview", yaw=2.0 * k + 3.0, smile=0.1 * k)
        release = handlers.refine(session, "auto", request, **values)[0]
        saved = handlers.save_png(session, "auto", "photo", request, **values)
        shown[drags] = [np.asarray(Image.open(p)) for p in (release, saved)]
    for before, after in zip(shown[0], shown[6], strict=True):
        np.testing.assert_array_equal(before, after)
