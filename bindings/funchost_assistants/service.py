"""Create, query, post and text-completion logic of the assistant bindings, independent of the host."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import math
import re
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from funchost.dotnet import datetime_o, try_float, try_int
from funchost_assistants.chat.base import ChatError, ChatModel, ChatReply, ChatRequest
from funchost_assistants.models import (
    AssistantState,
    ChatMessage,
    CreateRequest,
    InvalidRequest,
    ToolCall,
    assistant_state_json,
    check_entity_limits,
    message_entity,
    newtonsoft_dumps,
    tool_calls_from_text,
    tool_calls_to_text,
)
from funchost_assistants.stores.base import AssistantStore, Collection

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "FAILED_TEXT",
    "FUNCTION_CALL_LIMIT",
    "SKIPPED_TEXT",
    "SUCCEEDED_TEXT",
    "AssistantService",
    "ChatOptions",
    "Coordination",
    "Skill",
    "coordination_for",
    "parse_timestamp",
    "tool_result_content",
]

DEFAULT_CHAT_MODEL = "gpt-3.5-turbo"
PYTHON_DEFAULT_MODEL_LITERAL = "DefaultChatModel"
FUNCTION_CALL_LIMIT = 50

SUCCEEDED_TEXT = "The function call succeeded. Let the user know that you completed the action."
FAILED_TEXT = "The function call failed. Let the user know and ask if they'd like you to try again"
SKIPPED_TEXT = (
    "The function call was skipped because this request reached the limit of "
    f"{FUNCTION_CALL_LIMIT} function-call messages. Let the user know and ask if they'd like you to continue."
)

_TIMESTAMP_HINT = (
    "Pass an ISO 8601 UTC timestamp such as '2024-05-06T20:40:48.4815820Z' (an offset like '+01:00' must be "
    "URL-encoded as '%2B01:00'); to page, pass the previous response's lastUpdatedAt."
)


@dataclass(frozen=True)
class ChatOptions:
    """Model options as the binding gives them: numbers are strings, parsed like .NET TryParse."""

    model: str = DEFAULT_CHAT_MODEL
    connection: str = ""
    temperature: str | None = "0.5"
    top_p: str | None = None
    max_tokens: str | None = "100"
    is_reasoning_model: bool = False

    def request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> ChatRequest:
        """The chat request (unparseable numbers dropped; a reasoning model gets no tokens/temperature)."""
        reasoning = self.is_reasoning_model
        return ChatRequest(
            model=self.model,
            messages=messages,
            tools=tools or None,
            temperature=None if reasoning else _finite(try_float(self.temperature)),
            top_p=_finite(try_float(self.top_p)),
            max_tokens=None if reasoning else try_int(self.max_tokens),
            connection=self.connection,
            is_reasoning_model=reasoning,
        )


@dataclass(frozen=True)
class Skill:
    """A function the model may call: the tool definition plus the host's handle to run it."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    target: Any = None

    def tool(self) -> dict[str, Any]:
        """The OpenAI tool definition."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


InvokeSkill = Callable[[Skill, str], Awaitable[Any]]


def _finite(value: float | None) -> float | None:
    """NaN and infinities parse as .NET does, but no model takes them (the extension would fail serializing the
    request): they are dropped like an unparseable value."""
    return value if value is not None and math.isfinite(value) else None


def _skill_result_json(value: Any) -> str:
    """A skill's return value as ``JsonConvert.SerializeObject`` writes it (bytes as base64)."""
    if isinstance(value, bytes | bytearray):
        value = base64.b64encode(bytes(value)).decode("ascii")
    try:
        return newtonsoft_dumps(value)
    except (TypeError, ValueError):
        return newtonsoft_dumps(str(value))


def tool_result_content(function_name: str, result: str) -> str:
    """The exact ``Content`` of a Tool row."""
    return f"Function Name: '{function_name}' and Function Result: '{result}'"


# --- timestamps -------------------------------------------------------------------------------------------

_ISO_RE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[Tt ]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{1,2}(?::?\d{2})?)?"
)
_US_RE = re.compile(
    r"(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"(?:\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?\s*(?P<ampm>[AaPp][Mm])?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{1,2}(?::?\d{2})?)?"
)


