"""The blob and queue bindings' properties, and host.json ``extensions.queues``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from funchost.dotnet import parse_timespan
from funchost.plugin import BindingError, BindingOptions

DEFAULT_CONNECTION = "AzureWebJobsStorage"


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


@dataclass(frozen=True)
class QueuesConfig:
    """host.json ``extensions.queues`` with the extension's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: timedelta = timedelta(0)
    max_polling_interval: timedelta = timedelta(minutes=1)
    message_encoding: str = "base64"

    @classmethod
    def read(cls, section: Any) -> QueuesConfig:
        """Validate the section; BindingError names the property and the allowed values."""
        if not isinstance(section, dict):
            return cls()
        values = {k.lower(): v for k, v in section.items()}
        known = {
            "batchsize",
            "newbatchthreshold",
            "maxdequeuecount",
            "visibilitytimeout",
            "maxpollinginterval",
            "messageencoding",
        }
        for key in section:
            if key.lower() not in known:
                raise BindingError(
                    f"host.json extensions.queues has an unknown property '{key}'; known: batchSize, "
                    "newBatchThreshold, maxDequeueCount, visibilityTimeout, maxPollingInterval, messageEncoding"
                )

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = values.get(name.lower(), default)
            if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
                raise BindingError(
                    f"host.json extensions.queues.{name} is {raw!r}; it must be an integer from {low} to {high}"
                )
            return raw

        def span(name: str, default: timedelta, minimum: timedelta) -> timedelta:
            raw = values.get(name.lower())
            if raw is None:
                return default
            try:
                value = timedelta(milliseconds=raw) if isinstance(raw, int) else parse_timespan(str(raw))
            except (ValueError, TypeError):
                raise BindingError(
                    f"host.json extensions.queues.{name} is {raw!r}; write a TimeSpan such as '00:00:30'"
                ) from None
            if value < minimum:
                raise BindingError(f"host.json extensions.queues.{name} is {raw!r}; the minimum is {minimum}")
            return value

        batch = integer("batchSize", 16, 1, 32)
        encoding = str(values.get("messageencoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise BindingError(
                f"host.json extensions.queues.messageEncoding is {values.get('messageencoding')!r}; use "
                "'base64' (the default) or 'none'"
            )
        threshold_default = max(0, (os.cpu_count() or 1) * batch // 2)
        return cls(
            batch_size=batch,
            new_batch_threshold=integer("newBatchThreshold", threshold_default, 0, 100_000),
            max_dequeue_count=integer("maxDequeueCount", 5, 1, 100_000),
            visibility_timeout=span("visibilityTimeout", timedelta(0), timedelta(0)),
            max_polling_interval=span(
                "maxPollingInterval", timedelta(minutes=1), timedelta(milliseconds=100)
            ),
            message_encoding=encoding,
        )
