"""Wire shapes of the assistant bindings and the rows of the extension's table layout."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from funchost.dotnet import datetime_roundtrip, utf16_len

DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
DEFAULT_CONNECTION = "AzureWebJobsStorage"
DEFAULT_COLLECTION = "ChatState"
STATE_ROW_KEY = "state"

MAX_KEY_UNITS = 512
"""Azure Tables PartitionKey/RowKey: up to 1 KiB, i.e. 512 UTF-16 code units."""
MAX_STRING_UNITS = 32 * 1024
"""Azure Tables string property: up to 64 KiB, i.e. 32768 UTF-16 code units."""
MAX_ENTITY_BYTES = 1024 * 1024
"""Azure Tables entity: up to 1 MiB."""
MAX_USER_PROPERTIES = 252
"""Azure Tables entity: 255 properties including PartitionKey, RowKey and Timestamp."""
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

_FORBIDDEN_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f/\\#?]")
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_ROW_KEY = re.compile(r"msg-([0-9A-F]{4,})")


class InvalidRequest(ValueError):
    """A binding payload or value the assistant bindings refuse; the message says what to do."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    function_name: str
    function_arguments: str
    kind: str = "Function"


class ChatMessage(NamedTuple):
    """One ``msg-XXXX`` row (a NamedTuple: a long history builds tens of thousands of them per load)."""

    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: the field is the row number
    """1-based; RowKey is ``msg-`` + upper-case hex, 4 digits."""
    content: str
    role: str
    """PascalCase as stored: System, User, Assistant, Tool."""
    created_at: datetime
    """Timezone-aware UTC."""
    name: str | None = None
    """Tool rows only: the tool-call id."""
    tool_calls: str = ""
    """The stored ``ToolCalls`` text: camelCase JSON array, or "" when none."""

    @property
    def row_key(self) -> str:
        return f"msg-{self.index:04X}"


@dataclass(frozen=True)
class AssistantState:
    """The ``state`` row."""

    id: str
    exists: bool
    created_at: datetime
    last_updated_at: datetime
    total_messages: int
    total_tokens: int
    etag: str | None = field(default=None, compare=False)
    """The version of the row as loaded (Azure Tables ETag; a digest of the row on the other stores), so a
    write can require that the row is still the one it read. Not part of equality."""


@dataclass(frozen=True)
class CreateRequest:
    """One ``assistantCreate`` payload after defaults (``instructions`` None = no system message)."""

    id: str
    instructions: str | None
    chat_storage_connection_setting: str
    collection_name: str
    checked: bool = field(default=False, compare=False)
    """The instructions were already checked as a message row (by :func:`parse_create_request`)."""


# ---------------------------------------------------------------------------------------------- validation


def check_key(value: str, *, what: str) -> None:
    """Refuse a PartitionKey/RowKey value that Azure Tables would reject."""
    if value == "":
        raise InvalidRequest(f"{what} is empty: give a non-empty string.")
    units = utf16_len(value)
    if units > MAX_KEY_UNITS:
        raise InvalidRequest(
            f"{what} is {units} UTF-16 characters long; Azure Tables keys are limited to 1 KiB "
            f"({MAX_KEY_UNITS} UTF-16 characters): use a shorter value."
        )
    bad = _FORBIDDEN_KEY_CHARS.search(value)
    if bad:
        raise InvalidRequest(
            f"{what} contains the character U+{ord(bad.group()):04X} ({bad.group()!r}), which Azure Tables "
            "refuses in keys (/ \\ # ? and control characters U+0000-U+001F, U+007F-U+009F): remove it."
        )


def check_assistant_id(value: str, *, what: str = "assistant id") -> None:
    """Refuse an assistant id that cannot be a PartitionKey."""
    check_key(value, what=what)


def check_table_name(value: str, *, what: str = "collectionName") -> None:
    """Refuse a collection name that is not a valid Azure table name."""
    if not _TABLE_NAME.fullmatch(value):
        raise InvalidRequest(
            f"{what} {value!r} is not a valid Azure table name: use 3-63 letters and digits, "
            "starting with a letter (e.g. 'ChatState')."
        )
    if value.lower() == "tables":
        raise InvalidRequest(f"{what} {value!r} is reserved by Azure Tables: choose another name.")


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return 4 + 2 * utf16_len(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float | datetime):
        return 8
    if isinstance(value, bytes | bytearray):
        return 4 + len(value)
    return 8


