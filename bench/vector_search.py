"""Vector store figures: ingestion chunks/s (model excluded), exact search p50/p99 against plain numpy brute force
over the same matrix in the same run, and RSS, at 10,000 and 100,000 chunks of 1,536 dimensions.

    python bench/vector_search.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings"))

from funchost_retrieval.stores import Chunk, LocalVectorStore, MemoryVectorStore, VectorStore

DIMS = 1536
BATCH = 1000
TEXT = "lorem ipsum dolor sit amet " * 20  # ~540 characters, a typical chunk


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(samples: list[float], p: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, p))


def ingest(store: VectorStore, matrix: np.ndarray) -> float:
    stamp = datetime.now(UTC)
    start = time.perf_counter()
    for at in range(0, len(matrix), BATCH):
        block = matrix[at : at + BATCH]
        store.add(
            "bench",
            [Chunk(uuid.uuid4().hex, TEXT, f"doc{(at + i) // 20}", v, stamp) for i, v in enumerate(block)],
        )
    return len(matrix) / (time.perf_counter() - start)


def brute_force(unit: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = unit @ (query / np.linalg.norm(query))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def measure(size: int, queries: int, k: int) -> list[str]:
    """Every query is timed on the baseline and on each store in turn, so a busy machine slows all alike."""
    rng = np.random.default_rng(size)
    matrix = rng.standard_normal((size, DIMS), dtype=np.float32)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    qs = rng.standard_normal((queries, DIMS), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        stores: list[tuple[str, VectorStore]] = [
            ("memory", MemoryVectorStore()),
            ("local (SQLite + float32 file)", LocalVectorStore(Path(folder))),
        ]
        rates, rss = {}, {}
        for name, store in stores:
            rates[name] = ingest(store, matrix)
            for q in qs[:5]:  # warm the page cache and the first map
                store.search("bench", q, k)
            rss[name] = rss_mib()
        base: list[float] = []
        times: dict[str, list[float]] = {name: [] for name, _ in stores}
        for q in qs:
            t = time.perf_counter()
            expected = brute_force(unit, q, k)
            base.append(time.perf_counter() - t)
            for name, store in stores:
                t = time.perf_counter()
                hits = store.search("bench", q, k)
                times[name].append(time.perf_counter() - t)
                assert len(hits) == k and len(expected) == k
        b50, b99 = percentile(base, 50), percentile(base, 99)
        rows = [f"| {size:,} | numpy brute force (baseline) | - | {b50:.2f} | {b99:.2f} | 1.00x | - |"]
        for name, store in stores:
            p50, p99 = percentile(times[name], 50), percentile(times[name], 99)
            rows.append(
                f"| {size:,} | {name} | {rates[name]:,.0f} | {p50:.2f} | {p99:.2f} | {p50 / b50:.2f}x | {rss[name]:,.0f} |"
            )
            store.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    print(
        f"Exact cosine search, {DIMS} dimensions, k={args.k}, {args.queries} queries, numpy {np.__version__}"
    )
    print()
    print(
        "| chunks | store | ingest chunks/s | search p50 ms | search p99 ms | p50 vs numpy | process RSS MiB after ingest |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        for row in measure(size, args.queries, args.k):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
