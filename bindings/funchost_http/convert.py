"""aiohttp request -> func.HttpRequest, and what a function returns -> aiohttp response (as the worker does)."""

from __future__ import annotations

import json
import logging
import typing
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import formatdate
from http.cookies import Morsel, SimpleCookie
from typing import Any, Literal
from urllib.parse import quote

import azure.functions as func
from aiohttp import web
from azure.functions import _abc as azf_abc
from azure.functions.http import HttpRequest as WorkerHttpRequest
from multidict import CIMultiDict

Converter = Literal["http", "generic"]
"""Which worker converter encodes an http output: the library's http one, or the worker's generic one."""

HTTP_CONVERTER_NAME = str(func.get_binding_registry().get("http"))  # type: ignore[no-untyped-call]
"""How the worker names the http converter in its encode error (the class, as the worker formats it)."""
GENERIC_CONVERTER_NAME = "<class 'azure_functions_worker.bindings.generic.GenericBinding'>"
_GENERIC_TYPES = (str, bytes, bytearray, dict, list, int, float, bool)


def request_headers(request: web.BaseRequest) -> dict[str, str]:
    """Lower-case names, repeated headers joined with ','."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def request_params(request: web.BaseRequest) -> dict[str, str]:
    """Query values joined with ','; empty values dropped like the host does."""
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if value == "":
            continue
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def to_http_request(
    request: web.BaseRequest, body: bytes, headers: dict[str, str], route: Mapping[str, str | None]
) -> func.HttpRequest:
    """The ``func.HttpRequest`` the worker would build (full URL from the Host header)."""
    host = request.headers.get("Host")
    if host is None:
        host = request.host
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
    """A func.HttpResponse, or a value the host interprets (str, or what the generic converter sent), as an
    aiohttp response."""
    if type(value) is func.HttpResponse or isinstance(value, azf_abc.HttpResponse):  # the ABC check is slow
        return _from_http_response(value)
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    elif isinstance(value, dict | list | int | float | bool):
        value = json.dumps(value)  # the generic converter's json/int/double data, as text [unverified]
    if isinstance(value, str):
        return _from_string(value)
    raise encode_error("http", value)


# ---------------------------------------------------------------- what an http output accepts (worker)


def encode_error(converter: Converter, value: Any) -> TypeError:
    """The worker's error for a value its converter cannot encode (bindings/meta.py ``get_datum``)."""
    name = HTTP_CONVERTER_NAME if converter == "http" else GENERIC_CONVERTER_NAME
    return TypeError(
        f'unable to encode outgoing TypedData: unsupported type "{name}" for Python type "{type(value).__name__}"'
    )


def check_output(value: Any, converter: Converter) -> None:
    """Raise the worker's TypeError for a value the converter refuses; bad cookies fail as in the worker."""
    if converter == "http":
        if type(value) is func.HttpResponse or isinstance(value, azf_abc.HttpResponse):
            response_cookies(value, log=True)
            check_status(value.status_code)
            return
        if isinstance(value, str):
            check_text(value)
            return
    elif isinstance(value, _GENERIC_TYPES):
        if isinstance(value, str):
            check_text(value)
        return
    raise encode_error(converter, value)


def check_text(value: str) -> None:
    """A str that is not valid Unicode (a lone surrogate) cannot be sent: the worker's UnicodeEncodeError."""
    value.encode("utf-8")
    stripped = value.strip()
    if stripped.startswith("{") and '"' in stripped:  # a response description: its status must be sendable
        try:
            obj = json.loads(stripped)
        except ValueError:
            return
        if isinstance(obj, dict) and any(k.lower() == "body" for k in obj):
            lowered = {k.lower(): v for k, v in obj.items()}
            raw = lowered.get("statuscode", lowered.get("status", 200))
            check_status(raw)


def check_status(status: Any) -> None:
    """An HTTP status code is three digits (RFC 9110); 0, -1 or 1000 would make a malformed status line."""
    try:
        code = int(status)
    except (TypeError, ValueError):
        code = 0
    if not 100 <= code <= 999:
        raise ValueError(f"invalid HTTP status code {status!r}: use a number from 100 to 999")


_hints: weakref.WeakKeyDictionary[Callable[..., Any], dict[str, Any]] = weakref.WeakKeyDictionary()


def type_hints(user_func: Callable[..., Any] | None) -> dict[str, Any]:
    """``typing.get_type_hints`` of a user function ({} when they do not resolve), once per function object."""
    if user_func is None:
        return {}
    try:
        return _hints[user_func]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable
        return _resolve_hints(user_func)
    hints = _hints[user_func] = _resolve_hints(user_func)
    return hints