def entity_size(entity: Mapping[str, Any]) -> int:
    """Estimated stored size in bytes, per the Azure Tables sizing rules."""
    keys = str(entity.get("PartitionKey", "")) + str(entity.get("RowKey", ""))
    size = 4 + 2 * utf16_len(keys)
    for name, value in entity.items():
        if name in ("PartitionKey", "RowKey") or value is None:
            continue
        size += 8 + 2 * utf16_len(name) + _value_size(value)
    return size


def check_entity_limits(entity: Mapping[str, Any], *, where: str = "entity") -> None:
    """Refuse an entity Azure Tables would reject: bad keys, a string over 64 KiB, over 1 MiB in all."""
    check_key(str(entity.get("PartitionKey", "")), what=f"{where}: PartitionKey (assistant id)")
    check_key(str(entity.get("RowKey", "")), what=f"{where}: RowKey")
    props = [n for n in entity if n not in ("PartitionKey", "RowKey")]
    if len(props) > MAX_USER_PROPERTIES:
        raise InvalidRequest(
            f"{where} has {len(props)} properties; Azure Tables allows {MAX_USER_PROPERTIES}: drop some."
        )
    # An upper bound of entity_size() from len() alone (a character is one or two UTF-16 units): the exact
    # size is only computed when the bound is over the limit (this runs on every message written).
    bound = 4 + 4 * (len(str(entity.get("PartitionKey", ""))) + len(str(entity.get("RowKey", ""))))
    for name in props:
        value = entity[name]
        if value is None:
            continue
        bound += 8 + 4 * len(name)
        if isinstance(value, str):
            if 2 * len(value) > MAX_STRING_UNITS and utf16_len(value) > MAX_STRING_UNITS:
                raise InvalidRequest(
                    f"{where}: property '{name}' is {utf16_len(value)} UTF-16 characters "
                    f"({2 * utf16_len(value)} bytes); Azure Tables limits a string property to 64 KiB "
                    f"({MAX_STRING_UNITS} UTF-16 characters): shorten it."
                )
            bound += 4 + 4 * len(value)
        elif isinstance(value, bytes | bytearray):
            bound += 4 + len(value)
        else:
            if isinstance(value, int) and not isinstance(value, bool) and not INT32_MIN <= value <= INT32_MAX:
                raise InvalidRequest(f"{where}: property '{name}' = {value} does not fit the Int32 column.")
            bound += 8
    if bound > MAX_ENTITY_BYTES:
        size = entity_size(entity)
        if size > MAX_ENTITY_BYTES:
            raise InvalidRequest(
                f"{where} is {size} bytes; Azure Tables limits an entity to 1 MiB ({MAX_ENTITY_BYTES} bytes): "
                "shorten its text."
            )


# ------------------------------------------------------------------------------------------ create request


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_CREATE_EXAMPLE = (
    '{"id": "assistant123", "instructions": "...", '
    '"chatStorageConnectionSetting": "AzureWebJobsStorage", "collectionName": "ChatState"}'
)


