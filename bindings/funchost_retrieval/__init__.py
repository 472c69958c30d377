"""The Azure OpenAI retrieval bindings (embeddings, embeddingsStore, semanticSearch) as a funchost plugin: the
manifest (cheap to import). The plugin itself is :class:`funchost_retrieval.plugin.RetrievalPlugin`."""

from __future__ import annotations

from funchost.plugin import Command, PluginInfo, StartFlag

__all__ = ["info"]

info = PluginInfo(
    name="retrieval",
    factory="funchost_retrieval.plugin:RetrievalPlugin",
    binding_types=("embeddings", "embeddingsStore", "semanticSearch"),
    flags=(
        StartFlag(
            "--embeddings",
            setting="FUNCHOST_EMBEDDINGS",
            help="embeddings model: openai (the app's AI connection, the default) or hash (offline, no model)",
            choices=("openai", "hash"),
        ),
        StartFlag(
            "--vector-store",
            setting="FUNCHOST_VECTOR_STORE",
            help="vector store: local (<app>/.funchost/vectors, the default) or memory",
            choices=("local", "memory"),
        ),
    ),
    commands=(
        Command(
            "vectors",
            "list, show or delete the local vector store's collections",
            "funchost_retrieval.cli:main",
        ),
    ),
    testing="funchost_retrieval.testing:configure",
    test_options=("embeddings", "vectors"),
)
