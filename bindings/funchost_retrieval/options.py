"""Binding properties of embeddings, embeddingsStore and semanticSearch, as the Python library emits them (§1)."""

from __future__ import annotations

from typing import ClassVar

from funchost.plugin import BindingOptions

__all__ = [
    "CSHARP_SYSTEM_PROMPT",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBEDDINGS_MODEL",
    "INPUT_TYPES",
    "EmbeddingsOptions",
    "EmbeddingsStoreOptions",
    "SemanticSearchOptions",
]

DEFAULT_EMBEDDINGS_MODEL = "text-embedding-ada-002"
DEFAULT_CHAT_MODEL = "gpt-3.5-turbo"
INPUT_TYPES = {"rawtext": "RawText", "filepath": "FilePath", "url": "Url"}
"""``inputType`` values the host accepts (enum names, any case) -> canonical name."""

CSHARP_SYSTEM_PROMPT = (
    "You are a helpful assistant. You are responding to requests from a user about internal emails and documents.\n"
    "You can and should refer to the internal documents to help respond to requests. If a user makes a request "
    "that's\nnot covered by the internal emails and documents, explain that you don't know the answer or that you "
    "don't have\naccess to the information.\n\nThe following is a list of documents that you can refer to when "
    "answering questions. The documents are in the format\n[filename]: [text] and are separated by newlines. If you "
    "answer a question by referencing any of the documents,\nplease cite the document in your answer. For example, "
    'if you answer a question by referencing info.txt,\nyou should add "Reference: info.txt" to the end of your '
    "answer on a separate line.\n"
)
"""The host's default, used only when the binding has no ``systemPrompt`` (Python always sends its own, §5.3)."""


class EmbeddingsOptions(BindingOptions):
    input: str
    input_type: str
    ai_connection_name: str = ""
    embeddings_model: str = DEFAULT_EMBEDDINGS_MODEL
    max_chunk_length: int = 8192
    max_overlap: int = 128
    model: str | None = None
    """Not a property of the extension (ignored there, with a warning here); some samples pass ``model=``."""

    auto_resolve: ClassVar[frozenset[str]] = frozenset({"input", "embeddingsModel"})


class EmbeddingsStoreOptions(EmbeddingsOptions):
    store_connection_name: str
    collection: str


class SemanticSearchOptions(BindingOptions):
    search_connection_name: str
    collection: str
    query: str | None = None
    ai_connection_name: str = ""
    embeddings_model: str = DEFAULT_EMBEDDINGS_MODEL
    chat_model: str = DEFAULT_CHAT_MODEL
    system_prompt: str = CSHARP_SYSTEM_PROMPT
    max_knowledge_count: int = 1
    temperature: str | None = "0.5"
    top_p: str | None = None
    max_tokens: str | None = "100"
    is_reasoning_model: bool = False
    model: str | None = None

    auto_resolve: ClassVar[frozenset[str]] = frozenset(
        {
            "searchConnectionName",
            "collection",
            "query",
            "embeddingsModel",
            "chatModel",
            "systemPrompt",
            "temperature",
            "topP",
            "maxTokens",
        }
    )
