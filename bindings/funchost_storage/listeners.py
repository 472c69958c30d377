"""The pollers behind queueTrigger and blobTrigger: one per function, stopped before its successor starts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from funchost.plugin import FunctionSpec, InvocationError, TriggerData
from funchost_storage.backend import (
    MessageGone,
    PreconditionFailed,
    StorageBackend,
    StorageError,
    StoredMessage,
)
from funchost_storage.convert import (
    PathPattern,
    blob_metadata,
    blob_value,
    queue_message,
    queue_metadata,
)
from funchost_storage.queues import QueuesConfig, decode_message

log = logging.getLogger("Host.Triggers.Storage")

POISON_SUFFIX = "-poison"
BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"
RECEIPTS_CONTAINER = "azure-webjobs-hosts"
HOST_ID = "funchost"

Invoke = Callable[[FunctionSpec, TriggerData], Any]


class Wakeups:
    """In-process notifications: a queue or container written by this host is polled at once."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = {}

    def watch(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._events.setdefault(key, set()).add(event)
        return event

    def unwatch(self, key: str, event: asyncio.Event) -> None:
        self._events.get(key, set()).discard(event)

    def notify(self, key: str) -> None:
        for event in self._events.get(key, ()):
            event.set()


class Listener:
    """A poll loop with a clean stop: the loop ends, in-flight invocations finish (bounded), nothing overlaps."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        raise NotImplementedError

    def spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling; wait up to ``grace`` seconds for invocations in flight, then cancel them (their messages
        come back when their visibility timeout ends)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)


@dataclass
class QueueTarget:
    function: FunctionSpec
    queue: str
    as_type: type | None


class QueueListener(Listener):
    """Receives batches, runs the function per message, deletes on success, retries, then moves to poison."""

    def __init__(
        self,
        target: QueueTarget,
        backend: StorageBackend,
        config: QueuesConfig,
        invoke: Invoke,
        wakeups: Wakeups,
        lease: float,
    ) -> None:
        super().__init__()
        self.target = target
        self.backend = backend
        self.config = config
        self.invoke = invoke
        self.wakeups = wakeups
        self.lease = lease

    async def _loop(self) -> None:
        queue, config = self.target.queue, self.config
        event = self.wakeups.watch(f"queue:{queue}")
        delay, floor = 0.1, 0.1
        ceiling = config.max_polling_interval.total_seconds()
        try:
            while not self._stopping:
                if len(self._running) > config.new_batch_threshold:
                    await asyncio.sleep(0.01)
                    continue
                event.clear()
                try:
                    batch = await self.backend.receive_messages(queue, config.batch_size, self.lease)
                except StorageError as exc:
                    log.error(
                        "Queue listener for '%s' (function '%s'): %s", queue, self.target.function.name, exc
                    )
                    batch = []
                for message in batch:
                    self.spawn(self._process(message))
                if batch:
                    delay = floor
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), delay)
                    delay = floor
                    continue
                delay = min(ceiling, delay * 2) * random.uniform(0.9, 1.0)
        finally:
            self.wakeups.unwatch(f"queue:{queue}", event)

    async def _process(self, message: StoredMessage) -> None:
        queue, fn = self.target.queue, self.target.function
        lease = _Lease(message.pop_receipt or "")
        renew = asyncio.get_running_loop().create_task(self._renew(message.id, lease))
        try:
            try:
                body = decode_message(message.text, self.config.message_encoding)
            except ValueError as exc:
                log.warning("Message %s in queue '%s' cannot be read: %s.", message.id, queue, exc)
                await _cancel(renew)
                await self._poison(message, lease.receipt)
                return
            if message.dequeue_count > self.config.max_dequeue_count:  # failed while a host was dying
                await _cancel(renew)
                await self._poison(message, lease.receipt)
                return
            metadata = queue_metadata(message)
            data: dict[str, Any] = {"QueueTrigger": body.decode("utf-8", errors="replace"), **metadata}
            data.update(_json_properties(data["QueueTrigger"]))
            value = queue_message(body, metadata, self.target.as_type)
            reason = f"New queue message detected on '{queue}'."
            try:
                await self.invoke(fn, TriggerData(value, data, reason=reason))
                ok = True
            except InvocationError:
                ok = False
            await _cancel(renew)
            if ok:
                await self.backend.delete_message(queue, message.id, lease.receipt)
            elif message.dequeue_count >= self.config.max_dequeue_count:
                await self._poison(message, lease.receipt)
            else:
                await self.backend.update_message(
                    queue, message.id, lease.receipt, self.config.visibility_timeout.total_seconds()
                )
        except MessageGone:
            log.warning(
                "Message %s in queue '%s' was taken by another receiver before '%s' finished with it.",
                message.id,
                queue,
                fn.name,
            )
        except StorageError as exc:
            log.error("Queue '%s': %s", queue, exc)
        finally:
            renew.cancel()

    async def _renew(self, message_id: str, lease: _Lease) -> None:
        """Keep a message hidden while its function runs, renewing every half lease."""
        while True:
            await asyncio.sleep(self.lease / 2)
            with contextlib.suppress(StorageError):
                lease.receipt, _ = await self.backend.update_message(
                    self.target.queue, message_id, lease.receipt, self.lease
                )

    async def _poison(self, message: StoredMessage, receipt: str) -> None:
        queue = self.target.queue
        poison = queue + POISON_SUFFIX
        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self.config.max_dequeue_count,
            poison,
        )
        await self.backend.send_message(poison, message.text)
        await self.backend.delete_message(queue, message.id, receipt)
        self.wakeups.notify(f"queue:{poison}")


@dataclass
class _Lease:
    receipt: str


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _json_properties(text: str) -> dict[str, Any]:
    """A JSON object message's top-level properties, as binding data (the host adds them)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return {}
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@dataclass
class BlobTarget:
    function: FunctionSpec
    pattern: PathPattern
    as_type: type | None
    data_type: str | None


class BlobListener(Listener):
    """Scans a container; each blob version (ETag) that matches runs the function once, recorded in a receipt.

    Receipts are blobs in ``azure-webjobs-hosts/blobreceipts/...`` of the same storage, so they survive restarts
    and are shared by hosts on the same storage. A failed blob is retried up to maxDequeueCount times, then a
    message naming it goes to ``webjobs-blobtrigger-poison``.
    """

    CLAIM_SECONDS = 300.0

    def __init__(
        self,
        target: BlobTarget,
        backend: StorageBackend,
        config: QueuesConfig,
        invoke: Invoke,
        wakeups: Wakeups,
        interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.target = target
        self.backend = backend
        self.config = config
        self.invoke = invoke
        self.wakeups = wakeups
        self.interval = interval
        self._busy: set[str] = set()

    def receipt_name(self, name: str, etag: str) -> str:
        tag = etag.strip('"')
        return (
            f"blobreceipts/{HOST_ID}/Host.Functions.{self.target.function.name}/{tag}/"
            f"{self.target.pattern.container}/{name}"
        )

    async def _loop(self) -> None:
        container = self.target.pattern.container
        event = self.wakeups.watch(f"blob:{container}")
        try:
            while not self._stopping:
                event.clear()
                try:
                    await self.scan()
                except StorageError as exc:
                    log.error(
                        "Blob listener for '%s' (function '%s'): %s",
                        container,
                        self.target.function.name,
                        exc,
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), self.interval)
        finally:
            self.wakeups.unwatch(f"blob:{container}", event)

    async def scan(self) -> None:
        pattern = self.target.pattern
        for props in await self.backend.list_blobs(pattern.container, pattern.prefix):
            if self._stopping:
                return
            params = pattern.match(props.name)
            key = f"{props.name}|{props.etag}"
            if params is None or key in self._busy:
                continue
            claim = await self._claim(props.name, props.etag)
            if claim is None:
                continue
            self._busy.add(key)
            self.spawn(self._process(props.name, props.etag, params, claim))

    async def _claim(self, name: str, etag: str) -> tuple[str, int] | None:
        """Take a blob version to process: (receipt ETag, attempt number), or None if done or taken."""
        receipt = self.receipt_name(name, etag)
        got = await self.backend.get_blob(RECEIPTS_CONTAINER, receipt)
        attempts = 0
        kwargs: dict[str, Any] = {"if_none_match": True}
        if got is not None:
            state = _json_properties(got[0].decode("utf-8", errors="replace"))
            if state.get("state") != "pending" or float(state.get("until", 0)) > time.time():
                return None
            attempts = int(state.get("attempts", 0))
            kwargs = {"if_match": got[1].etag}
        body = {"state": "pending", "attempts": attempts + 1, "until": time.time() + self.CLAIM_SECONDS}
        try:
            put = await self.backend.put_blob(
                RECEIPTS_CONTAINER, receipt, json.dumps(body).encode(), **kwargs
            )
        except PreconditionFailed:
            return None
        return put.etag, attempts + 1

    async def _process(self, name: str, etag: str, params: dict[str, str], claim: tuple[str, int]) -> None:
        fn, container = self.target.function, self.target.pattern.container
        receipt_etag, attempt = claim
        receipt = self.receipt_name(name, etag)
        try:
            got = await self.backend.get_blob(container, name)
            if (
                got is None or got[1].etag != etag
            ):  # deleted or replaced meanwhile: the next scan sees the new one
                await self.backend.delete_blob(RECEIPTS_CONTAINER, receipt, if_match=receipt_etag)
                return
            data, props = got
            metadata = blob_metadata(props, self.backend.blob_uri(container, name))
            binding_data: dict[str, Any] = {**params, **metadata}
            value = blob_value(data, metadata, self.target.as_type, self.target.data_type)
            reason = f"New blob detected(LogsAndContainerScan): {container}/{name}"
            try:
                await self.invoke(fn, TriggerData(value, binding_data, reason=reason))
                state = "done"
            except InvocationError:
                state = "pending"
            if state == "pending" and attempt >= self.config.max_dequeue_count:
                log.warning(
                    "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                    self.config.max_dequeue_count,
                    BLOB_POISON_QUEUE,
                )
                poison = {
                    "Type": "BlobTrigger",
                    "FunctionId": f"Host.Functions.{fn.name}",
                    "BlobType": "BlockBlob",
                    "ContainerName": container,
                    "BlobName": name,
                    "ETag": etag,
                }
                await self.backend.send_message(BLOB_POISON_QUEUE, json.dumps(poison))
                state = "poison"
            body = {"state": state, "attempts": attempt, "until": 0}
            await self.backend.put_blob(
                RECEIPTS_CONTAINER, receipt, json.dumps(body).encode(), if_match=receipt_etag
            )
        except PreconditionFailed:
            pass  # another host took over this blob version
        except StorageError as exc:
            log.error("Blob trigger '%s' on %s/%s: %s", fn.name, container, name, exc)
        finally:
            self._busy.discard(f"{name}|{etag}")
