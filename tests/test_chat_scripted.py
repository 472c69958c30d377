"""ScriptedChatModel: queued replies, recorded requests, deterministic tool-call ids, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from funchost_assistants.chat import ChatError, ChatReply, ChatRequest, ScriptedChatModel, echo
from funchost_assistants.models import ToolCall


def ask(text: str, model: str = "gpt-4o") -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}])


async def test_replies_come_back_in_order_and_requests_are_recorded() -> None:
    chat = ScriptedChatModel().reply("first", tokens=12).reply("second")

    assert await chat.complete(ask("a")) == ChatReply(content="first", total_tokens=12)
    assert await chat.complete(ask("b")) == ChatReply(content="second", total_tokens=0)
    assert [r.messages[0]["content"] for r in chat.requests] == ["a", "b"]
    assert chat.remaining == 0


async def test_recorded_request_is_a_snapshot_of_what_was_sent() -> None:
    chat = ScriptedChatModel().reply("ok")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]

    await chat.complete(ChatRequest(model="m", messages=messages))
    messages.append({"role": "assistant", "content": "ok"})

    assert chat.requests[0].messages == [{"role": "user", "content": "hi"}]


async def test_tool_calls_get_deterministic_ids_and_json_arguments() -> None:
    chat = (
        ScriptedChatModel()
        .tool_call("AddTodo", {"task": "milk"}, tokens=40)
        .tool_call("GetTodos", '{"raw": true}', id="call_custom")
        .tool_calls([("A", {}), ("B", {"x": 1}, "call_b"), ToolCall("call_z", "C", "{}")], content="thinking")
        .tool_call("D")
    )

    first = await chat.complete(ask("1"))
    second = await chat.complete(ask("2"))
    third = await chat.complete(ask("3"))
    fourth = await chat.complete(ask("4"))

    assert first == ChatReply(tool_calls=[ToolCall("call_1", "AddTodo", '{"task": "milk"}')], total_tokens=40)
    assert second.tool_calls == [ToolCall("call_custom", "GetTodos", '{"raw": true}')]
    assert third == ChatReply(
        content="thinking",
        tool_calls=[
            ToolCall("call_2", "A", "{}"),
            ToolCall("call_b", "B", '{"x": 1}'),
            ToolCall("call_z", "C", "{}"),
        ],
    )
    assert fourth.tool_calls == [ToolCall("call_3", "D", "{}")]


def test_tool_calls_needs_at_least_one_call() -> None:
    with pytest.raises(ValueError, match=r"tool_calls\(\) needs at least one call; use reply\(\)"):
        ScriptedChatModel().tool_calls([])


async def test_failures_are_raised_in_queue_order() -> None:
    own = ChatError("quota exceeded")
    chat = ScriptedChatModel().fail(own).fail(429).fail("model offline").reply("back")

    with pytest.raises(ChatError) as first:
        await chat.complete(ask("a"))
    with pytest.raises(ChatError) as second:
        await chat.complete(ask("b"))
    with pytest.raises(ChatError) as third:
        await chat.complete(ask("c"))

    assert first.value is own
    assert str(second.value) == "The scripted chat model failed with HTTP 429 (queued with chat.fail(429))."
    assert str(third.value) == "model offline"
    assert (await chat.complete(ask("d"))).content == "back"
    assert len(chat.requests) == 4


async def test_empty_queue_says_which_request_and_how_to_queue() -> None:
    chat = ScriptedChatModel().reply("only one")
    await chat.complete(ask("first"))

    with pytest.raises(ChatError) as caught:
        await chat.complete(ask("second question", model="gpt-35"))

    assert str(caught.value) == (
        "The scripted model has no reply queued for request #2 (model 'gpt-35', last message user: "
        "'second question'): queue one with chat.reply(...), chat.tool_call(...) or chat.fail(...) "
        "before the call, or create it with ScriptedChatModel(default=...)."
    )


async def test_defaults_answer_when_the_queue_is_empty() -> None:
    fixed = ScriptedChatModel(default="I am a stub")
    echoing = ScriptedChatModel(default=echo)
    custom = ScriptedChatModel(default=lambda request: ChatReply(content=request.model, total_tokens=1))
    conversation = ChatRequest(
        model="m",
        messages=[
            {"role": "user", "content": "earlier"},
            {"role": "user", "content": "latest"},
            {"role": "tool", "tool_call_id": "call_1", "content": "result"},
        ],
    )

    assert await fixed.reply("queued first").complete(ask("x")) == ChatReply(content="queued first")
    assert await fixed.complete(ask("x")) == ChatReply(content="I am a stub")
    assert await echoing.complete(conversation) == ChatReply(content="latest")
    assert await custom.complete(ask("x", model="gpt-x")) == ChatReply(content="gpt-x", total_tokens=1)


async def test_reset_forgets_queue_requests_and_ids() -> None:
    chat = ScriptedChatModel().tool_call("A").reply("unused")
    await chat.complete(ask("a"))

    chat.reset()
    chat.tool_call("B")

    assert chat.requests == []
    assert chat.remaining == 1
    assert (await chat.complete(ask("b"))).tool_calls == [ToolCall("call_1", "B", "{}")]


def test_describe_counts_queued_replies() -> None:
    assert ScriptedChatModel().reply("a").fail(500).describe() == "scripted chat model (2 replies queued)"
    assert (
        ScriptedChatModel(default="x").describe()
        == "scripted chat model (0 replies queued, then a default reply)"
    )
