"""host.json ``extensions.openai.searchProvider``: which Azure service the app targets, and its dimensions (§6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_PROVIDER", "ProviderError", "SearchProvider", "read_search_provider"]

NO_PROVIDER = (
    "No search provider is configured. Search providers are configured in the host.json file. For .NET apps, "
    "the appropriate nuget package must also be added to the app's project file."
)

# provider name -> (the dimensions option, its default, its range)
_PROVIDERS: dict[str, tuple[str, str | None, int | None, tuple[int, int] | None]] = {
    "azureaisearch": ("AzureAISearch", "vectorSearchDimensions", 1536, (2, 3072)),
    "cosmosdbsearch": ("CosmosDBSearch", "vectorSearchDimensions", 1536, (2, 3072)),
    "cosmosdbnosqlsearch": ("CosmosDBNoSqlSearch", "vectorDimensions", 1536, (1, 1 << 31)),
    "kusto": ("Kusto", None, None, None),
}


class ProviderError(ValueError):
    """The searchProvider section is invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class SearchProvider:
    type: str | None
    """As written in host.json; None when there is no searchProvider section."""
    name: str | None
    """The extension's provider name (``AzureAISearch`` ...)."""
    dimensions: int | None
    """What the provider's index/container enforces; None when it does not (Kusto) or is not configured."""


def _get(section: Mapping[str, Any], key: str) -> Any:
    for k, v in section.items():
        if k.lower() == key.lower():
            return v
    return None


def read_search_provider(openai: Mapping[str, Any]) -> SearchProvider:
    section = _get(openai, "searchProvider")
    if section is None:
        return SearchProvider(None, None, None)
    if not isinstance(section, dict):
        raise ProviderError("host.json extensions.openai.searchProvider must be an object with a 'type'.")
    kind = section.get("type")  # the extension reads 'type' case-sensitively
    if not isinstance(kind, str) or not kind:
        raise ProviderError(
            "host.json extensions.openai.searchProvider has no 'type'; use azureAiSearch, cosmosDBSearch, "
            "cosmosDBNoSqlSearch or kusto."
        )
    known = _PROVIDERS.get(kind.lower())
    if known is None:
        raise ProviderError(
            f"host.json extensions.openai.searchProvider.type is '{kind}', which no search provider has. "
            f"{NO_PROVIDER} Use azureAiSearch, cosmosDBSearch, cosmosDBNoSqlSearch or kusto."
        )
    name, option, default, bounds = known
    dimensions = default
    if option is not None:
        raw = _get(section, option)
        if raw is not None:
            try:
                dimensions = int(raw)
            except (TypeError, ValueError):
                raise ProviderError(
                    f"host.json extensions.openai.searchProvider.{option} is {raw!r}, not an integer."
                ) from None
        if bounds is not None and dimensions is not None and not bounds[0] <= dimensions <= bounds[1]:
            raise ProviderError(
                f"host.json extensions.openai.searchProvider.{option} is {dimensions}: vector search dimensions "
                f"must be between {bounds[0]} and {bounds[1]}."
            )
    return SearchProvider(kind, name, dimensions)
