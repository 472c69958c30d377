"""AssistantService against the memory store and the scripted chat model."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from funchost_assistants.chat.base import ChatError, ChatReply, ChatRequest
from funchost_assistants.chat.scripted import ScriptedChatModel
from funchost_assistants.models import ChatMessage, CreateRequest, InvalidRequest, ToolCall
from funchost_assistants.service import (
    FAILED_TEXT,
    SKIPPED_TEXT,
    SUCCEEDED_TEXT,
    AssistantService,
    ChatOptions,
    Coordination,
    Skill,
    parse_timestamp,
)
from funchost_assistants.stores.base import Collection, StateChanged
from funchost_assistants.stores.memory import MemoryStore

WHERE = Collection("AzureWebJobsStorage", "ChatState")
INSTRUCTIONS = "Don't make assumptions about what values to plug into functions."
NONEXISTENT = (
    '{"id":"ghost","exists":false,"createdAt":"0001-01-01T00:00:00","lastUpdatedAt":"0001-01-01T00:00:00",'
    '"totalMessages":0,"totalTokens":0,"recentMessages":[]}'
)
OPTIONS = ChatOptions(model="gpt-4o")
ADD_TODO = Skill(
    "AddTodo",
    "Create a new todo task",
    {"type": "object", "properties": {"taskDescription": {"type": "string"}}},
    target="add_todo",
)


class Skills:
    """Records skill invocations and answers from a table of results (exceptions are raised)."""

    def __init__(self, **results: Any) -> None:
        self.results = results
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, skill: Skill, arguments: str) -> Any:
        self.calls.append((skill.name, arguments))
        await asyncio.sleep(0)
        result = self.results.get(skill.name)
        if isinstance(result, Exception):
            raise result
        return result


class YieldingChat(ScriptedChatModel):
    """A scripted model that gives the event loop a turn before answering, like a network call."""

    async def complete(self, request: ChatRequest) -> ChatReply:
        await asyncio.sleep(0)
        return await super().complete(request)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def chat() -> ScriptedChatModel:
    return ScriptedChatModel()


@pytest.fixture
def service(store: MemoryStore, chat: ScriptedChatModel) -> AssistantService:
    return AssistantService(store, chat, logging.getLogger("test.assistants"))


async def create(
    service: AssistantService, assistant_id: str = "a1", instructions: str | None = INSTRUCTIONS
) -> None:
    await service.create(WHERE, CreateRequest(assistant_id, instructions, WHERE.connection, WHERE.table))


async def rows(store: MemoryStore, assistant_id: str = "a1") -> list[ChatMessage]:
    loaded = await store.load(WHERE, assistant_id)
    assert loaded is not None
    return loaded[1]


def summary(messages: list[ChatMessage]) -> list[tuple[str, str, str, str | None]]:
    return [(m.row_key, m.role, m.content, m.name) for m in messages]


def tool_row(name: str, result: str) -> str:
    return f"Function Name: '{name}' and Function Result: '{result}'"


def assert_well_formed(messages: list[dict[str, Any]]) -> None:
    """Each assistant tool_calls message is followed by one tool message per call id (OpenAI demands it)."""
    for i, message in enumerate(messages):
        if "tool_calls" in message:
            ids = [c["id"] for c in message["tool_calls"]]
            answers = [m["tool_call_id"] for m in messages[i + 1 : i + 1 + len(ids)] if m["role"] == "tool"]
            assert answers == ids


# --- create --------------------------------------------------------------------------------------------


async def test_create_writes_system_message_and_state(
    service: AssistantService, store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await create(service)
    loaded = await store.load(WHERE, "a1")
    assert loaded is not None
    state, messages = loaded
    assert (state.exists, state.total_messages, state.total_tokens) == (True, 1, 0)
    assert summary(messages) == [("msg-0001", "System", INSTRUCTIONS, None)]
    assert f'[a1] Creating new chat session with instructions = "{INSTRUCTIONS}"' in caplog.messages
    assert "Created assistant 'a1'" in caplog.messages


async def test_create_without_instructions_has_no_messages(
    service: AssistantService, store: MemoryStore
) -> None:
    for instructions in (None, "   "):
        await create(service, instructions=instructions)
        loaded = await store.load(WHERE, "a1")
        assert loaded is not None
        assert loaded[0].total_messages == 0
        assert loaded[1] == []


async def test_recreate_wipes_history(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    chat.reply("Hello!", tokens=12)
    await service.post(WHERE, "a1", "Hi", OPTIONS, [], Skills())
    await create(service, instructions="Be brief.")
    loaded = await store.load(WHERE, "a1")
    assert loaded is not None
    assert (loaded[0].total_messages, loaded[0].total_tokens) == (1, 0)
    assert summary(loaded[1]) == [("msg-0001", "System", "Be brief.", None)]


async def test_create_refuses_instructions_over_table_limit(
    service: AssistantService, store: MemoryStore
) -> None:
    with pytest.raises(InvalidRequest, match="64 KiB"):
        await create(service, instructions="x" * 40_000)
    assert await store.load(WHERE, "a1") is None


# --- post ----------------------------------------------------------------------------------------------


async def test_post_without_tools(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    chat.reply("Hello! How can I help?", tokens=42)
    body = json.loads(await service.post(WHERE, "a1", "Hi", OPTIONS, [], Skills()))
    assert body["exists"] is True
    assert (body["totalMessages"], body["totalTokens"]) == (3, 42)
    assert body["recentMessages"] == [
        {"content": "Hello! How can I help?", "role": "Assistant", "toolCalls": ""}
    ]
    assert [k for k in body] == [
        "id", "exists", "createdAt", "lastUpdatedAt", "totalMessages", "totalTokens", "recentMessages",
    ]  # fmt: skip
    [request] = chat.requests
    assert request.messages == [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "Hi"},
    ]
    assert (request.model, request.tools, request.temperature, request.max_tokens, request.top_p) == (
        "gpt-4o", None, 0.5, 100, None,
    )  # fmt: skip
    assert summary(await rows(store)) == [
        ("msg-0001", "System", INSTRUCTIONS, None),
        ("msg-0002", "User", "Hi", None),
        ("msg-0003", "Assistant", "Hello! How can I help?", None),
    ]


async def test_post_with_one_skill_call_stores_five_messages(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    chat.tool_call("AddTodo", {"taskDescription": "Buy milk"}, id="call_abc", tokens=80)
    chat.reply('I\'ve added "Buy milk" to your todo list.', tokens=242)
    skills = Skills()
    body = json.loads(
        await service.post(WHERE, "a1", "Add a new todo item: Buy milk", OPTIONS, [ADD_TODO], skills)
    )
    assert skills.calls == [("AddTodo", '{"taskDescription": "Buy milk"}')]
    assert summary(await rows(store)) == [
        ("msg-0001", "System", INSTRUCTIONS, None),
        ("msg-0002", "User", "Add a new todo item: Buy milk", None),
        ("msg-0003", "Assistant", "", None),
        ("msg-0004", "Tool", tool_row("AddTodo", SUCCEEDED_TEXT), "call_abc"),
        ("msg-0005", "Assistant", 'I\'ve added "Buy milk" to your todo list.', None),
    ]
    assert (body["totalMessages"], body["totalTokens"]) == (5, 242)
    assert [(m["role"], m["content"]) for m in body["recentMessages"]] == [
        ("Assistant", ""),
        ("Assistant", 'I\'ve added "Buy milk" to your todo list.'),
    ]
    assert json.loads(body["recentMessages"][0]["toolCalls"]) == [
        {
            "id": "call_abc",
            "functionName": "AddTodo",
            "functionArguments": '{"taskDescription": "Buy milk"}',
            "kind": "Function",
        }
    ]
    first, second = chat.requests
    assert first.tools == [
        {
            "type": "function",
            "function": {
                "name": "AddTodo",
                "description": "Create a new todo task",
                "parameters": {"type": "object", "properties": {"taskDescription": {"type": "string"}}},
            },
        }
    ]
    assert second.messages[2:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "AddTodo", "arguments": '{"taskDescription": "Buy milk"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": tool_row("AddTodo", SUCCEEDED_TEXT)},
    ]


@pytest.mark.parametrize(
    ("returned", "stored"),
    [
        ("done", '"done"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("café ✓", '"café ✓"'),
        ({"ok": True, "n": [1, 2]}, '{"ok":true,"n":[1,2]}'),
        (None, SUCCEEDED_TEXT),
        ("  ", SUCCEEDED_TEXT),
        (ValueError("db down"), FAILED_TEXT),
    ],
)
async def test_skill_result_texts(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel, returned: Any, stored: str
) -> None:
    await create(service)
    chat.tool_call("AddTodo", {"taskDescription": "x"}).reply("ok")
    await service.post(WHERE, "a1", "go", OPTIONS, [ADD_TODO], Skills(AddTodo=returned))
    assert (await rows(store))[3].content == tool_row("AddTodo", stored)


async def test_multiple_tool_calls_run_in_order(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    weather = Skill("GetWeather", "Weather for a city", {"type": "object", "properties": {}})
    await create(service)
    chat.tool_calls([("GetWeather", {"city": "Oslo"}), ("AddTodo", {"taskDescription": "umbrella"})])
    chat.reply("Done.")
    skills = Skills(GetWeather="rain", AddTodo=None)
    await service.post(WHERE, "a1", "weather?", OPTIONS, [ADD_TODO, weather], skills)
    assert skills.calls == [
        ("GetWeather", '{"city": "Oslo"}'),
        ("AddTodo", '{"taskDescription": "umbrella"}'),
    ]
    assert summary((await rows(store))[3:]) == [
        ("msg-0004", "Tool", tool_row("GetWeather", '"rain"'), "call_1"),
        ("msg-0005", "Tool", tool_row("AddTodo", SUCCEEDED_TEXT), "call_2"),
        ("msg-0006", "Assistant", "Done.", None),
    ]
    assert [t["function"]["name"] for t in chat.requests[0].tools or []] == ["AddTodo", "GetWeather"]


async def test_unknown_tool_fails_and_lookup_ignores_case(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    chat.tool_calls([("addtodo", {"taskDescription": "a"}), ("Nope", {})]).reply("ok")
    skills = Skills(AddTodo="added")
    await service.post(WHERE, "a1", "go", OPTIONS, [ADD_TODO], skills)
    assert skills.calls == [("AddTodo", '{"taskDescription": "a"}')]
    assert [m.content for m in (await rows(store))[3:5]] == [
        tool_row("addtodo", '"added"'),
        tool_row("Nope", FAILED_TEXT),
    ]


async def test_invalid_json_arguments_fail_and_history_stays_usable(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    chat.tool_call("AddTodo", "{taskDescription: oops", id="call_bad").reply("Sorry, that failed.")
    skills = Skills(AddTodo="never")
    await service.post(WHERE, "a1", "add oops", OPTIONS, [ADD_TODO], skills)
    assert skills.calls == []
    messages = await rows(store)
    assert messages[3].content == tool_row("AddTodo", FAILED_TEXT)
    assert json.loads(messages[2].tool_calls)[0]["functionArguments"] == "{taskDescription: oops"

    chat.reply("Anything else?")
    body = json.loads(await service.post(WHERE, "a1", "thanks", OPTIONS, [ADD_TODO], skills))
    assert body["recentMessages"] == [{"content": "Anything else?", "role": "Assistant", "toolCalls": ""}]
    assert chat.requests[-1].messages[2]["tool_calls"][0]["function"]["arguments"] == "{taskDescription: oops"

    history = json.loads(await service.query(WHERE, "a1", "2000-01-01T00:00:00Z"))
    assert [m["role"] for m in history["recentMessages"]] == [
        "System", "User", "Assistant", "Tool", "Assistant", "User", "Assistant",
    ]  # fmt: skip
    assert json.loads(history["recentMessages"][2]["toolCalls"])[0]["functionArguments"] == (
        "{taskDescription: oops"
    )


async def test_function_call_limit_answers_unexecuted_calls(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    counter = iter(range(1, 1000))

    def always_call(request: ChatRequest) -> ChatReply:
        if request.messages[-1]["role"] == "user" and request.messages[-1]["content"] == "next":
            return ChatReply(content="Here I am.", total_tokens=5)
        return ChatReply(
            tool_calls=[ToolCall(f"call_{next(counter)}", "AddTodo", '{"taskDescription":"again"}')],
            total_tokens=9,
        )

    chat = ScriptedChatModel(default=always_call)
    service = AssistantService(store, chat, logging.getLogger("test.assistants"))
    await create(service)
    skills = Skills()
    body = json.loads(await service.post(WHERE, "a1", "loop", OPTIONS, [ADD_TODO], skills))

    # user + 25 x (assistant, tool) = 51 pending rows; the 26th tool-call message trips the guard
    assert len(chat.requests) == 26
    assert len(skills.calls) == 25
    messages = await rows(store)
    assert len(messages) == 1 + 1 + 26 * 2 == body["totalMessages"]
    assert [m.index for m in messages] == list(range(1, 55))
    assert summary(messages[-2:]) == [
        ("msg-0035", "Assistant", "", None),
        ("msg-0036", "Tool", tool_row("AddTodo", SKIPPED_TEXT), "call_26"),
    ]
    assert len(body["recentMessages"]) == 26
    assert "[a1] Ignoring 1 function call(s) in response due to exceeding the limit of 50." in caplog.messages

    body = json.loads(await service.post(WHERE, "a1", "next", OPTIONS, [ADD_TODO], skills))
    assert body["recentMessages"] == [{"content": "Here I am.", "role": "Assistant", "toolCalls": ""}]
    assert_well_formed(chat.requests[-1].messages)


@pytest.mark.parametrize("fail_on", [1, 2])
async def test_chat_error_persists_nothing(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel, fail_on: int
) -> None:
    await create(service)
    before = await store.load(WHERE, "a1")
    if fail_on == 2:
        chat.tool_call("AddTodo", {"taskDescription": "x"})
    chat.fail(429)
    with pytest.raises(ChatError) as info:
        await service.post(WHERE, "a1", "Hi", OPTIONS, [ADD_TODO], Skills())
    assert str(info.value) == (
        "Posting to assistant 'a1' failed: The scripted chat model failed with HTTP 429 (queued with "
        "chat.fail(429)). Nothing was saved for this post (not even the user message); send it again once "
        "the model is reachable."
    )
    assert await store.load(WHERE, "a1") == before


async def test_nonexistent_assistant_is_not_sent_to_model(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert await service.post(WHERE, "ghost", "Hi", OPTIONS, [], Skills()) == NONEXISTENT
    await create(service, "other")  # table exists, partition does not
    assert await service.post(WHERE, "ghost", "Hi", OPTIONS, [], Skills()) == NONEXISTENT
    assert chat.requests == []
    assert await store.load(WHERE, "ghost") is None
    assert caplog.messages.count("[ghost] Ignoring request sent to nonexistent assistant.") == 2


@pytest.mark.parametrize(
    ("assistant_id", "message", "error"),
    [
        ("", "Hi", "The assistant ID must be specified. Set the assistantPost binding's 'id'"),
        ("a1", "", "The assistant must have a user message. Set the assistantPost binding's 'userMessage'"),
    ],
)
async def test_post_validates_id_and_message(
    service: AssistantService, chat: ScriptedChatModel, assistant_id: str, message: str, error: str
) -> None:
    await create(service)
    with pytest.raises(InvalidRequest) as info:
        await service.post(WHERE, assistant_id, message, OPTIONS, [], Skills())
    assert str(info.value).startswith(error)
    assert chat.requests == []


async def test_oversized_user_message_refused_before_model(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    with pytest.raises(InvalidRequest, match="the user message of assistant 'a1': property 'Content'"):
        await service.post(WHERE, "a1", "é" * 33_000, OPTIONS, [], Skills())
    assert chat.requests == []
    assert len(await rows(store)) == 1


async def test_concurrent_posts_keep_every_message(store: MemoryStore) -> None:
    chat = YieldingChat(default=lambda request: ChatReply(content=f"re: {request.messages[-1]['content']}"))
    service = AssistantService(store, chat, logging.getLogger("test.assistants"))
    await create(service)
    await asyncio.gather(*(service.post(WHERE, "a1", f"m{i}", OPTIONS, [], Skills()) for i in range(10)))
    loaded = await store.load(WHERE, "a1")
    assert loaded is not None
    state, messages = loaded
    assert state.total_messages == 21
    assert [m.index for m in messages] == list(range(1, 22))
    users = [m.content for m in messages if m.role == "User"]
    assert sorted(users) == sorted(f"m{i}" for i in range(10))
    for i, m in enumerate(messages[1:]):
        if m.role == "User":
            assert messages[i + 2].content == f"re: {m.content}"
    assert len(service.shared.locks) == 0  # locks are dropped once nobody uses them


async def test_post_to_other_collection_is_separate(
    service: AssistantService, chat: ScriptedChatModel
) -> None:
    await create(service)
    other = Collection("AzureWebJobsStorage", "OtherChats")
    assert await service.post(other, "a1", "Hi", OPTIONS, [], Skills()) == NONEXISTENT.replace("ghost", "a1")
    assert chat.requests == []


async def test_empty_reply_writes_no_assistant_row(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel
) -> None:
    await create(service)
    chat.reply("  ", tokens=3)
    body = json.loads(await service.post(WHERE, "a1", "Hi", OPTIONS, [], Skills()))
    assert (body["recentMessages"], body["totalMessages"], body["totalTokens"]) == ([], 2, 3)
    assert [m.role for m in await rows(store)] == ["System", "User"]


# --- options -------------------------------------------------------------------------------------------


async def test_default_chat_model_literal_maps_to_gpt35_with_one_warning(
    service: AssistantService, chat: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    await create(service)
    chat.reply("a").reply("b")
    options = ChatOptions(model="DefaultChatModel")
    await service.post(WHERE, "a1", "Hi", options, [], Skills())
    await service.complete_text("Hi", options)
    assert [r.model for r in chat.requests] == ["gpt-3.5-turbo", "gpt-3.5-turbo"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("chatModel is the literal 'DefaultChatModel'")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ChatOptions("m", "", "0.2", "0.9", "256", False), (0.2, 0.9, 256)),
        (ChatOptions("m", "", "0.2", "0.9", "256", True), (None, 0.9, None)),
        (ChatOptions("m", "", "warm", " 1 ", "lots", False), (None, 1.0, None)),
        (ChatOptions("m", "", None, None, None, False), (None, None, None)),
        (ChatOptions("m", "", "1e-1", "nan", "99999999999", False), (0.1, None, None)),
    ],
)
async def test_options_parse_like_dotnet(
    service: AssistantService, chat: ScriptedChatModel, options: ChatOptions, expected: tuple[Any, ...]
) -> None:
    chat.reply("x")
    await service.complete_text("Hi", options)
    [request] = chat.requests
    assert (request.temperature, request.top_p, request.max_tokens) == expected
    assert request.is_reasoning_model is options.is_reasoning_model


# --- text completion -----------------------------------------------------------------------------------


async def test_complete_text_json(service: AssistantService, chat: ScriptedChatModel) -> None:
    chat.reply('Azure Functions is "serverless" — café', tokens=31)
    out = await service.complete_text(
        "What is Azure Functions?", ChatOptions(model="gpt-4o", connection="AOAI")
    )
    assert out == '{"content":"Azure Functions is \\"serverless\\" — café","totalTokens":31}'
    [request] = chat.requests
    assert request.messages == [{"role": "user", "content": "What is Azure Functions?"}]
    assert (request.tools, request.connection) == (None, "AOAI")


async def test_complete_text_refuses_empty_prompt(service: AssistantService, chat: ScriptedChatModel) -> None:
    with pytest.raises(ValueError, match="The text completion prompt is empty"):
        await service.complete_text("", OPTIONS)
    assert chat.requests == []


# --- query ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-06T20:40:48.4815821Z", datetime(2024, 5, 6, 20, 40, 48, 481582, UTC)),
        ("2024-05-06T20:40:48Z", datetime(2024, 5, 6, 20, 40, 48, tzinfo=UTC)),
        ("2024-05-06T22:40:48+02:00", datetime(2024, 5, 6, 20, 40, 48, tzinfo=UTC)),
        ("2024-05-06T22:40:48%2B02:00", datetime(2024, 5, 6, 20, 40, 48, tzinfo=UTC)),
        ("2024-05-06T22%3A40%3A48.1234567%2B02%3A00", datetime(2024, 5, 6, 20, 40, 48, 123456, UTC)),
        ("2024-05-06T15:40:48.5-05:00", datetime(2024, 5, 6, 20, 40, 48, 500000, UTC)),
        ("2024-05-06 20:40:48", datetime(2024, 5, 6, 20, 40, 48, tzinfo=UTC)),
        ("2024-05-06", datetime(2024, 5, 6, tzinfo=UTC)),
        ("5/6/2024 8:40:48 PM", datetime(2024, 5, 6, 20, 40, 48, tzinfo=UTC)),
        ("Mon, 06 May 2024 20:40:48 GMT", datetime(2024, 5, 6, 20, 40, 48, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(raw: str, expected: datetime) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize("raw", ["", "yesterday", "2024-13-01T00:00:00Z", "2024-05-06T20:40:48 02:00"])
def test_parse_timestamp_refuses(raw: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_timestamp(raw)
    assert str(info.value).startswith(f"Invalid timestamp '{raw}'. Pass an ISO 8601 UTC timestamp such as")


async def test_query_returns_all_roles_after_timestamp(
    service: AssistantService, store: MemoryStore, chat: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await create(service)
    chat.tool_call("AddTodo", {"taskDescription": "milk"}, id="call_1", tokens=50).reply("Added.", tokens=99)
    await service.post(WHERE, "a1", "add milk", OPTIONS, [ADD_TODO], Skills())
    messages = await rows(store)

    body = json.loads(await service.query(WHERE, "a1", "2023-01-01T00:00:00Z"))
    assert (body["exists"], body["totalMessages"], body["totalTokens"]) == (True, 5, 99)
    assert [(m["role"], m["content"]) for m in body["recentMessages"]] == [
        ("System", INSTRUCTIONS),
        ("User", "add milk"),
        ("Assistant", ""),
        ("Tool", tool_row("AddTodo", SUCCEEDED_TEXT)),
        ("Assistant", "Added."),
    ]
    # strictly after: the User row's own timestamp excludes it
    cut = messages[1].created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.loads(await service.query(WHERE, "a1", cut))
    assert [m["role"] for m in body["recentMessages"]] == ["Assistant", "Tool", "Assistant"]
    body = json.loads(await service.query(WHERE, "a1", body["lastUpdatedAt"]))
    assert body["recentMessages"] == []
    assert (
        "Reading state for assistant entity 'a1' and getting chat messages after 2023-01-01T00:00:00.0000000Z"
        in caplog.messages
    )


async def test_query_unknown_assistant_or_missing_table(
    service: AssistantService, caplog: pytest.LogCaptureFixture
) -> None:
    assert await service.query(WHERE, "ghost", "2024-01-01T00:00:00Z") == NONEXISTENT
    await create(service, "someone")
    assert await service.query(WHERE, "ghost", "2024-01-01T00:00:00Z") == NONEXISTENT
    assert caplog.messages.count("No assistant exists with ID = 'ghost'") == 2


async def test_query_invalid_timestamp(service: AssistantService) -> None:
    await create(service)
    with pytest.raises(InvalidRequest, match=r"^Invalid timestamp 'not-a-date'\. "):
        await service.query(WHERE, "a1", "not-a-date")


# -- hot reload and several processes (issue 10, items 1 and 2) -----------------------------------------------


class GatedChat(ScriptedChatModel):
    """A model that answers only once the test opens the gate: a post held "waiting on the model"."""

    def __init__(self) -> None:
        super().__init__(default=lambda request: ChatReply(content=f"re: {request.messages[-1]['content']}"))
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def complete(self, request: ChatRequest) -> ChatReply:
        self.waiting.set()
        await self.gate.wait()
        return await super().complete(request)


async def test_two_host_versions_on_one_store_share_the_per_assistant_lock(store: MemoryStore) -> None:
    """A reload: the old version's post waits on the model while the new version re-creates the assistant.
    The re-create waits for the post, then wipes the history; no row of the old post lands on the new one."""
    slow = GatedChat()
    old = AssistantService(store, slow, logging.getLogger("test.old"))
    new = AssistantService(store, ScriptedChatModel(), logging.getLogger("test.new"))
    await create(old)
    post = asyncio.create_task(old.post(WHERE, "a1", "hello", OPTIONS, [], Skills()))
    await slow.waiting.wait()

    recreate = asyncio.create_task(create(new, instructions="fresh"))
    await asyncio.sleep(0.01)
    assert not recreate.done()  # the new version waits for the old version's post
    slow.gate.set()
    assert json.loads(await post)["recentMessages"][0]["content"] == "re: hello"
    await recreate

    assert old.shared is new.shared
    assert summary(await rows(store)) == [("msg-0001", "System", "fresh", None)]
    state = await store.load(WHERE, "a1")
    assert state is not None and state[0].total_messages == 1


async def test_a_post_onto_an_assistant_recreated_by_another_process_fails_and_writes_nothing(
    store: MemoryStore,
) -> None:
    """Another process (its own coordination) re-creates the assistant while this post waits on the model."""
    slow = GatedChat()
    here = AssistantService(store, slow, logging.getLogger("test.here"), Coordination())
    there = AssistantService(store, ScriptedChatModel(), logging.getLogger("test.there"), Coordination())
    await create(here)
    post = asyncio.create_task(here.post(WHERE, "a1", "two", OPTIONS, [], Skills()))
    await slow.waiting.wait()

    await create(there, instructions="fresh")
    slow.gate.set()
    with pytest.raises(StateChanged) as caught:
        await post

    assert "changed while this post was running" in str(caught.value)
    assert summary(await rows(store)) == [("msg-0001", "System", "fresh", None)]
    state = await store.load(WHERE, "a1")
    assert state is not None and state[0].total_messages == 1
