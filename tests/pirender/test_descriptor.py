"""Descriptor windows: clamping at the ends, still edits, face-model checks."""

from __future__ import annotations

import numpy as np
import pytest

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence
from core.errors import FaceModelMismatchError, InputError
from pirender.descriptor import motion_windows, sequence_windows, still_window, window_indices


def _coeffs(model: str = BFM_DEEP3D, value: float = 0.0) -> FaceCoefficients:
    return FaceCoefficients(model, np.full(64, value), [0.1, 0.2, 0.3], [0, 0, 1], [1, 112, 112])


def test_window_indices_clamp_at_ends():
    idx = window_indices(5, window=5)
    assert idx[0].tolist() == [0, 0, 0, 1, 2]
    assert idx[4].tolist() == [2, 3, 4, 4, 4]
    with pytest.raises(InputError):
        window_indices(5, window=4)


def test_sequence_windows_put_frames_as_columns():
    rows = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 73), np.float32)
    win = sequence_windows(rows, window=27)
    assert win.shape == (10, 73, 27)
    assert win[3, :, 13].tolist() == [3.0] * 73  # centre column is the frame itself
    assert win[0, 0, 0] == 0 and win[9, 0, 26] == 9


def test_still_window_repeats_one_frame():
    rows = _coeffs(value=0.5).descriptor_rows()
    win = still_window(rows)
    assert win.shape == (1, 73, 27) and bool((win == win[:, :, :1]).all())
    assert rows[:64].tolist() == [0.5] * 64 and rows[64:67].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_motion_windows_refuses_another_face_model():
    seq = MotionSequence.still(_coeffs(DEFAULT_FACE_MODEL), 3)
    with pytest.raises(FaceModelMismatchError, match="pirender-mesh-v1"):
        motion_windows(seq, BFM_DEEP3D)
    assert motion_windows(MotionSequence.still(_coeffs(), 3), BFM_DEEP3D).shape == (3, 73, 27)
