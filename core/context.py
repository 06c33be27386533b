"""A base for objects that hold native resources (MediaPipe graphs, ffmpeg processes, models)."""

from __future__ import annotations

from typing import TypeVar

__all__ = ["Closeable"]

_Self = TypeVar("_Self", bound="Closeable")


class Closeable:
    """`with obj: ...` calls `obj.close()` on the way out; subclasses implement `close`."""

    def close(self) -> None:
        """Release what the object holds (safe to call more than once)."""

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
