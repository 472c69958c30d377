"""Cassettes: record chat calls to JSON lines, replay them offline, explain mismatches."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from funchost_assistants.chat import (
    ChatError,
    ChatReply,
    ChatRequest,
    RecordingChatModel,
    ReplayChatModel,
    ScriptedChatModel,
    open_chat_model,
)
from funchost_assistants.models import ToolCall
from tests.fake_openai import FakeOpenAIServer

KEY = "azure-secret-key-xyz"


def ask(text: str, **extra: Any) -> ChatRequest:
    messages = [{"role": "system", "content": "You help with todos."}, {"role": "user", "content": text}]
    return ChatRequest(model="gpt-4o", messages=messages, temperature=0.5, max_tokens=100, **extra)


async def test_recording_appends_one_line_per_call_and_replay_answers_identically(tmp_path: Path) -> None:
    cassette = tmp_path / "cassettes" / "todo.jsonl"
    inner = (
        ScriptedChatModel().tool_call("AddTodo", {"task": "milk"}, tokens=50).reply("Added milk.", tokens=61)
    )
    recorder = RecordingChatModel(inner, cassette)

    recorded = [await recorder.complete(ask("Remind me to buy milk")), await recorder.complete(ask("Thanks"))]
    await recorder.close()

    lines = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {
            "request": ask("Remind me to buy milk").wire(),
            "response": {
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "AddTodo", "arguments": '{"task": "milk"}'},
                    }
                ],
                "total_tokens": 50,
            },
        },
        {
            "request": ask("Thanks").wire(),
            "response": {"content": "Added milk.", "tool_calls": [], "total_tokens": 61},
        },
    ]

    replay = ReplayChatModel(cassette)
    assert [await replay.complete(ask("Thanks")), await replay.complete(ask("Remind me to buy milk"))] == [
        recorded[1],
        recorded[0],
    ]
    assert recorded[0].tool_calls == [ToolCall("call_1", "AddTodo", '{"task": "milk"}')]
    assert replay.describe() == f"replay of cassette {cassette} (2 recorded replies, no network)"


async def test_repeated_identical_requests_are_consumed_in_order(tmp_path: Path) -> None:
    cassette = tmp_path / "repeat.jsonl"
    recorder = RecordingChatModel(ScriptedChatModel().reply("one").reply("two"), cassette)
    await recorder.complete(ask("again"))
    await recorder.complete(ask("again"))

    replay = ReplayChatModel(cassette)
    assert (await replay.complete(ask("again"))).content == "one"
    assert (await replay.complete(ask("again"))).content == "two"
    with pytest.raises(ChatError) as caught:
        await replay.complete(ask("again"))

    assert str(caught.value) == (
        f"Request #3 (model 'gpt-4o') matches the cassette {cassette} (line 1, 2), "
        "but its 2 recorded replies were already used. "
        "The app made more identical calls than when it was recorded; re-record the cassette."
    )


async def test_unmatched_request_shows_the_closest_recorded_request(tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    recorder = RecordingChatModel(ScriptedChatModel(default="ok"), cassette)
    await recorder.complete(ask("What is the weather?"))
    await recorder.complete(ask("Remind me to buy milk"))

    with pytest.raises(ChatError) as caught:
        await ReplayChatModel(cassette).complete(ask("Remind me to buy eggs"))

    assert str(caught.value) == "\n".join(
        [
            f"No recorded reply in the cassette {cassette} for request #1 (model 'gpt-4o'). "
            "The closest recorded request is on line 2:",
            "--- recorded (line 2)",
            "+++ this request",
            "@@ -7,5 +7,5 @@",
            "     },",
            "     {",
            '-      "content": "Remind me to buy milk",',
            '+      "content": "Remind me to buy eggs",',
            '       "role": "user"',
            "     }",
            "Re-record the cassette, or change the app back so it sends the recorded request.",
        ]
    )


async def test_options_are_part_of_the_match(tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    await RecordingChatModel(ScriptedChatModel(default="ok"), cassette).complete(ask("hi"))

    with pytest.raises(ChatError, match=r'-  "temperature": 0\.5\n\+  "temperature": 0\.9'):
        await ReplayChatModel(cassette).complete(dataclasses.replace(ask("hi"), temperature=0.9))


async def test_failed_call_is_not_recorded(tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    recorder = RecordingChatModel(ScriptedChatModel().fail(500), cassette)

    with pytest.raises(ChatError, match="HTTP 500"):
        await recorder.complete(ask("hi"))

    assert not cassette.exists()


async def test_cassette_of_a_real_call_holds_no_credentials_or_endpoint(tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    async with FakeOpenAIServer(api_key=KEY) as server:
        settings = {"azureopenai__endpoint": server.url, "azureopenai__key": KEY}
        recorder = open_chat_model(lambda name: settings.get(name.lower()), record=cassette)
        server.reply(
            None, tool_calls=[("call_9", "AddTodo", '{"task":"eggs"}')], prompt_tokens=8, completion_tokens=4
        )

        reply = await recorder.complete(ask("Remind me to buy eggs", connection="AzureOpenAI"))
        await recorder.close()

    text = cassette.read_text(encoding="utf-8")
    assert KEY not in text
    assert "127.0.0.1" not in text
    assert "AzureOpenAI" not in text
    assert await ReplayChatModel(cassette).complete(ask("Remind me to buy eggs")) == reply
    assert reply == ChatReply(tool_calls=[ToolCall("call_9", "AddTodo", '{"task":"eggs"}')], total_tokens=12)


async def test_replay_wins_over_record_and_needs_no_settings(tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    await RecordingChatModel(ScriptedChatModel().reply("from tape"), cassette).complete(ask("hi"))

    model = open_chat_model(lambda name: None, record=tmp_path / "other.jsonl", replay=cassette)

    assert isinstance(model, ReplayChatModel)
    assert (await model.complete(ask("hi"))).content == "from tape"
    assert not (tmp_path / "other.jsonl").exists()


def test_missing_cassette_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(ChatError) as caught:
        ReplayChatModel(path)
    assert str(caught.value) == (
        f"The cassette {path} does not exist: record it first (record=...) or fix the path."
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
        ('{"response": {}}', 'not an object with a "request" object'),
        ('{"request": {"model": "m"}, "response": {"content": 3}}', '"response.content" is not a string'),
        (
            '{"request": {}, "response": {"tool_calls": ["x"]}}',
            '"response.tool_calls[0]" is not {"id", "type", ',
        ),
    ],
)
def test_invalid_cassette_line_is_reported_with_its_number(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"request": {"model": "m"}, "response": {"content": "x"}})
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8")

    with pytest.raises(ChatError) as caught:
        ReplayChatModel(path)

    message = str(caught.value)
    assert message.startswith(f"The cassette {path} is invalid at line 3: {problem}")
    assert message.endswith(
        'Each line must be {"request": {...}, "response": {...}}; re-record the cassette.'
    )


async def test_empty_cassette_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")

    with pytest.raises(ChatError) as caught:
        await ReplayChatModel(path).complete(ask("hi"))

    assert str(caught.value) == (
        f"No recorded reply in the cassette {path} for request #1 (model 'gpt-4o'): the cassette is empty. "
        "Re-record the cassette, or change the app back so it sends the recorded request."
    )
