"""Fitted mouth looks: a truth painted with a known look is fitted back to that look (its colours
in closed form, its shape knobs on the grid), and the fit never does worse than the default."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.mouth_look import MouthLook
from reconstruction.controls import control_set_for
from reconstruction.face_model import load_default_face_model
from training.mouth_looks import fit_look
from training.mouth_pairs import cut_patch, mouth_box


@pytest.fixture(scope="module")
def scene(astronaut: np.ndarray):
    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.detection import FaceDetector
    from reconstruction.fitting import fit_landmarks

    with FaceDetector() as detector:
        face = detector.detect_one(astronaut).face
        crop = crop_face(astronaut, crop_transform_for_face(face, astronaut.shape[:2]))
        landmarks = detector.detect_one(crop).face.landmarks
    model = load_default_face_model()
    coeffs = fit_landmarks(model, landmarks, (crop.shape[1], crop.shape[0]))
    renderer = GeometricRenderer(model)
    state = renderer.prepare(crop, coeffs)
    target = control_set_for(model).apply(coeffs, {"open_mouth": 1.0})
    points = renderer.projector.project(target, state.coeffs.identity, state.size)
    return renderer, state, target, mouth_box(points, renderer.projector.layout.mouth)


def test_a_painted_look_is_fitted_back(scene) -> None:
    renderer, state, target, matrix = scene
    known = dataclasses.replace(
        MouthLook(), cavity=(70.0, 40.0, 38.0), teeth=(200.0, 190.0, 170.0), floor=0.8
    )
    painter = GeometricRenderer(renderer.projector.name, PreviewSettings(mouth_look=known))
    truth = cut_patch(painter.render_frame(state, target).crop, matrix)
    crop = renderer.render_frame(state, target).crop
    fitted, error, default_error = fit_look(renderer, state, target, crop, matrix, truth)
    assert error < 2.0 < default_error  # MSE, 8-bit levels squared
    # The photo shows its own teeth (none are drawn, so the teeth's knobs are free): the cavity.
    assert fitted.floor == known.floor
    np.testing.assert_allclose(fitted.cavity, known.cavity, atol=4.0)


def test_the_fit_is_never_worse_than_the_default(scene) -> None:
    renderer, state, target, matrix = scene
    crop = renderer.render_frame(state, target).crop
    rng = np.random.default_rng(0)
    truth = np.clip(crop.astype(np.float32) + rng.normal(0, 20, crop.shape), 0, 255).astype(np.uint8)
    _, error, default_error = fit_look(renderer, state, target, crop, matrix, cut_patch(truth, matrix))
    assert error <= default_error + 1e-3
