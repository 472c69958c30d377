"""The one protocol every chat model implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from funchost_assistants.models import ToolCall


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions call, in the OpenAI wire vocabulary."""

    model: str
    """Model name (OpenAI) or deployment name (Azure OpenAI)."""
    messages: list[dict[str, Any]]
    """OpenAI chat messages: ``{"role": "user", "content": ...}``, assistant ``tool_calls``, tool replies."""
    tools: list[dict[str, Any]] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    connection: str = ""
    """The binding's ``aiConnectionName`` (the settings section with Endpoint/Key)."""
    is_reasoning_model: bool = False

    def wire(self) -> dict[str, Any]:
        """The body as sent: no credentials; no max_tokens/temperature for reasoning models."""
        body: dict[str, Any] = {"model": self.model, "messages": self.messages}
        if self.tools:
            body["tools"] = self.tools
        if self.temperature is not None and not self.is_reasoning_model:
            body["temperature"] = self.temperature
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.max_tokens is not None and not self.is_reasoning_model:
            body["max_tokens"] = self.max_tokens
        return body


@dataclass(frozen=True)
class ChatReply:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    total_tokens: int = 0


class ChatError(Exception):
    """The model call failed; the message says what, where and what to do."""


class ChatModel(Protocol):
    name: str

    def describe(self) -> str:
        """What answers, for the banner (no secrets)."""
        ...

    async def complete(self, request: ChatRequest) -> ChatReply: ...

    async def close(self) -> None: ...


class UnavailableChatModel:
    """Stands in for a model that could not be set up (e.g. a missing cassette): every call fails with why."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self) -> str:
        return f"unavailable: {self.reason}"

    async def complete(self, request: ChatRequest) -> ChatReply:
        raise ChatError(self.reason)

    async def close(self) -> None:
        return None
