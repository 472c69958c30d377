"""blob (input/output), blobTrigger, queue (output) and queueTrigger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import azure.functions as func

from funchost.plugin import (
    BindingError,
    BindingSpec,
    CallContext,
    FunctionSpec,
    InputBinding,
    OutputBinding,
    Trigger,
    TriggerData,
    json_binding_data,
)
from funchost_storage.convert import (
    PathPattern,
    annotation,
    blob_bytes,
    blob_metadata,
    blob_value,
    queue_message,
)
from funchost_storage.names import InvalidName, check_blob, check_container, check_queue, split_path
from funchost_storage.options import BlobOptions, BlobTriggerOptions, QueueOptions
from funchost_storage.queues import encode_message

if TYPE_CHECKING:
    from funchost_storage.plugin import StoragePlugin


def _split(path: str) -> tuple[str, str]:
    try:
        return split_path(path)
    except InvalidName as exc:
        raise BindingError(f"property 'path': {exc}") from None


def _queue_name(name: str) -> str:
    """Queue names are lower-cased, as the extension does, then checked."""
    try:
        return check_queue(name.strip().lower())
    except InvalidName as exc:
        raise BindingError(f"property 'queueName': {exc}") from None


def _static(text: str) -> bool:
    return "{" not in text and "%" not in text


class _BlobBase:
    """What ``blob`` input and output share: the plugin and the index-time checks."""

    def __init__(self, plugin: StoragePlugin) -> None:
        self.plugin = plugin

    def check(self, function: FunctionSpec, binding: BindingSpec, options: BlobOptions) -> None:
        self.plugin.check_connection(options.connection)
        if _static(options.path):
            _split(options.path)


class BlobInput(_BlobBase, InputBinding[BlobOptions]):
    """``blob`` input: the blob at the resolved path as str, bytes or ``func.InputStream``; None when missing."""

    type = "blob"
    options = BlobOptions

    async def read(self, options: BlobOptions, call: CallContext) -> Any:
        container, name = _split(options.path)
        backend = await self.plugin.backend(options.connection)
        async with self.plugin.errors():
            got = await backend.get_blob(container, name)
        if got is None:
            return None
        spec = call.binding
        if spec is None:
            return blob_value(got[0], None, None, None)
        return blob_value(got[0], None, annotation(call.function, spec.name), spec.data_type)


class BlobOutput(_BlobBase, OutputBinding[BlobOptions]):
    """``blob`` output: one value (str, bytes or a file-like object) written whole at the resolved path."""

    type = "blob"
    options = BlobOptions
    fan_out: ClassVar[bool] = False

    def parse(self, item: Any, options: BlobOptions, call: CallContext) -> Any:
        _split(options.path)
        try:
            return blob_bytes(item)
        except TypeError as exc:
            raise BindingError(
                f"a blob output takes str, bytes or a file-like object, not {exc}. Nothing was written."
            ) from None

    async def write(self, items: Sequence[Any], options: BlobOptions, call: CallContext) -> None:
        container, name = _split(options.path)
        backend = await self.plugin.backend(options.connection)
        async with self.plugin.errors():
            for data in items:
                await backend.put_blob(container, name, data)
        self.plugin.wakeups.notify(f"blob:{container}")


class BlobTrigger(Trigger[BlobTriggerOptions]):
    type = "blobTrigger"
    options = BlobTriggerOptions

    def __init__(self, plugin: StoragePlugin) -> None:
        self.plugin = plugin

    def check(self, function: FunctionSpec, binding: BindingSpec, options: BlobTriggerOptions) -> None:
        self.plugin.check_connection(options.connection)
        pattern = PathPattern(options.path)
        try:
            check_container(pattern.container)
        except InvalidName as exc:
            raise BindingError(
                f"property 'path': {exc} (the container part of a blob trigger path is literal)"
            ) from None
        if pattern.prefix:
            try:
                check_blob(pattern.prefix.rstrip("/.") or "x")
            except InvalidName as exc:
                raise BindingError(f"property 'path': {exc}") from None
        self.plugin.queues_config()

    async def admin_input(
        self, function: FunctionSpec, options: BlobTriggerOptions, value: Any
    ) -> TriggerData:
        """The admin API's input is a blob path (``container/name``): that blob is read and passed."""
        if not isinstance(value, str):
            raise BindingError(
                f"a blobTrigger function takes a blob path such as 'container/name', not {value!r}"
            )
        container, name = _split(value)
        backend = await self.plugin.backend(options.connection)
        async with self.plugin.errors():
            got = await backend.get_blob(container, name)
        if got is None:
            raise BindingError(
                f"blob '{container}/{name}' does not exist. Write it first (funchost storage blob put)"
            )
        data, props = got
        metadata = blob_metadata(props, backend.blob_uri(container, name))
        params = PathPattern(options.path).match(name) or {}
        binding = function.trigger
        return TriggerData(
            blob_value(data, metadata, annotation(function, binding.name), binding.data_type),
            {**params, **metadata},
        )

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        for fn in functions:
            await self.plugin.start_blob_listener(fn)


