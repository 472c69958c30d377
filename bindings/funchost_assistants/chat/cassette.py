"""Record chat and embeddings calls to a JSON-lines cassette and replay them offline.

A line is ``{"request": <wire body>, "response": ...}``; an embeddings request (it has ``input``, no
``messages``) keeps the service's response JSON as is."""

from __future__ import annotations

import difflib
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funchost_assistants.chat.base import ChatError, ChatModel, ChatReply, ChatRequest
from funchost_assistants.chat.openai import EmbeddingsRequest
from funchost_assistants.models import ToolCall

__all__ = ["RecordingChatModel", "ReplayChatModel", "reply_from_json", "reply_to_json"]

MAX_DIFF_LINES = 40


def reply_to_json(reply: ChatReply) -> dict[str, Any]:
    """The cassette form of a reply; tool calls in the OpenAI wire shape."""
    calls = [
        {
            "id": call.id,
            "type": call.kind.lower(),
            "function": {"name": call.function_name, "arguments": call.function_arguments},
        }
        for call in reply.tool_calls
    ]
    return {"content": reply.content, "tool_calls": calls, "total_tokens": reply.total_tokens}


def reply_from_json(data: Any) -> ChatReply:
    """Parse the cassette form of a reply; raises ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError('"response" is not an object')
    content = data.get("content", "")
    tokens = data.get("total_tokens", 0)
    if not isinstance(content, str):
        raise ValueError('"response.content" is not a string')
    if not isinstance(tokens, int):
        raise ValueError('"response.total_tokens" is not an integer')
    calls: list[ToolCall] = []
    for index, call in enumerate(data.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(function, dict):
            raise ValueError(f'"response.tool_calls[{index}]" is not {{"id", "type", "function": {{...}}}}')
        calls.append(
            ToolCall(
                id=str(call.get("id", "")),
                function_name=str(function.get("name", "")),
                function_arguments=str(function.get("arguments", "")),
                kind=str(call.get("type", "function")).capitalize(),
            )
        )
    return ChatReply(content=content, tool_calls=calls, total_tokens=tokens)


def is_embeddings(request: Any) -> bool:
    """Whether a recorded request body is an embeddings call."""
    return isinstance(request, dict) and "input" in request and "messages" not in request


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _pretty(body: Any) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, indent=2)


class RecordingChatModel:
    """Passes calls to ``inner`` and appends each request and reply to a cassette file."""

    name = "recording"

    def __init__(self, inner: ChatModel, path: Path) -> None:
        self.inner = inner
        self.path = Path(path)

    def describe(self) -> str:
        return f"{self.inner.describe()}, recording to {self.path}"

    async def complete(self, request: ChatRequest) -> ChatReply:
        reply = await self.inner.complete(request)
        self._append(request.wire(), reply_to_json(reply))
        return reply

    async def complete_raw(self, request: ChatRequest) -> tuple[ChatReply, dict[str, Any] | None]:
        """The reply and, when the inner model has it, the completion as the service sent it."""
        inner = getattr(self.inner, "complete_raw", None)
        if inner is None:
            return await self.complete(request), None
        reply, raw = await inner(request)
        self._append(request.wire(), reply_to_json(reply))
        return reply, raw

    async def embed(self, request: EmbeddingsRequest) -> dict[str, Any]:
        inner = getattr(self.inner, "embed", None)
        if inner is None:
            raise ChatError(f"{self.inner.describe()} has no embeddings; nothing to record.")
        body: dict[str, Any] = await inner(request)
        self._append(request.wire(), body)
        return body

    def _append(self, body: dict[str, Any], response: Any) -> None:
        line = json.dumps({"request": body, "response": response}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")
        except OSError as error:
            raise ChatError(
                f"Could not append to the cassette {self.path}: {error.strerror or error}; "
                "check that the folder is writable."
            ) from error

    async def close(self) -> None:
        await self.inner.close()


@dataclass(frozen=True)
class _Recorded:
    line: int
    pretty: str


class ReplayChatModel:
    """Answers from a cassette, no network: each request must match a recorded request body exactly."""

    name = "replay"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._replies: dict[str, deque[ChatReply]] = {}
        self._embeddings: dict[str, deque[dict[str, Any]]] = {}
        self._recorded: dict[str, _Recorded] = {}
        self._lines: dict[str, list[int]] = {}
        self._count = 0
        self._requests = 0
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ChatError(
                f"The cassette {self.path} does not exist: record it first (record=...) or fix the path."
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ChatError(f"The cassette {self.path} cannot be read: {error}.") from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
                if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
                    raise ValueError('not an object with a "request" object')
                if is_embeddings(entry["request"]):
                    if not isinstance(entry.get("response"), dict) or not isinstance(
                        entry["response"].get("data"), list
                    ):
                        raise ValueError('an embeddings "response" without a "data" list')
                    key = _canonical(entry["request"])
                    self._embeddings.setdefault(key, deque()).append(entry["response"])
                    self._recorded.setdefault(key, _Recorded(number, _pretty(entry["request"])))
                    self._lines.setdefault(key, []).append(number)
                    self._count += 1
                    continue
                reply = reply_from_json(entry.get("response"))
            except ValueError as error:
                raise ChatError(
                    f"The cassette {self.path} is invalid at line {number}: {error}. "
                    'Each line must be {"request": {...}, "response": {...}}; re-record the cassette.'
                ) from None
            key = _canonical(entry["request"])
            self._replies.setdefault(key, deque()).append(reply)
            self._recorded.setdefault(key, _Recorded(number, _pretty(entry["request"])))
            self._lines.setdefault(key, []).append(number)
            self._count += 1

    def describe(self) -> str:
        return f"replay of cassette {self.path} ({self._count} recorded replies, no network)"

    async def embed(self, request: EmbeddingsRequest) -> dict[str, Any]:
        """The recorded response to an identical embeddings request."""
        self._requests += 1
        body = request.wire()
        key = _canonical(body)
        queue = self._embeddings.get(key)
        if queue:
            return queue.popleft()
        if queue is not None:
            raise ChatError(
                f"Embeddings request #{self._requests} (model '{request.model}') matches the cassette {self.path} "
                f"(line {', '.join(str(n) for n in self._lines[key])}), but its recorded responses were already "
                "used. The app made more identical calls than when it was recorded; re-record the cassette."
            )
        raise ChatError(self._unmatched(request, body))

    async def complete(self, request: ChatRequest) -> ChatReply:
        self._requests += 1
        body = request.wire()
        key = _canonical(body)
        queue = self._replies.get(key)
        if queue:
            return queue.popleft()
        if queue is not None:
            lines = ", ".join(str(n) for n in self._lines[key])
            raise ChatError(
                f"Request #{self._requests} (model '{request.model}') matches the cassette {self.path} "
                f"(line {lines}), but its {len(self._lines[key])} recorded replies were already used. "
                "The app made more identical calls than when it was recorded; re-record the cassette."
            )
        raise ChatError(self._unmatched(request, body))

    def _unmatched(self, request: ChatRequest | EmbeddingsRequest, body: dict[str, Any]) -> str:
        head = f"No recorded reply in the cassette {self.path} for request #{self._requests}"
        head += f" (model '{request.model}')"
        advice = "Re-record the cassette, or change the app back so it sends the recorded request."
        if not self._recorded:
            return f"{head}: the cassette is empty. {advice}"
        actual = _pretty(body)
        closest = max(
            self._recorded.values(),
            key=lambda item: difflib.SequenceMatcher(None, item.pretty, actual).ratio(),
        )
        diff = list(
            difflib.unified_diff(
                closest.pretty.splitlines(),
                actual.splitlines(),
                fromfile=f"recorded (line {closest.line})",
                tofile="this request",
                lineterm="",
                n=2,
            )
        )
        if len(diff) > MAX_DIFF_LINES:
            diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
        return (
            f"{head}. The closest recorded request is on line {closest.line}:\n"
            + "\n".join(diff)
            + f"\n{advice}"
        )

    async def close(self) -> None:
        return None
