"""Embeddings models: the app's OpenAI connection (through the chat layer) or the offline hashed bag of words."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, Protocol

from funchost_assistants.chat.base import ChatError
from funchost_assistants.chat.openai import EmbeddingsRequest
from funchost_retrieval.hashing import DEFAULT_DIMENSIONS, HASH_MODEL, hash_embedding, token_count
from funchost_retrieval.stores.base import Matrix

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads on the first vector operation
    from funchost_retrieval.lazy_numpy import np

__all__ = [
    "EmbedFunction",
    "Embedder",
    "EmbeddingsRequest",
    "HashEmbedder",
    "ModelEmbedder",
    "extension_response",
    "vectors_of",
]


class EmbedFunction(Protocol):
    async def __call__(self, request: EmbeddingsRequest) -> dict[str, Any]: ...


class Embedder(Protocol):
    name: str

    def describe(self) -> str:
        """What computes the vectors, for the banner (no secrets)."""
        ...

    async def embed(self, request: EmbeddingsRequest) -> dict[str, Any]:
        """The embeddings response JSON, as an OpenAI-compatible service sends it."""
        ...


class HashEmbedder:
    """Deterministic offline vectors (FUNCHOST_EMBEDDINGS=hash): no network, no model."""

    name = "hash"

    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        self.dimensions = dimensions
        self.requests: list[EmbeddingsRequest] = []
        """Every request, in order (tests)."""

    def describe(self) -> str:
        return f"offline hashed bag of words ({self.dimensions} dimensions, no network)"

    async def embed(self, request: EmbeddingsRequest) -> dict[str, Any]:
        self.requests.append(request)
        inputs = [request.input] if isinstance(request.input, str) else list(request.input)
        data = []
        for index, text in enumerate(inputs):
            vector = hash_embedding(text, self.dimensions)
            embedding: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if request.encoding_format == "base64"
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(token_count(t) for t in inputs)
        return {
            "object": "list",
            "data": data,
            "model": HASH_MODEL,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


class ModelEmbedder:
    """Embeddings through the chat layer's ``embed`` (the same AI-connection resolution, cassettes included)."""

    name = "model"

    def __init__(self, embed: EmbedFunction, label: str) -> None:
        self._embed = embed
        self.label = label

    def describe(self) -> str:
        return self.label

    async def embed(self, request: EmbeddingsRequest) -> dict[str, Any]:
        return await self._embed(request)


def vectors_of(response: dict[str, Any], expected: int) -> list[Matrix]:
    """The vectors of a response, paired with the inputs by position (``index`` is ignored, as by the
    extension); base64 float32 or float arrays."""
    data = response.get("data")
    if not isinstance(data, list) or len(data) != expected:
        got = len(data) if isinstance(data, list) else "no"
        raise ChatError(f"the embeddings model returned {got} vectors for {expected} inputs.")
    vectors: list[Matrix] = []
    for i, item in enumerate(data):
        raw = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(raw, str):
            try:
                blob = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                blob = b"\x00"
            if len(blob) % 4:
                raise ChatError(f"embedding {i} is not a valid Base64 string of encoded floats.")
            vectors.append(np.frombuffer(blob, dtype="<f4").astype(np.float32))
        elif isinstance(raw, list) and all(isinstance(x, int | float) for x in raw):
            vectors.append(np.asarray(raw, dtype=np.float32))
        else:
            raise ChatError(f"embedding {i} is neither a Base64 string nor an array of numbers.")
    return vectors


_DATA_ORDER = ("index", "embedding", "object")
_TOP_ORDER = ("data", "model", "object", "usage")


def _ordered(item: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {k: item[k] for k in order if k in item}
    return {**known, **{k: v for k, v in item.items() if k not in known}}


def extension_response(response: dict[str, Any], vectors: list[Matrix]) -> dict[str, Any]:
    """The response as the extension hands it to the function (§3.5): its key order, unknown keys after, and
    each embedding as base64 little-endian float32 whatever encoding the service used."""
    data = []
    for item, vector in zip(response["data"], vectors, strict=True):
        entry = dict(item)
        if not isinstance(entry.get("embedding"), str):
            entry["embedding"] = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
        data.append(_ordered(entry, _DATA_ORDER))
    out = _ordered({**response, "data": data}, _TOP_ORDER)
    if isinstance(out.get("usage"), dict):
        out["usage"] = _ordered(out["usage"], ("prompt_tokens", "total_tokens"))
    return out
