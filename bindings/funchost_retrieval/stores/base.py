"""The vector-store protocol: add chunks, search the nearest by cosine similarity, list and delete collections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:  # numpy loads on the first vector operation, not at the host's start
    from funchost_retrieval.lazy_numpy import np

__all__ = [
    "Chunk",
    "CollectionInfo",
    "DimensionMismatch",
    "Hit",
    "Matrix",
    "VectorStore",
    "VectorStoreError",
    "normalized",
    "top_k",
]

if TYPE_CHECKING:
    Matrix = npt.NDArray[np.float32]
else:
    Matrix = "numpy.ndarray"  # annotations only (they are strings here)


class VectorStoreError(Exception):
    """The store refused or failed a request; the message says what and what to do."""


class DimensionMismatch(VectorStoreError):
    """A vector's length differs from the collection's dimensions (Azure AI Search refuses it too)."""


@dataclass(frozen=True)
class Chunk:
    """One stored record: what every search provider of the extension writes per chunk (§4.2)."""

    id: str
    text: str
    title: str
    vector: Matrix = field(repr=False)
    timestamp: datetime


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    title: str
    timestamp: str
    """ISO 8601, as stored."""
    score: float
    """Cosine similarity to the query, -1..1."""


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    dimensions: int
    chunks: int
    titles: dict[str, int]
    """Title -> number of chunks stored under it."""


class VectorStore(Protocol):
    name: str

    def describe(self) -> str:
        """Where the vectors live, for the banner."""
        ...

    def add(self, collection: str, chunks: Sequence[Chunk], *, dimensions: int | None = None) -> None:
        """Store all chunks or none. ``dimensions``: what the collection must have (host.json); a collection
        is created with it (else with the first vector's length) and refuses other lengths."""
        ...

    def search(self, collection: str, vector: Matrix, k: int) -> list[Hit]:
        """The ``k`` chunks most similar to ``vector``, best first; [] for an unknown collection."""
        ...

    def collections(self) -> list[CollectionInfo]: ...

    def collection(self, name: str) -> CollectionInfo | None: ...

    def delete(self, collection: str) -> bool:
        """Drop a collection; False if there was none."""
        ...

    def close(self) -> Any: ...


def normalized(vectors: Matrix) -> Matrix:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Matrix = (vectors / norms).astype(np.float32, copy=False)
    return unit


def check_dimensions(collection: str, expected: int, vectors: Sequence[Matrix]) -> None:
    for index, vector in enumerate(vectors):
        if vector.shape[-1] != expected:
            raise DimensionMismatch(
                f"the vector of chunk {index} has {vector.shape[-1]} dimensions, but collection "
                f"'{collection}' holds {expected}-dimensional vectors. Use the embeddings model the collection "
                "was built with, or delete the collection (funchost vectors delete) and ingest again; "
                "host.json extensions.openai.searchProvider sets the dimensions (vectorSearchDimensions)."
            )


def top_k(matrix: Matrix, query: Matrix, k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Rows of unit-length ``matrix`` nearest to ``query`` by cosine similarity: (indices, scores), best first."""
    count = matrix.shape[0]
    if count == 0 or k <= 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
    q = normalized(query)[0]
    scores = matrix @ q
    if k < count:
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
    else:
        order = np.argsort(-scores, kind="stable")
    return order, scores[order]
