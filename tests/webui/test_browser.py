"""The Edit tab in a real browser: upload, drag a slider, see the picture change, download the PNG.

Drives Debian's headless Chromium (/usr/bin/chromium) with the `playwright` package; skipped
cleanly when either is missing. Saves a screenshot to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.media import SYNTHESIZED_NOTICE
from reconstruction.images import read_png_text
from tests.webui.conftest import RunningApp

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"), args=ARGS
        )
        try:
            yield b
        finally:
            b.close()


def _image_at(page, src: str) -> np.ndarray:
    """The pixels the page shows at `src` (fetched with the page's own session)."""
    response = page.request.get(src)
    assert response.ok, src
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"), dtype=np.float64)


def _src(page, selector: str) -> str | None:
    element = page.query_selector(selector)
    return element.get_attribute("src") if element else None


def _drag(page, slider: str, fractions: np.ndarray) -> None:
    """Press the slider's thumb in the middle of its track and move it through `fractions` of the
    track (input events while moving); the mouse stays down."""
    track = page.locator(f"{slider} input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    for f in fractions:
        page.mouse.move(box["x"] + box["width"] * f, y)
        page.wait_for_timeout(40)


def _wait_for_new_result(page, old_src: str | None) -> None:
    page.wait_for_function(
        "(old) => { const s = document.querySelector('#edit-result img')?.getAttribute('src'); "
        "return s && s !== old; }",
        arg=old_src,
    )


def test_upload_drag_slider_and_download(
    browser, running_app: RunningApp, example_photo: Path, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    page.set_default_timeout(90_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(running_app.url, wait_until="load")
        page.wait_for_selector("#edit-photo input[type=file]", state="attached")
        page.set_input_files("#edit-photo input[type=file]", str(example_photo))

        page.wait_for_function("() => document.querySelector('#edit-result img')?.getAttribute('src')")
        page.wait_for_selector("#edit-info :text('1 face found')")
        before_src = _src(page, "#edit-result img")
        before = _image_at(page, before_src)

        # drag the yaw slider from the middle to 85 % of its track: input events while moving, release at the end
        _drag(page, "#slider-yaw", np.linspace(0.52, 0.85, 8))
        page.mouse.up()
        _wait_for_new_result(page, before_src)
        page.wait_for_selector("#edit-note :text('Rendered with')")  # the release render is done
        value = float(page.locator("#slider-yaw input[type=number]").input_value())
        assert value > 10.0
        after = _image_at(page, _src(page, "#edit-result img"))
        assert after.shape == before.shape
        assert np.abs(after - before).mean() > 0.5  # the face turned

        # a raw coefficient's drag event (its own group, unprocessed values) previews while the mouse is down
        page.click("text=Advanced: raw expression coefficients")
        released_src = _src(page, "#edit-result img")
        _drag(page, "#slider-raw_00", np.linspace(0.55, 0.9, 6))
        _wait_for_new_result(page, released_src)
        page.mouse.up()

        page.click("#edit-save")
        link = page.locator("#edit-download a[download]").first
        link.wait_for()
        with page.expect_download() as info:
            link.click()
        saved = tmp_path / "download.png"
        info.value.save_as(saved)
        image = Image.open(saved)
        assert image.size == Image.open(example_photo).size  # full resolution
        assert read_png_text(saved)["Comment"].startswith(SYNTHESIZED_NOTICE)
        assert f"yaw={value:g}" in read_png_text(saved)["Description"]
        assert "raw_expression_offset=yes" in read_png_text(saved)["Description"]

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-edit.png"), full_page=True)
        assert not errors, errors
    finally:
        page.close()


def test_bad_upload_shows_a_message_not_a_trace(browser, running_app: RunningApp, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(90_000)
    try:
        page.goto(running_app.url, wait_until="load")
        page.get_by_role("tab", name="Reenact").click()
        page.wait_for_selector("#reenact-run")
        page.click("#reenact-run")  # nothing uploaded
        toast = page.locator(".toast-body, [data-testid='toast-body']").filter(
            has_text="Please upload a photo"
        )
        toast.first.wait_for()
        assert "Traceback" not in page.content()
        ARTIFACTS.mkdir(exist_ok=True)
        toast.first.screenshot(path=str(ARTIFACTS / "browser-error.png"))
    finally:
        page.close()


def test_first_minute(browser, running_app: RunningApp) -> None:
    """A new user: the page opens, the example loads, one slider moves the face, the disabled neural
    option explains itself, and an error leaves a readable message."""
    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    page.set_default_timeout(90_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(running_app.url, wait_until="load")
        hint = page.locator("#edit-info")
        example = page.locator("#edit-example")
        example.wait_for()
        assert hint.bounding_box()["y"] < example.bounding_box()["y"]  # the hint sits above the example
        example.locator("img, button, td").first.click()  # pick the bundled example
        page.wait_for_selector("#edit-info :text('1 face found')")
        page.wait_for_function("() => document.querySelector('#edit-result img')?.getAttribute('src')")
        before_src = _src(page, "#edit-result img")
        before = _image_at(page, before_src)

        number = page.locator("#slider-yaw input[type=number]")
        number.fill("20")
        number.press("Enter")
        _wait_for_new_result(page, before_src)
        after = _image_at(page, _src(page, "#edit-result img"))
        assert np.abs(after - before).mean() > 0.5  # the face turned

        engine = page.locator("#edit-engine")
        assert "not installed" in engine.inner_text() and "Engines" in engine.inner_text()
        neural = engine.locator("label:has(input[value=neural])")
        assert float(neural.evaluate("e => getComputedStyle(e).opacity")) < 0.6
        assert neural.evaluate("e => getComputedStyle(e).pointerEvents") == "none"

        page.get_by_role("tab", name="Reenact").click()
        page.click("#reenact-run")  # no video: a readable message, no trace, no server path
        toast = page.locator(".toast-body, [data-testid='toast-body']").filter(has_text="Please upload")
        toast.first.wait_for()
        text = toast.first.inner_text()
        assert "Traceback" not in text and "/tmp" not in text and len(text) < 300
        # the result panel is back in its empty state (no bare "Error" badge); the note says why
        page.wait_for_selector("#reenact-note :text('Please upload')")
        assert "Error" not in page.locator("#reenact-result").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-first-minute.png"), full_page=True)
        assert not errors, errors
    finally:
        page.close()


def test_a_file_that_is_not_an_image_is_refused_readably(
    browser, running_app: RunningApp, tmp_path: Path
) -> None:
    """Random bytes named .jpg: one readable message, no trace, no server path, no picture of it kept."""
    bogus = tmp_path / "holiday.jpg"
    bogus.write_bytes(np.random.default_rng(0).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(90_000)
    try:
        page.goto(running_app.url, wait_until="load")
        page.set_input_files("#edit-photo input[type=file]", str(bogus))
        toast = page.locator(".toast-body, [data-testid='toast-body']")
        toast.first.wait_for()
        text = toast.first.inner_text()
        assert "Traceback" not in text and "/tmp" not in text and "holiday.jpg" in text, text
        page.wait_for_selector("#edit-info :text('Not used')")  # the reason stays on the page
        assert "Error" not in page.locator("#edit-result").inner_text()  # the result panel is empty
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-not-an-image.png"))
        assert "Traceback" not in page.content()
    finally:
        page.close()
