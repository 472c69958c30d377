"""The one protocol every assistant store implements."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from funchost_assistants.models import AssistantState, ChatMessage


@dataclass(frozen=True)
class Collection:
    """Where assistants live: a connection setting name (the storage account) and a table name."""

    connection: str = "AzureWebJobsStorage"
    table: str = "ChatState"


class StoreError(Exception):
    """The store refused or failed an operation; the message says what and what to do."""


class StoreUnavailable(StoreError):
    """The backing service cannot be reached (e.g. Azurite stopped); retry later."""


class Conflict(StoreError):
    """A row that should be new already exists (a concurrent writer got there first)."""


class StateChanged(Conflict):
    """The assistant's state row is no longer the one a write read (re-created, deleted or posted to by another
    process sharing the store); nothing was written."""


def state_changed(where: Collection, assistant_id: str) -> StateChanged:
    """The refusal every store raises when ``append(if_match=...)`` finds another state row."""
    return StateChanged(
        f"assistant '{assistant_id}' in table '{where.table}' changed while this post was running (it was "
        "re-created, deleted or posted to by another host process sharing the store); nothing was saved "
        "for this post: send the message again."
    )


def digest_etag(state: AssistantState) -> str:
    """A version tag of a state row for stores without ETags: every write of the row changes
    ``LastUpdatedAt`` (a strictly increasing clock), so equal tags mean the same write."""
    parts = (
        state.exists,
        state.created_at.astimezone(UTC).isoformat(),
        state.last_updated_at.astimezone(UTC).isoformat(),
        state.total_messages,
        state.total_tokens,
    )
    return 'W/"' + "|".join(str(p) for p in parts) + '"'


def with_etag(state: AssistantState, etag: str | None = None) -> AssistantState:
    """``state`` carrying its version tag (``digest_etag`` unless given)."""
    return dataclasses.replace(state, etag=etag or digest_etag(state))


class AssistantStore(Protocol):
    """Assistants in the real extension's table layout: one partition per assistant id,
    RowKey ``state`` plus ``msg-XXXX`` rows."""

    name: str

    def describe(self) -> str:
        """Where the data lives, for the banner (no secrets)."""
        ...

    async def create(self, where: Collection, state: AssistantState, messages: Sequence[ChatMessage]) -> None:
        """Atomically replace the assistant's partition: every old row goes, ``messages`` and ``state`` are
        written. Creates the table when missing."""
        ...

    async def load(
        self, where: Collection, assistant_id: str, *, after: datetime | None = None
    ) -> tuple[AssistantState, list[ChatMessage]] | None:
        """The state row (with its ``etag``) and the message rows in RowKey order (only ``CreatedAt > after``
        when given); None when there is no state row or no table."""
        ...

    async def append(
        self,
        where: Collection,
        state: AssistantState,
        messages: Sequence[ChatMessage],
        *,
        if_match: str | None = None,
    ) -> None:
        """Atomically insert new message rows and merge the state row; raises Conflict if a message row
        already exists, StateChanged when ``if_match`` is given and the state row is gone or is no longer
        that version (checked in the same transaction as the write). Nothing is written on failure."""
        ...

    async def list(self, where: Collection) -> list[AssistantState]:
        """Every assistant's state row in the table (empty when the table is missing)."""
        ...

    async def delete(self, where: Collection, assistant_id: str) -> bool:
        """Remove the whole partition; False when there was nothing."""
        ...

    async def close(self) -> None: ...
