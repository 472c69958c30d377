"""bindings/http/convert.py: aiohttp request -> func.HttpRequest, function result -> aiohttp response."""

from __future__ import annotations

import azure.functions as func
import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from funchost_http.convert import request_headers, request_params, to_http_request, to_response


def mocked(path: str, headers: list[tuple[str, str]] | None = None, method: str = "GET"):  # type: ignore[no-untyped-def]
    return make_mocked_request(method, path, headers=CIMultiDict(headers or [("Host", "localhost:7071")]))


def test_headers_lower_case_and_joined() -> None:
    request = mocked("/", [("Host", "h"), ("X-Thing", "a"), ("x-thing", "b"), ("Accept", "*/*")])
    assert request_headers(request) == {"host": "h", "x-thing": "a,b", "accept": "*/*"}


def test_params_drop_empty_and_join_repeats() -> None:
    assert request_params(mocked("/x?a=&b=1&b=2&code=k")) == {"b": "1,2", "code": "k"}


def test_to_http_request_fields() -> None:
    request = mocked("/api/items/7?q=1", [("Host", "localhost:7071"), ("X-A", "1")], method="post")
    req = to_http_request(request, b'{"a": 1}', request_headers(request), {"id": "7", "opt": None})
    assert isinstance(req, func.HttpRequest)
    assert req.method == "POST"
    assert req.url == "http://localhost:7071/api/items/7?q=1"
    assert req.headers["x-a"] == "1"
    assert dict(req.params) == {"q": "1"}
    assert dict(req.route_params) == {"id": "7"}
    assert req.get_body() == b'{"a": 1}'
    assert req.get_json() == {"a": 1}


def test_get_json_error_is_the_workers() -> None:
    request = mocked("/x")
    req = to_http_request(request, b"", request_headers(request), {})
    with pytest.raises(ValueError, match=r"^HTTP request does not contain valid JSON data$"):
        req.get_json()


def test_http_response_defaults_and_headers() -> None:
    resp = to_response(func.HttpResponse("hi", status_code=201, headers={"X-A": "1"}))
    assert (resp.status, resp.body, resp.headers["Content-Type"], resp.headers["X-A"]) == (
        201,
        b"hi",
        "text/plain; charset=utf-8",
        "1",
    )
    assert (
        to_response(func.HttpResponse("{}", mimetype="application/json")).headers["Content-Type"]
        == "application/json"
    )
    explicit = to_response(func.HttpResponse("x", headers={"content-type": "text/csv"}))
    assert explicit.headers["Content-Type"] == "text/csv"


def test_set_cookie_is_normalised_as_the_host_writes_it() -> None:
    resp = to_response(func.HttpResponse("x", headers={"Set-Cookie": "a=1"}))
    assert resp.headers.getall("Set-Cookie") == ["a=1; domain=; path="]


def test_plain_string_is_text() -> None:
    resp = to_response("hello")
    assert (resp.status, resp.body, resp.headers["Content-Type"]) == (
        200,
        b"hello",
        "text/plain; charset=utf-8",
    )


def test_string_with_body_key_is_a_response_object() -> None:
    resp = to_response('{"statusCode": 418, "headers": {"X-T": "pot"}, "body": "short"}')
    assert (resp.status, resp.body, resp.headers["X-T"]) == (418, b"short", "pot")


def test_unsupported_type_is_refused() -> None:
    with pytest.raises(TypeError, match="HttpResponseConverter'>\" for Python type \"object\""):
        to_response(object())
