"""Bad input is refused clearly, writes nothing and leaves the host serving (issue 5 battery)."""

from __future__ import annotations

import json
import logging
import shutil
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from funchost.host import DEFAULT_MAX_BODY, Host, HostOptions
from funchost.settings import ConfigError
from funchost.testing import TestHost
from funchost_assistants import Collection, MemoryStore, ScriptedChatModel
from funchost_assistants.chat.scripted import echo
from funchost_assistants.service import FAILED_TEXT
from tests.fake_openai import FakeOpenAIServer

HARD_APP = Path(__file__).parent / "apps" / "hard_app"
CHAT = Collection()


async def snapshot(store: MemoryStore) -> list[Any]:
    """Every assistant of the default collection with all its rows (the state a refusal must not change)."""
    result: list[Any] = []
    for state in await store.list(CHAT):
        result.append((state, await store.load(CHAT, state.id)))
    return result


@dataclass
class Harness:
    client: TestClient[Any, Any]
    host: Host
    store: MemoryStore
    caplog: pytest.LogCaptureFixture

    async def call(self, method: str, path: str, body: str | bytes | None = None) -> tuple[int, str]:
        async with self.client.request(method, path, data=body) as resp:
            return resp.status, await resp.text()

    async def still_serving(self) -> None:
        assert await self.call("GET", "/api/hello?name=after") == (200, "Hello, after!")


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
def make_harness(funchost: Any, caplog: pytest.LogCaptureFixture) -> MakeHarness:
    """Start an app with the ``funchost`` fixture: a memory store and an echoing model unless told otherwise."""
    caplog.set_level(logging.INFO)

    async def make(
        *, app: Path = HARD_APP, max_body: int | None = None, chat: Any = None, settings: Any = None
    ) -> Harness:
        test_host: TestHost = await funchost(
            app,
            store="memory",
            chat=ScriptedChatModel(default=echo) if chat is None else chat,
            settings=settings,
            max_body=max_body,
            strict=False,
        )
        return Harness(test_host.client, test_host.host, test_host.store, caplog)

    return make


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    h = await make_harness()
    status, _ = await h.call("PUT", "/api/assistants/existing?instructions=Keep%20it%20short.")
    assert status == 202
    return h


# -- assistantCreate refusals -------------------------------------------------------------------------------

TOO_LONG_ID = "a" * 1025
CREATE_REFUSALS = [
    pytest.param("{not json", ["is not JSON", "set the output to a JSON object string"], id="invalid-json"),
    pytest.param("null", ["is null, not a JSON object"], id="null"),
    pytest.param("5", ["is a number, not a JSON object"], id="number"),
    pytest.param('"text"', ["not a JSON object"], id="string"),
    pytest.param('{"instructions": "x"}', ['has no "id"', 'add "id"'], id="missing-id"),
    pytest.param('{"id": null}', ['"id"'], id="null-id"),
    pytest.param('{"id": 5}', ['"id" is a number; it must be a string'], id="number-id"),
    pytest.param('{"id": ""}', ['"id"'], id="empty-id"),
    pytest.param('{"id": "a/b"}', ["U+002F", "remove it"], id="slash-id"),
    pytest.param('{"id": "a\\\\b"}', ["U+005C", "remove it"], id="backslash-id"),
    pytest.param('{"id": "a#b"}', ["U+0023", "remove it"], id="hash-id"),
    pytest.param('{"id": "a?b"}', ["U+003F", "remove it"], id="question-id"),
    pytest.param('{"id": "a\\u0001b"}', ["U+0001", "remove it"], id="control-id"),
    pytest.param('{"id": "a\\u007fb"}', ["U+007F", "remove it"], id="del-id"),
    pytest.param(
        json.dumps({"id": TOO_LONG_ID}),
        ['"id" is 1025 UTF-16 characters long', "limited to 1 KiB", "use a shorter value"],
        id="long-id",
    ),
    pytest.param('{"id": "ok", "instructions": 5}', ['"instructions"', "string"], id="number-instructions"),
    pytest.param('{"id": "ok", "instructions": ["a"]}', ['"instructions"', "string"], id="list-instructions"),
    pytest.param(
        json.dumps({"id": "ok", "instructions": "x" * (64 * 1024 + 1)}), ["64 KiB"], id="huge-instructions"
    ),
    pytest.param('[{"id": "good1"}, {"id": "bad/one"}]', ["U+002F"], id="array-one-bad"),
    pytest.param('[{"id": "good2"}, 7]', ["number"], id="array-one-number"),
]


