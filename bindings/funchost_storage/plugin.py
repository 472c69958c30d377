"""The storage plugin object: backends per connection, listeners per function, host.json queue settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from funchost.dotnet import parse_timespan
from funchost.plugin import BindingError, BindingUnavailable, FunctionSpec, HostApi, Plugin, ServiceKey
from funchost_storage.backend import StorageBackend, StorageError, StorageUnavailable
from funchost_storage.bindings import (
    BlobInput,
    BlobOutput,
    BlobTrigger,
    QueueOutput,
    QueueTrigger,
    _queue_name,
)
from funchost_storage.connections import Connection, resolve, storage_mode
from funchost_storage.convert import PathPattern, annotation
from funchost_storage.embedded import EmbeddedStorage
from funchost_storage.listeners import BlobListener, BlobTarget, Listener, QueueListener, QueueTarget, Wakeups
from funchost_storage.queues import QueuesConfig

__all__ = ["BACKENDS", "StoragePlugin"]

DEFAULT_LEASE = 30.0
"""Seconds a received message stays hidden while its function runs (renewed every half); Azure uses 10 min."""


class Backends:
    """The backends of one app, by connection target, kept for the whole process (across reloads)."""

    def __init__(self) -> None:
        self.by_key: dict[str, StorageBackend] = {}

    async def close(self) -> None:
        for backend in self.by_key.values():
            with contextlib.suppress(Exception):
                await backend.close()
        self.by_key.clear()


BACKENDS: ServiceKey[Backends] = ServiceKey("storage.backends", Backends)


class StoragePlugin(Plugin):
    def __init__(self, host: HostApi) -> None:
        super().__init__("storage", host)
        self.bindings = [
            BlobInput(self),
            BlobOutput(self),
            BlobTrigger(self),
            QueueOutput(self),
            QueueTrigger(self),
        ]
        self.backends = host.keep("storage.backends", Backends)
        self.wakeups = host.keep("storage.wakeups", Wakeups)
        self.listeners: dict[str, Listener] = host.keep("storage.listeners", dict)
        """Every running listener of this process by function, whichever app version started it."""
        self.mine: dict[str, Listener] = {}
        self._config: QueuesConfig | None = None
        self.provide(BACKENDS, self.backends)

    # -- configuration ----------------------------------------------------------------------------------------

    def queues_config(self) -> QueuesConfig:
        if self._config is None:
            self._config = QueuesConfig.read(dict(self.host.extension("queues")))
        return self._config

    def check_connection(self, connection: str | None) -> Connection:
        return resolve(connection, self.host.setting)

    def lease(self) -> float:
        raw = self.host.setting("FUNCHOST_QUEUE_LEASE")
        if not raw:
            return DEFAULT_LEASE
        try:
            seconds = float(raw) if raw.replace(".", "", 1).isdigit() else parse_timespan(raw).total_seconds()
        except ValueError:
            raise BindingError(
                f"FUNCHOST_QUEUE_LEASE is '{raw}'; give seconds (30) or a TimeSpan (00:00:30)"
            ) from None
        return max(1.0, seconds)

    # -- backends ---------------------------------------------------------------------------------------------

    def _open(self, conn: Connection) -> StorageBackend:
        found = self.backends.by_key.get(conn.key)
        if found is None:
            if conn.kind == "embedded":
                found = EmbeddedStorage(self.host.script_root / ".funchost")
            else:
                from funchost_storage.azure_backend import AzureStorage  # the azure SDKs: ~0.3 s

                found = AzureStorage(
                    connection_string=conn.connection_string,
                    blob_uri=conn.blob_uri,
                    queue_uri=conn.queue_uri,
                    credential=_credential() if conn.connection_string is None else None,
                    setting=conn.name,
                )
            self.backends.by_key[conn.key] = found
        return found

    async def backend(self, connection: str | None) -> StorageBackend:
        """The backend of a binding's connection (BindingError naming the setting when it is missing)."""
        return self._open(resolve(connection, self.host.setting))

    @asynccontextmanager
    async def errors(self) -> AsyncIterator[None]:
        """Storage failures as binding failures: unreachable -> 503, others -> 500."""
        try:
            yield
        except StorageUnavailable as exc:
            raise BindingUnavailable(str(exc)) from None
        except StorageError as exc:
            raise BindingError(str(exc)) from None

    # -- listeners --------------------------------------------------------------------------------------------

    async def _replace(self, key: str, listener: Listener) -> None:
        """Stop the previous version's listener for this function before this one starts: never two at once."""
        old = self.listeners.pop(key, None)
        if old is not None:
            await old.stop()
        self.listeners[key] = self.mine[key] = listener
        listener.start()

    async def start_queue_listener(self, fn: FunctionSpec) -> None:
        options = self.host.binding_options(fn, fn.trigger.name)
        queue = _queue_name(str(getattr(options, "queue_name", "")))
        backend = await self.backend(getattr(options, "connection", None))
        target = QueueTarget(fn, queue, annotation(fn, fn.trigger.name))
        listener = QueueListener(
            target, backend, self.queues_config(), self.host.invoke, self.wakeups, self.lease()
        )
        await self._replace(f"{fn.name.lower()}", listener)

    async def start_blob_listener(self, fn: FunctionSpec) -> None:
        options = self.host.binding_options(fn, fn.trigger.name)
        backend = await self.backend(getattr(options, "connection", None))
        pattern = PathPattern(str(getattr(options, "path", "")))
        target = BlobTarget(fn, pattern, annotation(fn, fn.trigger.name), fn.trigger.data_type)
        listener = BlobListener(target, backend, self.queues_config(), self.host.invoke, self.wakeups)
        await self._replace(f"{fn.name.lower()}", listener)

    async def start(self) -> None:
        storage_mode(self.host.setting)  # a bad FUNCHOST_STORAGE fails each binding with the same message

    async def stop(self) -> None:
        """Stop this version's listeners (a reload's new version may have replaced some already)."""
        stopping = []
        for key, listener in self.mine.items():
            if self.listeners.get(key) is listener:
                del self.listeners[key]
            stopping.append(listener.stop())
        self.mine.clear()
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)

    async def close(self) -> None:
        await self.stop()
        for listener in list(self.listeners.values()):
            await listener.stop()
        self.listeners.clear()

    def describe(self) -> list[str]:
        used = {b.kind for fn in self.host.functions for b in fn.bindings} & {
            "blob",
            "blobtrigger",
            "queue",
            "queuetrigger",
        }
        if not used:
            return []
        lines = []
        for backend in self.backends.by_key.values():
            lines.append(f"Storage: {backend.describe()}")
        if not lines:
            mode, _ = storage_mode(self.host.setting)
            where = (
                self.host.script_root / ".funchost" / "storage.db" if mode == "embedded" else "Azure Storage"
            )
            lines.append(f"Storage: {mode} ({where})")
        return lines


def _credential() -> object:
    try:
        from azure.identity.aio import DefaultAzureCredential
    except ImportError:
        raise BindingError(
            'service-URI connections need azure-identity: pip install "funchost[azure]"'
        ) from None
    return DefaultAzureCredential()
