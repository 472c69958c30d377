"""The storage backend protocol: blobs and queues, as the bindings and triggers need them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """A storage operation failed; the message names the service and what to do."""


class StorageUnavailable(StorageError):
    """The storage service cannot be reached (worth retrying later)."""


class PreconditionFailed(StorageError):
    """A conditional write lost: the blob changed (ETag) or already exists."""


class MessageGone(StorageError):
    """The message was deleted or its pop receipt is stale (someone else holds it now)."""


@dataclass(frozen=True)
class BlobProperties:
    """What the service says about one blob version."""

    container: str
    name: str
    etag: str
    length: int
    last_modified: datetime
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class StoredMessage:
    """One queue message as a receive, peek or send returns it (``text`` as stored, encoding untouched)."""

    id: str
    text: str
    dequeue_count: int
    insertion_time: datetime
    expiration_time: datetime
    next_visible_time: datetime
    pop_receipt: str | None = None
    """Set by send, receive and update; None from peek."""


@runtime_checkable
class StorageBackend(Protocol):
    """Blob and queue storage for one account (embedded SQLite or Azure Storage/Azurite)."""

    def describe(self) -> str:
        """Where the data lives, for the start banner (never a key)."""
        ...

    def blob_uri(self, container: str, name: str) -> str: ...

    async def put_blob(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str | None = None,
    ) -> BlobProperties:
        """Create or replace a blob (the container is created if needed); conditions raise PreconditionFailed."""
        ...

    async def get_blob(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        """A blob's content and properties, or None when it (or its container) does not exist."""
        ...

    async def list_blobs(self, container: str, prefix: str = "") -> list[BlobProperties]:
        """The blobs of a container whose names start with ``prefix``, by name; [] if there is no container."""
        ...

    async def delete_blob(self, container: str, name: str, *, if_match: str | None = None) -> bool:
        """Delete a blob; False when there was none."""
        ...

    async def send_message(
        self, queue: str, text: str, *, visibility_timeout: float = 0, time_to_live: float | None = None
    ) -> StoredMessage:
        """Add a message (the queue is created if needed); ``time_to_live`` None means 7 days."""
        ...

    async def receive_messages(
        self, queue: str, max_messages: int, visibility_timeout: float
    ) -> list[StoredMessage]:
        """Take up to ``max_messages`` visible messages, hiding them for ``visibility_timeout`` seconds."""
        ...

    async def update_message(
        self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float
    ) -> tuple[str, datetime]:
        """Hide a received message again (0 = visible now); its new pop receipt and next-visible time."""
        ...

    async def delete_message(self, queue: str, message_id: str, pop_receipt: str) -> None:
        """Delete a received message; MessageGone if the receipt is stale."""
        ...

    async def peek_messages(self, queue: str, max_messages: int) -> list[StoredMessage]:
        """Visible messages without taking them (no pop receipt, dequeue count unchanged)."""
        ...

    async def queue_names(self) -> list[str]: ...

    async def close(self) -> None: ...
