"""Create-request parsing, Azure Tables limits, .NET JSON and the entity layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from funchost.dotnet import datetime_roundtrip
from funchost_assistants.models import (
    AssistantState,
    ChatMessage,
    CreateRequest,
    InvalidRequest,
    ToolCall,
    assistant_state_json,
    check_entity_limits,
    entity_size,
    message_entity,
    message_from_entity,
    parse_create_request,
    state_entity,
    state_from_entity,
    tool_calls_from_text,
    tool_calls_to_text,
)

T0 = datetime(2024, 5, 6, 20, 40, 48, 481582, tzinfo=UTC)
T1 = datetime(2024, 5, 6, 20, 43, 49, 976062, tzinfo=UTC)
WHERE = "assistantCreate request"

# -- parse_create_request ------------------------------------------------------------------------------------


def test_sample_payload() -> None:
    payload = {
        "id": "assistant123",
        "instructions": "Be brief.",
        "chatStorageConnectionSetting": "AzureWebJobsStorage",
        "collectionName": "ChatState",
    }

    assert parse_create_request(payload) == CreateRequest(
        "assistant123", "Be brief.", "AzureWebJobsStorage", "ChatState"
    )


def test_keys_are_case_insensitive_and_unknown_keys_ignored() -> None:
    payload = {
        "ID": "a1",
        "INSTRUCTIONS": "x",
        "chatstorageconnectionsetting": "Chats",
        "CollectionName": "Tbl1",
        "z": 1,
    }

    assert parse_create_request(payload) == CreateRequest("a1", "x", "Chats", "Tbl1")


def test_defaults() -> None:
    assert parse_create_request({"id": "a1"}) == CreateRequest(
        "a1", "You are a helpful assistant.", "AzureWebJobsStorage", "ChatState"
    )
    assert parse_create_request(
        {"id": "a1", "chatStorageConnectionSetting": None, "collectionName": None}
    ) == (CreateRequest("a1", "You are a helpful assistant.", "AzureWebJobsStorage", "ChatState"))


@pytest.mark.parametrize("instructions", [None, "", "   \n\t"])
def test_null_or_blank_instructions_mean_no_system_message(instructions: Any) -> None:
    assert parse_create_request({"id": "a1", "instructions": instructions}).instructions is None


def test_a_json_string_is_parsed() -> None:
    assert parse_create_request('{"id": "a1", "collectionName": "Other"}') == CreateRequest(
        "a1", "You are a helpful assistant.", "AzureWebJobsStorage", "Other"
    )


EXAMPLE = (
    '{"id": "assistant123", "instructions": "...", '
    '"chatStorageConnectionSetting": "AzureWebJobsStorage", "collectionName": "ChatState"}'
)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "hello there",
            f"{WHERE} is not JSON ('hello there'): set the output to a JSON object string like {EXAMPLE}.",
        ),
        (
            None,
            f"{WHERE} is null, not a JSON object: set the output to a JSON object like {EXAMPLE} "
            "(or a JSON array of such objects).",
        ),
        (
            42,
            f"{WHERE} is a number, not a JSON object: set the output to a JSON object like {EXAMPLE} "
            "(or a JSON array of such objects).",
        ),
        (
            "[1, 2]",
            f"{WHERE} is an array, not a JSON object: set the output to a JSON object like {EXAMPLE} "
            "(or a JSON array of such objects).",
        ),
        ({}, f'{WHERE} has no "id": add "id": "<assistant id>" to the JSON object.'),
        ({"id": None}, f'{WHERE} has no "id": add "id": "<assistant id>" to the JSON object.'),
        ({"id": 5}, f'{WHERE}: "id" is a number; it must be a string: send "id": "<assistant id>".'),
        ({"id": ""}, f'{WHERE}: "id" is empty: give a non-empty string.'),
        (
            {"id": "a/b"},
            f"{WHERE}: \"id\" contains the character U+002F ('/'), which Azure Tables refuses in keys "
            "(/ \\ # ? and control characters U+0000-U+001F, U+007F-U+009F): remove it.",
        ),
        (
            {"id": "bell\x07"},
            f"{WHERE}: \"id\" contains the character U+0007 ('\\x07'), which Azure Tables refuses in keys "
            "(/ \\ # ? and control characters U+0000-U+001F, U+007F-U+009F): remove it.",
        ),
        (
            {"id": "next\x85line"},
            f"{WHERE}: \"id\" contains the character U+0085 ('\\x85'), which Azure Tables refuses in keys "
            "(/ \\ # ? and control characters U+0000-U+001F, U+007F-U+009F): remove it.",
        ),
        (
            {"id": "x" * 513},
            f'{WHERE}: "id" is 513 UTF-16 characters long; Azure Tables keys are limited to 1 KiB '
            "(512 UTF-16 characters): use a shorter value.",
        ),
        (
            {"id": "🚀" * 257},
            f'{WHERE}: "id" is 514 UTF-16 characters long; Azure Tables keys are limited to 1 KiB '
            "(512 UTF-16 characters): use a shorter value.",
        ),
        (
            {"id": "a1", "instructions": 5},
            f'{WHERE}: "instructions" is a number; it must be a string (or null for no system message).',
        ),
        (
            {"id": "a1", "instructions": ["x"]},
            f'{WHERE}: "instructions" is an array; it must be a string (or null for no system message).',
        ),
        (
            {"id": "a1", "chatStorageConnectionSetting": True},
            f'{WHERE}: "chatStorageConnectionSetting" is a boolean; it must be a string '
            '(default "AzureWebJobsStorage").',
        ),
        (
            {"id": "a1", "chatStorageConnectionSetting": ""},
            f'{WHERE}: "chatStorageConnectionSetting" is empty: give the name of an app setting holding a '
            'storage connection string (default "AzureWebJobsStorage") or leave it out.',
        ),
        (
            {"id": "a1", "collectionName": {"a": 1}},
            f'{WHERE}: "collectionName" is an object; it must be a string (default "ChatState").',
        ),
        (
            {"id": "a1", "collectionName": "1Chat"},
            f"{WHERE}: \"collectionName\" '1Chat' is not a valid Azure table name: use 3-63 letters and "
            "digits, starting with a letter (e.g. 'ChatState').",
        ),
        (
            {"id": "a1", "collectionName": "Chat-State"},
            f"{WHERE}: \"collectionName\" 'Chat-State' is not a valid Azure table name: use 3-63 letters and "
            "digits, starting with a letter (e.g. 'ChatState').",
        ),
        (
            {"id": "a1", "collectionName": "ab"},
            f"{WHERE}: \"collectionName\" 'ab' is not a valid Azure table name: use 3-63 letters and digits, "
            "starting with a letter (e.g. 'ChatState').",
        ),
        (
            {"id": "a1", "collectionName": "T" * 64},
            f"{WHERE}: \"collectionName\" '{'T' * 64}' is not a valid Azure table name: use 3-63 letters and "
            "digits, starting with a letter (e.g. 'ChatState').",
        ),
        (
            {"id": "a1", "collectionName": "Tables"},
            f"{WHERE}: \"collectionName\" 'Tables' is reserved by Azure Tables: choose another name.",
        ),
        (
            {"id": "a1", "instructions": "x" * 32769},
            f"{WHERE}: \"instructions\": property 'Content' is 32769 UTF-16 characters (65538 bytes); Azure "
            "Tables limits a string property to 64 KiB (32768 UTF-16 characters): shorten it.",
        ),
    ],
)
def test_refusals(item: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_create_request(item)

    assert str(caught.value) == message


def test_limits_accept_values_exactly_at_the_edge() -> None:
    request = parse_create_request(
        {"id": "🚀" * 256, "instructions": "x" * 32768, "collectionName": "T" * 63 + ""}
    )

    assert (len(request.id), len(request.instructions or ""), request.collection_name) == (
        256,
        32768,
        "T" * 63,
    )


def test_invalid_request_is_a_value_error() -> None:
    assert issubclass(InvalidRequest, ValueError)


# -- check_entity_limits -------------------------------------------------------------------------------------


def test_message_content_over_64_kib_is_refused_before_writing() -> None:
    entity = message_entity("a1", ChatMessage(2, "é" * 40_000, "User", T0))

    with pytest.raises(InvalidRequest) as caught:
        check_entity_limits(entity, where="assistantPost 'state' userMessage")

    assert str(caught.value) == (
        "assistantPost 'state' userMessage: property 'Content' is 40000 UTF-16 characters (80000 bytes); "
        "Azure Tables limits a string property to 64 KiB (32768 UTF-16 characters): shorten it."
    )


def test_entity_over_1_mib_is_refused() -> None:
    entity: dict[str, Any] = {"PartitionKey": "a1", "RowKey": "msg-0001"}
    entity.update({f"P{i:02d}": "x" * 32_000 for i in range(17)})

    with pytest.raises(InvalidRequest) as caught:
        check_entity_limits(entity)

    assert str(caught.value) == (
        "entity is 1088330 bytes; Azure Tables limits an entity to 1 MiB (1048576 bytes): shorten its text."
    )


def test_entity_under_1_mib_is_accepted_where_a_rough_bound_would_not() -> None:
    # 10 x 32,000 ASCII characters: 640 KB stored; counting two UTF-16 units per character would say 1.28 MB.
    entity: dict[str, Any] = {"PartitionKey": "a1", "RowKey": "msg-0001"}
    entity.update({f"P{i:02d}": "x" * 32_000 for i in range(10)})

    check_entity_limits(entity)

    assert entity_size(entity) < 1024 * 1024


def test_int32_overflow_is_refused() -> None:
    entity = state_entity(AssistantState("a1", True, T0, T0, 2**31, 0))

    with pytest.raises(InvalidRequest) as caught:
        check_entity_limits(entity, where="state")

    assert str(caught.value) == "state: property 'TotalMessages' = 2147483648 does not fit the Int32 column."


def test_ordinary_entities_pass() -> None:
    check_entity_limits(message_entity("a1", ChatMessage(1, "hi", "System", T0)))
    check_entity_limits(state_entity(AssistantState("a1", True, T0, T1, 1, 0)))


# -- tool calls ----------------------------------------------------------------------------------------------


def test_tool_calls_text_is_stj_camel_case_with_default_escaping() -> None:
    calls = [ToolCall("call_1", "AddTodo", '{"taskDescription":"Buy milk"}')]

    assert tool_calls_to_text(calls) == (
        '[{"id":"call_1","functionName":"AddTodo",'
        '"functionArguments":"{\\u0022taskDescription\\u0022:\\u0022Buy milk\\u0022}","kind":"Function"}]'
    )


def test_stj_escapes_html_sensitive_non_ascii_and_control_characters() -> None:
    text = tool_calls_to_text([ToolCall("c", "f", "<a href='x'>&+`é🚀\\\n\t\x01\x7f/")])

    assert text == (
        '[{"id":"c","functionName":"f","functionArguments":'
        '"\\u003Ca href=\\u0027x\\u0027\\u003E\\u0026\\u002B\\u0060'
        '\\u00E9\\uD83D\\uDE80\\\\\\n\\t\\u0001\\u007F/"'
        ',"kind":"Function"}]'
    )


def test_no_tool_calls_is_empty_text() -> None:
    assert tool_calls_to_text([]) == ""
    assert tool_calls_from_text("") == []


def test_tool_calls_round_trip() -> None:
    calls = [ToolCall("call_1", "AddTodo", '{"a":"é<>"}'), ToolCall("call_2", "Get", "{}")]

    assert tool_calls_from_text(tool_calls_to_text(calls)) == calls


def test_tool_calls_from_invalid_text() -> None:
    with pytest.raises(ValueError, match="stored ToolCalls text is not JSON"):
        tool_calls_from_text("[{")
    with pytest.raises(ValueError, match="stored ToolCalls text is not a JSON array"):
        tool_calls_from_text('{"id":"x"}')


# -- .NET datetimes and JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (T0, "2024-05-06T20:40:48.481582Z"),
        (datetime(2024, 5, 6, 20, 43, 49, 500000, tzinfo=UTC), "2024-05-06T20:43:49.5Z"),
        (datetime(2024, 5, 6, 20, 43, 49, tzinfo=UTC), "2024-05-06T20:43:49Z"),
        (datetime(2024, 5, 6, 20, 43, 49, 10, tzinfo=UTC), "2024-05-06T20:43:49.00001Z"),
        (datetime(2024, 5, 6, 22, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-06T20:00:00Z"),
        (datetime(2024, 5, 6, 20, 0, 0, 120000), "2024-05-06T20:00:00.12"),
        (None, "0001-01-01T00:00:00"),
    ],
)
def test_dotnet_datetime(value: datetime | None, text: str) -> None:
    assert datetime_roundtrip(value) == text


def test_nonexistent_assistant_json() -> None:
    assert assistant_state_json("abc", None, []) == (
        '{"id":"abc","exists":false,"createdAt":"0001-01-01T00:00:00","lastUpdatedAt":"0001-01-01T00:00:00",'
        '"totalMessages":0,"totalTokens":0,"recentMessages":[]}'
    )


def test_state_json_matches_newtonsoft() -> None:
    state = AssistantState("assistant123", True, T0, T1, 5, 242)
    stored = (
        '[{"id":"call_1","functionName":"AddTodo",'
        '"functionArguments":"{\\"taskDescription\\":\\"Buy milk\\"}"}]'
    )
    messages = [
        ChatMessage(3, "", "Assistant", T1, tool_calls=stored),
        ChatMessage(5, 'I\'ve added "Buy milk" — é\u2028ok', "Assistant", T1),
    ]

    assert assistant_state_json("assistant123", state, messages) == (
        '{"id":"assistant123","exists":true,"createdAt":"2024-05-06T20:40:48.481582Z",'
        '"lastUpdatedAt":"2024-05-06T20:43:49.976062Z","totalMessages":5,"totalTokens":242,"recentMessages":['
        '{"content":"","role":"Assistant","toolCalls":"[{\\"id\\":\\"call_1\\",\\"functionName\\":\\"AddTodo\\",'
        '\\"functionArguments\\":\\"{\\\\u0022taskDescription\\\\u0022:\\\\u0022Buy milk\\\\u0022}\\",'
        '\\"kind\\":\\"Function\\"}]"},'
        '{"content":"I\'ve added \\"Buy milk\\" — é\\u2028ok","role":"Assistant","toolCalls":""}]}'
    )


# -- entities ------------------------------------------------------------------------------------------------


def test_message_entity_layout() -> None:
    plain = ChatMessage(10, "hi", "User", T0)
    tool = ChatMessage(0x1F, "Function Name: 'f' and Function Result: 'x'", "Tool", T0, name="call_1")

    assert message_entity("a1", plain) == {
        "PartitionKey": "a1",
        "RowKey": "msg-000A",
        "Content": "hi",
        "Role": "User",
        "CreatedAt": T0,
        "ToolCalls": "",
    }
    assert list(message_entity("a1", tool)) == [
        "PartitionKey",
        "RowKey",
        "Content",
        "Role",
        "Name",
        "CreatedAt",
        "ToolCalls",
    ]
    assert message_entity("a1", tool)["RowKey"] == "msg-001F"
    assert message_entity("a1", tool)["Name"] == "call_1"


def test_state_entity_layout() -> None:
    assert state_entity(AssistantState("a1", True, T0, T1, 3, 42)) == {
        "PartitionKey": "a1",
        "RowKey": "state",
        "Exists": True,
        "CreatedAt": T0,
        "LastUpdatedAt": T1,
        "TotalMessages": 3,
        "TotalTokens": 42,
    }


def test_entity_round_trips() -> None:
    messages = [
        ChatMessage(1, "sys", "System", T0),
        ChatMessage(0xABCD, "r", "Tool", T1, name="call_9"),
        ChatMessage(2, "", "Assistant", T1, tool_calls=tool_calls_to_text([ToolCall("c", "f", "{}")])),
    ]
    state = AssistantState("a1", True, T0, T1, 3, 42)

    assert [message_from_entity(message_entity("a1", m)) for m in messages] == messages
    assert state_from_entity(state_entity(state)) == state


def test_entities_are_read_with_the_extension_defaults() -> None:
    assert state_from_entity({"PartitionKey": "a1", "RowKey": "state"}) == AssistantState(
        "a1", False, datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC), 0, 0
    )
    assert message_from_entity(
        {"PartitionKey": "a1", "RowKey": "msg-0002", "CreatedAt": "2024-05-06T20:40:48.481582Z"}
    ) == ChatMessage(2, "", "", T0)


def test_naive_datetimes_are_stored_as_utc() -> None:
    entity = message_entity("a1", ChatMessage(1, "x", "User", datetime(2024, 5, 6, 20, 40, 48, 481582)))

    assert entity["CreatedAt"] == T0
    assert entity["CreatedAt"].tzinfo is UTC


def test_state_row_is_not_a_message() -> None:
    with pytest.raises(ValueError, match="row 'state' is not a message row"):
        message_from_entity({"PartitionKey": "a1", "RowKey": "state"})
