"""Issue 11 item 1: Set-Cookie of a func.HttpResponse, parsed as the Python worker does (SimpleCookie,
datumdef.py) and written back as the host does (ASP.NET Core Response.Cookies.Append).

Expected values are the worker's tests' (tests/unittests/test_http_functions.py, http_functions_stein)."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest
from dateutil.parser import ParserError

from funchost_http.convert import response_cookies

APP = "tests/apps/fidelity_http"
FOO3_42 = "foo3=42; expires=Thu, 12 Jan 2017 13:55:08 GMT; max-age=10000000; domain=example.com; path=/; secure; httponly"
FOO3_43 = "foo3=43; expires=Fri, 12 Jan 2018 13:55:08 GMT; max-age=10000000; domain=example.com; path=/; secure; httponly"


def cookies(*headers: str) -> list[str]:
    resp = func.HttpResponse("x")
    for header in headers:
        resp.headers.add("Set-Cookie", header)
    return response_cookies(resp)


@pytest.mark.parametrize(
    ("header", "written"),
    [
        ("foo=bar", ["foo=bar; domain=; path="]),
        ("", []),
        (
            "foo3=42; Domain=example.com; Expires=Thu, 12-Jan-2017 13:55:08 GMT; Path=/; SecureFalse; HttpOnly",
            [],
        ),
        ("foo=bar; SameSite=Lax", ["foo=bar; domain=; path=; samesite=lax"]),
        ("foo=bar; SameSite=none; Secure", ["foo=bar; domain=; path=; secure; samesite=none"]),
        ("foo=bar; SameSite=Bogus", ["foo=bar; domain=; path="]),
        ("a=1; b=2", ["a=1; domain=; path=", "b=2; domain=; path="]),
        ('a="x y"', ["a=x%20y; domain=; path="]),
        ("a=x y", []),
        ("a=1; Max-Age=1.9", ["a=1; max-age=1; domain=; path="]),
        (
            "a=1; Expires=Thu, 12 Jan 2017 13:55:08",
            [],
        ),
    ],
)
def test_each_header_is_parsed_and_normalised(header: str, written: list[str]) -> None:
    assert cookies(header) == written


def test_attributes_are_lower_cased_and_ordered_like_the_host() -> None:
    assert cookies(
        "foo3=42; Domain=example.com; Expires=Thu, 12-Jan-2017 13:55:08 GMT; Path=/; Max-Age=10000000; Secure; HttpOnly"
    ) == [FOO3_42]


def test_unparsable_expires_raises_the_workers_error_and_logs_its_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resp = func.HttpResponse("x")
    resp.headers.add("Set-Cookie", "foo=bar; Domain=123; Expires=Dummy")
    with pytest.raises(ParserError, match=r"^Unknown string format: Dummy$"):
        response_cookies(resp, log=True)
    assert caplog.messages == ["Can not parse value Dummy of expires in the cookie due to invalid format."]


def test_bad_max_age_alone_fails_as_in_the_worker() -> None:
    with pytest.raises(TypeError, match=r"^Cannot parse value Dummy of 'cookie.maxAge' to float\.$"):
        cookies("foo=bar; Max-Age=Dummy")


async def get(host: Any, path: str) -> tuple[int, list[str], str]:
    response = await host.client.get(f"/api/{path}")
    return response.status, response.headers.getall("Set-Cookie", []), await response.text()


async def test_worker_cookie_functions(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    # worker: test_multiple_set_cookie_resp_headers (status, both cookies, the other header kept)
    status, values, _ = await get(host, "multiple_set_cookie_resp_headers")
    assert (status, values) == (200, [FOO3_42, FOO3_43])
    # worker: test_set_cookie_resp_header_default_values
    assert (await get(host, "set_cookie_resp_header_default_values"))[:2] == (
        200,
        ["foo=bar; domain=; path="],
    )
    # worker: test_set_cookie_resp_header_empty
    assert (await get(host, "set_cookie_resp_header_empty"))[:2] == (200, [])
    # worker: test_response_cookie_header_nullable_bool_err / _double_err: the header is dropped
    assert (await get(host, "response_cookie_header_nullable_bool_err"))[:2] == (200, [])
    assert (await get(host, "response_cookie_header_nullable_double_err"))[:2] == (200, [])
    # SameSite, escaping, two cookies in one header
    assert (await get(host, "cookie_same_site"))[:2] == (
        200,
        [
            "a=x%20y; domain=; path=/p; samesite=strict",
            "b=q; domain=; path=; secure; samesite=none",
            "c=1; domain=; path=",
            "c2=2; domain=; path=",
        ],
    )


async def test_unparsable_expires_fails_the_invocation(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    # worker: test_response_cookie_header_nullable_timestamp_err (500, the worker's log line)
    status, values, body = await get(host, "response_cookie_header_nullable_timestamp_err")
    assert (status, values, body) == (500, [], "")
    assert "Can not parse value Dummy of expires in the cookie due to invalid format." in host.logs
    assert any("Exception: ParserError: Unknown string format: Dummy" in line for line in host.logs), (
        host.logs
    )
    status, _, _ = await get(host, "cookie_bad_max_age")
    assert status == 500
    assert any(
        "Exception: TypeError: Cannot parse value Dummy of 'cookie.maxAge' to float." in line
        for line in host.logs
    )


@pytest.mark.slow
def test_cli_cookies_and_console_categories() -> None:
    """Through the real CLI: cookies as the host writes them, and what the console shows of each logger."""
    from pathlib import Path

    from tests.cli import running

    with running(Path(APP)) as host:
        status, headers, _ = host.request("GET", "/api/set_cookie_resp_header_default_values")
        assert (status, headers.get("Set-Cookie")) == (200, "foo=bar; domain=; path=")
        status, _, body = host.request("GET", "/api/response_cookie_header_nullable_timestamp_err")
        assert (status, body) == (500, b"")
        host.request("GET", "/api/debug_logging")
        host.request("GET", "/api/system_logging")
        out = host.wait_for_output("parallelly_log_custom at custom_logger")
        assert "Can not parse value Dummy of expires in the cookie due to invalid format." in out
        assert (
            "logging info" in out and "logging debug" not in out
        )  # host.json says Trace; the worker says INFO
        assert "parallelly_log_system at disguised_logger" not in out and "sdk warning line" not in out
        assert '[httpx] HTTP Request: POST http://127.0.0.1/v1 "HTTP/1.1 500"' in out
