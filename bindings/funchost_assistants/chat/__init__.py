"""Chat models behind one protocol: the openai SDK, a scripted test seam, and cassette record/replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from funchost_assistants.chat.base import ChatError, ChatModel, ChatReply, ChatRequest, UnavailableChatModel
from funchost_assistants.chat.cassette import RecordingChatModel, ReplayChatModel
from funchost_assistants.chat.openai import OpenAIChatModel, resolve_endpoint
from funchost_assistants.chat.scripted import ScriptedChatModel, echo

__all__ = [
    "ChatError",
    "ChatModel",
    "ChatReply",
    "ChatRequest",
    "OpenAIChatModel",
    "RecordingChatModel",
    "ReplayChatModel",
    "ScriptedChatModel",
    "UnavailableChatModel",
    "echo",
    "open_chat_model",
    "resolve_endpoint",
]


def open_chat_model(
    settings: Callable[[str], str | None], *, record: Path | None = None, replay: Path | None = None
) -> ChatModel:
    """The chat model for an app: a cassette replay if given, else the openai SDK (recorded if asked).

    Recording starts the cassette afresh, so a replay answers exactly what this run saw.
    """
    if replay is not None:
        return ReplayChatModel(replay)
    model: ChatModel = OpenAIChatModel(settings)
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text("", encoding="utf-8")
        model = RecordingChatModel(model, record)
    return model