@pytest.mark.parametrize(("body", "fragments"), CREATE_REFUSALS)
async def test_create_refusal_writes_nothing(harness: Harness, body: str, fragments: list[str]) -> None:
    before = await snapshot(harness.store)
    status, text = await harness.call("POST", "/api/raw/create", body)
    assert (status, text) == (500, "")
    log = harness.caplog.text
    assert "Executed 'Functions.CreateRaw' (Failed" in log
    assert "Error in output binding 'requests' (assistantCreate): assistantCreate request" in log
    for fragment in fragments:
        assert fragment in log
    assert "Nothing was created." in log
    assert await snapshot(harness.store) == before
    await harness.still_serving()


# -- HTTP ----------------------------------------------------------------------------------------------------


async def test_malformed_json_to_get_json_is_a_500_with_the_value_error(harness: Harness) -> None:
    status, text = await harness.call("POST", "/api/json", "{bad json")
    assert (status, text) == (500, "")
    log = harness.caplog.text
    assert "Executed 'Functions.parse_json' (Failed" in log
    assert "Exception: ValueError: HTTP request does not contain valid JSON data" in log
    assert 'function_app.py", line' in log and "req.get_json()" in log
    await harness.still_serving()


async def test_body_over_the_limit_is_413_and_not_invoked(make_harness: MakeHarness) -> None:
    h = await make_harness(max_body=1000)
    before = await snapshot(h.store)
    status, _ = await h.call("POST", "/api/raw/create", json.dumps({"id": "big", "instructions": "x" * 2000}))
    assert status == 413
    assert "body larger than the limit of 1000 bytes (413). Raise it with --max-request-body-size." in (
        h.caplog.text
    )
    assert "Executing 'Functions.CreateRaw'" not in h.caplog.text
    assert await snapshot(h.store) == before
    assert await h.call("POST", "/api/json", json.dumps({"x": "y" * 900})) == (
        200,
        json.dumps({"x": "y" * 900}),
    )


def test_default_body_limit_is_core_tools_100_mib() -> None:
    from funchost.cli import build_parser

    assert DEFAULT_MAX_BODY == 100 * 1024 * 1024
    assert build_parser().parse_args(["start"]).max_request_body_size == DEFAULT_MAX_BODY
    assert build_parser().parse_args(["start", "--max-request-body-size", "5"]).max_request_body_size == 5


@pytest.mark.parametrize("path", ["/api/items/abc", "/api/items/1.5", "/api/items/"])
async def test_route_value_failing_its_constraint_is_404(harness: Harness, path: str) -> None:
    assert await harness.call("GET", path) == (404, "")
    assert "Functions.typed_item" not in harness.caplog.text
    assert await harness.call("GET", "/api/items/42") == (200, "item 42")


async def test_unknown_admin_function_is_404(harness: Harness) -> None:
    before = await snapshot(harness.store)
    assert await harness.call("POST", "/admin/functions/NoSuchFunction", '{"input": "x"}') == (404, "")
    assert await snapshot(harness.store) == before


@pytest.mark.parametrize(
    ("body", "got"), [(None, "an empty body"), ("[1]", "something else"), ("{oops", "something else")]
)
async def test_admin_invoke_without_a_json_object_body_is_400(
    harness: Harness, body: str | None, got: str
) -> None:
    before = await snapshot(harness.store)
    status, text = await harness.call("POST", "/admin/functions/CreateRaw", body)
    assert status == 400
    assert text == f'POST /admin/functions/CreateRaw needs a JSON body like {{"input": "..."}}; got {got}.'
    assert "Executing 'Functions.CreateRaw'" not in harness.caplog.text
    assert await snapshot(harness.store) == before


