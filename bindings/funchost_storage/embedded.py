"""The embedded backend: blobs and queues in one SQLite file, safe across processes, no server.

Every write is one ``BEGIN IMMEDIATE`` transaction in WAL mode, so several processes (a host and the CLI, or two
hosts) can share the file. A received message is hidden until its visibility timeout passes, in the file itself,
so a message whose host died is delivered again when that timeout ends.

Files dropped into the drop folder (``<app>/.funchost/blobs/<container>/<path>``) appear as blobs of that
container: they are read in whenever the container is listed or read, and again when a file changes.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from funchost_storage.backend import BlobProperties, MessageGone, PreconditionFailed, StoredMessage
from funchost_storage.names import InvalidName, check_blob, check_container

T = TypeVar("T")

DEFAULT_TTL = 7 * 24 * 3600.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    container TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, etag TEXT NOT NULL,
    modified REAL NOT NULL, content_type TEXT NOT NULL, PRIMARY KEY (container, name));
CREATE TABLE IF NOT EXISTS dropped (
    container TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    PRIMARY KEY (container, name));
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
    inserted REAL NOT NULL, expires REAL NOT NULL, visible REAL NOT NULL, dequeue_count INTEGER NOT NULL,
    pop_receipt TEXT);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible);
"""


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _etag() -> str:
    return f'"0x8D{uuid.uuid4().hex[:13].upper()}"'


