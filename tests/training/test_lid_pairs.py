"""Blink pairs of the lid network (`training.lid_pairs`) and its training losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.lid_net_train import PatchCritic, lid_losses
from training.lid_pairs import PairOptions, clip_split, eye_openings, psnr, select_pairs, ssim


def _landmarks(openings: np.ndarray) -> np.ndarray:
    """(T, 478, 3) landmarks whose two eyes (width 20 px) open by `openings` (T, 2) widths."""
    lm = np.zeros((len(openings), 478, 3), np.float32)
    for e, (up, lo, a, b) in enumerate(((159, 145, 33, 133), (386, 374, 362, 263))):
        lm[:, a, 0], lm[:, b, 0] = 10 + 40 * e, 30 + 40 * e
        lm[:, up, 1], lm[:, lo, 1] = 50.0, 50.0 + 20.0 * openings[:, e]
    return lm


def test_eye_openings_are_gaps_over_widths() -> None:
    openings = np.array([[0.3, 0.25], [0.05, 0.02]])
    assert np.allclose(eye_openings(_landmarks(openings)), openings, atol=1e-6)


def test_blinks_pair_with_the_nearest_open_frame() -> None:
    openings = np.full((30, 2), 0.3)
    openings[10:13] = 0.05  # a blink
    openings[9] = 0.2  # half closed: neither source nor target
    openings[20, 0] = 0.05  # one eye only: not a target
    pairs = select_pairs(openings, PairOptions())
    assert pairs == [(8, 10), (13, 11), (13, 12)]


def test_at_most_the_asked_number_of_targets_per_clip() -> None:
    openings = np.full((100, 2), 0.3)
    openings[::3] = 0.02
    pairs = select_pairs(openings, PairOptions(pairs=5))
    assert len(pairs) == 5 and all(abs(s - t) == 1 for s, t in pairs)


def test_no_face_no_pairs() -> None:
    assert select_pairs(np.full((10, 2), np.nan), PairOptions()) == []


def test_the_split_keeps_identity_groups_together(shared_data) -> None:
    from reconstruction.video import read_identity_groups

    videos = shared_data / "videos"
    split = clip_split(videos)
    groups = read_identity_groups(videos)
    sides: dict[str, set] = {}
    for name, group in groups.items():
        stem = name.rsplit(".", 1)[0]
        if stem in split:
            sides.setdefault(group, set()).add(split[stem])
    assert all(len(s) == 1 for s in sides.values())
    assert "held_out" in split.values() and split == clip_split(videos)


def test_metrics_of_identical_images() -> None:
    x = torch.rand(2, 3, 40, 64) * 2 - 1
    assert torch.all(psnr(x, x) > 90) and torch.allclose(ssim(x, x), torch.ones(2))
    assert torch.all(psnr(x, -x) < psnr(x, x * 0.9))


def test_losses_are_named_weighted_terms() -> None:
    out, truth = torch.zeros(2, 3, 40, 64), torch.full((2, 3, 40, 64), 0.5)
    terms = lid_losses(out, truth, None, PatchCritic(), (2.0, 1.0, 0.1))
    assert set(terms) == {"l1", "adversarial"}
    assert float(terms["l1"]) == pytest.approx(1.0)