def _resolve_hints(user_func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(user_func)
    except Exception:
        return {}


def output_converter(user_func: Callable[..., Any] | None, binding_name: str) -> Converter:
    """``$return`` always uses the http converter; an ``Out[str]``/``Out[bytes]`` parameter the generic one
    (worker functions.py: str/bytes annotations select the generic binding)."""
    if binding_name == "$return":
        return "http"
    args = typing.get_args(type_hints(user_func).get(binding_name))
    return "generic" if len(args) == 1 and args[0] in (str, bytes) else "http"


def annotation_error(
    user_func: Callable[..., Any] | None, binding_name: str, data_type: str | None
) -> str | None:
    """The worker's load error when an http output's annotation does not fit its converter, else None."""
    hints = type_hints(user_func)
    if binding_name == "$return":
        if "return" not in hints:
            return None
        anno = hints["return"]
        if not isinstance(anno, type):
            return f"has invalid non-type return annotation {anno!r}"
        if not issubclass(anno, azf_abc.HttpResponse | str):
            return f'Python return annotation "{anno.__name__}" does not match binding type "http"'
        return None
    args = typing.get_args(hints.get(binding_name))
    if len(args) != 1 or args[0] in (str, bytes):
        return None
    target = args[0]
    if isinstance(target, type) and issubclass(target, azf_abc.HttpResponse | str):
        return None
    shown = getattr(target, "__name__", repr(target))
    if data_type:
        number = {"string": 1, "binary": 2, "stream": 3}.get(
            data_type.lower(), 0
        )  # the proto enum, as printed
        return (
            f'{binding_name!r} binding type "http" and dataType "{number}" in function.json do not match the '
            f'corresponding function parameter\'s Python type annotation "{shown}"'
        )
    return f'type of {binding_name} binding in function.json "http" does not match its Python annotation "{shown}"'


# ---------------------------------------------------------------- cookies (worker datumdef.py, host RawScriptResult)


def response_cookies(resp: azf_abc.HttpResponse, *, log: bool = False) -> list[str]:
    """The ``Set-Cookie`` values the host writes for a response: each header parsed with ``SimpleCookie`` as
    the worker does (unparsable headers are dropped), then formatted as ASP.NET Core writes cookies.

    Raises what the worker raises: ``dateutil`` ``ParserError`` for an unparsable Expires (``log`` also logs the
    worker's error line), ``TypeError`` for a Max-Age that is not a number."""
    headers = resp.headers
    if not headers or "Set-Cookie" not in headers:  # the common case, without werkzeug's get_all
        return []
    values = headers.get_all("Set-Cookie") if hasattr(headers, "get_all") else []
    out: list[str] = []
    for value in values:
        for name, morsel in SimpleCookie(value).items():
            out.append(_format_cookie(name, morsel, log))
    return out


def _format_cookie(name: str, morsel: Morsel[str], log: bool) -> str:
    expires = _cookie_expires(morsel["expires"], log)
    max_age = _cookie_max_age(morsel["max-age"])
    parts = [f"{name}={quote(morsel.value, safe='')}"]  # Response.Cookies.Append escapes the value
    if expires is not None:
        parts.append(f"expires={formatdate(expires, usegmt=True)}")
    if max_age is not None:
        parts.append(f"max-age={int(max_age)}")
    parts.append(f"domain={morsel['domain']}")  # the worker always sends domain and path, '' when unset
    parts.append(f"path={morsel['path']}")
    if morsel["secure"]:
        parts.append("secure")
    same_site = str(morsel["samesite"]).lower()
    if same_site in ("lax", "strict", "none"):
        parts.append(f"samesite={same_site}")
    if morsel["httponly"]:
        parts.append("httponly")
    return "; ".join(parts)


def _cookie_expires(raw: str, log: bool) -> int | None:
    if not raw:
        return None
    from dateutil import parser as date_parser  # only for a cookie with Expires (dateutil imports ctypes)

    try:
        moment = date_parser.parse(raw)
    except date_parser.ParserError:
        if log:
            logging.getLogger().error(
                f"Can not parse value {raw} of expires in the cookie due to invalid format."
            )
        raise
    except OverflowError:
        if log:
            logging.getLogger().error(
                f"Can not parse value {raw} of expires in the cookie because the parsed date exceeds the largest "
                "valid C integer on your system."
            )
        raise
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Azure hosts run in UTC
    return int(moment.timestamp())


def _cookie_max_age(raw: str) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise TypeError(f"Cannot parse value {raw} of 'cookie.maxAge' to float.") from None


def _from_http_response(resp: azf_abc.HttpResponse) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    cookies = response_cookies(resp)
    content_type: str | None = None
    for name, value in resp.headers.items():
        lowered = name.lower()
        if lowered == "set-cookie":
            continue
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
