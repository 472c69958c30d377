"""numpy, imported on first use: ~0.2 s that a host's start need not pay before the first vector operation."""

from __future__ import annotations

import importlib
from typing import Any


class _LazyModule:
    """Stands for a module and imports it when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


np: Any = _LazyModule("numpy")
