"""Start-banner lines for the AI connections an app's bindings use, resolved as each call resolves them (§8)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from funchost.plugin import FunctionSpec
from funchost_assistants.chat.base import ChatError
from funchost_assistants.chat.openai import Settings, resolve_endpoint

_PLACEHOLDER = re.compile(
    r"<[^>]*>|\{[^}]*\}|\byour[-_ ]|\byour(?:endpoint|key|resource)|replace[-_ ]?me|placeholder|changeme|xxx",
    re.IGNORECASE,
)


def looks_like_placeholder(value: str) -> bool:
    """A value copied from a sample and never filled in (``<your-endpoint>``, ``YOUR_KEY``, ``https://xxx...``)."""
    return bool(_PLACEHOLDER.search(value))


def used_connections(
    functions: Sequence[FunctionSpec], types: Iterable[str], settings: Settings
) -> list[str]:
    """The ``aiConnectionName`` values of the bindings of ``types`` (``%Setting%`` resolved), default first."""
    kinds = {t.lower() for t in types}
    names: set[str] = set()
    for fn in functions:
        for binding in fn.bindings:
            if binding.kind not in kinds:
                continue
            raw = binding.get("aiConnectionName", "")
            name = str(raw or "").strip()
            match = re.fullmatch(r"%([^%]+)%", name)
            if match:
                name = (settings(match.group(1)) or "").strip()
            names.add(name)
    return sorted(names, key=lambda n: (n != "", n.lower()))


def describe_connection(settings: Settings, connection: str) -> str:
    """What a call on ``connection`` would use, or why it fails; never a key."""
    try:
        endpoint = resolve_endpoint(settings, connection)
    except ChatError as exc:
        text = str(exc)
        if "is not an http(s) URL" in text:
            return text.split(" Set it to", 1)[0] + ": every call fails. Set the resource URL."
        section = f"{connection}__Endpoint and {connection}__Key, or " if connection else ""
        return f"not configured: set {section}AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_KEY, or OPENAI_API_KEY"
    label = endpoint.label()
    for name in (endpoint.endpoint_setting, endpoint.key_setting):
        value = settings(name) if name else None
        if name and value and looks_like_placeholder(value):
            return f"{label}; but {name} holds a placeholder: every call fails. Set the real value."
    return label


def connection_lines(
    title: str, settings: Settings, connections: Sequence[str], suffix: str = ""
) -> list[str]:
    """One ``<title>: ...`` line per connection (``<title> (connection 'X'): ...`` for a named one)."""
    lines = []
    for name in connections or [""]:
        where = f" (connection '{name}')" if name else ""
        lines.append(f"{title}{where}: {describe_connection(settings, name)}{suffix}")
    return lines
