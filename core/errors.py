"""Typed errors shared by every stage of the pipeline.

Each error says what was expected, what was found and what to do, so that the CLI and the
web UI can show it to a person verbatim instead of a stack trace.
"""

from __future__ import annotations

__all__ = [
    "PIRenderError",
    "InputError",
    "CheckpointError",
    "WeightsNotFoundError",
    "LicenceNotAcceptedError",
    "FaceModelNotInstalledError",
    "FaceModelMismatchError",
    "ImageReadError",
    "NoFaceError",
    "FaceTooSmallError",
    "MediaReadError",
]


class PIRenderError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(PIRenderError, ValueError):
    """A tensor, array or argument has the wrong shape, dtype, range or value."""


class CheckpointError(PIRenderError, ValueError):
    """A weights file is not of the expected model, is truncated, or does not match the config."""


class WeightsNotFoundError(PIRenderError, FileNotFoundError):
    """A weights or model file is missing: the message names the file, where to put it and what needs it."""


class FaceModelNotInstalledError(WeightsNotFoundError):
    """A feature needs the face model file itself (e.g. the BFM for its geometric preview and sliders),
    while the coefficients alone would not: the message says what the file enables and how to get it."""


class LicenceNotAcceptedError(PIRenderError, PermissionError):
    """A download needs the user's explicit acceptance of the file's licence first."""


class FaceModelMismatchError(PIRenderError, ValueError):
    """Coefficients of one face model were given to a component built for another."""


class ImageReadError(PIRenderError, ValueError):
    """An image file could not be read or converted."""


class MediaReadError(PIRenderError, ValueError):
    """A video or audio file could not be read, or is outside the configured limits."""


class NoFaceError(PIRenderError, ValueError):
    """No usable face was found in an image."""


class FaceTooSmallError(NoFaceError):
    """A face was found but is too small to be edited reliably."""
