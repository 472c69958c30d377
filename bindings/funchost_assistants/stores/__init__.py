"""Assistant stores: one protocol, three interchangeable implementations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funchost_assistants.stores.base import (
    AssistantStore,
    Collection,
    Conflict,
    StateChanged,
    StoreError,
    StoreUnavailable,
)
from funchost_assistants.stores.memory import MemoryStore

if TYPE_CHECKING:  # sqlite3 is imported only when the SQLite store is used
    from funchost_assistants.stores.sqlite import SqliteStore

STORE_KINDS = ("sqlite", "memory", "tables")


def sqlite_path(script_root: Path) -> Path:
    """Where the default SQLite store keeps an app's assistants."""
    return Path(script_root) / ".funchost" / "assistants.db"


def open_store(kind: str, *, script_root: Path, settings: Callable[[str], str | None]) -> AssistantStore:
    """The store named ``kind`` (sqlite, memory or tables) for the app at ``script_root``."""
    normalized = kind.strip().lower()
    if normalized == "sqlite":
        from funchost_assistants.stores.sqlite import SqliteStore

        return SqliteStore(sqlite_path(script_root))
    if normalized == "memory":
        return MemoryStore()
    if normalized == "tables":
        from funchost_assistants.stores.tables import TablesStore

        return TablesStore(settings)
    raise StoreError(f"unknown assistant store {kind!r}: use one of {', '.join(STORE_KINDS)}.")


__all__ = [
    "STORE_KINDS",
    "AssistantStore",
    "Collection",
    "Conflict",
    "MemoryStore",
    "SqliteStore",
    "StateChanged",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "sqlite_path",
]


def __getattr__(name: str) -> Any:
    if name == "SqliteStore":
        from funchost_assistants.stores.sqlite import SqliteStore

        return SqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
