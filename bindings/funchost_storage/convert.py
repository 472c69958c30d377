"""The values a Python function receives, built as the worker builds them (the library's own converters)."""

from __future__ import annotations

import inspect
import json
import re
from datetime import datetime
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.blob import BlobConverter
from azure.functions.queue import QueueMessageInConverter

from funchost.dotnet import datetime_o
from funchost.plugin import FunctionSpec
from funchost_storage.backend import BlobProperties, StoredMessage

_PARAM = re.compile(r"\{([^{}]+)\}")


def _text(value: str | None) -> meta.Datum:
    return meta.Datum(value, "string")


def queue_metadata(message: StoredMessage) -> dict[str, Any]:
    """The trigger metadata (binding data) the host sends with a queue message."""
    return {
        "Id": message.id,
        "DequeueCount": message.dequeue_count,
        "InsertionTime": datetime_o(message.insertion_time),
        "ExpirationTime": datetime_o(message.expiration_time),
        "NextVisibleTime": datetime_o(message.next_visible_time),
        "PopReceipt": message.pop_receipt,
    }


def queue_message(body: bytes, metadata: dict[str, Any], as_type: type | None) -> Any:
    """``func.QueueMessage`` as the worker decodes it (or str/bytes for such annotations)."""
    if as_type is bytes:
        return body
    text = body.decode("utf-8", errors="replace")
    if as_type is str:
        return text
    datums = {
        k: meta.Datum(v, "int") if isinstance(v, int) else _text(None if v is None else str(v))
        for k, v in metadata.items()
    }
    return QueueMessageInConverter.decode(_text(text), trigger_metadata=datums)


def blob_metadata(props: BlobProperties, uri: str) -> dict[str, Any]:
    """The trigger metadata the host sends with a blob (``BlobTrigger`` is ``container/name``)."""
    return {
        "BlobTrigger": f"{props.container}/{props.name}",
        "Uri": uri,
        "Properties": {
            "Length": props.length,
            "ContentType": props.content_type,
            "ETag": props.etag,
            "LastModified": datetime_o(props.last_modified),
        },
        "Metadata": {},
    }


def blob_value(
    data: bytes, metadata: dict[str, Any] | None, as_type: type | None, data_type: str | None
) -> Any:
    """A blob as the function's parameter: str, bytes or ``func.InputStream`` (as the worker decodes it)."""
    if data_type == "binary" or as_type is bytes:
        return data
    if data_type == "string" or as_type is str:
        return data.decode("utf-8", errors="replace")
    if not metadata:
        return BlobConverter.decode(meta.Datum(data, "bytes"), trigger_metadata=None)
    datums = {
        "BlobTrigger": _text(metadata["BlobTrigger"]),
        "Uri": _text(metadata["Uri"]),
        "Properties": meta.Datum(json.dumps(metadata["Properties"]), "json"),
    }
    return BlobConverter.decode(meta.Datum(data, "bytes"), trigger_metadata=datums)


def blob_bytes(item: Any) -> bytes:
    """What a function set on a blob output, as bytes; TypeError for other types."""
    if callable(getattr(item, "read", None)):
        item = item.read()
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    raise TypeError(type(item).__name__)


def annotation(function: FunctionSpec, parameter: str) -> type | None:
    """The plain type a parameter is annotated with (``Out[T]`` gives T), or None."""
    if function.func is None:
        return None
    try:
        hints = inspect.signature(function.func).parameters
    except (TypeError, ValueError):
        return None
    param = hints.get(parameter)
    if param is None or param.annotation is inspect.Parameter.empty:
        return None
    hint = param.annotation
    if isinstance(hint, str):
        return {"str": str, "bytes": bytes}.get(hint.removeprefix("func.").strip())
    args = getattr(hint, "__args__", None)
    if getattr(hint, "__origin__", None) is func.Out and args:
        hint = args[0]
    return hint if isinstance(hint, type) else None


class PathPattern:
    """A blob trigger's ``container/pattern`` path: which blobs match, and the names they bind."""

    def __init__(self, path: str) -> None:
        container, sep, pattern = path.strip().lstrip("/").partition("/")
        self.path = path
        self.container = container
        self.pattern = pattern if sep else ""
        self.prefix = self.pattern.split("{", 1)[0]
        self.names = _PARAM.findall(self.pattern)
        regex, pos = "", 0
        for m in _PARAM.finditer(self.pattern):
            regex += re.escape(self.pattern[pos : m.start()]) + f"(?P<p{len(regex)}>.+)"
            pos = m.end()
        regex += re.escape(self.pattern[pos:])
        self._groups = [g for g in re.compile(regex).groupindex] if self.names else []
        self._regex = re.compile(regex if self.pattern else ".+", re.DOTALL)

    def match(self, name: str) -> dict[str, str] | None:
        """The parameters a blob name binds, or None when it does not match."""
        m = self._regex.fullmatch(name)
        if m is None:
            return None
        return {key: m.group(group) for key, group in zip(self.names, self._groups, strict=True)}


def iso(value: datetime) -> str:
    return datetime_o(value)
