from pathlib import Path

import pytest

from benchmarks.flag_cost import flag_cost, parse_edit
from pipeline import EngineRegistry, prepare_photo


def test_an_edit_is_read_from_its_text():
    assert parse_edit("close_eyes=1,yaw=-30") == {"close_eyes": 1.0, "yaw": -30.0}


@pytest.mark.realdata
def test_a_flag_is_timed_both_ways_and_the_renderer_keeps_its_settings(shared_data: Path):
    photo = shared_data / "images" / "serengil__deepface__img3.jpg"
    registry = EngineRegistry(fast=False)
    renderer = registry.geometric(prepare_photo(photo, registry=registry).backend).renderer
    before = renderer.settings
    results = flag_cost(photo, registry, "head", {"close_eyes": 1.0}, 2, side=256)  # off by default
    assert len(results) == 2  # wall clock, thread CPU
    assert all(off > 0.0 and on > 0.0 for off, on, _ in results)
    assert renderer.settings == before


@pytest.mark.realdata
def test_a_flag_with_per_photo_work_is_timed_with_the_photo_prepared_both_ways(shared_data: Path):
    photo = shared_data / "images" / "serengil__deepface__img3.jpg"
    registry = EngineRegistry(fast=False)
    renderer = registry.geometric(prepare_photo(photo, registry=registry).backend).renderer
    before = renderer.settings
    results = flag_cost(photo, registry, "glasses", {"close_eyes": 1.0}, 2, side=256, prepare_both=True)
    assert len(results) == 2 and all(off > 0.0 and on > 0.0 for off, on, _ in results)
    assert renderer.settings == before
