"""Binding properties of the assistant bindings, as the Python library emits them (reference §9)."""

from __future__ import annotations

from typing import ClassVar

from funchost.registry import BindingOptions


class AssistantCreateOptions(BindingOptions):
    """assistantCreate has no properties: everything comes from the payload."""


class ChatModelOptions(BindingOptions):
    ai_connection_name: str = ""
    chat_model: str | None = None
    temperature: str | None = "0.5"
    top_p: str | None = None
    max_tokens: str | None = "100"
    is_reasoning_model: bool = False


class AssistantPostOptions(ChatModelOptions):
    id: str
    user_message: str
    chat_storage_connection_setting: str | None = None
    collection_name: str = "ChatState"

    auto_resolve: ClassVar[frozenset[str]] = frozenset(
        {"id", "userMessage", "collectionName", "chatModel", "temperature", "topP", "maxTokens"}
    )


class AssistantQueryOptions(BindingOptions):
    id: str
    timestamp_utc: str = ""
    chat_storage_connection_setting: str | None = None
    collection_name: str = "ChatState"

    auto_resolve: ClassVar[frozenset[str]] = frozenset({"id", "timestampUtc", "collectionName"})


class AssistantSkillTriggerOptions(BindingOptions):
    function_description: str
    function_name: str | None = None
    parameter_description_json: str | None = None

    auto_resolve: ClassVar[frozenset[str]] = frozenset({"functionName"})


class TextCompletionOptions(ChatModelOptions):
    prompt: str

    auto_resolve: ClassVar[frozenset[str]] = frozenset(
        {"prompt", "chatModel", "temperature", "topP", "maxTokens"}
    )
