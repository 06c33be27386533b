"""Training of the lid warping network (`training.lid_flow_train`): the differentiable read is the
product's remap, the mirrored augmentation reads the same pixels, the pairs' selection."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from training.lid_flow_pairs import PairOptions, select_pairs
from training.lid_flow_train import Batch, augment, read


def _batch(seed: int = 0, n: int = 2) -> Batch:
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    angle = 0.2
    to_crop = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * 0.8
    gx, gy = np.meshgrid(np.arange(64, dtype=np.float32), np.arange(40, dtype=np.float32))
    base = np.stack([gx * 0.8 + 5, gy * 0.8 + 10], axis=2) + rng.normal(0, 1, (n, 40, 64, 2))
    return Batch(
        inputs=torch.rand(n, 11, 40, 64) * 2 - 1,
        cond=torch.rand(n, 2),
        truth=torch.rand(n, 3, 40, 64) * 2 - 1,
        base=torch.from_numpy(base.astype(np.float32)),
        to_crop=torch.from_numpy(np.repeat(to_crop[None], n, 0).astype(np.float32)),
        source=torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0,
    ), crops


def test_read_at_zero_offset_is_the_remap_at_the_geometric_point() -> None:
    batch, crops = _batch()
    made = read(batch, torch.zeros(2, 2, 40, 64))
    for i in range(2):
        b = batch.base[i].numpy()
        want = cv2.remap(crops[i], b[..., 0], b[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        got = (made[i].permute(1, 2, 0).numpy() + 1) * 127.5
        assert np.abs(got - want).mean() < 0.6


def test_a_mirrored_box_reads_the_mirrored_pixels() -> None:
    batch, _ = _batch(n=8)
    offset = torch.randn(8, 2, 40, 64) * 3
    generator = torch.Generator().manual_seed(3)
    flipped = augment(batch, generator)
    mirrored = offset.flip(-1).clone()
    mirrored[:, 0] = -mirrored[:, 0]
    ref = read(batch, offset)
    flipped_plain = Batch(
        flipped.inputs, flipped.cond, flipped.truth, flipped.base, flipped.to_crop, batch.source
    )
    which = ~torch.isclose(flipped.base, batch.base).all(dim=(1, 2, 3))
    assert which.any()
    got = read(flipped_plain, torch.where(which[:, None, None, None], mirrored, offset))
    want = torch.where(which[:, None, None, None], ref.flip(-1), ref)
    assert torch.allclose(got, want, atol=1e-4)


def test_pairs_pair_each_blink_with_the_nearest_open_frame() -> None:
    openings = np.full((30, 2), 0.3)
    openings[10:12] = 0.05
    openings[9] = 0.2
    assert select_pairs(openings, PairOptions()) == [(8, 10), (12, 11)]
