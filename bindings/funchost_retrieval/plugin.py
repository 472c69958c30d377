"""The retrieval plugin object: the vector store, the embeddings model and the chat model its bindings share."""

from __future__ import annotations

from typing import Any

from funchost.plugin import BindingError, HostApi, Plugin
from funchost_assistants.chat import ChatModel, UnavailableChatModel, app_chat_model
from funchost_assistants.chat.connections import connection_lines, used_connections
from funchost_assistants.chat.openai import OpenAIChatModel
from funchost_assistants.keys import CHAT
from funchost_retrieval.bindings import Embeddings, EmbeddingsStore, SemanticSearch
from funchost_retrieval.embedder import Embedder, HashEmbedder, ModelEmbedder
from funchost_retrieval.inputs import InputReader
from funchost_retrieval.keys import EMBEDDER, VECTORS
from funchost_retrieval.provider import ProviderError, SearchProvider, read_search_provider
from funchost_retrieval.stores import VectorStore, open_vector_store

__all__ = ["RetrievalPlugin"]

EMBEDDINGS_SETTING = "FUNCHOST_EMBEDDINGS"
STORE_SETTING = "FUNCHOST_VECTOR_STORE"


class _Unavailable:
    """Stands in for an embeddings model that could not be set up: every call fails with why."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self) -> str:
        return f"unavailable: {self.reason}"

    async def embed(self, request: Any) -> dict[str, Any]:
        from funchost_assistants.chat.base import ChatError

        raise ChatError(self.reason)


class RetrievalPlugin(Plugin):
    def __init__(self, host: HostApi) -> None:
        super().__init__("retrieval", host)
        self.bindings = [Embeddings(self), EmbeddingsStore(self), SemanticSearch(self)]
        self.store_kind = (host.setting(STORE_SETTING) or "local").strip().lower()
        self.inputs = InputReader(host.script_root, host.setting, host.log)
        self._store: VectorStore | None = None
        self._embedder: Embedder | None = None
        self._chat: ChatModel | None = None
        self._broken: str | None = None
        self._provider: SearchProvider | None = None
        self._provider_error: str | None = None
        self._warned: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the vector store, the chat and embeddings models (the host starts this plugin only for apps using
        its bindings)."""
        try:
            self._provider = read_search_provider(self.host.extension("openai"))
        except ProviderError as exc:
            self._provider_error = str(exc)
            self.host.log.error("Retrieval bindings: %s", exc)
        try:
            self._store = self.host.provided(VECTORS) or self.host.keep(
                f"retrieval.vectors|{self.store_kind}",
                lambda: open_vector_store(self.store_kind, self.host.script_root),
            )
        except Exception as exc:  # a broken store fails the bindings, not the host
            self._broken = f"the vector store could not be opened: {exc}"
            self.host.log.error("Retrieval bindings: %s", self._broken)
        try:
            self._chat = self.host.provided(CHAT) or app_chat_model(self.host)
        except Exception as exc:
            self._chat = UnavailableChatModel(f"the chat model could not be set up: {exc}")
        try:
            self._embedder = self.host.provided(EMBEDDER) or self._open_embedder()
        except Exception as exc:
            self._embedder = _Unavailable(f"the embeddings model could not be set up: {exc}")
        if self._store is not None:
            self.provide(VECTORS, self._store)
        self.provide(EMBEDDER, self._embedder)

    def _open_embedder(self) -> Embedder:
        mode = (self.host.setting(EMBEDDINGS_SETTING) or "").strip().lower()
        if mode == "hash":
            return HashEmbedder((self._provider.dimensions if self._provider else None) or 1536)
        if mode not in ("", "openai", "model"):
            raise ValueError(f"{EMBEDDINGS_SETTING} is '{mode}'; use openai (the default) or hash (offline).")
        embed = getattr(self._chat, "embed", None)
        if embed is not None:  # the OpenAI model, or a cassette recording/replaying it
            assert self._chat is not None
            label = self._chat.describe().removeprefix("chat model: ")
            return ModelEmbedder(embed, label)
        model = self.host.keep(f"retrieval.embeddings|{mode}", lambda: OpenAIChatModel(self.host.setting))
        return ModelEmbedder(model.embed, model.describe().removeprefix("chat model: "))

    # -- what the bindings use ---------------------------------------------------------------------------------
    @property
    def store(self) -> VectorStore:
        if self._store is None:
            raise BindingError(self._broken or "the retrieval plugin has not started")
        return self._store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            raise BindingError("the retrieval plugin has not started")
        return self._embedder

    @property
    def chat(self) -> ChatModel:
        if self._chat is None:
            raise BindingError("the retrieval plugin has not started")
        return self._chat

    @property
    def provider(self) -> SearchProvider:
        return self._provider or SearchProvider(None, None, None)

    def require_provider(self) -> None:
        if self._provider_error is not None:
            raise BindingError(self._provider_error)

    def warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.host.log.warning(message, *args)

    def describe(self) -> list[str]:
        if self._store is None and self._broken is None:
            return []
        provider = self.provider
        if self._broken is not None:
            where = self._broken
        elif self.host.provided(VECTORS) is not None:
            where = self.store.describe()
        else:
            where = self.store.describe()
        if provider.type is None:
            serves = (
                "host.json has no extensions.openai.searchProvider (Azure refuses these bindings without one)"
            )
        else:
            dims = f", {provider.dimensions} dimensions" if provider.dimensions else ""
            serves = f"serves searchProvider '{provider.type}' ({provider.name}{dims})"
        return [f"Vector store: {where}; {serves}", *self._describe_embeddings()]

    def _describe_embeddings(self) -> list[str]:
        """Per AI connection the bindings use, what an embeddings call would reach (§8)."""
        embedder, setting = self.embedder, self.host.setting
        if (
            not isinstance(embedder, ModelEmbedder)
            or self.host.provided(EMBEDDER) is not None
            or (
                self.host.provided(CHAT) is not None
                and self._chat is not None
                and hasattr(self._chat, "embed")
            )
            or setting("FUNCHOST_CHAT_REPLAY")
        ):
            return [f"Embeddings model: {embedder.describe()}"]
        record = setting("FUNCHOST_CHAT_RECORD")
        suffix = f", recording to {record}" if record else ""
        used = used_connections(
            self.host.functions, ("embeddings", "embeddingsStore", "semanticSearch"), setting
        )
        return connection_lines("Embeddings model", setting, used, suffix)

    async def close(self) -> None:
        return None
