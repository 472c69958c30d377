"""Default store: one SQLite file in the extension's entity layout."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from funchost_assistants.models import (
    STATE_ROW_KEY,
    AssistantState,
    ChatMessage,
    is_message_row,
    message_entity,
    state_entity,
    state_from_entity,
)
from funchost_assistants.stores.base import Collection, Conflict, StoreUnavailable, state_changed, with_etag
from funchost_assistants.stores.memory import missing_table_error

T = TypeVar("T")
_WRITE: Any = object()
"""``empty`` of a write: it runs (and creates the database) even when the file does not exist yet."""

PROPERTIES = (
    "Content",
    "Role",
    "Name",
    "CreatedAt",
    "ToolCalls",
    "Exists",
    "LastUpdatedAt",
    "TotalMessages",
    "TotalTokens",
)
"""Entity properties, one column each (besides the keys)."""
_DATETIMES = ("CreatedAt", "LastUpdatedAt")
_STATE_PROPERTIES = ("Exists", "CreatedAt", "LastUpdatedAt", "TotalMessages", "TotalTokens")
_COLUMNS = ("connection", "table_name", "PartitionKey", "RowKey", *PROPERTIES)
_COLUMN_LIST = ", ".join(f'"{c}"' for c in _COLUMNS)
_SELECT_LIST = ", ".join(f'"{c}"' for c in _COLUMNS[2:])

SCHEMA = """
CREATE TABLE IF NOT EXISTS table_registry (
    connection TEXT NOT NULL,
    table_name TEXT NOT NULL,
    PRIMARY KEY (connection, table_name)
);
CREATE TABLE IF NOT EXISTS entities (
    connection TEXT NOT NULL,
    table_name TEXT NOT NULL,
    PartitionKey TEXT NOT NULL,
    RowKey TEXT NOT NULL,
    Content TEXT,
    Role TEXT,
    Name TEXT,
    CreatedAt TEXT,
    ToolCalls TEXT,
    "Exists" INTEGER,
    LastUpdatedAt TEXT,
    TotalMessages INTEGER,
    TotalTokens INTEGER,
    PRIMARY KEY (connection, table_name, PartitionKey, RowKey)
);
CREATE INDEX IF NOT EXISTS entities_created_at
    ON entities (connection, table_name, PartitionKey, CreatedAt);
PRAGMA user_version = 1;
"""

_WHERE_PARTITION = "connection = ? AND table_name = ? AND PartitionKey = ?"
_MESSAGES = "RowKey >= 'msg-' AND RowKey < 'msg.'"
_MESSAGE_LIST = "RowKey, Content, Role, Name, CreatedAt, ToolCalls"
LOAD_ALL_SQL = (
    f"SELECT {_MESSAGE_LIST} FROM entities WHERE {_WHERE_PARTITION} AND {_MESSAGES} ORDER BY RowKey"
)
LOAD_AFTER_SQL = (
    f"SELECT {_MESSAGE_LIST} FROM entities INDEXED BY entities_created_at "
    f"WHERE {_WHERE_PARTITION} AND CreatedAt > ? AND {_MESSAGES} ORDER BY CreatedAt"
)
"""Uses the CreatedAt index, so only the rows after the timestamp are read, in index order (no sort in SQL;
the caller puts them in RowKey order, which for rows written in time order is a no-op pass)."""
_LOAD_STATE_SQL = f"SELECT {_SELECT_LIST} FROM entities WHERE {_WHERE_PARTITION} AND RowKey = ?"
_INSERT_SQL = f"INSERT INTO entities ({_COLUMN_LIST}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_MERGE_STATE_SQL = _INSERT_SQL + (
    " ON CONFLICT (connection, table_name, PartitionKey, RowKey) DO UPDATE SET "
    + ", ".join(f'"{p}" = excluded."{p}"' for p in _STATE_PROPERTIES)
)


def _text_datetime(dt: datetime) -> str:
    """Fixed-width UTC text, so text order is time order."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _row(where: Collection, entity: dict[str, Any]) -> tuple[Any, ...]:
    values: list[Any] = [where.connection, where.table, entity["PartitionKey"], entity["RowKey"]]
    for prop in PROPERTIES:
        value = entity.get(prop)
        if prop in _DATETIMES and value is not None:
            value = _text_datetime(value)
        values.append(value)
    return tuple(values)


