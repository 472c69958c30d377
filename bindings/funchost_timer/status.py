"""The schedule monitor's status (Last, Next, LastUpdated per timer), kept in ``<app>/.funchost/timers.db``.

SQLite in WAL mode: every update is one transaction, so two processes on the same app (or a crash mid-write)
never leave a half-written status. Times are stored as UTC ISO text; None means the host's "never".
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["ScheduleStatus", "StatusStore", "status_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timer_status (
    name TEXT PRIMARY KEY,
    last TEXT,
    next TEXT,
    last_updated TEXT
)
"""


@dataclass(frozen=True)
class ScheduleStatus:
    """The host's ``ScheduleStatus``: the last occurrence run, the next expected one, when it was computed."""

    last: datetime | None
    next: datetime | None
    last_updated: datetime | None


def status_path(script_root: Path) -> Path:
    """Where an app's timer status lives."""
    return Path(script_root) / ".funchost" / "timers.db"


def _text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class StatusStore:
    """Read and write timer statuses; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            ignore = folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n")
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            self._db = db
        return self._db

    def get(self, name: str) -> ScheduleStatus | None:
        """The recorded status of a timer, or None if it has never been recorded."""
        with self._lock:
            row = (
                self._connect()
                .execute("SELECT last, next, last_updated FROM timer_status WHERE name = ?", (name,))
                .fetchone()
            )
        if row is None:
            return None
        return ScheduleStatus(_time(row[0]), _time(row[1]), _time(row[2]))

    def put(self, name: str, status: ScheduleStatus) -> None:
        """Record a timer's status (one atomic statement)."""
        values = (name, _text(status.last), _text(status.next), _text(status.last_updated))
        with self._lock:
            self._connect().execute(
                "INSERT INTO timer_status (name, last, next, last_updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last = excluded.last, next = excluded.next, "
                "last_updated = excluded.last_updated",
                values,
            )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
