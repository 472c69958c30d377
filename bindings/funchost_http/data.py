"""Binding data of an HTTP trigger, built in the host's order: body, query, route, Query, Headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from funchost.plugin import BindingData, CaseSensitive, add_system_data, json_binding_data


def http_binding_data(
    *,
    body: bytes,
    content_length: int | None,
    query: Sequence[tuple[str, str]],
    route: Mapping[str, str | None],
    headers: Mapping[str, str],
    request: Any,
    method_name: str | None = None,
) -> BindingData:
    """Binding data of an HTTP trigger, built in the host's order: body, query, route, Query, Headers."""
    data = BindingData()
    if content_length is not None and content_length > 0 and body:
        data.update(json_binding_data(body))
    query_dict: dict[str, str] = {}
    for key, value in query:
        query_dict[key] = value
        if key.lower() != "code":
            data[key] = value
    data.update(route)
    if "Query" not in data:
        data["Query"] = CaseSensitive(query_dict)
    if "Headers" not in data:
        data["Headers"] = BindingData(headers)
    data["$request"] = request
    if method_name is not None:
        add_system_data(data, method_name)
    return data


class LazyBindingData(Mapping[str, Any]):
    """Binding data built on first read: most functions never read it (no ``{expression}`` in their bindings, no
    ``context`` trigger metadata), and building it copies the headers, the query and parses a JSON body."""

    __slots__ = ("_build", "_data")

    def __init__(self, build: Callable[[], BindingData]) -> None:
        self._build: Callable[[], BindingData] | None = build
        self._data: BindingData | None = None

    def _get(self) -> BindingData:
        data = self._data
        if data is None:
            assert self._build is not None
            data = self._data = self._build()
            self._build = None
        return data

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __contains__(self, key: object) -> bool:
        return key in self._get()
