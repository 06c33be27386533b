"""Tests of pipeline/shut_masks.py: what a shut eye hides, made once per photo, is what
`eyes.shut_opening` makes per frame."""

from __future__ import annotations

import numpy as np

from pipeline.eyes import shut_opening
from pipeline.face_paint import lash_colour
from pipeline.shut_masks import shut_eyes, shut_masks

UPPER = np.stack([np.linspace(20.0, 60.0, 9), 50.0 - 4.0 * np.sin(np.linspace(0.0, np.pi, 9))], axis=1)
LOWER = np.stack([UPPER[:, 0], 50.0 + 6.0 * np.sin(np.linspace(0.0, np.pi, 9))], axis=1)
SHUT = (np.stack([UPPER[:, 0], LOWER[:, 1] - 0.2], axis=1), LOWER)


def test_the_masks_made_once_are_the_frames_own() -> None:
    """An eye with a lash run and one without, shut and open: the cached masks and lash colour
    equal `shut_opening`'s and `lash_colour`'s of the frame; an open eye hides nothing."""
    rng = np.random.default_rng(0)
    source = rng.integers(0, 255, (100, 140, 3), dtype=np.uint8)
    lids = [(UPPER, LOWER), (UPPER + [60.0, 0.0], LOWER + [60.0, 0.0])]
    runs = [np.linspace(0.0, 4.0, 9), np.zeros(9)]
    masks = shut_masks(source, lids, runs)
    targets = [SHUT, (SHUT[0] + [60.0, 0.0], SHUT[1] + [60.0, 0.0])]
    shut = shut_eyes(masks, lids, targets, (False, False), fringe=True)
    assert len(shut) == 2
    opening = shut_opening(lids[0], targets[0], source.shape[:2])
    assert np.array_equal(shut[0][0], shut_opening(lids[0], targets[0], source.shape[:2], runs[0]))
    assert np.array_equal(shut[0][1], lash_colour(source, opening))
    assert np.array_equal(shut[1][0], shut_opening(lids[1], targets[1], source.shape[:2]))
    assert shut[1][1] is None
    plain = shut_eyes(masks, lids, targets, (False, False), fringe=False)
    assert np.array_equal(plain[0][0], opening) and plain[0][1] is None
    assert shut_eyes(masks, lids, lids, (False, False), fringe=True) == []
