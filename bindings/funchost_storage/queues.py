"""Queues as stored: host.json ``extensions.queues`` and the message encoding (no azure.functions, no pydantic:
the ``storage`` command imports this)."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from funchost.dotnet import parse_timespan
from funchost.plugin import BindingError
from funchost_storage.names import MAX_MESSAGE_BYTES


def decode_message(text: str, encoding: str) -> bytes:
    """A stored message's body; ValueError when base64 is expected and the text is not base64."""
    if encoding == "base64":
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError(
                "the message is not valid base64 (host.json messageEncoding is 'base64')"
            ) from None
    return text.encode("utf-8")


def encode_message(body: bytes, encoding: str) -> str:
    """A message body as stored; ValueError when it is over the 64 KiB limit."""
    text = base64.b64encode(body).decode("ascii") if encoding == "base64" else body.decode("utf-8")
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        extra = " after base64 encoding (host.json messageEncoding)" if encoding == "base64" else ""
        raise ValueError(
            f"the message is {size:,} bytes{extra}; Azure Storage queues accept at most {MAX_MESSAGE_BYTES:,} "
            "(64 KiB). Store large payloads in a blob and send its name instead"
        )
    return text


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
