"""The Azure Storage backend: real Azure Storage or Azurite through the official async SDKs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from funchost_storage.backend import (
    BlobProperties,
    MessageGone,
    PreconditionFailed,
    StorageError,
    StorageUnavailable,
    StoredMessage,
)

_FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _etag(value: object) -> str:
    """ETags in one spelling, quoted (the service quotes them in headers but not in listings)."""
    return '"' + str(value).strip('"') + '"'


def _dt(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AzureStorage:
    """Blobs and queues of one storage account, from a connection string or service URIs with a credential."""

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        blob_uri: str | None = None,
        queue_uri: str | None = None,
        credential: Any = None,
        setting: str = "AzureWebJobsStorage",
    ) -> None:
        self.setting = setting
        # Bounded retries (about 3 s in all) instead of the SDK's default of a minute or more, so an outage
        # fails an invocation quickly and the next poll tries again.
        blob_opts: dict[str, Any] = {"initial_backoff": 0.5, "increment_base": 2, "retry_total": 2}
        blob_opts["connection_timeout"] = 10
        queue_opts = blob_opts
        if connection_string is not None:
            self.blobs = BlobServiceClient.from_connection_string(connection_string, **blob_opts)
            self.queues = QueueServiceClient.from_connection_string(connection_string, **queue_opts)
        else:
            if blob_uri is None or queue_uri is None:
                raise StorageError(
                    f"connection '{setting}' needs both '{setting}__blobServiceUri' and '{setting}__queueServiceUri'"
                )
            self.blobs = BlobServiceClient(blob_uri, credential=credential, **blob_opts)
            self.queues = QueueServiceClient(queue_uri, credential=credential, **queue_opts)
        self._known: set[str] = set()

    def describe(self) -> str:
        return f"azure (blob {self.blobs.url.rstrip('/')}, queue {self.queues.url.rstrip('/')}; connection '{self.setting}')"

    def blob_uri(self, container: str, name: str) -> str:
        return f"{self.blobs.url.rstrip('/')}/{container}/{quote(name)}"

    @asynccontextmanager
    async def _errors(self, service: str) -> AsyncIterator[None]:
        try:
            yield
        except (ServiceRequestError, ServiceResponseError) as exc:
            url = self.blobs.url if service == "blob" else self.queues.url
            raise StorageUnavailable(
                f"cannot reach the {service} endpoint {url.rstrip('/')} (connection setting '{self.setting}'): "
                f"{type(exc).__name__}. Start Azurite or check the connection."
            ) from None
        except (ResourceModifiedError, ResourceExistsError) as exc:
            raise PreconditionFailed(str(exc.message or exc).splitlines()[0]) from None
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise PreconditionFailed(str(exc.message or exc).splitlines()[0]) from None
            code = getattr(exc, "error_code", None) or exc.status_code
            if str(code) in ("PopReceiptMismatch", "MessageNotFound") or "POP_RECEIPT" in str(code):
                raise MessageGone(
                    "the message is gone or held by another receiver (pop receipt mismatch)"
                ) from None
            raise StorageError(
                f"{service} service error {code}: {str(exc.message or exc).splitlines()[0]}"
            ) from None

    async def _container(self, container: str) -> None:
        if container in self._known:
            return
        with suppress(ResourceExistsError):
            await self.blobs.create_container(container)
        self._known.add(container)

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
        kwargs: dict[str, Any] = {"overwrite": not if_none_match}
        if if_match is not None:
            kwargs.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        if content_type:
            kwargs["content_settings"] = ContentSettings(content_type=content_type)
        async with self._errors("blob"):
            await self._container(container)
            client = self.blobs.get_blob_client(container, name)
            try:
                result = await client.upload_blob(data, **kwargs)
            except ResourceNotFoundError:  # the container was deleted behind our back
                self._known.discard(container)
                await self._container(container)
                result = await client.upload_blob(data, **kwargs)
        return BlobProperties(
            container,
            name,
            _etag(result["etag"]),
            len(data),
            _dt(result.get("last_modified")),
            content_type or "application/octet-stream",
        )

    async def get_blob(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        async with self._errors("blob"):
            try:
                stream = await self.blobs.get_blob_client(container, name).download_blob()
                data = await stream.readall()
            except ResourceNotFoundError:
                return None
        props = stream.properties
        kind = props.content_settings.content_type or "application/octet-stream"
        return data, BlobProperties(
            container, name, _etag(props.etag), len(data), _dt(props.last_modified), kind
        )

    async def list_blobs(self, container: str, prefix: str = "") -> list[BlobProperties]:
        found: list[BlobProperties] = []
        async with self._errors("blob"):
            try:
                async for item in self.blobs.get_container_client(container).list_blobs(
                    name_starts_with=prefix or None
                ):
                    kind = item.content_settings.content_type or "application/octet-stream"
                    found.append(
                        BlobProperties(
                            container, item.name, _etag(item.etag), item.size, _dt(item.last_modified), kind
                        )
                    )
            except ResourceNotFoundError:
                return []
        return sorted(found, key=lambda b: b.name)

    async def delete_blob(self, container: str, name: str, *, if_match: str | None = None) -> bool:
        kwargs: dict[str, Any] = {}
        if if_match is not None:
            kwargs.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        async with self._errors("blob"):
            try:
                await self.blobs.get_blob_client(container, name).delete_blob(**kwargs)
            except ResourceNotFoundError:
                return False
        return True

    @staticmethod
    def _message(msg: Any, receipt: bool = True) -> StoredMessage:
        return StoredMessage(
            id=msg.id,
            text=msg.content if isinstance(msg.content, str) else bytes(msg.content).decode(),
            dequeue_count=int(msg.dequeue_count or 0),
            insertion_time=_dt(msg.inserted_on),
            expiration_time=_dt(msg.expires_on) if msg.expires_on else _FAR,
            next_visible_time=_dt(msg.next_visible_on),
            pop_receipt=msg.pop_receipt if receipt else None,
        )

    async def send_message(
        self, queue: str, text: str, *, visibility_timeout: float = 0, time_to_live: float | None = None
    ) -> StoredMessage:
        client = self.queues.get_queue_client(queue)
        kwargs: dict[str, Any] = {}
        if visibility_timeout:
            kwargs["visibility_timeout"] = int(visibility_timeout)
        if time_to_live is not None:
            kwargs["time_to_live"] = int(time_to_live)
        async with self._errors("queue"):
            if queue not in self._known:
                with suppress(ResourceExistsError):
                    await client.create_queue()
                self._known.add(queue)
            try:
                sent = await client.send_message(text, **kwargs)
            except ResourceNotFoundError:
                self._known.discard(queue)
                await client.create_queue()
                sent = await client.send_message(text, **kwargs)
        return StoredMessage(
            id=sent.id,
            text=text,
            dequeue_count=0,
            insertion_time=_dt(sent.inserted_on),
            expiration_time=_dt(sent.expires_on) if sent.expires_on else _FAR,
            next_visible_time=_dt(sent.next_visible_on),
            pop_receipt=sent.pop_receipt,
        )

    async def receive_messages(
        self, queue: str, max_messages: int, visibility_timeout: float
    ) -> list[StoredMessage]:
        client = self.queues.get_queue_client(queue)
        taken: list[StoredMessage] = []
        async with self._errors("queue"):
            try:
                pages = client.receive_messages(
                    messages_per_page=max_messages,
                    max_messages=max_messages,
                    visibility_timeout=max(1, round(visibility_timeout)),
                )
                async for msg in pages:
                    taken.append(self._message(msg))
            except ResourceNotFoundError:
                return []
        return taken

    async def update_message(
        self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float
    ) -> tuple[str, datetime]:
        client = self.queues.get_queue_client(queue)
        async with self._errors("queue"):
            try:
                updated = await client.update_message(
                    message_id, pop_receipt, visibility_timeout=max(0, round(visibility_timeout))
                )
            except ResourceNotFoundError:
                raise MessageGone(
                    f"message {message_id} in queue '{queue}' is gone or held by another receiver"
                ) from None
        return str(updated.pop_receipt), _dt(updated.next_visible_on)

    async def delete_message(self, queue: str, message_id: str, pop_receipt: str) -> None:
        async with self._errors("queue"):
            try:
                await self.queues.get_queue_client(queue).delete_message(message_id, pop_receipt)
            except ResourceNotFoundError:
                raise MessageGone(
                    f"message {message_id} in queue '{queue}' is gone or held by another receiver"
                ) from None

    async def peek_messages(self, queue: str, max_messages: int) -> list[StoredMessage]:
        async with self._errors("queue"):
            try:
                peeked = await self.queues.get_queue_client(queue).peek_messages(max_messages=max_messages)
            except ResourceNotFoundError:
                return []
        return [self._message(m, receipt=False) for m in peeked]

    async def queue_names(self) -> list[str]:
        async with self._errors("queue"):
            return sorted([q.name async for q in self.queues.list_queues()])

    async def close(self) -> None:
        await self.blobs.close()
        await self.queues.close()