def _offset(tz: str | None) -> timezone:
    if not tz or tz in "Zz":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _from_match(m: re.Match[str]) -> datetime:
    hour = int(m["h"] or 0)
    ampm = (m.groupdict().get("ampm") or "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for AM/PM")
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    micro = int((m["f"] or "0")[:6].ljust(6, "0"))  # ticks beyond microseconds are truncated
    return datetime(
        int(m["y"]), int(m["mo"]), int(m["d"]), hour, int(m["mi"] or 0), int(m["s"] or 0), micro,
        tzinfo=_offset(m["tz"]),
    )  # fmt: skip


def parse_timestamp(raw: str) -> datetime:
    """The query binding's ``timestampUtc`` as an aware UTC datetime (URL-decoded once more; naive = UTC)."""
    text = urllib.parse.unquote(raw or "").strip()
    parsed: datetime | None = None
    for pattern in (_ISO_RE, _US_RE):
        match = pattern.fullmatch(text)
        if match:
            try:
                parsed = _from_match(match)
            except (ValueError, OverflowError):
                parsed = None
            break
    if parsed is None and text:
        try:
            parsed = email.utils.parsedate_to_datetime(text)  # RFC 1123, e.g. "Mon, 06 May 2024 20:40:48 GMT"
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        raise InvalidRequest(f"Invalid timestamp '{raw}'. {_TIMESTAMP_HINT}")
    if parsed.tzinfo is None:  # difference: .NET reads a naive value as host-local time
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidRequest(f"Invalid timestamp '{raw}' (out of range). {_TIMESTAMP_HINT}") from exc


# --- wire conversion --------------------------------------------------------------------------------------


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Stored rows as OpenAI chat messages (assistant rows with tool calls keep only the calls)."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        role = message.role.lower()
        if role in ("user", "system"):
            wire.append({"role": role, "content": message.content})
        elif role == "assistant":
            calls = tool_calls_from_text(message.tool_calls) if message.tool_calls else []
            if calls:
                wire.append({"role": "assistant", "tool_calls": [_wire_call(c) for c in calls]})
            else:
                wire.append({"role": "assistant", "content": message.content})
        elif role == "tool":
            wire.append({"role": "tool", "tool_call_id": message.name or "", "content": message.content})
        else:
            raise InvalidRequest(
                f"Unknown chat role '{message.role}' in stored message {message.row_key}. "
                "Roles must be System, User, Assistant or Tool; fix or delete that row."
            )
    return wire


def _wire_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.function_name, "arguments": call.function_arguments},
    }


def _check_message(assistant_id: str, message: ChatMessage, what: str) -> None:
    """Refuse a message row Azure Tables could not store (a property over 64 KiB, an entity over 1 MiB)."""
    check_entity_limits(message_entity(assistant_id, message), where=f"{what} of assistant '{assistant_id}'")


# --- the service ------------------------------------------------------------------------------------------