def parse_create_request(item: Any) -> CreateRequest:
    """Read one ``assistantCreate`` payload the way the extension does, refusing what storage cannot hold."""
    where = "assistantCreate request"
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except ValueError:
            raise InvalidRequest(
                f"{where} is not JSON ({item[:40]!r}): set the output to a JSON object string like "
                f"{_CREATE_EXAMPLE}."
            ) from None
    if not isinstance(item, dict):
        raise InvalidRequest(
            f"{where} is {_type_name(item)}, not a JSON object: set the output to a JSON object like "
            f"{_CREATE_EXAMPLE} (or a JSON array of such objects)."
        )
    fields: dict[str, Any] = {str(k).lower(): v for k, v in item.items()}

    if "id" not in fields or fields["id"] is None:
        raise InvalidRequest(f'{where} has no "id": add "id": "<assistant id>" to the JSON object.')
    assistant_id = fields["id"]
    if not isinstance(assistant_id, str):
        raise InvalidRequest(
            f'{where}: "id" is {_type_name(assistant_id)}; it must be a string: send "id": "<assistant id>".'
        )
    check_assistant_id(assistant_id, what=f'{where}: "id"')

    instructions: str | None = DEFAULT_INSTRUCTIONS
    if "instructions" in fields:
        raw = fields["instructions"]
        if raw is not None and not isinstance(raw, str):
            raise InvalidRequest(
                f'{where}: "instructions" is {_type_name(raw)}; it must be a string '
                "(or null for no system message)."
            )
        instructions = raw if raw is not None and raw.strip() else None

    connection = _optional_string(fields, "chatstorageconnectionsetting", DEFAULT_CONNECTION, where)
    if connection == "":
        raise InvalidRequest(
            f'{where}: "chatStorageConnectionSetting" is empty: give the name of an app setting '
            f'holding a storage connection string (default "{DEFAULT_CONNECTION}") or leave it out.'
        )
    collection = _optional_string(fields, "collectionname", DEFAULT_COLLECTION, where)
    check_table_name(collection, what=f'{where}: "collectionName"')

    if instructions is not None:
        now = datetime.now(UTC)
        check_entity_limits(
            message_entity(assistant_id, ChatMessage(1, instructions, "System", now)),
            where=f'{where}: "instructions"',
        )
    return CreateRequest(assistant_id, instructions, connection, collection, checked=True)


_ORIGINAL_KEYS = {
    "chatstorageconnectionsetting": "chatStorageConnectionSetting",
    "collectionname": "collectionName",
}


def _optional_string(fields: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = fields.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidRequest(
            f'{where}: "{_ORIGINAL_KEYS[key]}" is {_type_name(value)}; it must be a string '
            f'(default "{default}").'
        )
    return value


# ---------------------------------------------------------------------------------------------- tool calls

_STJ_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\\": "\\\\"}
_STJ_ALWAYS = set("\"&'+<>`")


def _stj_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _STJ_SHORT:
            out.append(_STJ_SHORT[ch])
        elif code < 0x20 or code >= 0x7F or ch in _STJ_ALWAYS:
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def tool_calls_to_text(calls: Sequence[ToolCall]) -> str:
    """The ``ToolCalls`` text: System.Text.Json camelCase array with default escaping; "" when empty."""
    if not calls:
        return ""
    items = (
        "{"
        f'"id":{_stj_string(c.id)},"functionName":{_stj_string(c.function_name)},'
        f'"functionArguments":{_stj_string(c.function_arguments)},"kind":{_stj_string(c.kind)}'
        "}"
        for c in calls
    )
    return "[" + ",".join(items) + "]"


def tool_calls_from_text(text: str) -> list[ToolCall]:
    """Parse a stored ``ToolCalls`` text ("" or a camelCase JSON array)."""
    if not text or not text.strip():
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"stored ToolCalls text is not JSON ({exc}): {text[:80]!r}") from None
    if not isinstance(data, list):
        raise ValueError(f"stored ToolCalls text is not a JSON array: {text[:80]!r}")
    calls: list[ToolCall] = []
    for raw in data:
        if not isinstance(raw, dict):
            raise ValueError(f"stored ToolCalls entry is not a JSON object: {raw!r}")
        item = {str(k).lower(): v for k, v in raw.items()}
        calls.append(
            ToolCall(
                id=str(item.get("id") or ""),
                function_name=str(item.get("functionname") or ""),
                function_arguments=str(item.get("functionarguments") or ""),
                kind=str(item.get("kind") or "Function"),
            )
        )
    return calls


# -------------------------------------------------------------------------------------------- .NET JSON


