"""What the photo commands (`edit`, `reenact`, `animate`) share: a progress bar, the common
arguments, and use-case options filled from the parsed arguments."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tqdm import tqdm

from pipeline import ENGINE_CHOICES

__all__ = [
    "progress_bar",
    "add_photo_arguments",
    "options_from_args",
]

T = TypeVar("T")


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[float, str], None]]:
    """A `(fraction, message)` progress callback drawing a tqdm bar on stderr (only on a terminal)."""
    with tqdm(total=100, desc=description, unit="%", disable=None, leave=False) as bar:

        def update(fraction: float, message: str) -> None:
            bar.n = round(100 * min(max(fraction, 0.0), 1.0))
            bar.set_postfix_str(message, refresh=False)
            bar.refresh()

        yield update


def add_photo_arguments(
    parser: argparse.ArgumentParser, *, output_help: str, engine: str = "auto", backend: str = "default"
) -> None:
    """The photo, the output file, the renderer and the reconstruction backend."""
    parser.add_argument("photo", help="the portrait photo (JPEG, PNG, WebP, ...)")
    parser.add_argument("-o", "--output", required=True, help=output_help)
    parser.add_argument(
        "--engine", choices=ENGINE_CHOICES, default=engine, help=f"renderer (default: {engine})"
    )
    parser.add_argument("--backend", default=backend, help="reconstruction backend: default or deep3d")


def options_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """An options dataclass with every field the command line gave (same names), then `overrides`."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**{**given, **overrides})
