"""A vector store in the process: for tests and throw-away runs (kept across hot reloads, gone on restart)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from funchost_retrieval.stores.base import (
    Chunk,
    CollectionInfo,
    Hit,
    Matrix,
    check_dimensions,
    normalized,
    top_k,
)

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads on the first vector operation
    from funchost_retrieval.lazy_numpy import np

__all__ = ["MemoryVectorStore"]


def _hit(row: tuple[str, str, str, str], score: float) -> Hit:
    return Hit(id=row[0], text=row[1], title=row[2], timestamp=row[3], score=score)


@dataclass
class _Collection:
    name: str
    dimensions: int
    matrix: Matrix
    count: int = 0
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    """id, text, title, timestamp per row."""


class MemoryVectorStore:
    name = "memory"

    def __init__(self) -> None:
        self._collections: dict[str, _Collection] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "memory (kept while this process runs, across reloads; gone on restart)"

    def add(self, collection: str, chunks: Sequence[Chunk], *, dimensions: int | None = None) -> None:
        if not chunks:
            return
        with self._lock:
            coll = self._collections.get(collection)
            dims = coll.dimensions if coll else dimensions or chunks[0].vector.shape[-1]
            check_dimensions(collection, dims, [c.vector for c in chunks])
            block = normalized(np.stack([c.vector for c in chunks]))
            if coll is None:
                coll = _Collection(collection, dims, np.empty((max(16, len(chunks)), dims), np.float32))
            needed = coll.count + len(chunks)
            if needed > coll.matrix.shape[0]:
                grown = np.empty((max(needed, coll.matrix.shape[0] * 2), dims), np.float32)
                grown[: coll.count] = coll.matrix[: coll.count]
                coll.matrix = grown
            coll.matrix[coll.count : needed] = block
            coll.rows.extend((c.id, c.text, c.title, c.timestamp.isoformat()) for c in chunks)
            coll.count = needed
            self._collections[collection] = coll

    def search(self, collection: str, vector: Matrix, k: int) -> list[Hit]:
        with self._lock:
            coll = self._collections.get(collection)
            if coll is None:
                return []
            check_dimensions(collection, coll.dimensions, [np.asarray(vector)])
            matrix, rows = coll.matrix[: coll.count], coll.rows
        order, scores = top_k(matrix, vector, k)
        return [_hit(rows[i], float(s)) for i, s in zip(order, scores, strict=True)]

    def collections(self) -> list[CollectionInfo]:
        return [info for name in sorted(self._collections) if (info := self.collection(name))]

    def collection(self, name: str) -> CollectionInfo | None:
        with self._lock:
            coll = self._collections.get(name)
            if coll is None:
                return None
            titles = Counter(row[2] for row in coll.rows)
            return CollectionInfo(name, coll.dimensions, coll.count, dict(titles))

    def delete(self, collection: str) -> bool:
        with self._lock:
            return self._collections.pop(collection, None) is not None

    def close(self) -> None:
        return None
