"""What the photo and video commands (`edit`, `edit-video`, `reenact`, `animate`) share: a progress bar, the common
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
    "add_input_arguments",
    "add_option_flags",
    "flag_name",
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


def add_input_arguments(
    parser: argparse.ArgumentParser,
    *,
    output_help: str,
    source: str = "photo",
    source_help: str = "the portrait photo (JPEG, PNG, WebP, ...)",
    engine: str = "auto",
    engine_note: str = "",
    backend: str = "default",
) -> None:
    """The input (a photo unless `source` says otherwise), the output file, the renderer and the
    reconstruction backend."""
    parser.add_argument(source, help=source_help)
    parser.add_argument("-o", "--output", required=True, help=output_help)
    parser.add_argument(
        "--engine", choices=ENGINE_CHOICES, default=engine, help=f"renderer (default: {engine}{engine_note})"
    )
    parser.add_argument("--backend", default=backend, help="reconstruction backend: default or deep3d")


def flag_name(name: str) -> str:
    """`--head-yaw` for the name "head_yaw"."""
    return "--" + name.replace("_", "-")


def add_option_flags(
    parser: argparse._ActionsContainer, defaults: object, helps: dict[str, str | None]
) -> None:
    """One flag per named field of the options dataclass `defaults` (`{field: help}`), typed and
    defaulted by its value: `--max-side` for "max_side", read back by `options_from_args`."""
    for name, text in helps.items():
        value = getattr(defaults, name)
        parser.add_argument(flag_name(name), type=type(value), default=value, help=text)


def options_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """An options dataclass with every field the command line gave (same names), then `overrides`."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**{**given, **overrides})
