"""Typed keys of the objects the retrieval plugin offers (and a test harness may supply)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from funchost.plugin import ServiceKey

if TYPE_CHECKING:
    from funchost_retrieval.embedder import Embedder
    from funchost_retrieval.stores.base import VectorStore

__all__ = ["EMBEDDER", "VECTORS"]

VECTORS: ServiceKey[VectorStore] = ServiceKey("vectors")
EMBEDDER: ServiceKey[Embedder] = ServiceKey("embedder")
