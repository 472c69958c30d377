"""Faults: a killed host, a storage outage, timeouts, a failing model, concurrent clients."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from funchost.testing import TestHost
from funchost_assistants import Collection, MemoryStore, ScriptedChatModel
from funchost_assistants.chat.scripted import echo
from funchost_assistants.service import FAILED_TEXT
from funchost_assistants.stores import SqliteStore
from tests.azurite import WELL_KNOWN_KEY, Azurite, azurite_or_skip, find_azurite
from tests.cli import RunningHost, running, spawn, wait_running
from tests.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.slow  # end-to-end through the real CLI in a subprocess

HARD_APP = Path(__file__).parent / "apps" / "hard_app"
CHAT = Collection()
CLI_ENV = {"FUNCHOST_CHAT": "scripted"}


def copy_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(HARD_APP, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    return app


# -- kill -9 while creating on SQLite -------------------------------------------------------------------------


def test_every_acknowledged_create_survives_kill_9(tmp_path: Path) -> None:
    app = copy_app(tmp_path)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    host = spawn(app, "--no-reload", "--store", "sqlite", env=CLI_ENV)
    wait_running(host)

    def client(worker: int) -> None:
        n = 0
        while not stop.is_set():
            assistant = f"w{worker}-{n}"
            try:
                status, _, _ = host.request(
                    "PUT", f"/api/assistants/{assistant}?instructions=keep%20{assistant}"
                )
            except OSError:
                return  # the host is gone
            if status == 202:
                with lock:
                    acked.append(assistant)
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        while len(acked) < 150 and host.proc.poll() is None:
            threading.Event().wait(0.01)
        os.kill(host.proc.pid, signal.SIGKILL)  # mid-stream: clients are still sending
        host.proc.wait(10)
    finally:
        stop.set()
        for t in threads:
            t.join(40)
    assert host.proc.returncode == -signal.SIGKILL
    with lock:
        survivors = list(acked)
    assert len(survivors) >= 150
    with running(app, "--store", "sqlite", env=CLI_ENV) as again:
        for assistant in survivors:
            state: Any = again.json("GET", f"/api/assistants/{assistant}?timestampUTC=2000-01-01")
            assert state["exists"] is True, assistant
            assert state["totalMessages"] == 1
            assert [(m["role"], m["content"]) for m in state["recentMessages"]] == [
                ("System", f"keep {assistant}")
            ]


# -- Azure Tables with Azurite stopped mid-run ----------------------------------------------------------------


def _relaunch(azurite: Azurite) -> subprocess.Popen[bytes]:
    """Start Azurite again on the same port (in memory: the data is gone, the service is back)."""
    executable = find_azurite()
    assert executable is not None
    env = {**os.environ, "AZURITE_ACCOUNTS": f"devstoreaccount1:{WELL_KNOWN_KEY}"}
    azurite.workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [executable, "--tableHost", "127.0.0.1", "--tablePort", str(azurite.port), "--inMemoryPersistence",
         "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=azurite.workdir,
    )  # fmt: skip


def _wait_http(host: RunningHost, method: str, path: str, status: int, tries: int = 200) -> int:
    last = 0
    for _ in range(tries):
        last = host.request(method, path)[0]
        if last == status:
            return last
        threading.Event().wait(0.1)
    return last


def test_tables_outage_is_503_naming_endpoint_and_setting_then_recovers(tmp_path: Path) -> None:
    azurite = azurite_or_skip()
    try:
        env = {**CLI_ENV, "AzureWebJobsStorage": azurite.connection_string()}
        with running(copy_app(tmp_path), "--store", "tables", env=env) as host:
            assert host.request("PUT", "/api/assistants/t1")[0] == 202
            assert host.request("GET", "/api/assistants/t1?timestampUTC=2000-01-01")[0] == 200
            azurite.process.terminate()
            azurite.process.wait(10)
            for method, path in [
                ("GET", "/api/assistants/t1?timestampUTC=2000-01-01"),
                ("PUT", "/api/assistants/t2"),
                ("POST", "/api/assistants/t1?message=hi"),
            ]:
                status, _, body = host.request(method, path)
                assert (status, body) == (503, b""), (method, path)
            host.wait_for_output(
                f"cannot reach the table endpoint {azurite.endpoint} (connection setting 'AzureWebJobsStorage'"
            )
            out = host.wait_for_output("Start Azurite or fix the setting, then retry.")
            assert WELL_KNOWN_KEY not in out and WELL_KNOWN_KEY[:12] not in out
            assert host.proc.poll() is None
            assert host.request("GET", "/api/hello")[0] == 200
            azurite.process = _relaunch(azurite)
            assert _wait_http(host, "PUT", "/api/assistants/t3", 202) == 202
            state: Any = host.json("GET", "/api/assistants/t3?timestampUTC=2000-01-01")
            assert state["exists"] is True and state["totalMessages"] == 1
    finally:
        azurite.stop()


# -- timeouts, model failures, concurrency (in process) --------------------------------------------------------


@pytest.fixture
def serve(funchost: Any, caplog: pytest.LogCaptureFixture) -> Callable[..., Awaitable[TestHost]]:
    """Start the hard app with the ``funchost`` fixture: a memory store and an echoing model by default."""
    caplog.set_level("INFO")

    async def start(
        store: Any = "memory", chat: Any = None, settings: dict[str, str] | None = None
    ) -> TestHost:
        chat = ScriptedChatModel(default=echo) if chat is None else chat
        host: TestHost = await funchost(HARD_APP, store=store, chat=chat, settings=settings, strict=False)
        return host

    return start


async def _call(client: TestClient[Any, Any], method: str, path: str) -> tuple[int, str]:
    async with client.request(method, path) as resp:
        return resp.status, await resp.text()


async def test_function_timeout_is_500_and_the_host_keeps_serving(serve: Any, caplog: Any) -> None:
    client = (await serve()).client
    assert await _call(client, "GET", "/api/slow") == (500, "")
    assert "Timeout value of 00:00:03 exceeded by function 'Functions.slow'" in caplog.text
    assert "Timeout value of 00:00:03 was exceeded by function: Functions.slow" in caplog.text
    assert await _call(client, "GET", "/api/hello") == (200, "Hello, world!")


async def test_a_hanging_skill_times_out_and_the_post_completes(serve: Any, caplog: Any) -> None:
    chat = ScriptedChatModel().tool_call("HangSkill", {"task": "wait"}).reply("The skill failed, sorry.")
    host = await serve(chat=chat)
    client, store = host.client, host.store
    assert (await _call(client, "PUT", "/api/assistants/h1"))[0] == 202
    status, text = await _call(client, "POST", "/api/assistants/h1?message=hang")
    assert status == 200
    assert [m["content"] for m in json.loads(text)["recentMessages"]][-1] == "The skill failed, sorry."
    assert "Timeout value of 00:00:03 exceeded by function 'Functions.HangSkill'" in caplog.text
    loaded = await store.load(CHAT, "h1")
    assert loaded[1][3].content == f"Function Name: 'HangSkill' and Function Result: '{FAILED_TEXT}'"


@pytest.mark.parametrize(
    ("status", "words"), [(429, "rate limiting"), (500, "the server failed"), (503, "the server failed")]
)
async def test_model_errors_are_retried_a_bounded_number_of_times_then_reported(
    serve: Any, caplog: Any, status: int, words: str
) -> None:
    async with FakeOpenAIServer() as fake:
        host = await serve(
            chat="settings", settings={"AZURE_OPENAI_ENDPOINT": fake.url, "AZURE_OPENAI_KEY": "x"}
        )
        client, store = host.client, host.store
        assert (await _call(client, "PUT", "/api/assistants/m1"))[0] == 202
        before = await store.load(CHAT, "m1")
        for _ in range(5):
            fake.error(status, "busy")
        assert await _call(client, "POST", "/api/assistants/m1?message=hi") == (500, "")
        assert len(fake.requests) == 3  # the first try and two retries, no more
        assert words in caplog.text and "still after 2 retries" in caplog.text
        assert "Nothing was saved for this post (not even the user message)" in caplog.text
        assert await store.load(CHAT, "m1") == before
        fake.reply("back")
        status_ok, text = await _call(client, "POST", "/api/assistants/m1?message=hi")
        assert status_ok == 200 and json.loads(text)["recentMessages"][0]["content"] == "back"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "assistants.db")


async def test_concurrent_mixed_clients_keep_every_assistant_consistent(serve: Any, store: Any) -> None:
    client = (await serve(store=store)).client
    shared = [f"s{i}" for i in range(4)]
    for assistant in shared:
        assert (await _call(client, "PUT", f"/api/assistants/{assistant}"))[0] == 202
    posts_per_assistant = 15
    jobs: list[Any] = []
    for n in range(posts_per_assistant):
        for assistant in shared:
            jobs.append(_call(client, "POST", f"/api/assistants/{assistant}?message=m{n}"))
            jobs.append(_call(client, "GET", f"/api/assistants/{assistant}?timestampUTC=2000-01-01"))
        jobs.append(_call(client, "PUT", f"/api/assistants/new{n}"))
    results = await asyncio.gather(*jobs)
    assert all(status in (200, 202) for status, _ in results), [r for r in results if r[0] not in (200, 202)]
    for assistant in shared:
        state, messages = await store.load(CHAT, assistant)
        total = 1 + 2 * posts_per_assistant
        assert state.total_messages == total
        assert [m.row_key for m in messages] == [f"msg-{i:04X}" for i in range(1, total + 1)]
        users = sorted(m.content for m in messages if m.role == "User")
        assert users == sorted(f"m{n}" for n in range(posts_per_assistant))
        # every user message is directly followed by its echo
        for first, second in zip(messages[1::2], messages[2::2], strict=True):
            assert (first.role, second.role, second.content) == ("User", "Assistant", first.content)
    for n in range(posts_per_assistant):
        loaded = await store.load(CHAT, f"new{n}")
        assert loaded is not None and len(loaded[1]) == 1
    await store.close() if isinstance(store, SqliteStore) else None
