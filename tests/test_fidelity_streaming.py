"""Issue 11 item 6: HTTP streaming with the azurefunctions-extensions-http-fastapi extension.

Expected behaviour is the Python worker's (http_v2.py, bindings/meta.py) and the extension's (its catch-all FastAPI
route): with the extension imported, HTTP functions take a FastAPI Request whose body streams in, a returned
Response streams out as produced, plain values are FastAPI's JSON, a failure is FastAPI's 500."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path

import aiohttp
import azure.functions as func
import pytest

from tests.cli import running
from tests.waiting import wait_until

pytest.importorskip("azurefunctions.extensions.http.fastapi")

APP = "tests/apps/fidelity_stream"
APPS = Path(__file__).parent / "apps"


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("str", '"hello"'),
        ("int", "42"),
        ("float", "1.5"),
        ("bool", "true"),
        ("list", '[1,"two",null]'),
        ("model", '{"x":1,"label":"p"}'),
    ],
)
async def test_plain_return_values_are_fastapi_json(funchost, kind: str, body: str) -> None:
    host = await funchost(APP)
    resp = await host.client.get(f"/api/plain/{kind}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert await resp.text() == body


async def test_json_response_keeps_status_and_headers_and_route_values_reach_the_request(funchost) -> None:
    host = await funchost(APP)
    resp = await host.client.get("/api/items/5?q=z")
    assert (resp.status, await resp.json()) == (200, {"id": "5", "q": "z", "path": "/api/items/5"})
    resp = await host.client.post("/api/count", data=b"x" * 70_000)
    assert resp.status == 201
    assert resp.headers["x-counted"] == "yes"
    assert await resp.json() == {"bytes": 70_000}


async def test_an_exception_is_fastapis_500_and_the_invocation_failed(funchost) -> None:
    host = await funchost(APP)
    resp = await host.client.get("/api/boom")
    assert resp.status == 500
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await resp.text() == "Internal Server Error"
    failed = [line for line in host.logs if line.startswith("Executed 'Functions.boom' (Failed")]
    assert failed and "ValueError: kaboom" in failed[0]


async def test_none_is_a_500_although_the_invocation_succeeded(funchost) -> None:
    """The worker hands None to its HttpCoordinator, whose catch-all then finds no response."""
    host = await funchost(APP)
    resp = await host.client.get("/api/plain/none")
    assert (resp.status, await resp.text()) == (500, "Internal Server Error")
    assert any(line.startswith("Executed 'Functions.plain' (Succeeded") for line in host.logs)
    assert any("No http response found for invocation" in line for line in host.logs)


async def test_sync_function_and_sync_generator_stream(funchost) -> None:
    host = await funchost(APP)
    resp = await host.client.get("/api/sync-stream")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert await resp.text() == "line 0\nline 1\nline 2\n"


async def test_a_stream_that_fails_midway_is_cut_short_and_logged(funchost) -> None:
    host = await funchost(APP)
    resp = await host.client.get("/api/broken-stream")
    assert resp.status == 200
    first = await resp.content.readline()
    assert first == b"partial\n"
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    assert any(
        "The response of 'Functions.broken_stream' failed while streaming" in line
        and "RuntimeError: generator failed" in line
        for line in host.logs
    )


async def test_invoke_with_a_func_http_request_hands_the_function_a_fastapi_request(funchost) -> None:
    host = await funchost(APP)
    request = func.HttpRequest(
        method="GET",
        url="http://localhost/api/items/7",
        route_params={"id": "7"},
        params={"q": "a"},
        body=b"",
    )
    assert await host.invoke("item", request) == {"id": "7", "q": "a", "path": "/api/items/7"}


async def test_annotations_the_worker_refuses_with_the_extension(funchost) -> None:
    host = await funchost("tests/apps/fidelity_stream_wrong", strict=False)
    logs = "\n".join(host.logs)
    assert (
        'type of req binding in function.json "httpTrigger" does not match its Python annotation "HttpRequest"'
        in logs
    )
    assert 'Python return annotation "HttpResponse" does not match binding type "http"' in logs
    assert 'Python return annotation "bytes" does not match binding type "http"' in logs
    resp = await host.client.get("/api/fine")
    assert (resp.status, await resp.text()) == (200, '"served"')


async def test_functions_written_for_the_extension_fail_to_load_without_it(funchost) -> None:
    """The app does not import the extension: the index-time error says what to add. Its classic function is
    served as usual, also in a process where another app imported the extension."""
    await funchost(APP)  # the extension is now imported in this process
    host = await funchost("tests/apps/fidelity_stream_missing", strict=False)
    errors = [line for line in host.logs if "function is in error" in line]
    assert len(errors) == 2
    assert any(
        "'takes_request'" in e and "parameter 'req' is a Starlette/FastAPI \"Request\"" in e for e in errors
    )
    assert any(
        "'returns_stream'" in e and 'returns a Starlette/FastAPI "StreamingResponse"' in e for e in errors
    )
    assert all(
        "from azurefunctions.extensions.http.fastapi import Request, StreamingResponse" in e for e in errors
    )
    resp = await host.client.get("/api/classic")
    assert (resp.status, await resp.text()) == (200, "still served")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"


# ---------------------------------------------------------------- through the real CLI


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "fidelity_stream"
    shutil.copytree(APPS / "fidelity_stream", target, ignore=shutil.ignore_patterns("__pycache__", ".gate"))
    return target


@pytest.mark.slow
def test_the_first_chunk_reaches_the_client_before_the_stream_ends(app: Path) -> None:
    with running(app, "--cors", "http://example.com") as host:
        conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
        conn.request("GET", "/api/stream", headers={"Origin": "http://example.com"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Transfer-Encoding") == "chunked"
        assert (
            resp.getheader("Access-Control-Allow-Origin") == "http://example.com"
        )  # host headers still apply
        received = b""
        while b"\n" not in received:
            received += resp.read1(64)
        assert (
            received == b"first\n"
        )  # the generator is blocked on the gate: the rest cannot have been produced
        assert not (app / ".gate").exists()
        host.wait_for_output(
            "Executed 'Functions.stream' (Succeeded"
        )  # the function returned; the stream goes on
        (app / ".gate").touch()
        received += resp.read()
        assert received == b"first\nchunk 2\nchunk 3\n"
        conn.close()
        assert "streaming starts" in host.output


@pytest.mark.slow
def test_the_request_body_streams_into_the_function(app: Path) -> None:
    """Chunked upload: the second chunk is sent only once the function has seen the first, so a host that
    buffered the body before calling the function would never answer."""
    with running(app) as host:
        conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
        conn.putrequest("POST", "/api/upload")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"5\r\nhello\r\n")
        wait_until(lambda: (app / ".got-first").exists(), message="the function did not see the first chunk")
        conn.send(b"6\r\n world\r\n0\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read()) == {"chunks": 2, "bytes": 11}
        conn.close()
