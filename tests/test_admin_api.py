"""funchost/web/app.py in process: admin API, homepage, CORS, keys, host.json customHeaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from funchost.host import Host, HostOptions
from funchost.web.app import Cors, Server
from funchost.web.keys import KeyRing

APP = Path(__file__).parent / "apps" / "e2e_console"


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    loaded = await Host.load(
        HostOptions(
            script_root=APP, port=7071, apply_environment=False, overrides={"FUNCHOST_STORE": "memory"}
        )
    )
    await loaded.start()
    yield loaded
    await loaded.close()


MakeClient = Callable[..., Awaitable[Any]]


async def test_admin_routes(host: Host, aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(Server(host, max_body=1000).app)
    resp = await client.get("/admin/host/status")
    assert (resp.status, (await resp.json())["state"]) == (200, "Running")
    assert (await client.post("/admin/host/ping")).status == 200
    names = [f["name"] for f in await (await client.get("/admin/functions")).json()]
    assert sorted(names, key=str.lower) == ["Alpha", "beta", "Boom", "gamma_queue", "Retired", "zeta"]
    meta = await (await client.get("/admin/functions/alpha")).json()
    assert (meta["name"], meta["invoke_url_template"]) == ("Alpha", "http://localhost:7071/custom/hello")
    assert (await client.get("/admin/functions/missing")).status == 404
    assert await (await client.get("/admin/functions/zeta/status")).json() == {}
    assert (await client.get("/admin/nothing/here")).status == 404


async def test_admin_invoke(host: Host, aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(Server(host, max_body=1000).app)
    assert (await client.post("/admin/functions/gamma_queue", data="not json")).status == 400
    assert (await client.post("/admin/functions/gamma_queue", data='["a"]')).status == 400
    assert (await client.post("/admin/functions/unknown", data='{"input": "x"}')).status == 404
    resp = await client.post("/admin/functions/gamma_queue", data='{"Input": "x"}')
    assert (resp.status, await resp.read()) == (202, b"")
    await asyncio.gather(*host.background)
    assert host.invoker.in_flight == 0


async def test_homepage_and_not_found(host: Host, aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(Server(host, max_body=1000).app)
    resp = await client.get("/")
    assert resp.status == 200 and "up and running" in await resp.text()
    assert (await client.get("/nothing")).status == 404
    resp = await client.delete("/custom/logs")
    assert (resp.status, await resp.read()) == (404, b"")


async def test_body_limit(host: Host, aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(Server(host, max_body=10).app)
    assert (await client.post("/custom/items/1", data=b"x" * 100)).status == 413


async def test_cors_any_origin_without_credentials(host: Host, aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(Server(host, max_body=1000, cors=Cors(("*",), False)).app)
    resp = await client.options(
        "/custom/hello",
        headers={
            "Origin": "http://x",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-a",
        },
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Allow-Headers"] == "x-a"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    resp = await client.get("/custom/hello", headers={"Origin": "http://x"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    resp = await client.get("/custom/hello")
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_keys_protect_admin(host: Host, aiohttp_client: MakeClient, tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path / ".funchost")
    assert KeyRing.load_or_create(tmp_path / ".funchost") == ring
    host.keys = ring
    client = await aiohttp_client(Server(host, max_body=1000, keys=ring).app)
    assert (await client.get("/admin/host/status")).status == 401
    assert (await client.get("/admin/host/status", headers={"x-functions-key": ring.function})).status == 401
    assert (await client.get(f"/admin/host/status?code={ring.master}")).status == 200
    assert (await client.get("/admin/host/ping")).status == 200
    assert (await client.get("/custom/hello")).status == 200  # the app is anonymous


async def test_503_when_not_running(host: Host, aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(Server(host, max_body=1000).app)
    host.state = "Stopping"
    resp = await client.get("/custom/hello")
    assert (resp.status, await resp.text()) == (503, "Function host is not running.")
    host.state = "Running"


async def test_chunked_body_reaches_python_empty_like_on_azure(aiohttp_client: MakeClient) -> None:
    loaded = await Host.load(
        HostOptions(script_root=Path(__file__).parent / "apps" / "e2e_http", apply_environment=False)
    )
    await loaded.start()
    try:
        client = await aiohttp_client(Server(loaded, max_body=1000).app)

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"a": 1}'

        chunked = await (await client.post("/api/echo/abc", data=chunks())).json()
        sized = await (await client.post("/api/echo/abc", data=b'{"a": 1}')).json()
    finally:
        await loaded.close()
    assert chunked["body"] == "" and chunked["json"] == "ValueError: HTTP request does not contain valid JSON data"
    assert sized["body"] == '{"a": 1}' and sized["json"] == {"a": 1}
