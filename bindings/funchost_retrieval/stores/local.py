"""The embedded persistent vector store: SQLite for the chunks' text, one float32 matrix file per collection.

Layout under ``<app>/.funchost/vectors/``: ``index.db`` (SQLite, WAL) holds the collections (name, dimensions,
committed row count, matrix file) and the chunks (row number, id, title, text, timestamp); ``<name>-<tag>.f32``
holds the collection's unit-length vectors, row after row, little-endian float32. Search memory-maps the matrix
and does one exact matrix-vector product with numpy, then reads the k winning rows from SQLite.

Safe across processes and crashes: a writer holds SQLite's write lock (``BEGIN IMMEDIATE``) while it cuts the
matrix file back to the committed row count, appends its vectors and commits their rows with the new count.
Readers map only the committed rows, so bytes of a writer that died before its commit are never seen (the next
writer cuts them off).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from funchost_retrieval.stores.base import (
    Chunk,
    CollectionInfo,
    Hit,
    Matrix,
    VectorStoreError,
    check_dimensions,
    normalized,
    top_k,
)

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads on the first vector operation
    from funchost_retrieval.lazy_numpy import np

__all__ = ["LocalVectorStore", "vectors_path"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    dimensions INTEGER NOT NULL,
    count INTEGER NOT NULL,
    file TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    collection TEXT NOT NULL,
    row INTEGER NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    PRIMARY KEY (collection, row)
);
"""


def vectors_path(script_root: Path) -> Path:
    """The folder of the embedded store of an app."""
    return Path(script_root) / ".funchost" / "vectors"


@dataclass
class _Mapped:
    file: str
    rows: int
    matrix: Matrix


class LocalVectorStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            ignore = self.root.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
            self._db = sqlite3.connect(
                self.root / "index.db", timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise VectorStoreError(
                f"cannot open the vector store in {self.root}: {error}; check that the folder is writable."
            ) from error
        self._lock = threading.Lock()
        self._maps: dict[str, _Mapped] = {}

    def describe(self) -> str:
        return f"local ({self.root}, exact cosine search)"

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _file_name(self, collection: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", collection)[:40]
        digest = hashlib.sha256(collection.encode()).hexdigest()[:8]
        return f"{slug}-{digest}-{uuid.uuid4().hex[:8]}.f32"

    def add(self, collection: str, chunks: Sequence[Chunk], *, dimensions: int | None = None) -> None:
        if not chunks:
            return
        try:
            with self._write() as db:
                row = db.execute(
                    "SELECT dimensions, count, file FROM collections WHERE name = ?", (collection,)
                ).fetchone()
                if row is None:
                    dims, count, file = (
                        dimensions or chunks[0].vector.shape[-1],
                        0,
                        self._file_name(collection),
                    )
                    db.execute(
                        "INSERT INTO collections (name, dimensions, count, file) VALUES (?, ?, 0, ?)",
                        (collection, dims, file),
                    )
                else:
                    dims, count, file = row
                check_dimensions(collection, dims, [c.vector for c in chunks])
                block = normalized(np.stack([c.vector for c in chunks])).astype("<f4", copy=False)
                self._append(self.root / file, count * dims * 4, block.tobytes())
                db.executemany(
                    "INSERT INTO chunks (collection, row, id, title, text, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (collection, count + i, c.id, c.title, c.text, c.timestamp.isoformat())
                        for i, c in enumerate(chunks)
                    ],
                )
                db.execute(
                    "UPDATE collections SET count = ? WHERE name = ?", (count + len(chunks), collection)
                )
        except (OSError, sqlite3.Error) as error:
            raise VectorStoreError(
                f"could not write {len(chunks)} chunks to collection '{collection}' in {self.root}: {error}. "
                "Nothing was stored."
            ) from error

    @staticmethod
    def _append(path: Path, committed: int, data: bytes) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != committed:  # bytes of a writer that died before committing
                os.ftruncate(fd, committed)
            os.lseek(fd, committed, os.SEEK_SET)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, committed)
            raise
        finally:
            os.close(fd)

    def _matrix(self, file: str, rows: int, dims: int) -> Matrix:
        mapped = self._maps.get(file)
        if mapped is None or mapped.rows < rows:
            path = self.root / file
            available = path.stat().st_size // (dims * 4) if path.exists() else 0
            if available < rows:
                raise VectorStoreError(
                    f"the vector file {path} holds {available} of the {rows} committed rows (damaged, e.g. by a "
                    "power loss); delete the collection with 'funchost vectors delete' and ingest again."
                )
            matrix: Matrix = np.memmap(path, dtype="<f4", mode="r", shape=(available, dims))
            mapped = _Mapped(file, available, matrix)
            self._maps = {k: v for k, v in self._maps.items() if k != file}
            self._maps[file] = mapped
        return mapped.matrix[:rows]

    def search(self, collection: str, vector: Matrix, k: int) -> list[Hit]:
        with self._lock:
            row = self._db.execute(
                "SELECT dimensions, count, file FROM collections WHERE name = ?", (collection,)
            ).fetchone()
            if row is None:
                return []
            dims, count, file = row
            check_dimensions(collection, dims, [np.asarray(vector)])
            matrix = self._matrix(file, count, dims)
        order, scores = top_k(matrix, vector, k)
        if len(order) == 0:
            return []
        wanted = [int(i) for i in order]
        marks = ",".join("?" * len(wanted))
        with self._lock:
            found = {
                r[0]: r[1:]
                for r in self._db.execute(
                    f"SELECT row, id, text, title, timestamp FROM chunks WHERE collection = ? AND row IN ({marks})",
                    (collection, *wanted),
                )
            }
        return [
            Hit(id=found[i][0], text=found[i][1], title=found[i][2], timestamp=found[i][3], score=float(s))
            for i, s in zip(wanted, scores, strict=True)
            if i in found
        ]

    def collections(self) -> list[CollectionInfo]:
        with self._lock:
            names = [r[0] for r in self._db.execute("SELECT name FROM collections ORDER BY name")]
        return [info for name in names if (info := self.collection(name))]

    def collection(self, name: str) -> CollectionInfo | None:
        with self._lock:
            row = self._db.execute(
                "SELECT dimensions, count FROM collections WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return None
            titles = dict(
                self._db.execute(
                    "SELECT title, COUNT(*) FROM chunks WHERE collection = ? AND row < ? GROUP BY title "
                    "ORDER BY title",
                    (name, row[1]),
                ).fetchall()
            )
        return CollectionInfo(name, row[0], row[1], titles)

    def delete(self, collection: str) -> bool:
        with self._write() as db:
            row = db.execute("SELECT file FROM collections WHERE name = ?", (collection,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM chunks WHERE collection = ?", (collection,))
            db.execute("DELETE FROM collections WHERE name = ?", (collection,))
        self._maps.pop(row[0], None)
        with contextlib.suppress(FileNotFoundError):
            (self.root / row[0]).unlink()  # open maps in other processes keep the inode until they drop it
        return True

    def close(self) -> None:
        with self._lock:
            self._maps.clear()
            self._db.close()
