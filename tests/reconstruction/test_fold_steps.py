"""Tests of joining an occlusion edge's split jump into one step (reconstruction/fold_steps.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reconstruction.fold_steps import one_step_folds
from reconstruction.folds import fold_cells, node_grid

N = 24


def _flow(xs: list[float]) -> np.ndarray:
    """(N, N, 2) backward flow whose every row reads columns `xs` (then on by 1 each)."""
    reads = np.arange(N, dtype=np.float32)
    reads[: len(xs)] = xs
    reads[len(xs) :] = xs[-1] + np.arange(1, N - len(xs) + 1)
    flow = np.zeros((N, N, 2), np.float32)
    flow[..., 0] = reads[None, :] - np.arange(N, dtype=np.float32)[None, :]
    return flow


def _box() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(2), np.full(2, float(N))


def test_a_jump_split_in_two_steps_becomes_one_fold() -> None:
    """Nose 0..6, one node reading the hidden strip's middle (13.5), the cheek from 22: the node
    reads the nose's end (nearer) and the jump is a fold."""
    flow = _flow([0, 1, 2, 3, 4, 5, 6, 13.5, 22])
    assert not fold_cells(node_grid(N, N) + flow).any()  # main: no fold, the strip read squeezed
    assert one_step_folds(flow, *_box()) == N
    reads = node_grid(N, N) + flow
    np.testing.assert_allclose(reads[:, 7, 0], 6.0)
    assert fold_cells(reads)[:, 7].all()


def test_a_jump_split_in_three_steps_takes_each_node_to_its_nearer_side() -> None:
    flow = _flow([0, 1, 2, 3, 4, 5, 6, 9.0, 17.0, 22])
    one_step_folds(flow, *_box())
    reads = (node_grid(N, N) + flow)[0, :, 0]
    assert reads[7] == 6.0 and reads[8] == 22.0


def test_steady_squeezes_and_single_jumps_are_left_alone() -> None:
    squeeze = _flow([2.5 * k for k in range(N)])  # a far cheek squeezed 2.5x
    jump = _flow([0, 1, 2, 3, 4, 5, 6, 7, 20])  # a fold already one step
    smooth = _flow([0, 1, 2, 3, 5, 7, 9, 10, 11])  # a squeeze of 2x over three steps
    for flow in (squeeze, jump, smooth):
        kept = flow.copy()
        assert one_step_folds(flow, *_box()) == 0
        np.testing.assert_array_equal(flow, kept)


def test_only_the_box_is_changed() -> None:
    flow = _flow([0, 1, 2, 3, 4, 5, 6, 13.5, 22])
    kept = flow.copy()
    one_step_folds(flow, np.array([0.0, 4.0]), np.array([float(N), 10.0]))
    assert not np.array_equal(flow[4:10], kept[4:10])
    np.testing.assert_array_equal(flow[:4], kept[:4])
    np.testing.assert_array_equal(flow[10:], kept[10:])
    assert one_step_folds(flow, np.zeros(2), np.full(2, 3.0)) == 0  # too small a box


@pytest.mark.realdata
@pytest.mark.slow
def test_a_turned_nose_edge_shows_no_dark_notch(shared_data: Path) -> None:
    """At yaw 30 the image-right nostril's edge of two small photos (John_Simm 150 px, hallo 6):
    dark 1-2 px notch pixels along the nose's edge at most half main's (main 5 + 17)."""
    from benchmarks.nose_notch_sheet import notch_count, render
    from pipeline import EngineRegistry, prepare_photo

    registry = EngineRegistry(fast=False)
    counts = {False: 0, True: 0}
    for name in ("davisking__dlib__John_Simm_000288_00470387.jpg", "fudan-generative-vision__hallo__6.jpg"):
        state = prepare_photo(shared_data / "images" / name, registry=registry)
        for on in counts:
            counts[on] += notch_count(*render(state, registry, 30.0, on))
    assert counts[False] >= 10
    assert counts[True] <= counts[False] // 2
