"""A render session caches source-only work and gives the same images as the plain forward."""

from __future__ import annotations

import numpy as np
import torch

from core.coefficients import BFM_DEEP3D, FaceCoefficients, MotionSequence
from pirender import GeneratorConfig, PIRenderer, RenderSession, motion_windows
from pirender.tensors import image_to_tensor, tensor_to_images


def test_session_matches_plain_forward_and_renders_sequences():
    torch.manual_seed(0)
    model = PIRenderer(GeneratorConfig.small()).eval()
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    session = RenderSession(model, image)
    rng = np.random.default_rng(1)
    frames = [
        FaceCoefficients(BFM_DEEP3D, rng.normal(size=64), rng.normal(size=3) * 0.1, [0, 0, 1], [1, 112, 112])
        for _ in range(5)
    ]
    motion = MotionSequence.from_frames(frames)
    out = session.render(motion)
    with torch.no_grad():
        plain = model(image_to_tensor(image), out_descriptor := motion_windows(motion, BFM_DEEP3D))
    assert out_descriptor.shape == (5, 73, 27)
    torch.testing.assert_close(out.fake_image, plain.fake_image, atol=1e-5, rtol=0)
    calls = []
    rendered = list(session.render_frames(motion, batch_size=2, progress=lambda d, t: calls.append((d, t))))
    assert len(rendered) == 5 and rendered[0].shape == (64, 64, 3) and rendered[0].dtype == np.uint8
    assert calls == [(2, 5), (4, 5), (5, 5)]
    diff = np.abs(rendered[0].astype(int) - tensor_to_images(out.fake_image[:1])[0].astype(int))
    assert diff.max() <= 1  # batch size changes float rounding only
