"""The Azure OpenAI assistant bindings as a funchost plugin: the manifest (cheap to import).

The plugin itself is :class:`funchost_assistants.plugin.AssistantsPlugin`; tests reach its services through the
typed keys in :mod:`funchost_assistants.keys`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from funchost.plugin import Command, PluginInfo, StartFlag

if TYPE_CHECKING:
    from funchost_assistants.chat.scripted import ScriptedChatModel as ScriptedChatModel
    from funchost_assistants.chat.scripted import echo as echo
    from funchost_assistants.keys import ASSISTANTS as ASSISTANTS
    from funchost_assistants.keys import CHAT as CHAT
    from funchost_assistants.keys import STORE as STORE
    from funchost_assistants.service import AssistantService as AssistantService
    from funchost_assistants.stores import Collection as Collection
    from funchost_assistants.stores import MemoryStore as MemoryStore
    from funchost_assistants.stores import SqliteStore as SqliteStore

__all__ = [
    "ASSISTANTS",
    "CHAT",
    "STORE",
    "STORE_KINDS",
    "AssistantService",
    "Collection",
    "MemoryStore",
    "ScriptedChatModel",
    "SqliteStore",
    "echo",
    "info",
]

_LAZY = {
    "ScriptedChatModel": "funchost_assistants.chat.scripted",
    "echo": "funchost_assistants.chat.scripted",
    "ASSISTANTS": "funchost_assistants.keys",
    "CHAT": "funchost_assistants.keys",
    "STORE": "funchost_assistants.keys",
    "AssistantService": "funchost_assistants.service",
    "Collection": "funchost_assistants.stores",
    "MemoryStore": "funchost_assistants.stores",
    "SqliteStore": "funchost_assistants.stores",
}


def __getattr__(name: str) -> Any:
    """The plugin's public classes, imported on first use (the manifest stays cheap for the CLI)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'funchost_assistants' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


STORE_KINDS = ("sqlite", "memory", "tables")

info = PluginInfo(
    name="assistants",
    factory="funchost_assistants.plugin:AssistantsPlugin",
    binding_types=(
        "assistantCreate",
        "assistantPost",
        "assistantQuery",
        "assistantSkillTrigger",
        "textCompletion",
    ),
    flags=(
        StartFlag(
            "--store",
            setting="FUNCHOST_STORE",
            help="assistant store (default: FUNCHOST_STORE, else sqlite)",
            choices=STORE_KINDS,
        ),
        StartFlag(
            "--chat-record",
            setting="FUNCHOST_CHAT_RECORD",
            help="record every model call to a cassette (JSON lines)",
            metavar="FILE",
            path=True,
        ),
        StartFlag(
            "--chat-replay",
            setting="FUNCHOST_CHAT_REPLAY",
            help="answer model calls from a cassette, offline",
            metavar="FILE",
            path=True,
        ),
    ),
    commands=(
        Command(
            "assistants", "list, show, export or delete stored assistants", "funchost_assistants.cli:main"
        ),
    ),
    testing="funchost_assistants.testing:configure",
    test_options=("store", "chat", "cassette"),
)
"""The manifest (entry point ``funchost.plugins: assistants``)."""
