"""What ``funchost(app, store=..., chat=..., cassette=...)`` means: the assistants plugin's test options."""

from __future__ import annotations

import os
from typing import Any

from funchost.plugin import TestSetup
from funchost_assistants import STORE_KINDS
from funchost_assistants.keys import CHAT, STORE

RECORD_ENV = "FUNCHOST_RECORD"
"""Set to 1 to record cassettes through the real model instead of replaying them."""
CHAT_FROM_SETTINGS = "settings"
"""``chat=`` value that leaves the chat model to the app's settings (no scripted stand-in)."""


def configure(setup: TestSetup, options: dict[str, Any]) -> None:
    """``store``: a kind (memory by default, sqlite in a fresh folder, tables per the settings) or a store
    object; ``chat``: a model object, None for a fresh ScriptedChatModel, or ``"settings"``; ``cassette``: a
    JSON-lines file to replay (recorded afresh through the real model when FUNCHOST_RECORD=1)."""
    _choose_store(setup, options.get("store", "memory"))
    _choose_chat(setup, options.get("chat"), options.get("cassette"))


def _choose_store(setup: TestSetup, store: Any) -> None:
    if not isinstance(store, str):
        setup.provide(STORE, store)
        return
    kind = store.strip().lower()
    if kind not in STORE_KINDS:
        raise ValueError(
            f"store={store!r} is not a store kind: use one of {', '.join(sorted(STORE_KINDS))}, or pass a store object."
        )
    setup.settings["FUNCHOST_STORE"] = kind
    if kind == "memory":
        from funchost_assistants.stores.memory import MemoryStore

        setup.provide(STORE, MemoryStore())
    elif kind == "sqlite":
        from funchost_assistants.stores.sqlite import SqliteStore

        setup.provide(STORE, SqliteStore(setup.tmp_dir() / "assistants.db"))


def _choose_chat(setup: TestSetup, chat: Any, cassette: str | os.PathLike[str] | None) -> None:
    if cassette is None:
        if isinstance(chat, str):
            if chat.strip().lower() != CHAT_FROM_SETTINGS:
                raise ValueError(
                    f"chat={chat!r} is not a chat choice: pass a chat model object, None for a "
                    f"ScriptedChatModel, or {CHAT_FROM_SETTINGS!r} for the model the app's settings name."
                )
            return  # no stand-in: the plugin opens the model from the settings
        if chat is None:
            from funchost_assistants.chat.scripted import ScriptedChatModel

            chat = ScriptedChatModel()
        setup.provide(CHAT, chat)
        return
    if chat is not None:
        raise ValueError("Pass either chat=... or cassette=..., not both.")
    path = setup.resolve(cassette)
    if setup.environ.get(RECORD_ENV, "").strip().lower() in ("1", "true", "yes"):
        path.unlink(missing_ok=True)
        setup.settings["FUNCHOST_CHAT_RECORD"] = str(
            path
        )  # the plugin opens the real model from the settings
        return
    from funchost_assistants.chat.cassette import ReplayChatModel

    if not path.is_file():
        raise FileNotFoundError(
            f"The cassette {path} does not exist: record it once with {RECORD_ENV}=1 (the app's settings "
            "must reach the real model), or fix the path."
        )
    setup.provide(CHAT, ReplayChatModel(path))
