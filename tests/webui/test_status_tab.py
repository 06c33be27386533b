"""The Engines & weights tab's paper-quality path: the level installed, the one-step download's licences."""

from __future__ import annotations

import gradio as gr
import pytest

from webui.common import ui_errors
from webui.status_tab import StatusHandlers, engines_markdown


def test_the_panel_says_which_level_is_installed(running_app) -> None:
    text = engines_markdown(running_app.ctx)
    assert "Paper-quality path:" in text and "neural engine" in text


def test_the_one_step_download_needs_the_licences_accepted(running_app) -> None:
    handlers = StatusHandlers(running_app.ctx)
    with pytest.raises(gr.Error) as err:
        ui_errors(handlers.download_paper)(False)
    assert "licen" in str(err.value).lower()
