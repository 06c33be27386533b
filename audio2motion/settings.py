"""The JSON round trip that the model's settings records share (saved in its config.json)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar, TypeVar

from core.errors import InputError

__all__ = ["JsonSettings"]

S = TypeVar("S", bound="JsonSettings")


class JsonSettings:
    """Mixin of a settings dataclass: `to_dict` / `from_dict` through JSON.

    Unknown keys (a file from another version) are refused with an InputError naming them;
    `what` names the settings in that message ("flow settings", ...).
    """

    what: ClassVar[str] = "settings"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any]) -> S:
        """Inverse of `to_dict`; unknown keys are refused."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown {cls.what} {unknown}; known: {sorted(known)}")
        return cls(**data)