def _entity(row: sqlite3.Row) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}
    for prop in PROPERTIES:
        value = row[prop]
        if value is None:
            continue
        if prop in _DATETIMES:
            value = datetime.fromisoformat(value)
        elif prop == "Exists":
            value = bool(value)
        entity[prop] = value
    return entity


_MIN_UTC = datetime(1, 1, 1, tzinfo=UTC)


def _row_order(message: ChatMessage) -> int:
    return message.index


def _messages(rows: Sequence[sqlite3.Row]) -> list[ChatMessage]:
    """Message rows straight to ChatMessage (the hot path of a long history: no entity dicts)."""
    parse = datetime.fromisoformat
    out = []
    for row_key, content, role, name, created, tool_calls in rows:
        if not is_message_row(row_key):
            continue
        out.append(
            ChatMessage(
                int(row_key[4:], 16),
                content or "",
                role or "",
                parse(created) if created else _MIN_UTC,
                name,
                tool_calls or "",
            )
        )
    return out


class SqliteStore:
    """Assistants in one SQLite file (WAL), safe to share between host processes.

    All calls run on one dedicated worker thread holding one connection: SQLite serialises writers anyway,
    a single connection needs no per-thread lifecycle, and the event loop never blocks. Every operation is
    one transaction (``BEGIN IMMEDIATE`` for writes, ``busy_timeout`` for other processes), so it is atomic
    across threads and processes.
    """

    name = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="funchost-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        """(device, inode) of the file the connection opened: a deleted or replaced file is detected."""

    def describe(self) -> str:
        """Where the data lives."""
        return f"sqlite ({self.path})"

    # -- plumbing -------------------------------------------------------------------------------------

    def _create_file(self) -> None:
        """The folder (with a ``.gitignore``) and an empty database file readable by its owner only."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        # SQLite gives the -wal and -shm files the database file's permissions, so 0600 covers all three.
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self._create_file()
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout_ms / 1000)
            try:
                stat = os.stat(self.path)
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                deadline = time.monotonic() + self._busy_timeout_ms / 1000
                while (
                    True
                ):  # switching to WAL does not wait on the busy handler while another process does it
                    try:
                        conn.execute("PRAGMA journal_mode = WAL")
                        conn.executescript(SCHEMA)
                        break
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.02)
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()
                raise
            self._conn, self._identity = conn, (stat.st_dev, stat.st_ino)
        return self._conn

    def _check_file(self) -> None:
        """Refuse to go on when the path no longer names the open file (deleted or replaced while running):
        writes would land in an unlinked file and vanish at the next start."""
        if self._conn is None or self._identity is None:
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            what = "was deleted"
        else:
            if (stat.st_dev, stat.st_ino) == self._identity:
                return
            what = "was replaced by another file"
        raise StoreUnavailable(
            f"sqlite store {self.path} {what} while the host was running; nothing more is read or written "
            "through the old file, whose data would be lost at the next start. Restart funchost to open "
            "the file now at that path (a new, empty store if it is gone), or restore the file."
        )

    def _call(self, fn: Callable[[sqlite3.Connection], T], empty: Any) -> T:
        if self._conn is None and empty is not _WRITE and not self.path.exists():
            return cast(T, empty)  # reading never creates the database
        self._check_file()
        try:
            return fn(self._connect())
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(
                f"sqlite store {self.path}: {exc}; check that the file is writable and not locked by "
                "another program, then retry."
            ) from exc
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
                raise
            raise StoreUnavailable(
                f"sqlite store {self.path} is not a usable SQLite database ({exc}): the file is damaged or "
                "is not an assistant store. Stop funchost and move the file away (a new, empty store is "
                "created at the next call) or restore a backup of it."
            ) from exc

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, empty: Any = None) -> T:
        """Run ``fn`` on the store's thread; ``empty`` is the answer of a read when the file does not exist
        (``_WRITE`` for writes, which create it)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn, empty)

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection, *, write: bool) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @staticmethod
    def _table_exists(conn: sqlite3.Connection, where: Collection) -> bool:
        found = conn.execute(
            "SELECT 1 FROM table_registry WHERE connection = ? AND table_name = ?",
            (where.connection, where.table),
        ).fetchone()
        return found is not None

    # -- the protocol -----------------------------------------------------------------------------------

    async def create(self, where: Collection, state: AssistantState, messages: Sequence[ChatMessage]) -> None:
        """Replace the assistant's partition with ``messages`` + ``state``; creates the table."""
        rows = [_row(where, message_entity(state.id, m)) for m in messages]
        rows.append(_row(where, state_entity(state)))

        def run(conn: sqlite3.Connection) -> None:
            with self._transaction(conn, write=True):
                conn.execute(
                    "INSERT OR IGNORE INTO table_registry VALUES (?, ?)", (where.connection, where.table)
                )
                conn.execute(
                    f"DELETE FROM entities WHERE {_WHERE_PARTITION}",
                    (where.connection, where.table, state.id),
                )
                conn.executemany(_INSERT_SQL, rows)

        await self._run(run, empty=_WRITE)

    async def load(
        self, where: Collection, assistant_id: str, *, after: datetime | None = None
    ) -> tuple[AssistantState, list[ChatMessage]] | None:
        """State and messages (``CreatedAt > after``) in RowKey order; None without state row or table."""
        key = (where.connection, where.table, assistant_id)

        def run(conn: sqlite3.Connection) -> tuple[AssistantState, list[ChatMessage]] | None:
            with self._transaction(conn, write=False):
                state = conn.execute(_LOAD_STATE_SQL, (*key, STATE_ROW_KEY)).fetchone()
                if state is None:
                    return None
                if after is None:
                    rows = conn.execute(LOAD_ALL_SQL, key).fetchall()
                else:
                    rows = conn.execute(LOAD_AFTER_SQL, (*key, _text_datetime(after))).fetchall()
            messages = _messages(rows)
            if after is not None:  # exact comparison (text order is time order; this guards odd rows)
                messages = [m for m in messages if m.created_at > after]
                messages.sort(key=_row_order)
            return with_etag(state_from_entity(_entity(state))), messages

        return await self._run(run, empty=None)

    async def append(
        self,
        where: Collection,
        state: AssistantState,
        messages: Sequence[ChatMessage],
        *,
        if_match: str | None = None,
    ) -> None:
        """Insert new message rows and merge the state row in one transaction (only onto ``if_match``)."""
        rows = [_row(where, message_entity(state.id, m)) for m in messages]
        state_row = _row(where, state_entity(state))
        key = (where.connection, where.table, state.id)

        def run(conn: sqlite3.Connection) -> None:
            with self._transaction(conn, write=True):  # BEGIN IMMEDIATE: no other writer until COMMIT
                if not self._table_exists(conn, where):
                    raise missing_table_error(where)
                if if_match is not None:
                    current = conn.execute(_LOAD_STATE_SQL, (*key, STATE_ROW_KEY)).fetchone()
                    if current is None or with_etag(state_from_entity(_entity(current))).etag != if_match:
                        raise state_changed(where, state.id)
                try:
                    conn.executemany(_INSERT_SQL, rows)
                except sqlite3.IntegrityError:
                    raise Conflict(
                        f"assistant '{state.id}' in table '{where.table}': a message row of "
                        f"{messages[0].row_key}..{messages[-1].row_key} already exists (another post wrote "
                        "it first); reload the assistant and retry."
                    ) from None
                conn.execute(_MERGE_STATE_SQL, state_row)

        if self._conn is None and not self.path.exists():
            raise missing_table_error(where)
        await self._run(run, empty=_WRITE)

    async def list(self, where: Collection) -> list[AssistantState]:
        """Every assistant's state row, by id."""

        def run(conn: sqlite3.Connection) -> list[AssistantState]:
            rows = conn.execute(
                f"SELECT {_SELECT_LIST} FROM entities WHERE connection = ? AND table_name = ? AND RowKey = ? "
                "ORDER BY PartitionKey",
                (where.connection, where.table, STATE_ROW_KEY),
            ).fetchall()
            return [with_etag(state_from_entity(_entity(r))) for r in rows]

        return await self._run(run, empty=[])

    async def delete(self, where: Collection, assistant_id: str) -> bool:
        """Remove the partition; False when there was nothing."""

        def run(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn, write=True):
                cursor = conn.execute(
                    f"DELETE FROM entities WHERE {_WHERE_PARTITION}",
                    (where.connection, where.table, assistant_id),
                )
                return cursor.rowcount > 0

        return await self._run(run, empty=False)

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""

        def run() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, run)
        self._executor.shutdown(wait=True)