class _Clock:
    """UTC now, strictly increasing across calls so rows of one post never share a timestamp."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now


class Coordination:
    """What every version of the assistant service in one process must share, so a hot reload (old version
    draining while the new one serves) never lets two writers into one assistant: the per-assistant locks,
    the clock and the warn-once flags. Kept for the whole process (``host.keep``), never per host version."""

    def __init__(self) -> None:
        self.clock = _Clock()
        self.locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.warned: set[str] = set()

    def lock(self, where: Collection, assistant_id: str) -> asyncio.Lock:
        """The lock serializing writes to one assistant; dropped once nobody holds or waits on it."""
        key = (where.connection, where.table, assistant_id)
        lock = self.locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self.locks[key] = lock
        return lock

    def warn_once(self, what: str) -> bool:
        """True the first time ``what`` is asked about."""
        if what in self.warned:
            return False
        self.warned.add(what)
        return True


_by_store: weakref.WeakKeyDictionary[Any, Coordination] = weakref.WeakKeyDictionary()


def coordination_for(store: AssistantStore) -> Coordination:
    """The coordination of every service on ``store`` in this process (a store outlives host versions)."""
    try:
        return _by_store.setdefault(store, Coordination())
    except TypeError:  # a store object that cannot be weakly referenced: its own coordination
        return Coordination()


class AssistantService:
    """The assistant operations the bindings perform, against one store and one chat model."""

    def __init__(
        self,
        store: AssistantStore,
        chat: ChatModel,
        log: logging.Logger,
        coordination: Coordination | None = None,
    ) -> None:
        self.store = store
        self.chat = chat
        self.log = log
        self.shared = coordination or coordination_for(store)
        self._clock = self.shared.clock
        self._lock = self.shared.lock

    # create ------------------------------------------------------------------------------------------------

    async def create(self, where: Collection, request: CreateRequest) -> None:
        """Create (or wipe and re-create) an assistant, with a System message when instructions are given."""
        assistant_id = request.id
        instructions = request.instructions
        self.log.info(
            '[%s] Creating new chat session with instructions = "%s"', assistant_id, instructions or ""
        )
        async with self._lock(where, assistant_id):
            messages: list[ChatMessage] = []
            if instructions and instructions.strip():
                messages.append(ChatMessage(1, instructions, "System", self._clock.now()))
                if not request.checked:  # the binding's parse already refused what storage cannot hold
                    _check_message(assistant_id, messages[0], "the instructions")
            created = self._clock.now()
            state = AssistantState(assistant_id, True, created, self._clock.now(), len(messages), 0)
            await self.store.create(where, state, messages)
        self.log.info("Created assistant '%s'", assistant_id)

    # query -------------------------------------------------------------------------------------------------

    async def query(self, where: Collection, assistant_id: str, timestamp_utc: str) -> str:
        """The assistant's state and every message created after ``timestamp_utc``, as the binding's JSON."""
        after = parse_timestamp(timestamp_utc)
        self.log.info(
            "Reading state for assistant entity '%s' and getting chat messages after %s",
            assistant_id,
            datetime_o(after),
        )
        loaded = await self.store.load(where, assistant_id, after=after)
        if loaded is None:
            self.log.warning("No assistant exists with ID = '%s'", assistant_id)
            return assistant_state_json(assistant_id, None, [])
        state, messages = loaded
        return assistant_state_json(assistant_id, state, [m for m in messages if m.created_at > after])

    # post --------------------------------------------------------------------------------------------------

    def _model(self, options: ChatOptions) -> ChatOptions:
        if options.model != PYTHON_DEFAULT_MODEL_LITERAL:
            return options
        if self.shared.warn_once("default-model"):
            self.log.warning(
                "chatModel is the literal '%s' (the azure-functions decorator default); using '%s'. "
                "Pass chat_model= explicitly (a deployment name on Azure OpenAI): the real extension "
                "would send the literal and fail.",
                PYTHON_DEFAULT_MODEL_LITERAL,
                DEFAULT_CHAT_MODEL,
            )
        return ChatOptions(
            DEFAULT_CHAT_MODEL,
            options.connection,
            options.temperature,
            options.top_p,
            options.max_tokens,
            options.is_reasoning_model,
        )

    async def post(
        self,
        where: Collection,
        assistant_id: str,
        user_message: str,
        options: ChatOptions,
        skills: Sequence[Skill],
        invoke_skill: InvokeSkill,
    ) -> str:
        """Send a user message, run the tool loop, persist everything at once; the new Assistant messages."""
        if not assistant_id:
            raise InvalidRequest(
                "The assistant ID must be specified. Set the assistantPost binding's 'id' to a non-empty "
                "value (e.g. '{assistantId}' from the route)."
            )
        if not user_message:
            raise InvalidRequest(
                "The assistant must have a user message. Set the assistantPost binding's 'userMessage' to a "
                "non-empty value (e.g. '{Query.message}') and send that value with the request."
            )
        _check_message(
            assistant_id, ChatMessage(1, user_message, "User", datetime.now(UTC)), "the user message"
        )
        options = self._model(options)
        async with self._lock(where, assistant_id):
            loaded = await self.store.load(where, assistant_id)
            if loaded is None or not loaded[0].exists:
                self.log.info("[%s] Ignoring request sent to nonexistent assistant.", assistant_id)
                return assistant_state_json(assistant_id, None, [])
            state, history = loaded
            try:
                return await self._post_loaded(
                    where, state, history, user_message, options, skills, invoke_skill
                )
            except ChatError as exc:
                raise ChatError(
                    f"Posting to assistant '{assistant_id}' failed: {exc} Nothing was saved for this post "
                    "(not even the user message); send it again once the model is reachable."
                ) from exc
            except Exception as exc:
                exc.add_note(
                    f"Posting to assistant '{assistant_id}' failed; nothing was saved for this post "
                    "(not even the user message)."
                )
                raise

    async def _post_loaded(
        self,
        where: Collection,
        state: AssistantState,
        history: list[ChatMessage],
        user_message: str,
        options: ChatOptions,
        skills: Sequence[Skill],
        invoke_skill: InvokeSkill,
    ) -> str:
        assistant_id = state.id
        next_index = max([state.total_messages, *(m.index for m in history)]) + 1
        pending: list[ChatMessage] = []

        def add(content: str, role: str, name: str | None = None, tool_calls: str = "") -> None:
            nonlocal next_index
            pending.append(ChatMessage(next_index, content, role, self._clock.now(), name, tool_calls))
            next_index += 1

        add(user_message, "User")
        tools = [skill.tool() for skill in skills] or None
        by_name: dict[str, Skill] = {}
        for skill in skills:
            by_name.setdefault(skill.name.casefold(), skill)
        total_tokens = state.total_tokens
        while True:
            reply: ChatReply = await self.chat.complete(
                options.request(to_openai_messages(history + pending), tools)
            )
            calls = list(reply.tool_calls)
            if reply.content.strip() or calls:
                add(reply.content, "Assistant", tool_calls=tool_calls_to_text(calls) if calls else "")
            total_tokens = reply.total_tokens
            if not calls:
                break
            if len(pending) > FUNCTION_CALL_LIMIT:
                self.log.warning(
                    "[%s] Ignoring %d function call(s) in response due to exceeding the limit of %d.",
                    assistant_id,
                    len(calls),
                    FUNCTION_CALL_LIMIT,
                )
                # Difference: the extension leaves these calls unanswered, so the next post gets a 400.
                for call in calls:
                    add(tool_result_content(call.function_name, SKIPPED_TEXT), "Tool", name=call.id)
                break
            for call in calls:
                result = await self._run_skill(assistant_id, call, by_name, invoke_skill)
                add(tool_result_content(call.function_name, result), "Tool", name=call.id)
        for message in pending[1:]:
            _check_message(assistant_id, message, f"{message.role} message {message.row_key}")
        new_state = AssistantState(
            assistant_id,
            True,
            state.created_at,
            self._clock.now(),
            len(history) + len(pending),
            total_tokens,
        )
        await self.store.append(where, new_state, pending, if_match=state.etag)
        return assistant_state_json(assistant_id, new_state, [m for m in pending if m.role == "Assistant"])

    async def _run_skill(
        self, assistant_id: str, call: ToolCall, by_name: dict[str, Skill], invoke_skill: InvokeSkill
    ) -> str:
        """The function result text for one tool call (the failed text on any error)."""
        skill = by_name.get(call.function_name.casefold())
        if skill is None:
            self.log.warning(
                "[%s] The model called '%s', but no skill is registered with that name; "
                "reporting the call as failed.",
                assistant_id,
                call.function_name,
            )
            return FAILED_TEXT
        arguments = call.function_arguments or ""
        if arguments.strip():
            try:
                parsed = json.loads(arguments)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                self.log.warning(
                    "[%s] The model called '%s' with arguments that are not a JSON object (%r); "
                    "reporting the call as failed.",
                    assistant_id,
                    call.function_name,
                    arguments[:200],
                )
                return FAILED_TEXT
        self.log.info("[%s] Calling skill '%s' (call id %s).", assistant_id, skill.name, call.id)
        try:
            value = await invoke_skill(skill, arguments)
        except Exception as exc:
            self.log.warning(
                "[%s] Skill '%s' failed: %s: %s; reporting the call as failed.",
                assistant_id,
                skill.name,
                type(exc).__name__,
                exc,
            )
            return FAILED_TEXT
        if value is None or (isinstance(value, str) and not value.strip()):
            return SUCCEEDED_TEXT
        return _skill_result_json(value)

    # text completion ---------------------------------------------------------------------------------------

    async def complete_text(self, prompt: str, options: ChatOptions) -> str:
        """One user message to the model; ``{"content": ..., "totalTokens": ...}``."""
        if not prompt:
            raise InvalidRequest(
                "The text completion prompt is empty. Set the textCompletion binding's 'prompt' to a "
                "non-empty value (e.g. '{prompt}' from the request body) and send that value."
            )
        options = self._model(options)
        reply = await self.chat.complete(options.request([{"role": "user", "content": prompt}], None))
        return newtonsoft_dumps({"content": reply.content, "totalTokens": reply.total_tokens})
