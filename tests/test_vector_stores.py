"""One conformance suite for every vector store: memory and the embedded local store."""

from __future__ import annotations

import multiprocessing
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from funchost_retrieval.hashing import hash_embedding
from funchost_retrieval.stores import (
    Chunk,
    DimensionMismatch,
    LocalVectorStore,
    MemoryVectorStore,
    VectorStore,
)


def chunk(text: str, title: str = "doc", dims: int = 1536) -> Chunk:
    return Chunk(uuid.uuid4().hex, text, title, hash_embedding(text, dims), datetime.now(UTC))


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    made: VectorStore = MemoryVectorStore() if request.param == "memory" else LocalVectorStore(tmp_path / "v")
    yield made
    made.close()


def test_nearest_chunk_is_the_one_sharing_words(store: VectorStore) -> None:
    store.add(
        "docs",
        [
            chunk("The cafeteria serves pizza on Fridays.", "menu"),
            chunk("Quarterly revenue grew by ten percent.", "finance"),
            chunk("Parking permits are renewed every January.", "facilities"),
        ],
    )
    hits = store.search("docs", hash_embedding("what pizza does the cafeteria serve"), 2)
    assert hits[0].title == "menu"
    assert hits[0].text == "The cafeteria serves pizza on Fridays."
    assert len(hits) == 2 and hits[0].score > hits[1].score
    assert -1.0 <= hits[1].score <= 1.0


def test_search_is_exact_cosine_against_numpy(store: VectorStore) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 64)).astype(np.float32)
    stamp = datetime.now(UTC)
    store.add("r", [Chunk(str(i), f"t{i}", "x", v, stamp) for i, v in enumerate(vectors)])
    query = rng.normal(size=64).astype(np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:10]
    hits = store.search("r", query, 10)
    assert [h.id for h in hits] == [str(i) for i in expected]


def test_k_larger_than_the_collection_returns_all(store: VectorStore) -> None:
    store.add("c", [chunk("one"), chunk("two")])
    assert len(store.search("c", hash_embedding("one"), 50)) == 2


def test_unknown_collection_searches_empty(store: VectorStore) -> None:
    assert store.search("nothing", hash_embedding("x"), 3) == []
    assert store.collection("nothing") is None


def test_collections_list_titles_with_chunk_counts(store: VectorStore) -> None:
    store.add("b", [chunk("a one", "alpha"), chunk("a two", "alpha"), chunk("b one", "beta")])
    store.add("a", [chunk("z", "zeta")])
    store.add("b", [chunk("a three", "alpha")])
    infos = store.collections()
    assert [i.name for i in infos] == ["a", "b"]
    b = store.collection("b")
    assert b is not None and b.chunks == 4 and b.dimensions == 1536
    assert b.titles == {"alpha": 3, "beta": 1}


def test_delete_drops_only_that_collection(store: VectorStore) -> None:
    store.add("keep", [chunk("kept text")])
    store.add("drop", [chunk("dropped text")])
    assert store.delete("drop") is True
    assert store.delete("drop") is False
    assert store.search("drop", hash_embedding("dropped"), 1) == []
    assert [i.name for i in store.collections()] == ["keep"]
    store.add("drop", [chunk("again", dims=8)])  # a new collection may have new dimensions
    assert store.collection("drop") is not None and store.collection("drop").dimensions == 8  # type: ignore[union-attr]


def test_dimension_mismatch_is_refused_and_nothing_is_written(store: VectorStore) -> None:
    store.add("c", [chunk("first")])
    with pytest.raises(DimensionMismatch, match=r"768 dimensions, but collection 'c' holds 1536"):
        store.add("c", [chunk("good"), chunk("bad", dims=768)])
    info = store.collection("c")
    assert info is not None and info.chunks == 1
    with pytest.raises(DimensionMismatch):
        store.search("c", hash_embedding("q", 768), 1)


def test_configured_dimensions_apply_to_a_new_collection(store: VectorStore) -> None:
    with pytest.raises(DimensionMismatch, match="holds 3072-dimensional"):
        store.add("c", [chunk("text")], dimensions=3072)
    assert store.collection("c") is None


def test_zero_vector_is_stored_and_scores_zero(store: VectorStore) -> None:
    store.add("c", [chunk("!!!"), chunk("words here")])
    hits = store.search("c", hash_embedding("words"), 2)
    assert hits[0].text == "words here" and hits[1].score == 0.0


def test_collection_names_are_exact(store: VectorStore) -> None:
    store.add("Docs", [chunk("x")])
    store.add("docs", [chunk("y")])
    assert [i.name for i in store.collections()] == ["Docs", "docs"]


# --- the local store: persistence, processes, crashes ---------------------------------------------------------


def test_local_store_survives_reopening(tmp_path: Path) -> None:
    first = LocalVectorStore(tmp_path)
    first.add("c", [chunk("persisted words", "p")])
    first.close()
    again = LocalVectorStore(tmp_path)
    assert again.search("c", hash_embedding("persisted"), 1)[0].title == "p"
    again.close()


def _writer(root: str, name: str, count: int) -> None:
    store = LocalVectorStore(Path(root))
    for i in range(count):
        store.add("shared", [chunk(f"{name} chunk {i}", name), chunk(f"{name} second {i}", name)])
    store.close()


def test_local_store_is_safe_across_processes(tmp_path: Path) -> None:
    reader = LocalVectorStore(tmp_path)
    reader.add("shared", [chunk("seed", "seed")])
    assert reader.search("shared", hash_embedding("seed"), 1)[0].title == "seed"  # mapped before the writers
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"w{n}", 15)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    info = reader.collection("shared")
    assert info is not None and info.chunks == 1 + 3 * 15 * 2
    assert info.titles == {"seed": 1, "w0": 30, "w1": 30, "w2": 30}
    hit = reader.search("shared", hash_embedding("w2 second 14"), 1)[0]
    assert hit.text == "w2 second 14"  # rows and vectors line up after concurrent appends
    reader.close()


def test_local_store_ignores_bytes_of_a_writer_that_died(tmp_path: Path) -> None:
    store = LocalVectorStore(tmp_path)
    store.add("c", [chunk("committed text", "ok")])
    file = next(tmp_path.glob("*.f32"))
    with file.open("ab") as f:  # a writer appended its vectors, then was killed before its commit
        f.write(b"\x01" * 1536 * 4 * 3)
    assert [h.title for h in store.search("c", hash_embedding("anything"), 10)] == ["ok"]
    store.add("c", [chunk("later text", "later")])
    assert file.stat().st_size == 2 * 1536 * 4
    assert store.search("c", hash_embedding("later text"), 1)[0].title == "later"
    store.close()


def test_local_store_write_failure_leaves_nothing(tmp_path: Path) -> None:
    store = LocalVectorStore(tmp_path)
    store.add("c", [chunk("one", "one")])
    with sqlite3.connect(tmp_path / "index.db") as db:  # a duplicate row key makes the insert fail mid-way
        db.execute("INSERT INTO chunks VALUES ('c', 2, 'x', 't', 'text', 'now')")
    with pytest.raises(Exception, match="Nothing was stored"):
        store.add("c", [chunk("two"), chunk("three")])
    info = store.collection("c")
    assert info is not None and info.chunks == 1
    store.close()
