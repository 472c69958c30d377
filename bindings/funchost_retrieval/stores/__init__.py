"""Vector stores behind one protocol: the embedded local store (default) and a memory store for tests."""

from __future__ import annotations

from pathlib import Path

from funchost_retrieval.stores.base import (
    Chunk,
    CollectionInfo,
    DimensionMismatch,
    Hit,
    VectorStore,
    VectorStoreError,
)
from funchost_retrieval.stores.local import LocalVectorStore, vectors_path
from funchost_retrieval.stores.memory import MemoryVectorStore

__all__ = [
    "Chunk",
    "CollectionInfo",
    "DimensionMismatch",
    "Hit",
    "LocalVectorStore",
    "MemoryVectorStore",
    "VectorStore",
    "VectorStoreError",
    "open_vector_store",
    "vectors_path",
]

KINDS = ("local", "memory")


def open_vector_store(kind: str, script_root: Path) -> VectorStore:
    """The store named by ``FUNCHOST_VECTOR_STORE`` (``local`` by default)."""
    if kind == "memory":
        return MemoryVectorStore()
    if kind in ("", "local"):
        return LocalVectorStore(vectors_path(script_root))
    raise VectorStoreError(f"FUNCHOST_VECTOR_STORE is '{kind}'; use local (the default) or memory.")