async def test_invalid_timestamp_in_a_query_names_the_value_and_the_format(harness: Harness) -> None:
    assert await harness.call("GET", "/api/assistants/existing?timestampUTC=yesterday") == (500, "")
    assert (
        "Error in input binding 'state' (assistantQuery): Invalid timestamp 'yesterday'."
        in harness.caplog.text
    )
    assert "Pass an ISO 8601 UTC timestamp" in harness.caplog.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "cannot resolve property 'userMessage' ('{Query.message}'): Error while accessing 'message'"),
        (
            "?message=",
            "The assistant must have a user message. Set the assistantPost binding's 'userMessage'",
        ),
    ],
    ids=["no-message", "empty-message"],
)
async def test_post_without_a_message_is_refused_and_saves_nothing(
    harness: Harness, query: str, message: str
) -> None:
    before = await snapshot(harness.store)
    assert await harness.call("POST", f"/api/assistants/existing{query}") == (500, "")
    assert "Error in input binding 'state' (assistantPost): " in harness.caplog.text
    assert message in harness.caplog.text
    assert await snapshot(harness.store) == before


# -- configuration -------------------------------------------------------------------------------------------


def _app(tmp_path: Path, *, host_json: str = '{"version": "2.0"}', settings: str | None = None) -> Path:
    shutil.copy(HARD_APP / "function_app.py", tmp_path / "function_app.py")
    (tmp_path / "host.json").write_text(host_json)
    if settings is not None:
        (tmp_path / "local.settings.json").write_text(settings)
    return tmp_path


async def test_invalid_host_json_refuses_to_start_naming_the_file(tmp_path: Path) -> None:
    app = _app(tmp_path, host_json='{"version": "2.0",')
    with pytest.raises(ConfigError) as info:
        await Host.load(HostOptions(script_root=app, apply_environment=False))
    text = str(info.value)
    assert "host.json" in text
    assert str(app) in text or "host.json" in text


async def test_wrong_host_json_version_says_what_to_write(tmp_path: Path) -> None:
    app = _app(tmp_path, host_json='{"version": "1.0"}')
    with pytest.raises(ConfigError) as info:
        await Host.load(HostOptions(script_root=app, apply_environment=False))
    assert 'Set "version": "2.0" (a JSON string) in host.json.' in str(info.value)


async def test_invalid_local_settings_warns_and_the_host_still_starts(
    tmp_path: Path, make_harness: MakeHarness
) -> None:
    app = _app(tmp_path, settings='{"Values": {"A": "1",}')
    h = await make_harness(app=app)
    assert h.host.state == "Running"
    warnings = [r.getMessage() for r in h.caplog.records if r.levelno == logging.WARNING]
    assert any("local.settings.json" in w for w in warnings), warnings
    await h.still_serving()


async def test_missing_setting_in_an_input_binding_is_a_500_naming_it(harness: Harness) -> None:
    before = await snapshot(harness.store)
    assert await harness.call("GET", "/api/missing-setting/existing") == (500, "")
    assert (
        "Error in input binding 'state' (assistantQuery): property 'id': '%HARD_MISSING_SETTING%' does not "
        "resolve to a value. Add 'HARD_MISSING_SETTING' to Values in local.settings.json or set it as an "
        "environment variable."
    ) in harness.caplog.text
    assert await snapshot(harness.store) == before
    await harness.still_serving()


# -- app code ------------------------------------------------------------------------------------------------

