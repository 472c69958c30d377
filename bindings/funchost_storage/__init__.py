"""Blob and queue bindings and triggers on embedded storage or Azure Storage: the manifest (cheap to import)."""

from __future__ import annotations

from funchost.plugin import Command, PluginInfo, StartFlag

__all__ = ["info"]

info = PluginInfo(
    name="storage",
    factory="funchost_storage.plugin:StoragePlugin",
    binding_types=("blob", "blobTrigger", "queue", "queueTrigger"),
    flags=(
        StartFlag(
            "--storage",
            setting="FUNCHOST_STORAGE",
            help="blob/queue storage: embedded (default, <app>/.funchost/storage.db), azure (the connection "
            "settings: Azurite or Azure Storage), or azure:Conn1,Conn2",
            metavar="MODE",
        ),
    ),
    commands=(
        Command(
            "storage", "put, get and list blobs; send and peek queue messages", "funchost_storage.cli:main"
        ),
    ),
)
"""The manifest (entry point ``funchost.plugins: storage``)."""
