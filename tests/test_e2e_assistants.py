"""The sample app end to end through the real CLI: create, three posts with skills, query, restart, query.

The chat model is the official openai SDK talking HTTP to a scripted OpenAI-compatible server on loopback,
configured exactly as a user would configure Azure OpenAI (AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_KEY).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import CommandResult, RunningHost, run_command, running
from tests.fake_openai import FakeOpenAIServer, fake_openai_in_thread

pytestmark = pytest.mark.slow  # end-to-end through the real CLI in a subprocess

SAMPLE = Path(__file__).resolve().parents[1] / "sample_app"
SUCCEEDED = "The function call succeeded. Let the user know that you completed the action."
EPOCH = "2000-01-01T00:00:00Z"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    return target


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with fake_openai_in_thread(api_key="test-key") as server:
        yield server


def env_for(model: FakeOpenAIServer) -> dict[str, str]:
    return {"AZURE_OPENAI_ENDPOINT": model.url, "AZURE_OPENAI_KEY": "test-key"}


def post(host: RunningHost, assistant: str, message: str) -> tuple[int, str]:
    from urllib.parse import quote

    status, _, body = host.request("POST", f"/api/assistants/{assistant}?message={quote(message)}")
    return status, body.decode()


def history(host: RunningHost, assistant: str) -> dict[str, object]:
    data = host.json("GET", f"/api/assistants/{assistant}?timestampUTC={EPOCH}")
    assert isinstance(data, dict)
    return data


def test_create_three_posts_with_skills_query_restart(app: Path, model: FakeOpenAIServer) -> None:
    model.reply(tool_calls=[("call_a", "AddTodo", '{"taskDescription": "Buy milk"}')])
    model.reply("I added 'Buy milk' to your list.")
    model.reply(tool_calls=[("call_b", "AddTodo", '{"taskDescription": "Call dad"}')])
    model.reply("Added 'Call dad'.")
    model.reply(tool_calls=[("call_c", "GetTodos", "{}")], prompt_tokens=100, completion_tokens=20)
    model.reply("You have 2 todos: Buy milk, Call dad.", prompt_tokens=200, completion_tokens=42)

    with running(app, env=env_for(model)) as host:
        status, _, body = host.request("PUT", "/api/assistants/assistant123")
        assert status == 202
        assert json.loads(body) == {"assistantId": "assistant123"}

        assert post(host, "assistant123", "Remind me to buy milk") == (
            200,
            "I added 'Buy milk' to your list.",
        )
        assert post(host, "assistant123", "And to call my dad") == (200, "Added 'Call dad'.")
        assert post(host, "assistant123", "What is on my list?") == (
            200,
            "You have 2 todos: Buy milk, Call dad.",
        )

        state = history(host, "assistant123")
        output = host.wait_for_output("Executed 'Functions.GetChatState' (Succeeded")

    messages = state["recentMessages"]
    assert isinstance(messages, list)
    assert [m["role"] for m in messages] == ["System"] + ["User", "Assistant", "Tool", "Assistant"] * 3
    assert state["totalMessages"] == 13
    assert state["totalTokens"] == 242  # the last model call's usage, not a running total
    assert list(state) == [
        "id",
        "exists",
        "createdAt",
        "lastUpdatedAt",
        "totalMessages",
        "totalTokens",
        "recentMessages",
    ]
    assert messages[3]["content"] == f"Function Name: 'AddTodo' and Function Result: '{SUCCEEDED}'"
    tool_calls = json.loads(messages[2]["toolCalls"])
    assert tool_calls == [
        {
            "id": "call_a",
            "functionName": "AddTodo",
            "functionArguments": '{"taskDescription": "Buy milk"}',
            "kind": "Function",
        }
    ]
    todos_result = messages[11]["content"]
    assert todos_result.startswith("Function Name: 'GetTodos' and Function Result: '\"[{")
    assert "Buy milk" in todos_result and "Call dad" in todos_result

    # Skills ran through the host's invocation path, with their own Executing/Executed lines.
    assert output.count("Executing 'Functions.AddTodo'") == 2
    assert output.count("Executed 'Functions.GetTodos' (Succeeded") == 1

    # What the model was sent: every skill as a tool, the whole history each time, the Azure deployment path.
    first, last = model.requests[0], model.requests[-1]
    assert first.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert first.headers["api-key"] == "test-key"
    tools = {t["function"]["name"]: t["function"] for t in first.json["tools"]}
    assert tools["AddTodo"]["parameters"] == {
        "type": "object",
        "properties": {"taskDescription": {"type": "string"}},
    }
    assert tools["AddTodo"]["description"] == "Create a new todo task"
    assert set(tools) == {"AddTodo", "GetTodos"}
    assert [m["role"] for m in last.json["messages"]] == ["system"] + [
        "user",
        "assistant",
        "tool",
        "assistant",
    ] * 2 + ["user", "assistant", "tool"]
    assert last.json["messages"][-1]["tool_call_id"] == "call_c"

    # The history survives a restart (SQLite in <app>/.funchost).
    assert (app / ".funchost" / ".gitignore").exists()
    with running(app, env=env_for(model)) as host:
        again = history(host, "assistant123")
    assert again["recentMessages"] == messages
    assert again["totalMessages"] == 13


def test_post_to_unknown_assistant_does_not_call_the_model(app: Path, model: FakeOpenAIServer) -> None:
    with running(app, env=env_for(model)) as host:
        status, text = post(host, "nobody", "hello?")
        output = host.wait_for_output("Executed 'Functions.PostUserQuery' (Succeeded")
    assert (status, text) == (404, "No assistant 'nobody'. Create it with PUT first.")
    assert model.requests == []
    assert "Executed 'Functions.PostUserQuery' (Succeeded" in output


def test_model_failure_fails_the_post_and_persists_nothing(app: Path, model: FakeOpenAIServer) -> None:
    model.error(400, "The model `gpt-4o-mini` does not exist", code="DeploymentNotFound")
    with running(app, env=env_for(model)) as host:
        assert host.request("PUT", "/api/assistants/a1")[0] == 202
        status, text = post(host, "a1", "hello")
        state = history(host, "a1")
        output = host.wait_for_output("Executed 'Functions.PostUserQuery' (Failed")
    assert (status, text) == (500, "")
    assert "Executed 'Functions.PostUserQuery' (Failed" in output
    assert "gpt-4o-mini" in output and "test-key" not in output
    assert state["totalMessages"] == 1  # the user message was not kept either


def test_no_model_configured_names_the_settings(app: Path) -> None:
    with running(app, env={"AZURE_OPENAI_ENDPOINT": "", "AZURE_OPENAI_KEY": ""}) as host:
        assert host.request("PUT", "/api/assistants/a1")[0] == 202
        status, _ = post(host, "a1", "hello")
        output = host.wait_for_output("OPENAI_API_KEY")
    assert status == 500
    assert "AZURE_OPENAI_ENDPOINT" in output and "OPENAI_API_KEY" in output


def test_assistants_cli_lists_shows_exports_and_deletes(app: Path, model: FakeOpenAIServer) -> None:
    model.reply("Hi there!")
    with running(app, env=env_for(model)) as host:
        host.request("PUT", "/api/assistants/helper")
        assert post(host, "helper", "hello") == (200, "Hi there!")

    def cli(*args: str) -> CommandResult:
        return run_command("assistants", *args, "--script-root", str(app))

    listing = cli("list")
    assert listing.returncode == 0 and listing.stdout.startswith("helper\tmessages=3\t")
    shown = cli("show", "helper")
    assert "[msg-0002] User: hello" in shown.stdout and "[msg-0003] Assistant: Hi there!" in shown.stdout
    exported = json.loads(cli("export", "helper").stdout)
    assert [row["RowKey"] for row in exported] == ["state", "msg-0001", "msg-0002", "msg-0003"]
    assert exported[2]["Role"] == "User" and exported[0]["TotalMessages"] == 3
    assert cli("delete", "helper").returncode == 0
    gone = cli("show", "helper")
    assert gone.returncode == 1 and "No assistant 'helper'" in gone.stdout


def test_offline_smoke_test_with_the_echo_model(app: Path) -> None:
    with running(app, env={"FUNCHOST_CHAT": "echo"}) as host:
        assert host.request("PUT", "/api/assistants/demo")[0] == 202
        assert post(host, "demo", "Hello offline world") == (200, "Hello offline world")
        state = history(host, "demo")
        output = host.wait_for_output("Executed 'Functions.GetChatState'")
    assert [m["role"] for m in state["recentMessages"]] == ["System", "User", "Assistant"]
    assert "Chat model: echo (FUNCHOST_CHAT=echo: the model repeats each user message, no network)" in output
