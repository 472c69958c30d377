"""The extension's text chunker (reference §3.3), without its two data-loss bugs.

Lengths are UTF-16 code units, as in .NET. Each step reads up to ``max_chunk_length`` units into a buffer that
starts with the text carried over from the previous step; the chunk ends after the last sentence ending in the
newly read text, else after its last word break, else at the end of the buffer. The next buffer starts with an
overlap of at most ``max_overlap`` units that begins at a word break.

Differences from the extension (both lose text there, never here):

* at the end of the input, text after the last boundary is emitted as a final chunk (the extension drops it);
* when the carried-over text would fill the whole buffer, the overlap is dropped so reading goes on (the
  extension stops reading and drops the rest of the document);
* an all-whitespace slice is not emitted (the extension sends ``""``, which the embeddings service refuses).
"""

from __future__ import annotations

SENTENCE_ENDINGS = frozenset(".!?")
WORD_BREAKS = frozenset(",;: ()[]{}\t\n")
_DOTNET_WHITESPACE = (
    "".join(
        chr(c)
        for c in (
            *range(0x09, 0x0E),
            0x20,
            0x85,
            0xA0,
            0x1680,
            *range(0x2000, 0x200B),
            0x2028,
            0x2029,
            0x202F,
            0x205F,
        )
    )
    + "\u3000"
)

__all__ = ["SENTENCE_ENDINGS", "WORD_BREAKS", "ChunkingError", "check_chunking", "chunk_text"]


class ChunkingError(ValueError):
    """maxChunkLength / maxOverlap are out of range."""


def check_chunking(max_chunk_length: int, max_overlap: int) -> None:
    """Refuse the options the extension refuses (§3.2), with a message that says which property to change."""
    if max_overlap >= max_chunk_length:
        raise ChunkingError(
            f"maxOverlap ({max_overlap}) must be less than maxChunkLength ({max_chunk_length}); "
            "lower max_overlap or raise max_chunk_length."
        )
    if max_chunk_length <= 0 or max_overlap < 0:
        raise ChunkingError(
            f"invalid chunk size or overlap (maxChunkLength {max_chunk_length}, maxOverlap {max_overlap}): "
            "maxChunkLength must be positive and maxOverlap not negative."
        )


def _units(text: str) -> list[int]:
    """Prefix sums of UTF-16 lengths: ``units[i]`` is the UTF-16 length of ``text[:i]``."""
    prefix = [0] * (len(text) + 1)
    total = 0
    for i, ch in enumerate(text):
        total += 2 if ord(ch) > 0xFFFF else 1
        prefix[i + 1] = total
    return prefix


def _last_of(buffer: str, chars: frozenset[str], start: int) -> int:
    """Index just after the last of ``chars`` in ``buffer[start:]``, or -1."""
    best = -1
    for ch in chars:
        at = buffer.rfind(ch, start)
        if at >= 0 and at + 1 > best:
            best = at + 1
    return best


def chunk_text(text: str, max_chunk_length: int = 8192, max_overlap: int = 128) -> list[str]:
    """Split text as the extension does (see the module docstring for the two fixes)."""
    check_chunking(max_chunk_length, max_overlap)
    astral = any(ord(ch) > 0xFFFF for ch in text)
    prefix = _units(text) if astral else None

    def take(pos: int, room: int) -> int:
        """End index of the longest slice ``text[pos:end]`` of at most ``room`` UTF-16 units (at least one
        character when room allows none because of a surrogate pair, so reading always progresses)."""
        if prefix is None:
            return min(len(text), pos + room)
        end = pos
        while end < len(text) and prefix[end + 1] - prefix[pos] <= room:
            end += 1
        return end if end > pos or pos >= len(text) else pos + 1

    def ulen(s: str) -> int:
        return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF) if astral else len(s)

    chunks: list[str] = []
    buffer = ""  # carried-over text
    emitted = 0  # how much of the carried-over text was already part of an emitted chunk
    pos = 0
    while True:
        room = max_chunk_length - ulen(buffer)
        end = take(pos, room)
        if end == pos:  # end of input: flush what no chunk has covered yet (the extension drops it)
            if buffer[emitted:].strip(_DOTNET_WHITESPACE):
                chunks.append(buffer.strip(_DOTNET_WHITESPACE))
            return chunks
        start = len(buffer)
        buffer += text[pos:end]
        pos = end
        boundary = _last_of(buffer, SENTENCE_ENDINGS, start)
        if boundary < 0:
            boundary = _last_of(buffer, WORD_BREAKS, start)
        if boundary <= 0:
            boundary = len(buffer)
        chunk = buffer[:boundary].strip(_DOTNET_WHITESPACE)
        if chunk:  # an all-whitespace slice: the extension sends "" and the service refuses it
            chunks.append(chunk)
        overlap = _overlap_start(buffer, boundary, max_overlap, ulen)
        carried = buffer[overlap:]
        if ulen(carried) >= max_chunk_length:  # the extension stalls here and drops the rest
            overlap = boundary
            carried = buffer[overlap:]
        buffer, emitted = carried, boundary - overlap


def _overlap_start(buffer: str, boundary: int, max_overlap: int, ulen: object) -> int:
    """First index of the overlap: ``max_overlap`` units back from the boundary, moved forward to a word break."""
    assert callable(ulen)
    at = boundary
    units = 0
    while at > 0:  # walk back max_overlap UTF-16 units
        step = ulen(buffer[at - 1])
        if units + step > max_overlap:
            break
        units += step
        at -= 1
    while at < boundary and buffer[at] not in WORD_BREAKS:
        at += 1
    return at