class EmbeddedStorage:
    """Blob and queue storage in ``<root>/storage.db``; ``<root>/blobs`` is the drop folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "storage.db"
        self.drop = root / "blobs"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="funchost-storage")
        self._db: sqlite3.Connection | None = None

    def describe(self) -> str:
        return f"embedded ({self.path}; drop files into {self.drop}/<container>/)"

    def blob_uri(self, container: str, name: str) -> str:
        return f"http://127.0.0.1:10000/devstoreaccount1/{container}/{quote(name)}"

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            ignore = self.root / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n")
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def job() -> T:
            return work(self._conn())

        return await asyncio.get_running_loop().run_in_executor(self._pool, job)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def tx(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self._run(tx)

    # -- blobs ------------------------------------------------------------------------------------------------

    async def put_blob(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str | None = None,
    ) -> BlobProperties:
        check_container(container)
        check_blob(name)
        kind = content_type or "application/octet-stream"

        def put(db: sqlite3.Connection) -> BlobProperties:
            row = db.execute(
                "SELECT etag FROM blobs WHERE container=? AND name=?", (container, name)
            ).fetchone()
            if if_none_match and row is not None:
                raise PreconditionFailed(f"blob '{container}/{name}' already exists")
            if if_match is not None and (row is None or row[0] != if_match):
                raise PreconditionFailed(
                    f"blob '{container}/{name}' changed (ETag {if_match} no longer matches)"
                )
            etag, now = _etag(), time.time()
            db.execute(
                "INSERT OR REPLACE INTO blobs (container, name, data, etag, modified, content_type) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (container, name, data, etag, now, kind),
            )
            return BlobProperties(container, name, etag, len(data), _utc(now), kind)

        return await self._write(put)

    async def get_blob(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        await self._import_drops(container)

        def get(db: sqlite3.Connection) -> tuple[bytes, BlobProperties] | None:
            row = db.execute(
                "SELECT data, etag, modified, content_type FROM blobs WHERE container=? AND name=?",
                (container, name),
            ).fetchone()
            if row is None:
                return None
            data = bytes(row[0])
            return data, BlobProperties(container, name, row[1], len(data), _utc(row[2]), row[3])

        return await self._run(get)

    async def list_blobs(self, container: str, prefix: str = "") -> list[BlobProperties]:
        await self._import_drops(container)

        def ls(db: sqlite3.Connection) -> list[BlobProperties]:
            rows = db.execute(
                "SELECT name, etag, length(data), modified, content_type FROM blobs "
                "WHERE container=? AND substr(name, 1, ?)=? ORDER BY name",
                (container, len(prefix), prefix),
            ).fetchall()
            return [BlobProperties(container, r[0], r[1], r[2], _utc(r[3]), r[4]) for r in rows]

        return await self._run(ls)

    async def delete_blob(self, container: str, name: str, *, if_match: str | None = None) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT etag FROM blobs WHERE container=? AND name=?", (container, name)
            ).fetchone()
            if row is None:
                return False
            if if_match is not None and row[0] != if_match:
                raise PreconditionFailed(
                    f"blob '{container}/{name}' changed (ETag {if_match} no longer matches)"
                )
            db.execute("DELETE FROM blobs WHERE container=? AND name=?", (container, name))
            return True

        return await self._write(delete)

    async def _import_drops(self, container: str) -> None:
        """Read in files of the drop folder that are new or changed since they were last read."""
        folder = self.drop / container
        if not folder.is_dir():
            return
        found: list[tuple[str, Path, int, int]] = []
        for dirpath, _, files in os.walk(folder):
            for file in files:
                path = Path(dirpath, file)
                name = path.relative_to(folder).as_posix()
                try:
                    check_blob(name)
                    stat = path.stat()
                except (InvalidName, OSError):
                    continue
                found.append((name, path, stat.st_size, stat.st_mtime_ns))
        if not found:
            return

        def sync(db: sqlite3.Connection) -> None:
            seen = dict(
                ((r[0]), (r[1], r[2]))
                for r in db.execute(
                    "SELECT name, size, mtime_ns FROM dropped WHERE container=?", (container,)
                )
            )
            for name, path, size, mtime_ns in found:
                if seen.get(name) == (size, mtime_ns):
                    continue
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                db.execute(
                    "INSERT OR REPLACE INTO blobs (container, name, data, etag, modified, content_type) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (container, name, data, _etag(), time.time(), kind),
                )
                db.execute(
                    "INSERT OR REPLACE INTO dropped (container, name, size, mtime_ns) VALUES (?, ?, ?, ?)",
                    (container, name, size, mtime_ns),
                )

        await self._write(sync)

    # -- queues -----------------------------------------------------------------------------------------------

    @staticmethod
    def _message(row: Any, receipt: bool = True) -> StoredMessage:
        return StoredMessage(
            id=row[0],
            text=row[1],
            dequeue_count=row[2],
            insertion_time=_utc(row[3]),
            expiration_time=_utc(row[4]),
            next_visible_time=_utc(row[5]),
            pop_receipt=row[6] if receipt else None,
        )

    async def send_message(
        self, queue: str, text: str, *, visibility_timeout: float = 0, time_to_live: float | None = None
    ) -> StoredMessage:
        ttl = DEFAULT_TTL if time_to_live is None else time_to_live
        now = time.time()
        expires = 253402300799.0 if ttl == -1 else now + ttl
        message = (str(uuid.uuid4()), text, 0, now, expires, now + visibility_timeout, uuid.uuid4().hex)

        def send(db: sqlite3.Connection) -> StoredMessage:
            db.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))
            db.execute(
                "INSERT INTO messages (queue, id, text, dequeue_count, inserted, expires, visible, pop_receipt) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (queue, *message),
            )
            return self._message(message)

        return await self._write(send)

    async def receive_messages(
        self, queue: str, max_messages: int, visibility_timeout: float
    ) -> list[StoredMessage]:
        def receive(db: sqlite3.Connection) -> list[StoredMessage]:
            now = time.time()
            db.execute("DELETE FROM messages WHERE queue=? AND expires<=?", (queue, now))
            rows = db.execute(
                "SELECT id, text, dequeue_count, inserted, expires, visible FROM messages "
                "WHERE queue=? AND visible<=? ORDER BY visible, seq LIMIT ?",
                (queue, now, max_messages),
            ).fetchall()
            taken = []
            for row in rows:
                receipt, visible = uuid.uuid4().hex, now + max(0.0, visibility_timeout)
                db.execute(
                    "UPDATE messages SET visible=?, dequeue_count=dequeue_count+1, pop_receipt=? WHERE id=?",
                    (visible, receipt, row[0]),
                )
                taken.append(self._message((row[0], row[1], row[2] + 1, row[3], row[4], visible, receipt)))
            return taken

        return await self._write(receive)

    async def update_message(
        self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float
    ) -> tuple[str, datetime]:
        def update(db: sqlite3.Connection) -> tuple[str, datetime]:
            row = db.execute(
                "SELECT pop_receipt FROM messages WHERE queue=? AND id=?", (queue, message_id)
            ).fetchone()
            if row is None or row[0] != pop_receipt:
                raise MessageGone(
                    f"message {message_id} in queue '{queue}' is gone or held by another receiver"
                )
            receipt, visible = uuid.uuid4().hex, time.time() + max(0.0, visibility_timeout)
            db.execute(
                "UPDATE messages SET visible=?, pop_receipt=? WHERE id=?", (visible, receipt, message_id)
            )
            return receipt, _utc(visible)

        return await self._write(update)

    async def delete_message(self, queue: str, message_id: str, pop_receipt: str) -> None:
        def delete(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "DELETE FROM messages WHERE queue=? AND id=? AND pop_receipt=?",
                (queue, message_id, pop_receipt),
            )
            if cur.rowcount == 0:
                raise MessageGone(
                    f"message {message_id} in queue '{queue}' is gone or held by another receiver"
                )

        await self._write(delete)

    async def peek_messages(self, queue: str, max_messages: int) -> list[StoredMessage]:
        def peek(db: sqlite3.Connection) -> list[StoredMessage]:
            now = time.time()
            rows = db.execute(
                "SELECT id, text, dequeue_count, inserted, expires, visible, NULL FROM messages "
                "WHERE queue=? AND visible<=? AND expires>? ORDER BY visible, seq LIMIT ?",
                (queue, now, now, max_messages),
            ).fetchall()
            return [self._message(r, receipt=False) for r in rows]

        return await self._run(peek)

    async def queue_names(self) -> list[str]:
        def names(db: sqlite3.Connection) -> list[str]:
            return [r[0] for r in db.execute("SELECT name FROM queues ORDER BY name")]

        return await self._run(names)

    async def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=False)
