"""An offline embedder: hashed bag of words, deterministic, no network (the counterpart of FUNCHOST_CHAT=echo).

Each lower-cased word (and each pair of neighbouring words, at half weight) adds ``1 + log(count)`` to one of
``dimensions`` buckets chosen by a stable hash, with a hashed sign; the vector is scaled to unit length. A query
that shares words with a chunk therefore scores a higher cosine similarity with it than with unrelated chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from funchost_retrieval.stores.base import Matrix

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads on the first vector operation
    from funchost_retrieval.lazy_numpy import np

__all__ = ["DEFAULT_DIMENSIONS", "HASH_MODEL", "hash_embedding", "token_count"]

DEFAULT_DIMENSIONS = 1536
HASH_MODEL = "funchost-hash-bow"
_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def token_count(text: str) -> int:
    """A stand-in for the model's token count (words)."""
    return len(_WORD.findall(text))


def _bucket(feature: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimensions, 1.0 if (value >> 63) & 1 else -1.0


def hash_embedding(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> Matrix:
    """The unit-length hashed bag-of-words vector of ``text`` (all zeros for text without words)."""
    words = _words(text)
    features: Counter[str] = Counter(words)
    pairs: Counter[str] = Counter(f"{a} {b}" for a, b in itertools.pairwise(words))
    vector = np.zeros(dimensions, dtype=np.float32)
    for counts, weight in ((features, 1.0), (pairs, 0.5)):
        for feature, count in counts.items():
            index, sign = _bucket(feature, dimensions)
            vector[index] += sign * weight * (1.0 + math.log(count))
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
