"""Descriptor windows (paper section 3.1): per-frame rows -> (C, 2k+1) windows.

The renderer sees, for every target frame, the descriptor rows of the 2k+1 frames around it as
columns, the centre frame in the middle; indices are clamped at the ends of a sequence. A still
edit repeats one frame's rows over the whole window.
"""

from __future__ import annotations

import numpy as np
import torch

from core.coefficients import FaceCoefficients, MotionSequence, check_face_model
from core.errors import InputError

__all__ = ["window_indices", "sequence_windows", "still_window", "motion_windows"]


def window_indices(num_frames: int, window: int = 27) -> np.ndarray:
    """(T, window) int indices of the frames each window covers, clamped to [0, T-1]."""
    if window % 2 != 1 or window < 1:
        raise InputError(f"the window must be an odd number of frames, got {window}")
    if num_frames < 1:
        raise InputError("a sequence needs at least one frame")
    k = window // 2
    idx = np.arange(num_frames)[:, None] + np.arange(-k, k + 1)[None, :]
    return np.clip(idx, 0, num_frames - 1)


def sequence_windows(rows: np.ndarray | torch.Tensor, window: int = 27) -> torch.Tensor:
    """Per-frame rows (T, C) -> windows (T, C, window) float32, clamped at the ends."""
    rows_t = torch.as_tensor(np.asarray(rows, dtype=np.float32))
    if rows_t.ndim != 2:
        raise InputError(f"descriptor rows must have shape (T, C), got {tuple(rows_t.shape)}")
    idx = torch.from_numpy(window_indices(rows_t.shape[0], window))
    return rows_t[idx].permute(0, 2, 1).contiguous()  # (T, window, C) -> (T, C, window)


def still_window(rows: np.ndarray | torch.Tensor, window: int = 27) -> torch.Tensor:
    """One frame's rows (C,) -> (1, C, window): the same motion repeated (a still edit)."""
    rows_t = torch.as_tensor(np.asarray(rows, dtype=np.float32)).reshape(1, -1, 1)
    return rows_t.expand(1, rows_t.shape[1], window).contiguous()


def motion_windows(
    motion: MotionSequence | FaceCoefficients, face_model: str, window: int = 27
) -> torch.Tensor:
    """Windows for a whole motion sequence (T, C, window), or (1, C, window) for a single record.

    Refuses coefficients of a face model other than `face_model` (the renderer's).
    """
    check_face_model(face_model, motion.face_model)
    if isinstance(motion, FaceCoefficients):
        return still_window(motion.descriptor_rows(), window)
    return sequence_windows(motion.descriptor_rows(), window)