class QueueOutput(OutputBinding[QueueOptions]):
    type = "queue"
    options = QueueOptions

    def __init__(self, plugin: StoragePlugin) -> None:
        self.plugin = plugin

    def check(self, function: FunctionSpec, binding: BindingSpec, options: QueueOptions) -> None:
        self.plugin.check_connection(options.connection)
        if _static(options.queue_name):
            _queue_name(options.queue_name)
        self.plugin.queues_config()

    def parse(self, item: Any, options: QueueOptions, call: CallContext) -> Any:
        _queue_name(options.queue_name)
        if isinstance(item, func.QueueMessage):
            body = item.get_body()
        elif isinstance(item, str):
            body = item.encode("utf-8")
        elif isinstance(item, bytes | bytearray):
            body = bytes(item)
        elif item is None or isinstance(item, bool | int | float | dict | list):
            import json

            body = json.dumps(item).encode("utf-8")
        else:
            raise BindingError(
                f"a queue output takes str, bytes, JSON or func.QueueMessage, not {type(item).__name__}. "
                "Nothing was sent."
            )
        try:
            return encode_message(body, self.plugin.queues_config().message_encoding)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BindingError(f"{exc}. Nothing was sent.") from None

    async def write(self, items: Sequence[Any], options: QueueOptions, call: CallContext) -> None:
        queue = _queue_name(options.queue_name)
        backend = await self.plugin.backend(options.connection)
        async with self.plugin.errors():
            for text in items:
                await backend.send_message(queue, text)
        self.plugin.wakeups.notify(f"queue:{queue}")


class QueueTrigger(Trigger[QueueOptions]):
    type = "queueTrigger"
    options = QueueOptions

    def __init__(self, plugin: StoragePlugin) -> None:
        self.plugin = plugin

    def check(self, function: FunctionSpec, binding: BindingSpec, options: QueueOptions) -> None:
        self.plugin.check_connection(options.connection)
        _queue_name(options.queue_name)
        self.plugin.queues_config()

    def admin_input(self, function: FunctionSpec, options: QueueOptions, value: Any) -> TriggerData:
        """The admin API's input becomes the message body of a new message (id, times and count filled in)."""
        if isinstance(value, func.QueueMessage):
            return TriggerData(value, {"QueueTrigger": value.get_body().decode("utf-8", "replace")})
        if not isinstance(value, str | bytes):
            raise BindingError(f"a queueTrigger function takes a message string, not {type(value).__name__}")
        body = value.encode("utf-8") if isinstance(value, str) else value
        now = datetime.now(UTC)
        from funchost.dotnet import datetime_o

        metadata: dict[str, Any] = {
            "Id": str(uuid.uuid4()),
            "DequeueCount": 1,
            "InsertionTime": datetime_o(now),
            "ExpirationTime": datetime_o(now + timedelta(days=7)),
            "NextVisibleTime": datetime_o(now),
            "PopReceipt": None,
        }
        text = body.decode("utf-8", "replace")
        data = {"QueueTrigger": text, **metadata, **json_binding_data(text)}
        return TriggerData(queue_message(body, metadata, annotation(function, function.trigger.name)), data)

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        for fn in functions:
            await self.plugin.start_queue_listener(fn)
