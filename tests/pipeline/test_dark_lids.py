"""Tests of pipeline/dark_lids.py: a shut lid reads from above the lash run `eyes.lash_heights`
misses (under a dark make-up band, soft lashes beside the eye's middle), its paint is no paler than
its read and its texture tile carries no blotches; on natalie and DECA IMG_0392 the lid is then
neither black in its lower half nor a pale wedge between dark sides (docs/DARK_LIDS.md)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.dark_lids_measure import DARK, WEDGE, measure
from pipeline import EngineRegistry
from pipeline.dark_lids import calm_tile, lash_runs, no_lighter
from pipeline.eyes import lash_heights
from pipeline.geometric import PreviewSettings


def _eye(pocket: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A crop with an eye 40 px wide whose fitted upper lid lies on row 50: above it lashes (luma
    25, rows 46-50) under a make-up band (55, rows 30-45) under skin (150); with `pocket`, the
    lashes only over the eye's middle 12 columns, the band elsewhere. (source, upper curve (9, 2))."""
    source = np.full((100, 100, 3), 150, np.uint8)
    source[30:51, 25:76] = 55
    if pocket:
        source[46:51, 44:56] = 25
    else:
        source[46:51, 25:76] = 25
    source[51:, :] = 170
    upper = np.stack([np.linspace(30.0, 70.0, 9), np.full(9, 50.0)], axis=1)
    return source, upper


def test_a_lash_run_under_a_dark_band_is_found_where_lash_heights_misses_it() -> None:
    """`lash_heights` reads the band as its skin and takes no run; read against the band the lid
    reads, the 4-row run is found over the middle, tapering to nothing at the corners."""
    source, upper = _eye()
    found = lash_heights(source, upper)
    assert np.all(found == 0.0)
    runs = lash_runs(source, upper, found)
    assert np.all(np.abs(runs[3:6] - 4.0) <= 1.0), runs
    assert runs[0] == 0.0 and runs[-1] == 0.0


def test_a_dark_pocket_over_the_middle_alone_is_not_taken_for_lashes() -> None:
    """A run over the middle points only (an iris top, a deep-set lid's shadow), on an eye where
    `lash_heights` found none: the found runs are kept as they are."""
    source, upper = _eye(pocket=True)
    found = lash_heights(source, upper)
    assert np.array_equal(lash_runs(source, upper, found), found)


def test_a_found_run_is_kept_where_it_is_the_larger() -> None:
    """The larger of the two per point: `lash_heights`' own run never shrinks."""
    source, upper = _eye()
    found = np.full(9, 7.0)
    assert np.all(lash_runs(source, upper, found) >= found)


def test_paint_no_paler_than_its_read() -> None:
    """Paint lighter than 1.15x its blurred read is darkened to it; paint darker is left as it is."""
    read = np.full((20, 20, 3), 60, np.uint8)
    colour = np.full((20, 20, 3), 120.0, np.float32)
    colour[:, 10:] = 50.0
    no_lighter(colour, read)
    assert np.allclose(colour[:, :5], 60 * 1.15, atol=0.5)
    assert np.allclose(colour[:, 15:], 50.0)


def test_a_tile_keeps_its_texture_but_not_its_blotches() -> None:
    """A speck far beyond the tile's spread is pulled in to 2 robust sigmas; typical detail stays."""
    rng = np.random.default_rng(5)
    tile = (1.0 + 0.02 * rng.standard_normal((48, 48, 1))).repeat(3, axis=2).astype(np.float32)
    tile[10:12, 10:12] = 0.6
    calm = calm_tile(tile)
    assert calm[10:12, 10:12].min() > 0.9
    typical = np.abs(tile - 1.0) < 0.02
    assert np.allclose(calm[typical], tile[typical])


def test_the_flag_is_off_by_default() -> None:
    """`dark_lids` lost its rule (docs/DARK_LIDS.md, Outcome): off, the product is main's."""
    assert not PreviewSettings().dark_lids


@pytest.mark.realdata
@pytest.mark.slow
def test_shut_lids_are_neither_black_below_nor_a_pale_wedge(shared_data, registry: EngineRegistry) -> None:
    """natalie at close_eyes 1: with the flag, its image-left lid is not black in its lower half
    (`dark` < 0.3; main 0.455) and its image-right lid not a pale wedge between dark sides (`wedge`
    < 0.2; main 0.366); DECA IMG_0392's image-right lid not a pale wedge (main 0.215). Off: main's."""
    images = shared_data / "images"
    natalie = images / "yzhou359__MakeItTalk__natalie.jpg"
    deca = images / "YadiraF__DECA__IMG_0392_inputs.jpg"
    for on in (True, False):
        left, right = measure(natalie, registry, ["dark_lids"], on, 1.0)
        _, other = measure(deca, registry, ["dark_lids"], on, 1.0)
        fixed = left["dark"] < DARK and right["wedge"] < WEDGE and other["wedge"] < WEDGE
        assert fixed == on, (on, left, right, other)
