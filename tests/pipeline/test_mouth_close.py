"""Lips that meet where the target closes a mouth the photo shows open."""

from __future__ import annotations

import numpy as np

from pipeline.mouth import MouthMotion, analyse_mouth
from pipeline.mouth_close import close_lips, hidden_inside


def _photo() -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """A 120 px crop: red lips around a mouth open 14 px, teeth 2 px above the fitted upper lip line."""
    image = np.full((120, 120, 3), (200, 150, 130), np.uint8)  # skin
    image[40:80, 30:90] = (170, 60, 70)  # lips
    image[51:67, 38:82] = (235, 230, 220)  # teeth, up to 2 px above the mesh's upper lip (y = 53)
    image[59:62, 38:82] = (20, 10, 10)  # the dark between them
    xs = np.linspace(36.0, 84.0, 9)
    bulge = np.sin(np.linspace(0.0, np.pi, 9))
    upper = np.stack([xs, 60.0 - 7.0 * bulge], axis=1)
    lower = np.stack([xs, 60.0 + 7.0 * bulge], axis=1)
    return image, (upper, lower)


def test_a_mouth_the_target_closes_reads_its_lips_not_its_teeth() -> None:
    image, (upper, lower) = _photo()
    interior = analyse_mouth(image, upper, lower)
    assert interior.inside is not None
    closed = (np.stack([upper[:, 0], np.full(9, 60.0)], axis=1),) * 2  # the inner lips meet at y = 60
    mouth = MouthMotion(interior, (upper, lower), closed)
    hidden = hidden_inside(mouth, image.shape[:2])
    assert hidden is not None
    assert (
        hidden[52, 60] == 1.0 and hidden[60, 60] == 1.0 and hidden[48, 60] == 0.0
    )  # teeth up to the real lip
    # A flow that reads the photo's inside across the seam (as a blur of the lips' flow does).
    flow = np.zeros((120, 120, 2), np.float32)
    rows = np.arange(120, dtype=np.float32)[:, None]
    flow[..., 1] = np.where(rows < 60, -7.0, 7.0)
    flow[58:62, :, 1] = np.array([-2.0, 0.0, 1.0, 3.0])[:, None]  # reads 56, 59, 61, 64: teeth and dark
    close_lips(flow, mouth)
    reads = 60 + np.arange(-2, 2)[:, None] + flow[58:62, 50:70, 1]
    assert (reads[:2] < 51.0).all() and (reads[2:] > 66.0).all(), reads[:, 10]  # the lips' own edges


def test_an_opened_or_unchanged_mouth_hides_nothing() -> None:
    image, lips = _photo()
    interior = analyse_mouth(image, *lips)
    wider = (lips[0] - [0.0, 3.0], lips[1] + [0.0, 3.0])
    for target in (lips, wider):
        assert hidden_inside(MouthMotion(interior, lips, target), image.shape[:2]) is None
