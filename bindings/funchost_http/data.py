"""Binding data of an HTTP trigger, built in the host's order: body, query, route, Query, Headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
