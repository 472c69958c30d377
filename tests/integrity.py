"""Walk every assistant of a store and say what is not whole: RowKeys must run msg-0001.. without a gap,
``TotalMessages`` must equal the rows, and acknowledged writes must be there. Used by tests and bench/soak.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Assistant:
    """One partition as stored: the state row and the message rows in RowKey order."""

    id: str
    total_messages: int | None
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    """(RowKey, Role, Content)."""


@dataclass
class Walk:
    assistants: dict[str, Assistant]
    problems: list[str]

    @property
    def messages(self) -> int:
        return sum(len(a.rows) for a in self.assistants.values())


def _check(assistants: Mapping[str, Assistant]) -> list[str]:
    problems = []
    for a in assistants.values():
        keys = [r[0] for r in a.rows]
        if a.total_messages is None:
            if keys:
                problems.append(f"{a.id}: {len(keys)} message rows without a state row")
            continue
        expected = [f"msg-{i:04X}" for i in range(1, len(keys) + 1)]
        if keys != expected:
            problems.append(f"{a.id}: RowKeys not contiguous: {keys[:3]}...{keys[-3:]} ({len(keys)} rows)")
        if a.total_messages != len(keys):
            problems.append(f"{a.id}: TotalMessages={a.total_messages} but {len(keys)} message rows")
        roles = [r[1] for r in a.rows]
        for i, role in enumerate(roles):
            if role == "User" and (i + 1 >= len(roles) or roles[i + 1] != "Assistant"):
                problems.append(f"{a.id}: User message {keys[i]} has no Assistant answer after it")
    return problems


def _group(entities: Iterable[Mapping[str, Any]]) -> dict[str, Assistant]:
    assistants: dict[str, Assistant] = {}
    for e in entities:
        pk, rk = str(e["PartitionKey"]), str(e["RowKey"])
        a = assistants.setdefault(pk, Assistant(pk, None))
        if rk == "state":
            a.total_messages = int(e.get("TotalMessages") or 0)
        elif rk.startswith("msg-"):
            a.rows.append((rk, str(e.get("Role") or ""), str(e.get("Content") or "")))
    for a in assistants.values():
        a.rows.sort()
    return assistants


def walk_sqlite(path: Path, table: str = "ChatState") -> Walk:
    """Every assistant in the SQLite store at ``path`` (read-only)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT PartitionKey, RowKey, Role, Content, TotalMessages FROM entities WHERE table_name = ?",
            (table,),
        ).fetchall()
    assistants = _group(dict(r) for r in rows)
    return Walk(assistants, _check(assistants))


def walk_tables(connection_string: str, table: str = "ChatState") -> Walk:
    """Every assistant in an Azure table (Azurite), with the plain SDK."""
    from azure.data.tables import TableServiceClient

    with TableServiceClient.from_connection_string(connection_string) as service:
        entities = list(service.get_table_client(table).list_entities())
    assistants = _group(entities)
    return Walk(assistants, _check(assistants))


def missing_acknowledged(walk: Walk, acknowledged: Mapping[str, Iterable[str]]) -> list[str]:
    """Acknowledged user messages (assistant id -> texts) that are not in the store."""
    missing = []
    for assistant_id, texts in acknowledged.items():
        a = walk.assistants.get(assistant_id)
        present = {content for _, role, content in (a.rows if a else []) if role == "User"}
        missing.extend(f"{assistant_id}: {t!r}" for t in texts if t not in present)
    return missing
