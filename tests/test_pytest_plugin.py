"""The ``funchost`` pytest fixture: hosts, invoke, logs, stores, cassettes, isolation between tests."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from funchost.invocation import InvocationError
from funchost.plugin import BindingError
from funchost.testing import AppLoadError, FunctionNotFound, TestHost
from funchost_assistants.chat.cassette import RecordingChatModel
from funchost_assistants.chat.scripted import ScriptedChatModel
from funchost_assistants.stores.base import Collection
from funchost_assistants.stores.memory import MemoryStore
from funchost_assistants.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAIServer

pytest_plugins = ["pytester"]

SAMPLE_APP = Path(__file__).resolve().parents[1] / "sample_app"
EPOCH = "timestampUTC=2000-01-01T00:00:00Z"

APP_CODE = """
import json
import logging
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
REMEMBERED = []


@app.route(route="remember/{item}", methods=["POST"])
def remember(req: func.HttpRequest) -> func.HttpResponse:
    REMEMBERED.append(req.route_params["item"])
    logging.info("remembered %s", req.route_params["item"])
    return func.HttpResponse(json.dumps(REMEMBERED), mimetype="application/json")


@app.function_name("Echo")
@app.assistant_skill_trigger(arg_name="text", function_description="Echo the text in capitals")
def echo(text: str) -> str:
    logging.info("echoing %s", text)
    os.environ["SET_BY_APP"] = "yes"
    return text.upper()


@app.function_name("Boom")
@app.assistant_skill_trigger(arg_name="text", function_description="Always fails")
def boom(text: str) -> str:
    raise ValueError(f"bad text: {text}")
