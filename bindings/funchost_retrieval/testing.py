"""What ``funchost(app, embeddings=..., vectors=...)`` means: the retrieval plugin's test options."""

from __future__ import annotations

from typing import Any

from funchost.plugin import TestSetup
from funchost_retrieval.keys import EMBEDDER, VECTORS


def configure(setup: TestSetup, options: dict[str, Any]) -> None:
    """``embeddings``: ``"hash"`` (default, offline), ``"settings"`` (the app's model or cassette) or an embedder
    object; ``vectors``: ``"memory"`` (default, a fresh store per test), ``"local"`` (in the test's folder) or a
    store object."""
    embeddings = options.get("embeddings", "hash")
    if embeddings == "hash":
        setup.settings["FUNCHOST_EMBEDDINGS"] = "hash"
    elif embeddings != "settings":
        if isinstance(embeddings, str):
            raise ValueError(f"embeddings={embeddings!r}: use 'hash', 'settings' or an embedder object.")
        setup.provide(EMBEDDER, embeddings)
    vectors = options.get("vectors", "memory")
    if vectors == "memory":
        from funchost_retrieval.stores import MemoryVectorStore

        setup.provide(VECTORS, MemoryVectorStore())
    elif vectors == "local":
        from funchost_retrieval.stores import LocalVectorStore

        setup.provide(VECTORS, LocalVectorStore(setup.tmp_dir() / "vectors"))
    elif isinstance(vectors, str):
        raise ValueError(f"vectors={vectors!r}: use 'memory', 'local' or a vector store object.")
    else:
        setup.provide(VECTORS, vectors)
