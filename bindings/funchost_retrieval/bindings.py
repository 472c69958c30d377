"""embeddings (input), embeddingsStore (output) and semanticSearch (input) as host bindings."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from funchost.dotnet import try_float, try_int
from funchost.plugin import BindingError, CallContext, FunctionSpec, InputBinding, OutputBinding
from funchost.plugin import BindingSpec as Spec
from funchost_assistants.chat.base import ChatError, ChatRequest
from funchost_assistants.chat.openai import EmbeddingsRequest
from funchost_retrieval.chunking import ChunkingError, check_chunking, chunk_text
from funchost_retrieval.embedder import extension_response, vectors_of
from funchost_retrieval.inputs import InputError
from funchost_retrieval.options import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBEDDINGS_MODEL,
    INPUT_TYPES,
    EmbeddingsOptions,
    EmbeddingsStoreOptions,
    SemanticSearchOptions,
)
from funchost_retrieval.prompt import search_context, synthesized_completion, system_message
from funchost_retrieval.stores.base import Chunk, Matrix, VectorStoreError

if TYPE_CHECKING:
    from funchost_retrieval.plugin import RetrievalPlugin

__all__ = ["Embeddings", "EmbeddingsStore", "SemanticSearch"]

ENUM_DEFAULTS = {"defaultembeddingsmodel": DEFAULT_EMBEDDINGS_MODEL, "defaultchatmodel": DEFAULT_CHAT_MODEL}
"""The Python library sends these enum names when a model is left at its default (§1.3 M1)."""


@contextmanager
def _errors(what: str = "") -> Iterator[None]:
    """Input, chunking, model and store failures as the host's binding errors."""
    try:
        yield
    except (InputError, ChunkingError, VectorStoreError) as exc:
        raise BindingError(f"{what}{exc}") from None
    except ChatError as exc:
        raise BindingError(f"{what or 'the model call failed: '}{exc}") from None


@dataclass(frozen=True)
class Embedded:
    chunks: list[str]
    vectors: list[Matrix]
    response: dict[str, Any]


def _check_common(plugin: RetrievalPlugin, function: FunctionSpec, binding: Spec, options: Any) -> None:
    if options.model is not None:
        plugin.host.log.warning(
            "Function '%s', binding '%s': property 'model' is not a property of the %s binding; the extension "
            "ignores it and uses embeddingsModel ('%s'). Pass embeddings_model=... to choose the model.",
            function.name,
            binding.name,
            binding.type,
            options.embeddings_model,
        )


def _check_input(options: EmbeddingsOptions) -> None:
    if options.input_type.lower() not in INPUT_TYPES:
        raise BindingError(f"property 'inputType' is '{options.input_type}'; use rawText, filePath or url.")
    try:
        check_chunking(options.max_chunk_length, options.max_overlap)
    except ChunkingError as exc:
        raise BindingError(f"property 'maxOverlap'/'maxChunkLength': {exc}") from None


class _Bound:
    def __init__(self, plugin: RetrievalPlugin) -> None:
        self.plugin = plugin

    def model_name(self, value: str, kind: str) -> str:
        mapped = ENUM_DEFAULTS.get(value.strip().lower())
        if mapped is None:
            return value
        self.plugin.warn_once(
            f"default-{value.lower()}",
            "The binding's %s is the Python library's enum name '%s' (the model was left at its default); "
            "the extension would send it as the deployment name. funchost uses '%s'; set %s to choose.",
            kind,
            value,
            mapped,
            "embeddings_model" if "mbed" in kind else "chat_model",
        )
        return mapped

    async def embed_input(self, options: EmbeddingsOptions) -> Embedded:
        """Read, chunk and embed a binding's input (§3)."""
        if not options.input:
            raise BindingError(
                "Input cannot be null or empty (property 'input' resolved to an empty string)."
            )
        kind = INPUT_TYPES[options.input_type.lower()]
        with _errors():
            check_chunking(options.max_chunk_length, options.max_overlap)
            text = await self.plugin.inputs.read(kind, options.input)
        chunks = chunk_text(text, options.max_chunk_length, options.max_overlap)
        if not chunks:
            where = {"RawText": "the text", "FilePath": "the file", "Url": "the Url's content"}[kind]
            raise BindingError(f"{where} is empty or only whitespace: there is nothing to embed.")
        request = EmbeddingsRequest(
            self.model_name(options.embeddings_model, "embeddingsModel"), chunks, options.ai_connection_name
        )
        with _errors("the embeddings call failed: "):
            response = await self.plugin.embedder.embed(request)
            vectors = vectors_of(response, len(chunks))
        return Embedded(chunks, vectors, response)


class Embeddings(_Bound, InputBinding[EmbeddingsOptions]):
    type = "embeddings"
    options = EmbeddingsOptions

    def check(self, function: FunctionSpec, binding: Spec, options: EmbeddingsOptions) -> None:
        _check_input(options)
        _check_common(self.plugin, function, binding, options)

    async def read(self, options: EmbeddingsOptions, call: CallContext) -> str:
        embedded = await self.embed_input(options)
        body = {
            "request": embedded.chunks,
            "response": extension_response(embedded.response, embedded.vectors),
            "count": len(embedded.vectors),
        }
        return json.dumps(body, separators=(",", ":"))