_NEWTONSOFT_EXTRA = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def newtonsoft_dumps(value: Any) -> str:
    """Compact JSON as Newtonsoft writes it by default (non-ASCII kept, U+0085/2028/2029 escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, escaped in _NEWTONSOFT_EXTRA.items():
        text = text.replace(ch, escaped)
    return text


_string = json.encoder.encode_basestring
"""A JSON string literal, non-ASCII kept (what json.dumps(ensure_ascii=False) writes for a str)."""


def _reserialized(tool_calls: str) -> str:
    if not tool_calls:
        return ""
    try:
        return tool_calls_to_text(tool_calls_from_text(tool_calls))
    except ValueError:
        return tool_calls


def assistant_state_json(
    assistant_id: str, state: AssistantState | None, messages: Sequence[ChatMessage]
) -> str:
    """The string an ``assistantPost``/``assistantQuery`` input hands to Python (§2.6, §2.7)."""
    head: dict[str, Any] = {
        "id": assistant_id,
        "exists": False if state is None else state.exists,
        "createdAt": datetime_roundtrip(None if state is None else state.created_at),
        "lastUpdatedAt": datetime_roundtrip(None if state is None else state.last_updated_at),
        "totalMessages": 0 if state is None else state.total_messages,
        "totalTokens": 0 if state is None else state.total_tokens,
    }
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    # Messages are written directly (a long history is tens of thousands of them): same JSON, no dicts.
    recent = ",".join(
        f'{{"content":{_string(m.content)},"role":{_string(m.role)},"toolCalls":{_string(_reserialized(m.tool_calls))}}}'
        for m in (messages if state is not None else ())
    )
    text = f'{text[:-1]},"recentMessages":[{recent}]}}'
    for ch, escaped in _NEWTONSOFT_EXTRA.items():
        text = text.replace(ch, escaped)
    return text


# ------------------------------------------------------------------------------------------------ entities


def message_entity(partition: str, m: ChatMessage) -> dict[str, Any]:
    """The ``ChatMessageTableEntity`` row of ``m`` (Name omitted when None)."""
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": m.row_key,
        "Content": m.content,
        "Role": m.role,
    }
    if m.name is not None:
        entity["Name"] = m.name
    entity["CreatedAt"] = _utc(m.created_at)
    entity["ToolCalls"] = m.tool_calls
    return entity


def state_entity(s: AssistantState) -> dict[str, Any]:
    """The ``AssistantStateEntity`` row of ``s``."""
    return {
        "PartitionKey": s.id,
        "RowKey": STATE_ROW_KEY,
        "Exists": s.exists,
        "CreatedAt": _utc(s.created_at),
        "LastUpdatedAt": _utc(s.last_updated_at),
        "TotalMessages": s.total_messages,
        "TotalTokens": s.total_tokens,
    }


def is_message_row(row_key: str) -> bool:
    """True for ``msg-XXXX`` RowKeys."""
    return _ROW_KEY.fullmatch(row_key) is not None


def message_from_entity(e: Mapping[str, Any]) -> ChatMessage:
    """Rebuild a message from its row (missing properties get the extension's defaults)."""
    row_key = str(e.get("RowKey", ""))
    match = _ROW_KEY.fullmatch(row_key)
    if match is None:
        raise ValueError(f"row {row_key!r} is not a message row (expected msg-XXXX)")
    name = e.get("Name")
    return ChatMessage(
        index=int(match.group(1), 16),
        content=_str(e.get("Content")),
        role=_str(e.get("Role")),
        created_at=_datetime(e.get("CreatedAt")),
        name=None if name is None else str(name),
        tool_calls=_str(e.get("ToolCalls")),
    )


def state_from_entity(e: Mapping[str, Any]) -> AssistantState:
    """Rebuild the state from its row (missing properties get the extension's defaults)."""
    return AssistantState(
        id=_str(e.get("PartitionKey")),
        exists=bool(_plain(e.get("Exists")) or False),
        created_at=_datetime(e.get("CreatedAt")),
        last_updated_at=_datetime(e.get("LastUpdatedAt")),
        total_messages=int(_plain(e.get("TotalMessages")) or 0),
        total_tokens=int(_plain(e.get("TotalTokens")) or 0),
    )


_MIN_UTC = datetime(1, 1, 1, tzinfo=UTC)


def _plain(value: Any) -> Any:
    """Unwrap SDK ``EntityProperty`` values (Int64 etc.)."""
    return getattr(value, "value", value)


def _str(value: Any) -> str:
    value = _plain(value)
    return "" if value is None else str(value)


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _datetime(value: Any) -> datetime:
    value = _plain(value)
    if value is None:
        return _MIN_UTC
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"expected a DateTime property, got {value!r}")
    value = _utc(value)
    # plain datetime (the SDK hands back a subclass carrying the service text)
    return datetime.combine(value.date(), value.time(), tzinfo=UTC)
