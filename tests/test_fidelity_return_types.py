"""Issue 11 item 2: what an ``http`` output (``$return`` or ``func.Out``) accepts, and the worker's exact errors
(worker bindings/meta.py ``get_datum``, functions.py; library http.py ``HttpResponseConverter``)."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

from funchost_http.convert import annotation_error, check_output, output_converter

APP = "tests/apps/fidelity_http"
HTTP_CONVERTER = "<class 'azure.functions.http.HttpResponseConverter'>"


def encode_error(python_type: str, converter: str = HTTP_CONVERTER) -> str:
    return (
        f'unable to encode outgoing TypedData: unsupported type "{converter}" for Python type "{python_type}"'
    )


@pytest.mark.parametrize("value", ["text", func.HttpResponse("x")])
def test_http_converter_accepts_str_and_http_response(value: Any) -> None:
    check_output(value, "http")


@pytest.mark.parametrize("value", [b"x", bytearray(b"x"), {"a": 1}, [1], 1, 1.5, True, object()])
def test_http_converter_refuses_everything_else(value: Any) -> None:
    with pytest.raises(TypeError) as caught:
        check_output(value, "http")
    assert str(caught.value) == encode_error(type(value).__name__)


def test_generic_converter_for_out_str_and_out_bytes() -> None:
    for value in ["s", b"b", bytearray(b"b"), {"a": 1}, [1], 2, 2.5, False]:
        check_output(value, "generic")
    with pytest.raises(TypeError, match=r"GenericBinding'>\" for Python type \"object\"$"):
        check_output(object(), "generic")


def out_bytes(foo: func.Out[bytes]) -> None: ...
def out_str(foo: func.Out[str]) -> None: ...
def out_response(foo: func.Out[func.HttpResponse]) -> None: ...
def out_dict(foo: func.Out[dict]) -> None: ...  # type: ignore[type-arg]
def returns_bytes() -> bytes: ...
def returns_str() -> str: ...
def returns_response() -> func.HttpResponse: ...
def returns_none() -> None: ...
def unannotated(foo):  # type: ignore[no-untyped-def]
    ...


def test_which_converter_the_worker_picks() -> None:
    assert output_converter(out_bytes, "foo") == "generic"
    assert output_converter(out_str, "foo") == "generic"
    assert output_converter(out_response, "foo") == "http"
    assert output_converter(unannotated, "foo") == "http"
    assert output_converter(returns_str, "$return") == "http"  # $return is always the http converter


def test_annotations_the_worker_refuses_at_load() -> None:
    assert annotation_error(returns_bytes, "$return", None) == (
        'Python return annotation "bytes" does not match binding type "http"'
    )
    assert annotation_error(returns_none, "$return", None) == (
        'Python return annotation "NoneType" does not match binding type "http"'
    )
    assert annotation_error(out_dict, "foo", None) == (
        'type of foo binding in function.json "http" does not match its Python annotation "dict"'
    )
    assert annotation_error(out_dict, "foo", "string") == (
        '\'foo\' binding type "http" and dataType "1" in function.json do not match the corresponding function '
        'parameter\'s Python type annotation "dict"'
    )
    for ok, name in [
        (returns_str, "$return"),
        (returns_response, "$return"),
        (out_bytes, "foo"),
        (out_str, "foo"),
        (out_response, "foo"),
        (unannotated, "foo"),
    ]:
        assert annotation_error(ok, name, None) is None


async def test_worker_return_type_functions(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    client = host.client

    r = await client.get("/api/return_str")  # worker: test_return_str
    assert (r.status, await r.text()) == (200, "Hello World!")
    assert r.headers["content-type"].startswith("text/plain")

    r = await client.get("/api/return_out")  # worker: test_return_out
    assert (r.status, await r.text()) == (201, "hello")
    assert r.headers["content-type"].startswith("text/plain")

    r = await client.get("/api/return_bytes")  # worker: test_return_bytes (500) and its message
    assert (r.status, await r.text()) == (500, "")
    assert any(f"Exception: TypeError: {encode_error('bytes')}" in line for line in host.logs)

    r = await client.get("/api/return_http")  # worker: test_return_http_200
    assert (r.status, await r.text()) == (200, "<h1>Hello World™</h1>")
    assert r.headers["content-type"] == "text/html; charset=utf-8"

    r = await client.get("/api/return_http_no_body")  # worker: test_return_http_no_body
    assert (r.status, await r.text()) == (200, "")

    r = await client.get("/api/return_http_404")  # worker: test_return_http_404
    assert (r.status, await r.text()) == (404, "bye")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"

    r = await client.get("/api/return_dict")
    assert r.status == 500
    assert any(f"Exception: TypeError: {encode_error('dict')}" in line for line in host.logs)

    r = await client.get("/api/out_bytes_http")  # Out[func.HttpResponse] set to bytes: the http converter
    assert r.status == 500
    r = await client.get("/api/out_bytes_generic")  # Out[bytes]: the generic converter takes bytes
    assert (r.status, await r.text()) == (200, "raw")


async def test_return_annotation_refused_at_load(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    r = await host.client.get("/api/return_none_annotated")
    assert r.status == 404
    assert any(
        'cannot load the return_none_annotated function: Python return annotation "NoneType" does not match '
        'binding type "http"' in line
        for line in host.logs
    )