class EmbeddingsStore(_Bound, OutputBinding[EmbeddingsStoreOptions]):
    type = "embeddingsStore"
    options = EmbeddingsStoreOptions

    def check(self, function: FunctionSpec, binding: Spec, options: EmbeddingsStoreOptions) -> None:
        _check_input(options)
        _check_common(self.plugin, function, binding, options)
        for prop in ("store_connection_name", "collection"):
            value = getattr(options, prop)
            if "{" in value or "%" in value:
                self.plugin.host.log.warning(
                    "Function '%s', binding '%s': the extension does not resolve expressions in embeddingsStore's "
                    "'%s'; '%s' is used literally (as on Azure).",
                    function.name,
                    binding.name,
                    "storeConnectionName" if prop == "store_connection_name" else "collection",
                    value,
                )

    def parse(self, item: Any, options: EmbeddingsStoreOptions, call: CallContext) -> str:
        """The document's title from what the function set: ``{"title": "..."}`` (case-sensitive key)."""
        if isinstance(item, str | bytes):
            try:
                item = json.loads(item)
            except ValueError as exc:
                raise BindingError(
                    f'the value set is not JSON ({exc}); set json.dumps({{"title": "..."}}). Nothing was stored.'
                ) from None
        if item is None:
            raise BindingError(
                'Invalid search request: the value set is null; set {"title": "..."}. Nothing was stored.'
            )
        if not isinstance(item, dict):
            raise BindingError(
                f'the value set is a JSON {type(item).__name__}, not an object; set {{"title": "..."}}. '
                "Nothing was stored."
            )
        title = item.get("title")
        if title is not None and not isinstance(title, str):
            raise BindingError(
                f"'title' is a JSON {type(title).__name__}; it must be a string. Nothing was stored."
            )
        return title or ""

    async def write(self, items: Sequence[str], options: EmbeddingsStoreOptions, call: CallContext) -> None:
        if not items:
            return
        self.plugin.require_provider()
        if not options.store_connection_name:
            raise BindingError(
                "No connection string information was provided (property 'storeConnectionName')."
            )
        if not options.collection:
            raise BindingError("No collection name information was provided (property 'collection').")
        embedded = await self.embed_input(options)  # read once: every element gets the same chunks (Q15)
        now = datetime.now(UTC)
        records = [
            Chunk(uuid.uuid4().hex, text, title, vector, now)
            for title in items
            for text, vector in zip(embedded.chunks, embedded.vectors, strict=True)
        ]
        store = self.plugin.store
        with _errors(f"nothing was stored in collection '{options.collection}': "):
            await asyncio.to_thread(
                store.add, options.collection, records, dimensions=self.plugin.provider.dimensions
            )


class SemanticSearch(_Bound, InputBinding[SemanticSearchOptions]):
    type = "semanticSearch"
    options = SemanticSearchOptions

    def check(self, function: FunctionSpec, binding: Spec, options: SemanticSearchOptions) -> None:
        _check_common(self.plugin, function, binding, options)

    async def read(self, options: SemanticSearchOptions, call: CallContext) -> str:
        self.plugin.require_provider()
        if not options.query:
            raise BindingError(
                "The query must be specified (property 'query' is missing or resolved to empty)."
            )
        if not options.search_connection_name:
            raise BindingError(
                "No connection string information was provided (property 'searchConnectionName')."
            )
        if not options.collection:
            raise BindingError("No collection name information was provided (property 'collection').")
        if options.max_knowledge_count < 1:
            raise BindingError(
                f"property 'maxKnowledgeCount' is {options.max_knowledge_count}; it must be at least 1."
            )
        request = EmbeddingsRequest(
            self.model_name(options.embeddings_model, "embeddingsModel"),
            options.query,
            options.ai_connection_name,
        )
        with _errors("the embeddings call for the query failed: "):
            response = await self.plugin.embedder.embed(request)
            vector = vectors_of(response, 1)[0]
        with _errors(f"searching collection '{options.collection}' failed: "):
            hits = await asyncio.to_thread(
                self.plugin.store.search, options.collection, vector, options.max_knowledge_count
            )
        chat_request = ChatRequest(
            model=self.model_name(options.chat_model, "chatModel"),
            messages=[
                {"role": "system", "content": system_message(options.system_prompt, hits)},
                {"role": "user", "content": options.query},
            ],
            temperature=try_float(options.temperature) if options.temperature is not None else None,
            top_p=try_float(options.top_p) if options.top_p is not None else None,
            max_tokens=try_int(options.max_tokens) if options.max_tokens is not None else None,
            connection=options.ai_connection_name,
            is_reasoning_model=options.is_reasoning_model,
        )
        chat = self.plugin.chat
        with _errors("the chat model call failed: "):
            raw_call = getattr(chat, "complete_raw", None)
            raw: dict[str, Any] | None = None
            if raw_call is not None:
                reply, raw = await raw_call(chat_request)
            else:
                reply = await chat.complete(chat_request)
        if not reply.content:
            raise BindingError("the chat model's reply has no content (Sequence contains no elements).")
        completion = raw or synthesized_completion(chat_request.model, reply.content, reply.total_tokens)
        return json.dumps(search_context(options.query, completion, reply.content), separators=(",", ":"))
