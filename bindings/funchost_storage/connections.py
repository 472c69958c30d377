"""Which backend serves a binding's ``connection``: the embedded storage, or Azure Storage/Azurite when asked.

``FUNCHOST_STORAGE`` (or ``funchost start --storage``) decides: ``embedded`` (the default) keeps every connection
in ``<app>/.funchost/storage.db``; ``azure`` sends every connection to the service its setting names (a connection
string, ``UseDevelopmentStorage=true`` for Azurite on its default ports, or ``<name>__blobServiceUri`` and
``<name>__queueServiceUri`` with an Azure credential); ``azure:Name1,Name2`` does so for those connections only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from funchost.plugin import BindingError

MODES = ("embedded", "azure")
DEFAULT_CONNECTION = "AzureWebJobsStorage"

Lookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Connection:
    """A resolved connection: the setting's name and where it goes."""

    name: str
    kind: str
    """``embedded`` or ``azure``"""
    connection_string: str | None = None
    blob_uri: str | None = None
    queue_uri: str | None = None

    @property
    def key(self) -> str:
        """One backend per distinct target."""
        if self.kind == "embedded":
            return "embedded"
        return f"azure|{self.connection_string or ''}|{self.blob_uri or ''}|{self.queue_uri or ''}"


def storage_mode(lookup: Lookup) -> tuple[str, frozenset[str] | None]:
    """(mode, connection names the mode applies to, None = all); BindingError on a bad value."""
    raw = (lookup("FUNCHOST_STORAGE") or "embedded").strip()
    mode, _, names = raw.partition(":")
    mode = mode.strip().lower()
    if mode not in MODES or (names and mode != "azure"):
        raise BindingError(
            f"FUNCHOST_STORAGE is '{raw}'; use 'embedded' (the default), 'azure', or 'azure:Conn1,Conn2' "
            "for some connections only"
        )
    chosen = frozenset(n.strip().lower() for n in names.split(",") if n.strip()) if names else None
    return mode, chosen


def resolve(connection: str | None, lookup: Lookup) -> Connection:
    """The backend a binding's ``connection`` uses; BindingError (naming the setting) when it cannot be found."""
    name = connection or DEFAULT_CONNECTION
    value = lookup(name)
    if value is None and not name.lower().startswith("azurewebjobs"):
        value = lookup(f"AzureWebJobs{name}")  # the host also accepts the AzureWebJobs prefix
    blob_uri = lookup(f"{name}__blobServiceUri") or lookup(f"{name}__serviceUri")
    queue_uri = lookup(f"{name}__queueServiceUri")
    if value is None and not (blob_uri or queue_uri):
        raise BindingError(
            f"Storage account connection string '{name}' does not exist. Make sure that it is a defined App "
            f'Setting: add "{name}": "UseDevelopmentStorage=true" to local.settings.json Values'
        )
    mode, chosen = storage_mode(lookup)
    if mode == "embedded" or (chosen is not None and name.lower() not in chosen):
        return Connection(name, "embedded")
    if value is not None and value.strip():
        text = value.strip()
        if text.replace(" ", "").lower() == "usedevelopmentstorage=true":
            text = "UseDevelopmentStorage=true"  # the SDK reads only the exact spelling
        return Connection(name, "azure", connection_string=text)
    if not (blob_uri and queue_uri):
        raise BindingError(
            f"connection '{name}' names service URIs but not both: set '{name}__blobServiceUri' and "
            f"'{name}__queueServiceUri'"
        )
    return Connection(name, "azure", blob_uri=blob_uri, queue_uri=queue_uri)
