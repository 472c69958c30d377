"""A chat model that answers from a queue of scripted replies: the test seam for assistant apps."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from funchost_assistants.chat.base import ChatError, ChatReply, ChatRequest
from funchost_assistants.models import ToolCall

__all__ = ["KEEP_REQUESTS", "ScriptedChatModel", "echo"]

Arguments = Mapping[str, Any] | str
"""Tool-call arguments: a mapping (sent as JSON) or the raw JSON text."""
ToolCallSpec = ToolCall | tuple[str, Arguments] | tuple[str, Arguments, str]
"""A tool call to script: a ``ToolCall``, ``(name, args)`` or ``(name, args, id)``."""
Default = str | Callable[[ChatRequest], ChatReply | str]


def echo(request: ChatRequest) -> ChatReply:
    """A default reply that repeats the last user message."""
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return ChatReply(content=str(message.get("content") or ""))
    return ChatReply(content="")


def _summary(request: ChatRequest) -> str:
    last = request.messages[-1] if request.messages else {}
    text = str(last.get("content") or last.get("tool_calls") or "")
    if len(text) > 80:
        text = text[:77] + "..."
    return f"model '{request.model}', last message {last.get('role', '-')}: {text!r}"


KEEP_REQUESTS = 200
"""How many recent requests a scripted model records by default (a long-running host must not grow)."""


class ScriptedChatModel:
    """Answers each request with the next queued reply and records the most recent requests it was sent."""

    name = "scripted"

    def __init__(self, *, default: Default | None = None, keep: int = KEEP_REQUESTS) -> None:
        self._default = default
        self._queue: deque[ChatReply | ChatError] = deque()
        self._next_id = 0
        self._keep = max(0, keep)
        self.requests: list[ChatRequest] = []
        """The last ``keep`` requests sent (all of a typical test), oldest first, each as it was at the time
        of the call; older ones are dropped so that a long run (``FUNCHOST_CHAT=echo``) stays bounded."""
        self.request_count = 0
        """How many requests were sent in all."""

    @property
    def remaining(self) -> int:
        """Replies and failures still queued."""
        return len(self._queue)

    def describe(self) -> str:
        default = "" if self._default is None else ", then a default reply"
        return f"scripted chat model ({len(self._queue)} replies queued{default})"

    def reply(self, text: str = "", *, tokens: int = 0) -> ScriptedChatModel:
        """Queue a text reply."""
        self._queue.append(ChatReply(content=text, total_tokens=tokens))
        return self

    def tool_call(
        self, name: str, args: Arguments | None = None, id: str | None = None, *, tokens: int = 0
    ) -> ScriptedChatModel:
        """Queue a reply with one function tool call (id ``call_N`` unless given)."""
        arguments: Arguments = {} if args is None else args
        spec: ToolCallSpec = (name, arguments) if id is None else (name, arguments, id)
        return self.tool_calls([spec], tokens=tokens)

    def tool_calls(
        self, calls: Iterable[ToolCallSpec], *, content: str = "", tokens: int = 0
    ) -> ScriptedChatModel:
        """Queue one reply carrying several tool calls, in order."""
        made = [self._tool_call(spec) for spec in calls]
        if not made:
            raise ValueError("tool_calls() needs at least one call; use reply() for a text-only reply")
        self._queue.append(ChatReply(content=content, tool_calls=made, total_tokens=tokens))
        return self

    def fail(self, error: ChatError | int | str) -> ScriptedChatModel:
        """Queue a failure: a ChatError, an HTTP status code, or a message."""
        if isinstance(error, int):
            error = ChatError(
                f"The scripted chat model failed with HTTP {error} (queued with chat.fail({error}))."
            )
        elif isinstance(error, str):
            error = ChatError(error)
        self._queue.append(error)
        return self

    def reset(self) -> None:
        """Forget queued replies, recorded requests and the tool-call id counter."""
        self._queue.clear()
        self.requests.clear()
        self.request_count = 0
        self._next_id = 0

    def _tool_call(self, spec: ToolCallSpec) -> ToolCall:
        if isinstance(spec, ToolCall):
            return spec
        name, args = spec[0], spec[1]
        call_id = spec[2] if len(spec) == 3 else None
        text = args if isinstance(args, str) else json.dumps(dict(args))
        if call_id is None:
            self._next_id += 1
            call_id = f"call_{self._next_id}"
        return ToolCall(id=call_id, function_name=name, function_arguments=text)

    async def complete(self, request: ChatRequest) -> ChatReply:
        self.request_count += 1
        if self._keep:
            self.requests.append(
                dataclasses.replace(
                    request, messages=copy.deepcopy(request.messages), tools=copy.deepcopy(request.tools)
                )
            )
            if len(self.requests) > self._keep:
                del self.requests[0]
        if self._queue:
            item = self._queue.popleft()
            if isinstance(item, ChatError):
                raise item
            return item
        if self._default is not None:
            answer = self._default if isinstance(self._default, str) else self._default(request)
            return ChatReply(content=answer) if isinstance(answer, str) else answer
        raise ChatError(
            f"The scripted model has no reply queued for request #{self.request_count} "
            f"({_summary(request)}): queue one with chat.reply(...), chat.tool_call(...) or chat.fail(...) "
            "before the call, or create it with ScriptedChatModel(default=...)."
        )

    async def close(self) -> None:
        return None
