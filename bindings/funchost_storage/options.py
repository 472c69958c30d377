"""The blob and queue bindings' properties."""

from __future__ import annotations

from typing import ClassVar

from funchost.plugin import BindingOptions


class BlobOptions(BindingOptions):
    """``blob`` input/output: ``path`` is ``container/name`` with binding expressions."""

    path: str
    connection: str | None = None
    access: str | None = None
    auto_resolve: ClassVar[frozenset[str]] = frozenset({"path"})


class BlobTriggerOptions(BindingOptions):
    """``blobTrigger``: ``path`` is ``container/pattern`` with ``{name}`` parameters."""

    path: str
    connection: str | None = None
    source: str | None = None
    access: str | None = None
    auto_resolve: ClassVar[frozenset[str]] = frozenset({"path"})


class QueueOptions(BindingOptions):
    """``queue`` output and ``queueTrigger``."""

    queue_name: str
    connection: str | None = None
    auto_resolve: ClassVar[frozenset[str]] = frozenset({"queueName"})