HEAD = "import azure.functions as func\napp = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
OK_FUNCTION = textwrap.dedent("""
    @app.route(route="ok")
    def ok(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")
""")
BROKEN_FUNCTIONS = {
    "mismatch": (
        '@app.route(route="broken")\n'
        '@app.assistant_query_input(arg_name="state", id="x", timestamp_utc="y")\n'
        "def broken(req: func.HttpRequest, other: str) -> func.HttpResponse:\n"
        '    return func.HttpResponse("x")\n',
        "the following parameters are declared in Python but not in function.json: {'other'}",
    ),
    "unknown-type": (
        '@app.route(route="broken")\n'
        '@app.generic_input_binding(arg_name="thing", type="noSuchBinding")\n'
        "def broken(req: func.HttpRequest, thing: str) -> func.HttpResponse:\n"
        '    return func.HttpResponse("x")\n',
        "The binding type 'noSuchBinding' of binding 'thing' is not registered",
    ),
    "misspelled-property": (
        '@app.route(route="broken")\n'
        '@app.generic_input_binding(arg_name="state", type="assistantQuery", id="x", timestampUtcc="y")\n'
        "def broken(req: func.HttpRequest, state: str) -> func.HttpResponse:\n"
        '    return func.HttpResponse("x")\n',
        "unknown property 'timestampUtcc' for binding type 'assistantQuery'. Did you mean 'timestampUtc'?",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_FUNCTIONS))
async def test_a_broken_function_is_in_error_alone(
    tmp_path: Path, make_harness: MakeHarness, case: str
) -> None:
    source, message = BROKEN_FUNCTIONS[case]
    (tmp_path / "function_app.py").write_text(HEAD + OK_FUNCTION + "\n" + source)
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    h = await make_harness(app=tmp_path)
    broken = h.host.find("broken")
    assert broken is not None and any(message in e for e in broken.spec.errors), broken
    assert "The 'broken' function is in error: " in h.caplog.text and message in h.caplog.text
    assert await h.call("GET", "/api/ok") == (200, "ok")
    assert await h.call("GET", "/api/broken") == (404, "")
    async with h.client.get("/admin/functions/broken/status") as resp:
        assert any(message in e for e in (await resp.json())["errors"])


GLOBAL_ERRORS = {
    "syntax-error": (HEAD + OK_FUNCTION + "\ndef broken(:\n", "SyntaxError: invalid syntax"),
    "import-error": (
        "import not_a_module_funchost_test\n" + HEAD + OK_FUNCTION,
        "ModuleNotFoundError: No module named 'not_a_module_funchost_test'",
    ),
    "duplicate-names": (
        HEAD + OK_FUNCTION + '\n@app.function_name("ok")\n@app.route(route="ok2")\n'
        'def ok2(req: func.HttpRequest) -> func.HttpResponse:\n    return func.HttpResponse("ok2")\n',
        "ValueError: Function ok does not have a unique function name.",
    ),
    "missing-trigger": (
        HEAD + OK_FUNCTION + '\n@app.function_name("notrig")\n@app.assistant_create_output(arg_name="r")\n'
        "def notrig(r: func.Out[str]) -> None:\n    pass\n",
        "notrig",
    ),
}


@pytest.mark.parametrize("case", list(GLOBAL_ERRORS))
async def test_v2_app_level_errors_are_global_and_the_host_stays_up(
    tmp_path: Path, make_harness: MakeHarness, case: str
) -> None:
    """The v2 model indexes the whole module at once: an import-time failure leaves no functions (by nature)."""
    source, message = GLOBAL_ERRORS[case]
    (tmp_path / "function_app.py").write_text(source)
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    h = await make_harness(app=tmp_path)
    assert h.host.index.errors and "Worker failed to index functions" in h.host.index.errors[0]
    assert message in h.host.index.errors[0]
    assert h.host.bound == {}
    assert await h.call("GET", "/api/ok") == (404, "")
    async with h.client.get("/admin/host/status") as resp:
        status = await resp.json()
    assert status["state"] == "Running" and any(message in e for e in status["errors"])


