"""The chunker on the reference's worked examples (§3.3): the same chunks where the extension loses nothing,
no lost text where it does (C3, C4, C7-C10)."""

from __future__ import annotations

import pytest

from funchost_retrieval.chunking import ChunkingError, chunk_text


def covers(text: str, chunks: list[str]) -> bool:
    """Every non-space character of text appears, in order, in the chunks with overlaps removed."""
    joined = "".join(chunks)
    it = iter(joined)
    return all(ch in it for ch in text if not ch.isspace())


@pytest.mark.parametrize(
    ("text", "max_len", "overlap", "expected"),
    [
        pytest.param(
            "This is a test for generating embeddings from raw text.",
            8192,
            128,
            ["This is a test for generating embeddings from raw text."],
            id="C1",
        ),
        pytest.param("A" * 10000, 8192, 128, ["A" * 8192, "A" * 1808], id="C2"),
        pytest.param(
            "First sentence here. Second sentence is here. Third one!",
            30,
            10,
            ["First sentence here.", "here. Second sentence is", "is here. Third one!"],
            id="C6",
        ),
        pytest.param(
            "Intro. " + "y" * 9000 + " end.", 8192, 128, ["Intro.", "y" * 8191, "y" * 809 + " end."], id="C11"
        ),
    ],
)
def test_same_chunks_as_the_extension_when_it_loses_nothing(
    text: str, max_len: int, overlap: int, expected: list[str]
) -> None:
    assert chunk_text(text, max_len, overlap) == expected


@pytest.mark.parametrize(
    ("text", "max_len", "overlap", "extension", "funchost"),
    [
        pytest.param(
            "Hello world. This is a test",
            8192,
            128,
            ["Hello world."],
            ["Hello world.", "world. This is a test"],
            id="C3-tail",
        ),
        pytest.param("one two three", 8192, 128, ["one two"], ["one two", "two three"], id="C4-tail"),
        pytest.param(
            "alpha beta gamma delta epsilon zeta eta theta",
            20,
            8,
            ["alpha beta gamma", "gamma delta", "delta epsilon zeta", "zeta eta"],
            ["alpha beta gamma", "gamma delta", "delta epsilon zeta", "zeta eta", "eta theta"],
            id="C7-tail",
        ),
        pytest.param(
            "sun red bee, extraordinary",
            12,
            3,
            ["sun red bee,", ","],
            ["sun red bee,", ",", "extraordinar", "y"],
            id="C8-stall",
        ),
    ],
)
def test_tail_and_stall_are_not_lost(
    text: str, max_len: int, overlap: int, extension: list[str], funchost: list[str]
) -> None:
    chunks = chunk_text(text, max_len, overlap)
    assert chunks == funchost
    assert chunks[: len(extension)] == extension  # the extension's chunks come first, unchanged
    assert covers(text, chunks)


def test_c9_a_leading_separator_does_not_drop_the_document() -> None:
    text = " a, " + "x" * 9000
    chunks = chunk_text(text)
    assert chunks[0] == "a,"  # the extension stops here and drops 9,000 characters
    assert sum(c.count("x") for c in chunks) == 9000


def test_c10_a_title_line_does_not_drop_the_document() -> None:
    chunks = chunk_text("\nTitle\n" + "z" * 9000)
    assert chunks[0] == "Title"
    assert sum(c.count("z") for c in chunks) == 9000


def test_c5_whitespace_only_gives_no_chunk() -> None:
    assert chunk_text("   ") == []  # the extension sends [""], which the service refuses


def test_lengths_are_utf16_units_and_pairs_are_never_split() -> None:
    text = "😀" * 10  # 20 UTF-16 units
    chunks = chunk_text(text, 8, 2)
    assert all(len(c.encode("utf-16-le")) // 2 <= 8 for c in chunks)
    assert "".join(chunks) == text
    chunks.append("x")  # every chunk is valid text (encodes as UTF-8)
    assert all(c.encode("utf-8") for c in chunks)


def test_cr_is_not_a_word_break() -> None:
    assert chunk_text("ab\rcd\ref", 4, 1) == ["ab\rc", "d\ref"]


@pytest.mark.parametrize(
    ("max_len", "overlap", "message"),
    [
        (100, 128, "maxOverlap (128) must be less than maxChunkLength (100)"),
        (100, 100, "maxOverlap (100) must be less than maxChunkLength (100)"),
        (0, -1, "invalid chunk size or overlap"),
        (10, -1, "invalid chunk size or overlap"),
    ],
)
def test_bad_options_are_refused(max_len: int, overlap: int, message: str) -> None:
    with pytest.raises(ChunkingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        chunk_text("text", max_len, overlap)


def test_long_document_is_fully_covered() -> None:
    words = [f"w{i}" + ("." if i % 17 == 0 else "") for i in range(20000)]
    text = " ".join(words)
    chunks = chunk_text(text, 512, 64)
    assert all(len(c) <= 512 for c in chunks)
    assert covers(text, chunks)
