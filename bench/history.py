"""Query and post on an assistant with 10,000 messages vs 10, through the service layer on SQLite."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, median, table, verdict
from funchost_assistants.chat.scripted import ScriptedChatModel, echo
from funchost_assistants.models import AssistantState, ChatMessage
from funchost_assistants.service import AssistantService, ChatOptions, Skill
from funchost_assistants.stores import Collection, SqliteStore

WHERE = Collection()
SIZES = (10, 10_000)


def _rows(db: Path, assistant_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT COUNT(*) FROM entities WHERE PartitionKey = ?", (assistant_id,)).fetchone()[
                0
            ]
        )


async def _no_skill(skill: Skill, arguments: str) -> Any:
    raise RuntimeError("the benchmark assistant has no skills")


async def _seed(store: SqliteStore, assistant_id: str, size: int) -> datetime:
    """An assistant with ``size`` messages (System first, then User/Assistant turns); the last timestamp."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    messages = [ChatMessage(1, "You are a benchmark.", "System", start)]
    for i in range(2, size + 1):
        role = "User" if i % 2 == 0 else "Assistant"
        messages.append(
            ChatMessage(i, f"message {i} " + "lorem ipsum " * 8, role, start + timedelta(seconds=i))
        )
    last = messages[-1].created_at
    await store.create(WHERE, AssistantState(assistant_id, True, start, last, size, 0), messages)
    return last


async def _measure(db: Path, quick: bool) -> dict[int, dict[str, float]]:
    store = SqliteStore(db)
    service = AssistantService(store, ScriptedChatModel(default=echo), logging.getLogger("bench.history"))
    logging.getLogger("bench.history").setLevel(logging.WARNING)
    reps = 5 if quick else 21
    out: dict[int, dict[str, float]] = {}
    try:
        for size in SIZES:
            aid = f"history-{size}"
            last = await _seed(store, aid, size)
            recent = (last - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            figures: dict[str, list[float]] = {"query all": [], "query recent": [], "post": []}
            for _ in range(reps):
                t0 = time.perf_counter()
                body = await service.query(WHERE, aid, "2000-01-01T00:00:00Z")
                figures["query all"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await service.query(WHERE, aid, recent)
                figures["query recent"].append(time.perf_counter() - t0)
            rows_before = _rows(db, aid)
            written: list[int] = []
            for i in range(reps):
                before = _rows(db, aid)
                t0 = time.perf_counter()
                await service.post(WHERE, aid, f"post {i}", ChatOptions(model="bench"), [], _no_skill)
                figures["post"].append(time.perf_counter() - t0)
                written.append(_rows(db, aid) - before)
            out[size] = {k: median(v) * 1000 for k, v in figures.items()}
            out[size]["rows/post"] = median(written)
            out[size]["rows"] = rows_before
            out[size]["query bytes"] = len(body)
    finally:
        await store.close()
    return out


def measure(quick: bool = False) -> Result:
    with tempfile.TemporaryDirectory(prefix="funchost-bench-") as tmp:
        figures = asyncio.run(_measure(Path(tmp) / "assistants.db", quick))
    small, big = figures[SIZES[0]], figures[SIZES[1]]
    rows = []
    for size in SIZES:
        f = figures[size]
        rows.append(
            [
                f"{size:,}",
                f["query all"],
                f"{f['query bytes']:,.0f}",
                f["query recent"],
                f["post"],
                f"{f['rows/post']:.0f}",
            ]
        )
    rows.append(
        [
            "ratio 10,000 / 10",
            f"{big['query all'] / small['query all']:.0f}x",
            "",
            f"{big['query recent'] / small['query recent']:.1f}x",
            f"{big['post'] / small['post']:.0f}x",
            f"{big['rows/post'] / small['rows/post']:.1f}x",
        ]
    )
    text = table(
        "Assistant with 10,000 messages vs 10 (SQLite store, service layer)",
        ["messages", "query all ms", "query JSON bytes", "query recent ms", "post ms", "rows written / post"],
        rows,
        "In-process through `AssistantService` on a `SqliteStore` (the default store) with a `ScriptedChatModel` "
        "that echoes, so the figures are the store and JSON cost without HTTP or model latency. Median of "
        f"{5 if quick else 21}. 'query all' = GetChatState with an old timestampUTC (every message, as the "
        "extension returns them); 'query recent' = timestampUTC just before the last message (uses the CreatedAt "
        "index). Rows written counted with COUNT(*) on the partition before/after each post.",
    )
    ok_query = big["query recent"] <= 50 and big["query all"] <= 50
    summary = [
        (
            "query, 10,000 messages",
            f"all {big['query all']:.1f} ms, recent {big['query recent']:.2f} ms "
            f"(10 msgs: {small['query all']:.2f} ms)",
            "<= 50 ms",
            verdict(ok_query),
        ),
        (
            "rows written per post, 10,000 vs 10",
            f"{big['rows/post']:.0f} vs {small['rows/post']:.0f} "
            f"(post {big['post']:.1f} vs {small['post']:.2f} ms)",
            "independent of history",
            verdict(big["rows/post"] == small["rows/post"]),
        ),
    ]
    return Result(text, summary)


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
