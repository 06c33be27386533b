"""The coefficient records: validation, descriptor rows, dict and .npz round trips, face-model checks."""

from __future__ import annotations

import numpy as np
import pytest

from core.coefficients import (
    BFM_DEEP3D,
    DEFAULT_FACE_MODEL,
    FaceCoefficients,
    MotionSequence,
    check_face_model,
    descriptor_size,
)
from core.errors import FaceModelMismatchError, InputError


def _coeffs(model: str = BFM_DEEP3D, value: float = 0.0) -> FaceCoefficients:
    return FaceCoefficients(model, np.full(64, value), [0.1, 0.2, 0.3], [0, 0, 1], [1, 112, 112])


def test_descriptor_layout() -> None:
    rows = _coeffs(value=0.5).descriptor_rows()
    assert rows.shape == (descriptor_size(64),) == (73,) and rows.dtype == np.float32
    assert rows[:64].tolist() == [0.5] * 64
    assert rows[64:67].tolist() == pytest.approx([0.1, 0.2, 0.3])  # angles, radians
    assert rows[67:70].tolist() == [0, 0, 1] and rows[70:].tolist() == [1, 112, 112]
    assert _coeffs().angles_degrees[1] == pytest.approx(np.degrees(0.2))


def test_coefficient_record_round_trips(tmp_path) -> None:
    c = _coeffs(value=0.25)
    assert FaceCoefficients.from_descriptor_rows(
        c.descriptor_rows(), BFM_DEEP3D
    ).descriptor_rows().tolist() == (c.descriptor_rows().tolist())
    assert FaceCoefficients.from_dict(c.to_dict()).descriptor_rows().tolist() == c.descriptor_rows().tolist()
    seq = MotionSequence.from_frames([c, _coeffs(value=1.0)], fps=30)
    seq.save_npz(tmp_path / "m.npz")
    loaded = MotionSequence.load_npz(tmp_path / "m.npz")
    assert loaded.fps == 30 and loaded.face_model == BFM_DEEP3D and len(loaded) == 2
    np.testing.assert_array_equal(loaded.descriptor_rows(), seq.descriptor_rows())
    np.testing.assert_array_equal(loaded.frame(1).expression, np.ones(64, np.float32))


def test_records_refuse_bad_values() -> None:
    with pytest.raises(InputError):
        FaceCoefficients(BFM_DEEP3D, np.zeros(64), [0, 0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(InputError, match="NaN"):
        FaceCoefficients(BFM_DEEP3D, np.full(64, np.nan), [0, 0, 0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(InputError, match="missing the field"):
        FaceCoefficients.from_dict({"face_model": BFM_DEEP3D})
    with pytest.raises(InputError, match="at least 10 rows"):
        FaceCoefficients.from_descriptor_rows(np.zeros(9), BFM_DEEP3D)
    with pytest.raises(InputError, match="shape"):
        MotionSequence(BFM_DEEP3D, np.zeros((3, 64)), np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(InputError, match="fps"):
        MotionSequence.still(_coeffs(), 2, fps=0)
    with pytest.raises(InputError, match="zero frames"):
        MotionSequence.from_frames([])


def test_face_models_are_never_mixed() -> None:
    check_face_model(BFM_DEEP3D, BFM_DEEP3D)
    with pytest.raises(FaceModelMismatchError, match="pirender coeffs --backend deep3d"):
        check_face_model(BFM_DEEP3D, DEFAULT_FACE_MODEL)
    with pytest.raises(FaceModelMismatchError):
        MotionSequence.from_frames([_coeffs(), _coeffs(DEFAULT_FACE_MODEL)])
