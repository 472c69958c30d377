"""Typed description of an indexed function and its bindings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Direction = Literal["in", "out", "inout"]


@dataclass(frozen=True)
class BindingSpec:
    """One binding as the library (v2) or function.json (v1) declares it."""

    name: str
    type: str
    direction: Direction
    raw: Mapping[str, Any]
    """The binding JSON as emitted, keys as written."""

    @property
    def is_trigger(self) -> bool:
        return self.type.lower().endswith("trigger")

    @property
    def kind(self) -> str:
        """The lower-cased binding type, the registry's key."""
        return self.type.lower()

    @property
    def data_type(self) -> str | None:
        for key, value in self.raw.items():
            if key.lower() == "datatype" and isinstance(value, str):
                return value.lower()
        return None

    def get(self, prop: str, default: Any = None) -> Any:
        """A raw property, matched case-insensitively."""
        lowered = prop.lower()
        for key, value in self.raw.items():
            if key.lower() == lowered:
                return value
        return default


@dataclass
class FunctionSpec:
    """A function as the host knows it after indexing."""

    name: str
    bindings: tuple[BindingSpec, ...]
    func: Callable[..., Any] | None
    directory: Path
    script_file: Path
    is_async: bool = False
    wants_context: bool = False
    errors: list[str] = field(default_factory=list)
    disabled: bool = False
    retry: Mapping[str, Any] | None = None
    """The retry policy as written (``@app.retry`` in v2, ``"retry"`` in function.json), None without one."""

    @property
    def trigger(self) -> BindingSpec:
        return next(b for b in self.bindings if b.is_trigger)

    @property
    def inputs(self) -> tuple[BindingSpec, ...]:
        return tuple(b for b in self.bindings if not b.is_trigger and b.direction == "in")

    @property
    def outputs(self) -> tuple[BindingSpec, ...]:
        return tuple(b for b in self.bindings if b.direction == "out")

    @property
    def in_error(self) -> bool:
        return bool(self.errors)

    def binding(self, name: str) -> BindingSpec | None:
        return next((b for b in self.bindings if b.name == name), None)
