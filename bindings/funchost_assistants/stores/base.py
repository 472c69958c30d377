"""The one protocol every assistant store implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
        """The state row and the message rows in RowKey order (only ``CreatedAt > after`` when given);
        None when there is no state row or no table."""
        ...

    async def append(self, where: Collection, state: AssistantState, messages: Sequence[ChatMessage]) -> None:
        """Atomically insert new message rows and merge the state row; raises Conflict if a message row
        already exists. Nothing is written on failure."""
        ...

    async def list(self, where: Collection) -> list[AssistantState]:
        """Every assistant's state row in the table (empty when the table is missing)."""
        ...

    async def delete(self, where: Collection, assistant_id: str) -> bool:
        """Remove the whole partition; False when there was nothing."""
        ...

    async def close(self) -> None: ...