async def test_v1_errors_stay_in_their_folder(tmp_path: Path, make_harness: MakeHarness) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    binding = {
        "scriptFile": "__init__.py",
        "bindings": [
            {
                "authLevel": "anonymous",
                "type": "httpTrigger",
                "direction": "in",
                "name": "req",
                "methods": ["get"],
            },
            {"type": "http", "direction": "out", "name": "$return"},
        ],
    }
    sources = {
        "Good": "import azure.functions as func\n\n\ndef main(req: func.HttpRequest) -> func.HttpResponse:\n"
        "    return func.HttpResponse('good')\n",
        "Bad": "def main(req:\n",
    }
    for name, code in sources.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(code)
        (tmp_path / name / "function.json").write_text(json.dumps(binding))
    h = await make_harness(app=tmp_path)
    failures = h.host.index.load_failures
    assert len(failures) == 1 and failures[0].startswith("Bad: SyntaxError")
    assert await h.call("GET", "/api/Good") == (200, "good")
    # As on Azure, a v1 function that fails to load is still routed and every call fails (500).
    assert await h.call("GET", "/api/Bad") == (500, "")


# -- model responses (FakeOpenAIServer as the Azure OpenAI endpoint) -----------------------------------------


@pytest.fixture
async def azure_fake(make_harness: MakeHarness) -> AsyncIterator[tuple[FakeOpenAIServer, Harness]]:
    async with FakeOpenAIServer() as fake:
        h = await make_harness(
            chat="settings", settings={"AZURE_OPENAI_ENDPOINT": fake.url, "AZURE_OPENAI_KEY": "x"}
        )
        status, _ = await h.call("PUT", "/api/assistants/bot")
        assert status == 202
        yield fake, h


async def _history(h: Harness, assistant: str = "bot") -> list[dict[str, Any]]:
    status, text = await h.call("GET", f"/api/assistants/{assistant}?timestampUTC=2000-01-01")
    assert status == 200
    return list(json.loads(text)["recentMessages"])


@pytest.mark.parametrize(
    ("name", "arguments", "warning"),
    [
        ("EchoSkill", "{not json", "with arguments that are not a JSON object"),
        ("EchoSkill", "[1, 2]", "with arguments that are not a JSON object"),
        ("NoSuchSkill", '{"text": "x"}', "but no skill is registered with that name"),
    ],
    ids=["invalid-arguments", "array-arguments", "unknown-tool"],
)
async def test_bad_tool_calls_are_reported_failed_and_history_stays_loadable(
    azure_fake: tuple[FakeOpenAIServer, Harness], name: str, arguments: str, warning: str
) -> None:
    fake, h = azure_fake
    fake.reply(None, tool_calls=[("call_1", name, arguments)]).reply("Sorry, that failed.")
    status, text = await h.call("POST", "/api/assistants/bot?message=do%20it")
    assert status == 200
    assert [m["content"] for m in json.loads(text)["recentMessages"]][-1] == "Sorry, that failed."
    assert f"The model called '{name}'" in h.caplog.text and warning in h.caplog.text
    history = await _history(h)
    assert [m["role"] for m in history] == ["System", "User", "Assistant", "Tool", "Assistant"]
    assert history[3]["content"] == f"Function Name: '{name}' and Function Result: '{FAILED_TEXT}'"
    assert fake.requests[0].path == "/openai/deployments/gpt-test/chat/completions"
    # the next post sends the stored history back, including the failed call and its answer
    fake.reply("fine")
    assert (await h.call("POST", "/api/assistants/bot?message=again"))[0] == 200
    sent = fake.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]


async def test_an_empty_model_reply_stores_only_the_user_message(
    azure_fake: tuple[FakeOpenAIServer, Harness],
) -> None:
    fake, h = azure_fake
    fake.reply("")
    status, text = await h.call("POST", "/api/assistants/bot?message=hello")
    assert status == 200
    assert json.loads(text)["recentMessages"] == []
    assert [m["role"] for m in await _history(h)] == ["System", "User"]
    fake.reply("now I answer")
    status, text = await h.call("POST", "/api/assistants/bot?message=hello%20again")
    assert [m["content"] for m in json.loads(text)["recentMessages"]] == ["now I answer"]
    assert [m["role"] for m in await _history(h)] == ["System", "User", "User", "Assistant"]
