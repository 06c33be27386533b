"""Image measures that more than one sheet reports."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["detail_energies"]


def detail_energies(luma: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(E_x, E_y): mean squared step of `luma`'s fine detail (minus its blur, sigma 1.5 px) along the
    rows and down the columns over the pixels of `mask`. A streak stretched along one axis has
    little energy along it, so their ratio tells streaks from texture."""
    detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    dx = np.zeros_like(detail)
    dy = np.zeros_like(detail)
    dx[:, 1:] = np.diff(detail, axis=1)
    dy[1:] = np.diff(detail, axis=0)
    inner = mask.copy()
    inner[0], inner[:, 0] = False, False
    return float(np.mean(dx[inner] ** 2)), float(np.mean(dy[inner] ** 2))
