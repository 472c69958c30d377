"""aiohttp request -> func.HttpRequest, and what a function returns -> aiohttp response (as the worker does)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions.http import HttpRequest as WorkerHttpRequest
from multidict import CIMultiDict


def request_headers(request: web.Request) -> dict[str, str]:
    """Lower-case names, repeated headers joined with ','."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def request_params(request: web.Request) -> dict[str, str]:
    """Query values joined with ','; empty values dropped like the host does."""
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if value == "":
            continue
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def to_http_request(
    request: web.Request, body: bytes, headers: dict[str, str], route: Mapping[str, str | None]
) -> func.HttpRequest:
    """The ``func.HttpRequest`` the worker would build (full URL from the Host header)."""
    host = request.headers.get("Host", f"{request.host}")
    url = f"{request.scheme}://{host}{request.raw_path}"
    return WorkerHttpRequest(  # the worker's subclass: get_json() raises its ValueError text
        method=request.method,
        url=url,
        headers=headers,
        params=request_params(request),
        route_params={k: v for k, v in route.items() if v is not None},
        body_type="bytes",
        body=body,
    )


def to_response(value: Any) -> web.Response:
    """A func.HttpResponse, or a str the host interprets, as an aiohttp response."""
    if isinstance(value, func.HttpResponse):
        return _from_http_response(value)
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8")
    if isinstance(value, str):
        return _from_string(value)
    raise TypeError(
        f'unable to encode outgoing TypedData: unsupported type "http" for Python type "{type(value).__name__}"'
    )


def _from_http_response(resp: func.HttpResponse) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    cookies: list[str] = []
    content_type: str | None = None
    for name, value in resp.headers.items():
        lowered = name.lower()
        if lowered == "set-cookie":
            cookies.append(value)
        elif lowered == "content-type":
            content_type = value
        else:
            headers[name] = value  # duplicates collapse to the last, like the worker's dict
    if content_type is None:
        mimetype = resp.mimetype or "text/plain"
        charset = resp.charset or "utf-8"
        content_type = f"{mimetype}; charset={charset}" if mimetype.startswith("text/") else mimetype
    headers["Content-Type"] = content_type
    for cookie in cookies:
        headers.add("Set-Cookie", cookie)
    return web.Response(status=int(resp.status_code), body=resp.get_body() or b"", headers=headers)


def _from_string(text: str) -> web.Response:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            body_key = next((k for k in obj if k.lower() == "body"), None)
            if body_key is not None:
                return _from_object(obj, body_key)
    return web.Response(
        status=200, body=text.encode("utf-8"), headers={"Content-Type": "text/plain; charset=utf-8"}
    )


def _from_object(obj: dict[str, Any], body_key: str) -> web.Response:
    """A JSON object with a ``body`` key is a response description (statusCode/status, headers, body)."""
    lowered = {k.lower(): v for k, v in obj.items()}
    status = lowered.get("statuscode", lowered.get("status", 200))
    headers = {str(k): str(v) for k, v in (lowered.get("headers") or {}).items()}
    body = obj[body_key]
    payload = body if isinstance(body, str) else json.dumps(body)
    headers.setdefault(
        "Content-Type", "text/plain; charset=utf-8" if isinstance(body, str) else "application/json"
    )
    return web.Response(status=int(status), body=payload.encode("utf-8"), headers=headers)
