"""In-process store: entity dicts, for tests and throwaway runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from funchost_assistants.models import (
    STATE_ROW_KEY,
    AssistantState,
    ChatMessage,
    is_message_row,
    message_entity,
    message_from_entity,
    state_entity,
    state_from_entity,
)
from funchost_assistants.stores.base import (
    Collection,
    Conflict,
    StoreError,
    digest_etag,
    state_changed,
    with_etag,
)

Entity = dict[str, Any]
Partition = dict[str, Entity]


def missing_table_error(where: Collection) -> StoreError:
    """The refusal every store raises when writing to a table that was never created."""
    return StoreError(
        f"table '{where.table}' (connection setting '{where.connection}') does not exist: "
        "create the assistant first (assistantCreate creates the table)."
    )


class MemoryStore:
    """Assistants kept in dicts ``(connection, table) -> partition -> RowKey -> entity``; lost on exit.

    Entity dicts are built fresh on write and turned into frozen dataclasses on read, so callers never hold
    a reference into the stored data.
    """

    name = "memory"

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], dict[str, Partition]] = {}

    def describe(self) -> str:
        """Where the data lives."""
        return "memory (assistants are lost when the host stops)"

    async def create(self, where: Collection, state: AssistantState, messages: Sequence[ChatMessage]) -> None:
        """Replace the assistant's partition with ``messages`` + ``state``; creates the table."""
        table = self._tables.setdefault((where.connection, where.table), {})
        rows: Partition = {m.row_key: message_entity(state.id, m) for m in messages}
        rows[STATE_ROW_KEY] = state_entity(state)
        table[state.id] = rows

    async def load(
        self, where: Collection, assistant_id: str, *, after: datetime | None = None
    ) -> tuple[AssistantState, list[ChatMessage]] | None:
        """State and messages (``CreatedAt > after``) in RowKey order; None without state row or table."""
        partition = self._tables.get((where.connection, where.table), {}).get(assistant_id)
        if partition is None or STATE_ROW_KEY not in partition:
            return None
        messages = [message_from_entity(e) for key, e in sorted(partition.items()) if is_message_row(key)]
        if after is not None:
            messages = [m for m in messages if m.created_at > after]
        return with_etag(state_from_entity(partition[STATE_ROW_KEY])), messages

    async def append(
        self,
        where: Collection,
        state: AssistantState,
        messages: Sequence[ChatMessage],
        *,
        if_match: str | None = None,
    ) -> None:
        """Insert new message rows and merge the state row, all or nothing (only onto ``if_match``)."""
        table = self._tables.get((where.connection, where.table))
        if table is None:
            raise missing_table_error(where)
        partition = table.get(state.id, {})
        if if_match is not None:
            current = partition.get(STATE_ROW_KEY)
            if current is None or digest_etag(state_from_entity(current)) != if_match:
                raise state_changed(where, state.id)
        new = [message_entity(state.id, m) for m in messages]
        keys = [e["RowKey"] for e in new]
        taken = [k for k in keys if k in partition]
        if taken or len(set(keys)) != len(keys):
            raise Conflict(
                f"assistant '{state.id}' in table '{where.table}': message row {(taken or keys)[0]} already "
                "exists (another post wrote it first); reload the assistant and retry."
            )
        merged = dict(partition.get(STATE_ROW_KEY, {}))
        merged.update(state_entity(state))
        partition = dict(partition)
        partition.update({e["RowKey"]: e for e in new})
        partition[STATE_ROW_KEY] = merged
        table[state.id] = partition

    async def list(self, where: Collection) -> list[AssistantState]:
        """Every assistant's state row, by id."""
        table = self._tables.get((where.connection, where.table), {})
        return [
            state_from_entity(rows[STATE_ROW_KEY])
            for _, rows in sorted(table.items())
            if STATE_ROW_KEY in rows
        ]

    async def delete(self, where: Collection, assistant_id: str) -> bool:
        """Remove the partition; False when there was nothing."""
        table = self._tables.get((where.connection, where.table), {})
        return bool(table.pop(assistant_id, None))

    async def close(self) -> None:
        """Nothing to release."""
