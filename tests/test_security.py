"""Security defaults: loopback bind, opt-in keys, no secrets in output, hostile assistant ids isolated."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from funchost.host import DEFAULT_MAX_BODY, Host, HostOptions
from funchost.web.app import Server
from funchost_assistants import Collection, MemoryStore, ScriptedChatModel
from funchost_assistants.chat.scripted import echo
from funchost_assistants.stores import SqliteStore
from tests.azurite import Azurite
from tests.cli import running, spawn

HARD_APP = Path(__file__).parent / "apps" / "hard_app"
SAMPLE_APP = Path(__file__).parents[1] / "sample_app"
CLI_ENV = {"FUNCHOST_CHAT": "scripted"}


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses listening on ``port``, from /proc/net/tcp (state 0A = LISTEN)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, hex_port = fields[1].split(":")
        if int(hex_port, 16) == port and fields[3] == "0A":
            raw = bytes.fromhex(address)[::-1]
            found.add(".".join(str(b) for b in raw))
    return found


@pytest.mark.slow
def test_binds_loopback_by_default() -> None:
    with running(HARD_APP, env=CLI_ENV) as host:
        assert _listening_addresses(host.port) == {"127.0.0.1"}
    assert "reachable from other machines" not in host.output  # read after stop: the whole output


@pytest.mark.slow
def test_binding_all_interfaces_warns() -> None:
    with running(HARD_APP, "--host", "0.0.0.0", env=CLI_ENV) as host:
        assert _listening_addresses(host.port) == {"0.0.0.0"}
        host.wait_for_output(
            "Listening on 0.0.0.0: the app is reachable from other machines and keys are not "
            "enforced (add --enable-auth)."
        )


@pytest.mark.slow
def test_enable_auth_enforces_levels(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    host = spawn(app, "--no-reload", "--enable-auth", "--store", "memory", env=CLI_ENV)
    try:
        host.wait_for_output(
            "For detailed output, run funchost with --verbose flag."
        )  # status needs a key now
        keys_file = app / ".funchost" / "keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        shown = subprocess.run(
            [sys.executable, "-m", "funchost", "keys", "--script-root", str(app)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        master = shown.split("Master key: ")[1].split()[0]
        function = shown.split("Function key (default): ")[1].split()[0]
        assert master != function
        host.wait_for_output(master)  # printed once at start
        assert host.request("PUT", "/api/assistants/a1")[::2] == (401, b"")
        assert host.request("PUT", "/api/assistants/a1", headers={"x-functions-key": "wrong"})[::2] == (
            401,
            b"",
        )
        assert host.request("PUT", "/api/assistants/a1", headers={"x-functions-key": function})[0] == 202
        assert host.request("PUT", f"/api/assistants/a2?code={function}")[0] == 202
        assert host.request("PUT", f"/api/assistants/a3?code={master}")[0] == 202
        assert host.request("GET", "/api/hello")[::2] == (200, b"Hello, world!")  # anonymous stays open
        assert host.request("GET", "/admin/host/status", headers={"x-functions-key": function})[::2] == (
            401,
            b"",
        )
        assert host.request("GET", "/admin/host/status", headers={"x-functions-key": master})[0] == 200
        assert host.request("GET", "/admin/functions")[::2] == (401, b"")
    finally:
        host.stop()


SECRET_KEY = "c2VjcmV0LWFjY291bnQta2V5LWZvci1mdW5jaG9zdC10ZXN0cw=="
SECRET_CONNECTION = (
    f"DefaultEndpointsProtocol=http;AccountName=leaky;AccountKey={SECRET_KEY};"
    "TableEndpoint=http://127.0.0.1:9/leaky;"
)
SECRET_API_KEY = "sk-funchost-test-api-key-0123456789"


@pytest.mark.slow
def test_secrets_never_reach_the_console_unmasked() -> None:
    env = {**CLI_ENV, "AzureWebJobsStorage": SECRET_CONNECTION, "AZURE_OPENAI_KEY": SECRET_API_KEY,
           "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9"}  # fmt: skip
    with running(HARD_APP, "--verbose", env=env) as host:
        assert host.request("GET", "/api/leak")[0] == 500
        output = host.wait_for_output("Exception: RuntimeError: could not connect with ***")
        assert "connecting with *** and key ***" in output
        for secret in (SECRET_KEY, SECRET_API_KEY, SECRET_KEY[:16]):
            assert secret not in output


# -- hostile assistant ids ---------------------------------------------------------------------------------

HOSTILE_IDS = [
    "quote'inside",
    "' or 1 eq 1",
    "x' or PartitionKey ne 'x",
    "' OR '1'='1",
    '"; DROP TABLE assistants; --',
    "ünïcødé-助手-😀",
    "%27 or 1 eq 1",
    "a' and RowKey eq 'state",
]


@pytest.fixture(params=["memory", "sqlite", "tables"])
async def hostile_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[TestClient[Any, Any], Any]]:
    store: Any
    overrides: dict[str, str] = {}
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / "assistants.db")
    else:
        server: Azurite = request.getfixturevalue("azurite")
        from funchost_assistants.stores.tables import TablesStore

        settings = {"AzureWebJobsStorage": server.connection_string()}
        store = TablesStore(settings.get)
        overrides = settings
    host = await Host.load(
        HostOptions(
            script_root=HARD_APP,
            apply_environment=False,
            overrides=overrides,
            services={"store": store, "chat": ScriptedChatModel(default=echo)},
        )
    )
    await host.start()
    client: TestClient[Any, Any] = TestClient(TestServer(Server(host, max_body=DEFAULT_MAX_BODY).app))
    await client.start_server()
    yield client, store
    await client.close()
    await host.close()
    await store.close()


async def _state(client: TestClient[Any, Any], assistant: str) -> dict[str, Any]:
    async with client.get("/api/query", params={"id": assistant, "timestampUTC": "2000-01-01"}) as resp:
        assert resp.status == 200, await resp.text()
        return dict(json.loads(await resp.text()))


async def test_hostile_ids_are_isolated(hostile_client: tuple[TestClient[Any, Any], Any]) -> None:
    client, store = hostile_client
    run = uuid.uuid4().hex[:8]
    victim = f"victim-{run}"
    async with client.post("/api/create", params={"id": victim}) as resp:
        assert resp.status == 202
    for hostile in HOSTILE_IDS:
        assistant = hostile + run
        assert (await _state(client, assistant))["exists"] is False  # never someone else's rows
        async with client.post("/api/create", params={"id": assistant}) as resp:
            assert resp.status == 202, await resp.text()
        async with client.post(f"/api/assistants/{victim}", params={"message": f"for {victim}"}) as resp:
            assert resp.status == 200
    for hostile in HOSTILE_IDS:
        state = await _state(client, hostile + run)
        assert state["id"] == hostile + run and state["exists"] is True
        assert [m["role"] for m in state["recentMessages"]] == ["System"]
    victim_state = await _state(client, victim)
    assert victim_state["totalMessages"] == 1 + 2 * len(HOSTILE_IDS)
    ids = {s.id for s in await store.list(Collection())}
    assert {victim, *(h + run for h in HOSTILE_IDS)} <= ids
