"""Typed keys of what the assistants plugin offers tests and tools (``test_host[STORE]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from funchost.plugin import ServiceKey

if TYPE_CHECKING:
    from funchost_assistants.chat.base import ChatModel
    from funchost_assistants.service import AssistantService
    from funchost_assistants.stores.base import AssistantStore

STORE: ServiceKey[AssistantStore] = ServiceKey("store")
"""The assistant store the app uses."""
CHAT: ServiceKey[ChatModel] = ServiceKey("chat")
"""The chat model the app uses (a ScriptedChatModel in tests unless a cassette or the settings' model is used)."""
ASSISTANTS: ServiceKey[AssistantService] = ServiceKey("assistants")
"""The service behind the bindings."""
