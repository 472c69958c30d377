"""Chat models behind one protocol: the openai SDK, a scripted test seam, and cassette record/replay."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funchost_assistants.chat.base import ChatError, ChatModel, ChatReply, ChatRequest, UnavailableChatModel
from funchost_assistants.chat.openai import OpenAIChatModel, resolve_endpoint

if TYPE_CHECKING:
    from funchost.plugin import HostApi
    from funchost_assistants.chat.cassette import RecordingChatModel, ReplayChatModel
    from funchost_assistants.chat.scripted import ScriptedChatModel, echo

_LAZY = {
    "RecordingChatModel": "funchost_assistants.chat.cassette",
    "ReplayChatModel": "funchost_assistants.chat.cassette",
    "ScriptedChatModel": "funchost_assistants.chat.scripted",
    "echo": "funchost_assistants.chat.scripted",
}
"""Imported on first use: an app's start needs neither the cassettes nor the scripted model."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    "app_chat_model",
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
        from funchost_assistants.chat.cassette import ReplayChatModel

        return ReplayChatModel(replay)
    model: ChatModel = OpenAIChatModel(settings)
    if record is not None:
        from funchost_assistants.chat.cassette import RecordingChatModel

        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text("", encoding="utf-8")
        model = RecordingChatModel(model, record)
    return model


CHAT_SETTINGS = ("FUNCHOST_CHAT", "FUNCHOST_CHAT_RECORD", "FUNCHOST_CHAT_REPLAY")


def app_chat_model(host: HostApi) -> ChatModel:
    """The app's chat model as its settings name it, one per app and settings for the whole process (kept across
    reloads, shared by every plugin that talks to the model, so one cassette records them all)."""
    identity = "|".join(host.setting(name) or "" for name in CHAT_SETTINGS)
    return host.keep(f"assistants.chat|{identity}", lambda: _chat_from_settings(host.setting))


def _chat_from_settings(setting: Callable[[str], str | None]) -> ChatModel:
    mode = (setting("FUNCHOST_CHAT") or "").strip().lower()
    if mode in ("echo", "scripted"):
        from funchost_assistants.chat.scripted import ScriptedChatModel, echo

        if mode == "echo":  # an offline smoke test: the "model" repeats the user's message
            return ScriptedChatModel(default=echo, keep=0)  # nobody reads its requests: keep none
        return ScriptedChatModel()
    if mode not in ("", "openai"):
        raise ValueError(f"FUNCHOST_CHAT is '{mode}'; use openai (the default), echo or scripted.")
    record = setting("FUNCHOST_CHAT_RECORD")
    replay = setting("FUNCHOST_CHAT_REPLAY")
    return open_chat_model(
        setting, record=Path(record) if record else None, replay=Path(replay) if replay else None
    )
