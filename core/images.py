"""The one check of an in-memory RGB image and its luma weights (numpy only), shared by every stage."""

from __future__ import annotations

import numpy as np

from core.errors import InputError

__all__ = ["LUMA", "check_rgb8"]

#: Rec. 601 luma weights of an RGB pixel (float32, read-only): `rgb @ LUMA` is its brightness.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
LUMA.setflags(write=False)


def check_rgb8(image: np.ndarray, what: str = "image", *, min_side: int = 1) -> np.ndarray:
    """`image` as a C-contiguous (H, W, 3) uint8 RGB array at least `min_side` pixels high and wide.

    Anything else raises InputError naming `what` and what was found (dtype and shape, or type).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        found = (
            f"{image.dtype} array of shape {image.shape}"
            if isinstance(image, np.ndarray)
            else type(image).__name__
        )
        raise InputError(
            f"The {what} must be a (H, W, 3) uint8 RGB array; got a {found}. "
            "Read files with reconstruction.images.load_image."
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"The {what} has no pixels (shape {image.shape}).")
    if min(image.shape[:2]) < min_side:
        raise InputError(
            f"The {what} is {image.shape[1]}x{image.shape[0]} px; it must be at least {min_side} px on each side."
        )
    return np.ascontiguousarray(image)