"""

SETTINGS = {
    "IsEncrypted": False,
    "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "GREETING": "from settings"},
}


def write_app(folder: Path, code: str = APP_CODE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function_app.py").write_text(code)
    (folder / "host.json").write_text('{"version": "2.0"}')
    (folder / "local.settings.json").write_text(json.dumps(SETTINGS))
    return folder


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app")


# -- the fixture, used directly ---------------------------------------------------------------------------------


async def test_http_through_the_client_and_module_state(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    assert isinstance(host, TestHost)
    first = await host.client.post("/api/remember/milk")
    second = await host.client.post("/api/remember/eggs")
    assert first.status == 200
    assert await second.json() == ["milk", "eggs"]
    assert os.environ["GREETING"] == "from settings"  # exported like Core Tools does


async def test_invoke_returns_the_function_result(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    assert await host.invoke("Echo", {"text": "hi"}) == "HI"
    assert await host.invoke("echo", '{"text": "again"}') == "AGAIN"


async def test_invoke_raises_the_functions_own_exception(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    with pytest.raises(ValueError, match=r"^bad text: x$"):
        await host.invoke("Boom", {"text": "x"})
    assert host.logs[-1].startswith("Executed 'Functions.Boom' (Failed, Id=")
    assert "ValueError: bad text: x" in host.logs[-1]


async def test_invoke_an_http_function_with_an_http_request(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    request = func.HttpRequest(
        "POST", "http://localhost/api/remember/tea", body=b"", route_params={"item": "tea"}
    )
    response = await host.invoke("remember", request)
    assert isinstance(response, func.HttpResponse)
    assert response.get_body() == b'["tea"]'


async def test_invoke_refusals_say_what_to_do(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    with pytest.raises(FunctionNotFound) as missing:
        await host.invoke("Nope")
    assert str(missing.value) == (
        f"The app at {app.resolve()} has no function named 'Nope'; its functions: Boom, Echo, remember."
    )
    with pytest.raises(BindingError) as http:
        await host.invoke("remember", "milk")
    assert str(http.value) == (
        "Cannot run 'remember' with input 'milk': An HttpRequest is required: HTTP functions cannot be run "
        "through the admin API. Call the function's URL instead (see the Functions: list), or pass a "
        "func.HttpRequest."
    )


async def test_logs_are_the_console_lines(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    await host.invoke("Echo", {"text": "hi"})
    assert len(host.logs) == 3
    assert host.logs[0].startswith("Executing 'Functions.Echo' (Reason=")
    assert host.logs[1] == "echoing hi"
    assert host.logs[2].startswith("Executed 'Functions.Echo' (Succeeded, Id=")


async def test_store_and_chat_are_first_class(funchost: Any) -> None:
    host = await funchost(SAMPLE_APP)
    assert isinstance(host.store, MemoryStore)
    assert isinstance(host.chat, ScriptedChatModel)
    assert host.service("assistants") is not None
    await host.client.put("/api/assistants/a1")
    host.chat.reply("Hello there")
    answer = await host.client.post("/api/assistants/a1?message=hi")
    assert await answer.text() == "Hello there"
    assert host.chat.requests[0].messages[-1] == {"role": "user", "content": "hi"}
    states = await host.store.list(Collection())
    assert [s.id for s in states] == ["a1"]


async def test_sqlite_store_lives_in_tmp_path(funchost: Any, tmp_path: Path) -> None:
    host = await funchost(SAMPLE_APP, store="sqlite")
    assert isinstance(host.store, SqliteStore)
    await host.client.put("/api/assistants/a1")
    assert (tmp_path / "assistants.db").is_file()
    assert str(tmp_path / "assistants.db") in host.store.describe()


async def test_settings_override_local_settings(funchost: Any, app: Path) -> None:
    host = await funchost(app, settings={"GREETING": "from the test"})
    assert os.environ["GREETING"] == "from the test"
    assert host.host.setting("GREETING") == "from the test"
    assert not [line for line in host.logs if "Skipping" in line]


async def test_unknown_service_is_refused(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    with pytest.raises(
        LookupError,
        match=r"offers a service named 'queue'; offered: assistants, chat, (.*, )?store\. Plugins are started only "
        r"for apps using their binding types; this app uses none of blob, blobTrigger, embeddings, embeddingsStore, "
        r"queue, queueTrigger, semanticSearch, timerTrigger, warmupTrigger\.$",
    ):
        host.service("queue")


async def test_a_stand_in_is_served_even_when_its_plugin_did_not_start(funchost: Any) -> None:
    """An HTTP-only app starts no assistants plugin, yet the store the test asked for is the one it gets back."""
    host = await funchost(Path(__file__).parent / "apps" / "e2e_http", store="memory")
    assert "assistants" not in [p.name for p in host.host.registry.plugins]
    assert isinstance(host.store, MemoryStore)
    with pytest.raises(AttributeError, match=r"this app uses none of assistantCreate, assistantPost"):
        host.assistants  # noqa: B018  (a service only the running plugin offers)



async def test_max_body_limits_request_bodies(funchost: Any, app: Path) -> None:
    limited = await funchost(app, max_body=10)
    refused = await limited.client.post("/api/remember/big", data=b"x" * 11)
    assert refused.status == 413
    accepted = await limited.client.post("/api/remember/small", data=b"x" * 10)
    assert await accepted.json() == ["small"]  # the refused request never reached the function
    await limited.close()
    default = await funchost(app)  # Core Tools' 100 MiB, not aiohttp's 1 MiB
    answer = await default.client.post("/api/remember/large", data=b"x" * (2 * 1024 * 1024))
    assert answer.status == 200


async def test_chat_from_the_app_settings(funchost: Any) -> None:
    host = await funchost(SAMPLE_APP, chat="settings", settings={"FUNCHOST_CHAT": "echo"})
    await host.client.put("/api/assistants/a1")
    answer = await host.client.post("/api/assistants/a1?message=say%20this")
    assert await answer.text() == "say this"
    assert len(host.chat.requests) == 0  # the echo model keeps no requests: its memory stays flat under load
    with pytest.raises(ValueError, match=r"^chat='openai' is not a chat choice: pass a chat model object"):
        await funchost(SAMPLE_APP, chat="openai")

# -- failures at start -------------------------------------------------------------------------------------------


async def test_missing_app_folder(funchost: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        await funchost(tmp_path / "nothing")
    assert str(error.value).startswith(f"funchost: the app folder '{tmp_path / 'nothing'}' does not exist")
    assert "Pass the folder holding function_app.py or host.json" in str(error.value)


async def test_broken_app_fails_with_every_problem(funchost: Any, tmp_path: Path) -> None:
    code = APP_CODE + textwrap.dedent("""
        @app.route(route="bad")
        @app.assistant_query_input(arg_name="state", id="{x}", timestamp_utc="", sparkle="yes")
        def bad(req: func.HttpRequest, state: str) -> func.HttpResponse:
            return func.HttpResponse(state)
    """)
    folder = write_app(tmp_path / "broken", code)
    with pytest.raises(AppLoadError) as error:
        await funchost(folder)
    message = str(error.value)
    assert message.startswith(f"The app at {folder.resolve()} did not load cleanly:\n- function 'bad': ")
    assert "sparkle" in message
    assert message.endswith("Fix the app, or pass strict=False to test a broken app.")
    host = await funchost(folder, strict=False)
    assert await host.invoke("Echo", {"text": "ok"}) == "OK"


async def test_bad_store_and_missing_cassette(funchost: Any, app: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"^store='redis' is not a store kind: use one of memory, sqlite, tables"
    ):
        await funchost(app, store="redis")
    with pytest.raises(FileNotFoundError, match="record it once with FUNCHOST_RECORD=1"):
        await funchost(app, cassette=tmp_path / "none.jsonl")


# -- cassettes ---------------------------------------------------------------------------------------------------


async def test_cassette_replays_recorded_replies(funchost: Any, tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    recorder = RecordingChatModel(ScriptedChatModel().reply("Recorded answer"), cassette)
    first = await funchost(SAMPLE_APP, chat=recorder)
    await first.client.put("/api/assistants/a1")
    await first.client.post("/api/assistants/a1?message=hi")
    await first.close()

    replay = await funchost(SAMPLE_APP, cassette=cassette)
    await replay.client.put("/api/assistants/a1")
    answer = await replay.client.post("/api/assistants/a1?message=hi")
    assert await answer.text() == "Recorded answer"
    unmatched = await replay.client.post("/api/assistants/a1?message=something else")
    assert unmatched.status == 500
    failure = replay.logs[-1]
    assert f"No recorded reply in the cassette {cassette}" in failure
    assert "The closest recorded request is on line 1" in failure


async def test_record_mode_records_through_the_real_model(
    funchost: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = tmp_path / "cassettes" / "x.jsonl"
    cassette.parent.mkdir()
    cassette.write_text("stale line from an older recording\n")
    monkeypatch.setenv("FUNCHOST_RECORD", "1")
    async with FakeOpenAIServer(api_key="sk-test") as fake:
        fake.reply("From the model")
        settings = {"OPENAI_BASE_URL": fake.openai_base_url, "OPENAI_API_KEY": "sk-test"}
        host = await funchost(SAMPLE_APP, settings=settings, cassette=cassette)
        await host.client.put("/api/assistants/a1")
        answer = await host.client.post("/api/assistants/a1?message=hi")
        assert await answer.text() == "From the model"
        await host.close()
    lines = cassette.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["response"]["content"] == "From the model"
    assert "sk-test" not in lines[0]


# -- isolation and teardown, in a separate pytest session ---------------------------------------------------------


def _inner(pytester: pytest.Pytester, app: Path, body: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_inner=f"APP = {str(app)!r}\nSAMPLE = {str(SAMPLE_APP)!r}\n" + textwrap.dedent(body)
    )
    return pytester.runpytest_inprocess("-p", "no:cacheprovider")


def test_nothing_leaks_between_tests(pytester: pytest.Pytester, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    handlers = list(logging.getLogger().handlers)
    level = logging.getLogger().level
    result = _inner(
        pytester,
        app,
        """
        import os, sys

        async def test_first(funchost):
            host = await funchost(APP)
            await host.client.post("/api/remember/a")
            await host.invoke("Echo", {"text": "x"})
            assert os.environ["SET_BY_APP"] == "yes"
            sample = await funchost(SAMPLE)
            await sample.client.put("/api/assistants/a1")

        async def test_second(funchost):
            assert "GREETING" not in os.environ
            assert "SET_BY_APP" not in os.environ
            assert "function_app" not in sys.modules
            host = await funchost(APP)
            answer = await host.client.post("/api/remember/b")
            assert await answer.json() == ["b"]
            assert [line for line in host.logs if line.startswith("remembered")] == ["remembered b"]
            sample = await funchost(SAMPLE)
            state = await sample.client.get("/api/assistants/a1?timestampUTC=2000-01-01T00:00:00Z")
            assert (await state.json())["exists"] is False
    """,
    )
    result.assert_outcomes(passed=2)
    assert "GREETING" not in os.environ
    assert "function_app" not in sys.modules
    assert str(app.resolve()) not in sys.path
    assert logging.getLogger().handlers == handlers
    assert logging.getLogger().level == level


def test_hosts_are_closed_when_a_test_fails(pytester: pytest.Pytester, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    result = _inner(
        pytester,
        app,
        """
        import os
        started = []

        async def test_fails(funchost):
            host = await funchost(APP)
            started.append(host)
            await host.client.post("/api/remember/a")
            assert await host.invoke("Echo", {"text": "x"}) == "nope"

        async def test_after(funchost):
            assert started[0].host.state == "Stopped"
            assert started[0].client.server.closed
            assert "GREETING" not in os.environ
    """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError*",
            "*Captured log call*",
            "INFO     Function.Echo:*Executing 'Functions.Echo'*",
            "INFO     root:function_app.py:* echoing x",
        ]
    )


def test_plugin_is_registered_as_pytest11_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="pytest11") if ep.name == "funchost"]
    assert [ep.value for ep in found] == ["funchost.pytest_plugin"]


def test_the_assistants_plugin_exports_its_test_seams_and_the_core_does_not() -> None:
    import funchost.testing as testing
    import funchost_assistants

    assert funchost_assistants.MemoryStore is MemoryStore
    assert funchost_assistants.ScriptedChatModel is ScriptedChatModel
    assert not hasattr(testing, "MemoryStore")
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _ = funchost_assistants.Nothing


async def test_binding_failures_raise_invocation_error(funchost: Any) -> None:
    host = await funchost(SAMPLE_APP)
    request = func.HttpRequest(
        "GET", "http://localhost/api/assistants/a1", body=b"", route_params={"assistantId": "a1"}
    )
    with pytest.raises(InvocationError) as error:
        await host.invoke("GetChatState", request)
    assert error.value.status == 500
    assert str(error.value).startswith(
        "Exception while executing function: Functions.GetChatState. Error in input binding 'state' (assistantQuery)"
    )


async def test_large_headers_work_in_tests_as_under_funchost_start(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    cookie = "session=" + "x" * 9000  # a 9 KB cookie: Kestrel takes it, aiohttp's default limit would not
    answer = await host.client.post("/api/remember/large", data=b"x", headers={"Cookie": cookie})
    assert answer.status == 200
