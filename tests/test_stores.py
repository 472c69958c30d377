"""One conformance suite for every assistant store (memory, SQLite, Azure Tables on a real Azurite)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import EntityProperty, TableServiceClient

from funchost_assistants.models import AssistantState, ChatMessage, ToolCall, tool_calls_to_text
from funchost_assistants.stores import (
    AssistantStore,
    Collection,
    Conflict,
    MemoryStore,
    SqliteStore,
    StoreError,
    StoreUnavailable,
    open_store,
)
from funchost_assistants.stores.sqlite import LOAD_AFTER_SQL
from funchost_assistants.stores.tables import TablesStore
from tests.azurite import EXTRA_ACCOUNT, WELL_KNOWN_KEY, Azurite, azurite, free_port

__all__ = ["azurite"]  # the session fixture, imported for pytest

T0 = datetime(2024, 5, 6, 20, 40, 48, 481582, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def msg(index: int, role: str = "User", content: str | None = None, **kw: Any) -> ChatMessage:
    kw.setdefault("created_at", at(index))
    return ChatMessage(index, content if content is not None else f"message {index}", role, **kw)


def state(assistant_id: str, total: int, tokens: int = 0, updated: float = 0) -> AssistantState:
    return AssistantState(assistant_id, True, T0, at(updated), total, tokens)


def system(text: str = "You are a helpful assistant.") -> ChatMessage:
    return ChatMessage(1, text, "System", T0)


@dataclass
class Env:
    kind: str
    store: AssistantStore
    where: Collection
    other_connection: Collection
    azurite: Azurite | None = None

    def table(self, name: str | None = None) -> Collection:
        return Collection(self.where.connection, name or unique_table())


def no_settings(name: str) -> str | None:
    return None


def unique_table() -> str:
    return "T" + uuid.uuid4().hex[:16]


@pytest.fixture(params=["memory", "sqlite", "tables"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    server: Azurite | None = None
    store: AssistantStore
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / ".funchost" / "assistants.db")
    else:
        server = request.getfixturevalue("azurite")
        values = {
            "AzureWebJobsStorage": server.connection_string(),
            "Other": server.connection_string(EXTRA_ACCOUNT),
        }
        store = TablesStore(values.get)
    table = unique_table()
    yield Env(
        request.param, store, Collection("AzureWebJobsStorage", table), Collection("Other", table), server
    )
    await store.close()


async def rows_of(env: Env, where: Collection, assistant_id: str) -> tuple[AssistantState, list[ChatMessage]]:
    loaded = await env.store.load(where, assistant_id)
    assert loaded is not None
    return loaded


# -- create --------------------------------------------------------------------------------------------------


async def test_create_then_load_returns_state_and_system_message(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])

    loaded = await env.store.load(env.where, "a1")

    assert loaded == (state("a1", 1), [system()])
    assert loaded[1][0].row_key == "msg-0001"


async def test_create_without_instructions_writes_only_the_state(env: Env) -> None:
    await env.store.create(env.where, state("a1", 0), [])

    assert await env.store.load(env.where, "a1") == (state("a1", 0), [])


async def test_recreate_wipes_history_including_more_than_100_rows(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system("old")])
    history = [msg(i) for i in range(2, 152)]
    await env.store.append(env.where, state("a1", 151, tokens=99, updated=200), history)
    assert len((await rows_of(env, env.where, "a1"))[1]) == 151

    await env.store.create(env.where, state("a1", 1), [system("new")])

    assert await env.store.load(env.where, "a1") == (state("a1", 1), [system("new")])


async def test_24_concurrent_creates_of_one_id_leave_exactly_one_clean_assistant(env: Env) -> None:
    await env.store.create(env.where, state("same", 1), [system("before")])
    await env.store.append(env.where, state("same", 3), [msg(2), msg(3, "Assistant")])

    await asyncio.gather(
        *(env.store.create(env.where, state("same", 1, tokens=i), [system(f"create {i}")]) for i in range(24))
    )

    loaded_state, messages = await rows_of(env, env.where, "same")
    assert len(messages) == 1
    assert messages[0].row_key == "msg-0001"
    assert messages[0].content == f"create {loaded_state.total_tokens}"
    assert loaded_state.total_messages == 1


async def test_sqlite_concurrent_creates_from_two_store_instances_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first, second = SqliteStore(path), SqliteStore(path)
    where = Collection()
    try:
        await asyncio.gather(
            *(
                (first if i % 2 else second).create(where, state("x", 1, tokens=i), [system(f"create {i}")])
                for i in range(24)
            )
        )
        loaded = await second.load(where, "x")
        assert loaded is not None
        assert [m.content for m in loaded[1]] == [f"create {loaded[0].total_tokens}"]
    finally:
        await first.close()
        await second.close()


# -- append --------------------------------------------------------------------------------------------------


async def test_append_adds_rows_and_merges_state(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    tool_calls = tool_calls_to_text([ToolCall("call_1", "AddTodo", '{"taskDescription":"Buy milk"}')])
    new = [
        msg(2, content="Add a todo"),
        msg(3, "Assistant", content="", tool_calls=tool_calls),
        msg(4, "Tool", content="Function Name: 'AddTodo' and Function Result: 'ok'", name="call_1"),
        msg(5, "Assistant", content="Done."),
    ]

    await env.store.append(env.where, state("a1", 5, tokens=242, updated=10), new)

    assert await env.store.load(env.where, "a1") == (state("a1", 5, tokens=242, updated=10), [system(), *new])


async def test_append_conflict_writes_nothing(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    await env.store.append(env.where, state("a1", 3, tokens=10, updated=3), [msg(2), msg(3, "Assistant")])

    with pytest.raises(Conflict) as caught:
        await env.store.append(
            env.where,
            state("a1", 5, tokens=20, updated=5),
            [msg(4), msg(5, "Assistant"), msg(3, content="dup")],
        )

    assert str(caught.value).startswith("assistant 'a1' in table '")
    assert str(caught.value).endswith(
        "already exists (another post wrote it first); reload the assistant and retry."
    )
    assert await env.store.load(env.where, "a1") == (
        state("a1", 3, tokens=10, updated=3),
        [system(), msg(2), msg(3, "Assistant")],
    )


async def test_append_of_more_than_100_rows_that_conflicts_writes_nothing(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    await env.store.append(env.where, state("a1", 130, tokens=5), [msg(130)])

    with pytest.raises(Conflict):
        await env.store.append(env.where, state("a1", 131, tokens=9), [msg(i) for i in range(2, 131)])

    assert await env.store.load(env.where, "a1") == (state("a1", 130, tokens=5), [system(), msg(130)])


async def test_append_to_missing_table_is_refused(env: Env) -> None:
    where = env.table("Nowhere" + uuid.uuid4().hex[:8])

    with pytest.raises(StoreError) as caught:
        await env.store.append(where, state("a1", 2), [msg(2)])

    assert str(caught.value) == (
        f"table '{where.table}' (connection setting 'AzureWebJobsStorage') does not exist: "
        "create the assistant first (assistantCreate creates the table)."
    )
    assert await env.store.load(where, "a1") is None


async def test_messages_come_back_in_rowkey_order_past_msg_000F(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    new = [msg(i) for i in range(2, 20)]
    await env.store.append(env.where, state("a1", 19), list(reversed(new)))

    _, messages = await rows_of(env, env.where, "a1")

    assert [m.row_key for m in messages][8:12] == ["msg-0009", "msg-000A", "msg-000B", "msg-000C"]
    assert [m.index for m in messages] == list(range(1, 20))


# -- load(after=) --------------------------------------------------------------------------------------------


async def test_load_after_is_a_strict_filter_on_created_at(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    await env.store.append(env.where, state("a1", 4, updated=4), [msg(2), msg(3), msg(4)])

    after_3 = await env.store.load(env.where, "a1", after=at(3))
    just_before_3 = await env.store.load(env.where, "a1", after=at(3) - timedelta(microseconds=1))
    everything = await env.store.load(env.where, "a1", after=datetime(2023, 1, 1, tzinfo=UTC))

    assert after_3 == (state("a1", 4, updated=4), [msg(4)])
    assert just_before_3 == (state("a1", 4, updated=4), [msg(3), msg(4)])
    assert everything is not None
    assert [m.index for m in everything[1]] == [1, 2, 3, 4]
    assert await env.store.load(env.where, "a1", after=at(10)) == (state("a1", 4, updated=4), [])


async def test_load_of_unknown_id_or_missing_table_is_none(env: Env) -> None:
    await env.store.create(env.where, state("a1", 0), [])

    assert await env.store.load(env.where, "nobody") is None
    assert await env.store.load(env.table(), "a1") is None
    assert await env.store.load(env.table(), "a1", after=T0) is None


# -- list / delete -------------------------------------------------------------------------------------------


async def test_list_and_delete(env: Env) -> None:
    await env.store.create(env.where, state("b", 0), [])
    await env.store.create(env.where, state("a", 1), [system()])

    assert await env.store.list(env.where) == [state("a", 1), state("b", 0)]
    assert await env.store.delete(env.where, "a") is True
    assert await env.store.delete(env.where, "a") is False
    assert await env.store.load(env.where, "a") is None
    assert await env.store.list(env.where) == [state("b", 0)]


async def test_list_and_delete_on_missing_table(env: Env) -> None:
    where = env.table()

    assert await env.store.list(where) == []
    assert await env.store.delete(where, "a") is False


# -- isolation -----------------------------------------------------------------------------------------------


async def test_collections_are_isolated(env: Env) -> None:
    other = env.table()
    await env.store.create(env.where, state("a1", 1), [system("first table")])
    await env.store.create(other, state("a1", 1, tokens=7), [system("second table")])

    assert await env.store.load(env.where, "a1") == (state("a1", 1), [system("first table")])
    assert await env.store.load(other, "a1") == (state("a1", 1, tokens=7), [system("second table")])
    assert await env.store.delete(other, "a1") is True
    assert await env.store.load(env.where, "a1") == (state("a1", 1), [system("first table")])


async def test_connections_are_isolated(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system("default account")])

    assert await env.store.load(env.other_connection, "a1") is None
    assert await env.store.list(env.other_connection) == []

    await env.store.create(env.other_connection, state("a1", 0), [])
    assert await env.store.load(env.other_connection, "a1") == (state("a1", 0), [])
    assert await env.store.load(env.where, "a1") == (state("a1", 1), [system("default account")])


HOSTILE_IDS = [
    "x' or PartitionKey ne 'y",
    "' or 1 eq 1",
    "victim' or RowKey eq 'state",
    "o'brien",
    'say "hi"',
    "héllo wörld ✓ 🚀 日本",
    "' or ''='",
]


async def test_hostile_ids_stay_in_their_own_partition(env: Env) -> None:
    await env.store.create(env.where, state("victim", 1), [system("victim's")])
    for i, hostile in enumerate(HOSTILE_IDS):
        await env.store.create(env.where, state(hostile, 1, tokens=i), [system(f"hostile {i}")])

    for i, hostile in enumerate(HOSTILE_IDS):
        assert await env.store.load(env.where, hostile) == (
            state(hostile, 1, tokens=i),
            [system(f"hostile {i}")],
        )
        assert await env.store.load(env.where, hostile, after=T0 - timedelta(seconds=1)) == (
            state(hostile, 1, tokens=i),
            [system(f"hostile {i}")],
        )
    for hostile in HOSTILE_IDS:
        assert await env.store.delete(env.where, hostile) is True
    assert await env.store.load(env.where, "victim") == (state("victim", 1), [system("victim's")])
    assert await env.store.list(env.where) == [state("victim", 1)]


# -- Azure Tables specifics ----------------------------------------------------------------------------------


async def test_tables_layout_read_back_with_the_plain_sdk(azurite: Azurite) -> None:
    table = unique_table()
    store = TablesStore({"AzureWebJobsStorage": azurite.connection_string()}.get)
    tool_calls = tool_calls_to_text([ToolCall("call_1", "AddTodo", '{"taskDescription":"Buy milk"}')])
    try:
        await store.create(Collection("AzureWebJobsStorage", table), state("a1", 1), [system()])
        await store.append(
            Collection("AzureWebJobsStorage", table),
            state("a1", 3, tokens=242, updated=3),
            [
                msg(2, "Assistant", content="", tool_calls=tool_calls),
                msg(3, "Tool", content="r", name="call_1"),
            ],
        )
    finally:
        await store.close()

    with TableServiceClient.from_connection_string(azurite.connection_string()) as service:
        rows = {
            e["RowKey"]: e for e in service.get_table_client(table).query_entities("PartitionKey eq 'a1'")
        }

    assert sorted(rows) == ["msg-0001", "msg-0002", "msg-0003", "state"]
    assert {k: v for k, v in rows["state"].items()} == {
        "PartitionKey": "a1",
        "RowKey": "state",
        "Exists": True,
        "CreatedAt": T0,
        "LastUpdatedAt": at(3),
        "TotalMessages": 3,
        "TotalTokens": 242,
    }
    assert type(rows["state"]["TotalMessages"]) is int  # Int32; an Int64 would come back as EntityProperty
    assert type(rows["state"]["Exists"]) is bool
    assert rows["state"]["CreatedAt"].tables_service_value == "2024-05-06T20:40:48.481582Z"
    assert dict(rows["msg-0001"]) == {
        "PartitionKey": "a1",
        "RowKey": "msg-0001",
        "Content": "You are a helpful assistant.",
        "Role": "System",
        "CreatedAt": T0,
        "ToolCalls": "",
    }
    assert rows["msg-0002"]["ToolCalls"] == (
        '[{"id":"call_1","functionName":"AddTodo",'
        '"functionArguments":"{\\u0022taskDescription\\u0022:\\u0022Buy milk\\u0022}","kind":"Function"}]'
    )
    assert rows["msg-0003"]["Name"] == "call_1"
    assert rows["msg-0003"]["Role"] == "Tool"
    assert "Name" not in rows["msg-0002"]


async def test_tables_reads_rows_written_by_the_dotnet_extension(azurite: Azurite) -> None:
    table = unique_table()
    with TableServiceClient.from_connection_string(azurite.connection_string()) as service:
        client = service.create_table(table)
        client.create_entity(
            {
                "PartitionKey": "net",
                "RowKey": "state",
                "Exists": True,
                "CreatedAt": EntityProperty("2024-05-06T20:40:48.4815827Z", "Edm.DateTime"),
                "LastUpdatedAt": EntityProperty("2024-05-06T20:43:49.9760621Z", "Edm.DateTime"),
                "TotalMessages": 1,
                "TotalTokens": 0,
            }
        )
        client.create_entity(
            {
                "PartitionKey": "net",
                "RowKey": "msg-0001",
                "Content": "Be brief.",
                "Role": "system",
                "CreatedAt": EntityProperty("2024-05-06T20:40:48.4815827Z", "Edm.DateTime"),
                "ToolCalls": "",
            }
        )
    store = TablesStore({"AzureWebJobsStorage": azurite.connection_string()}.get)
    try:
        loaded = await store.load(Collection("AzureWebJobsStorage", table), "net")
    finally:
        await store.close()

    assert loaded == (
        AssistantState("net", True, T0, datetime(2024, 5, 6, 20, 43, 49, 976062, tzinfo=UTC), 1, 0),
        [ChatMessage(1, "Be brief.", "system", T0)],
    )


async def test_tables_unreachable_endpoint_is_store_unavailable_without_the_key() -> None:
    port = free_port()
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={WELL_KNOWN_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    store = TablesStore({"ChatStorage": conn}.get, attempts=2, backoff_seconds=0.01)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.load(Collection("ChatStorage", "ChatState"), "a1")
    finally:
        await store.close()

    assert str(caught.value) == (
        f"cannot reach the table endpoint http://127.0.0.1:{port}/devstoreaccount1 (connection setting "
        "'ChatStorage', table 'ChatState') after 2 attempts: ServiceRequestError. Start Azurite or fix the "
        "setting, then retry."
    )
    assert WELL_KNOWN_KEY not in str(caught.value)


async def test_tables_missing_setting_names_the_setting() -> None:
    store = TablesStore(no_settings)

    with pytest.raises(StoreError) as caught:
        await store.load(Collection("ChatStorage", "ChatState"), "a1")

    assert str(caught.value) == (
        "chat storage connection setting 'ChatStorage' is not set: add \"ChatStorage\": "
        '"UseDevelopmentStorage=true" (Azurite) or a storage account connection string to the Values of '
        "local.settings.json, or set ChatStorage__tableServiceUri for identity-based access."
    )


async def test_tables_invalid_connection_string_does_not_echo_it() -> None:
    store = TablesStore({"ChatStorage": "AccountKey=secretsecret"}.get)

    with pytest.raises(StoreError) as caught:
        await store.load(Collection("ChatStorage", "ChatState"), "a1")

    assert str(caught.value).startswith("app setting 'ChatStorage' is not a valid storage connection string")
    assert "secretsecret" not in str(caught.value)


async def test_tables_describe_has_no_secrets() -> None:
    store = TablesStore({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}.get)

    assert store.describe() == "Azure Tables (account from each collection's chatStorageConnectionSetting)"


# -- SQLite specifics ----------------------------------------------------------------------------------------


async def test_sqlite_creates_folder_with_gitignore_and_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "app" / ".funchost" / "assistants.db"
    first = SqliteStore(path)
    await first.create(Collection(), state("a1", 1), [system()])
    await first.close()

    second = SqliteStore(path)
    try:
        assert await second.load(Collection(), "a1") == (state("a1", 1), [system()])
    finally:
        await second.close()
    assert (path.parent / ".gitignore").read_text() == "*\n"
    assert second.describe() == f"sqlite ({path})"


async def test_sqlite_columns_are_the_entity_properties(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    await store.create(Collection("Conn", "Tbl"), state("a1", 1), [system()])
    await store.close()

    with sqlite3.connect(tmp_path / "a.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(entities)")]
        rows = db.execute("SELECT * FROM entities ORDER BY RowKey").fetchall()

    assert columns == [
        "connection",
        "table_name",
        "PartitionKey",
        "RowKey",
        "Content",
        "Role",
        "Name",
        "CreatedAt",
        "ToolCalls",
        "Exists",
        "LastUpdatedAt",
        "TotalMessages",
        "TotalTokens",
    ]
    assert rows == [
        ("Conn", "Tbl", "a1", "msg-0001", "You are a helpful assistant.", "System", None,
         "2024-05-06T20:40:48.481582Z", "", None, None, None, None),
        ("Conn", "Tbl", "a1", "state", None, None, None,
         "2024-05-06T20:40:48.481582Z", None, 1, "2024-05-06T20:40:48.481582Z", 1, 0),
    ]  # fmt: skip


async def test_sqlite_load_after_on_10000_messages_uses_the_created_at_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "big.db")
    where = Collection()
    try:
        await store.create(where, state("big", 1), [system()])
        await store.append(where, state("big", 10_000), [msg(i) for i in range(2, 10_001)])

        loaded = await store.load(where, "big", after=at(9_998))
    finally:
        await store.close()

    assert loaded is not None
    assert [m.index for m in loaded[1]] == [9_999, 10_000]
    with sqlite3.connect(tmp_path / "big.db") as db:
        plan = " ".join(
            row[3] for row in db.execute("EXPLAIN QUERY PLAN " + LOAD_AFTER_SQL, ("", "", "", ""))
        )
    assert "USING INDEX entities_created_at" in plan
    assert "CreatedAt>?" in plan.replace(" ", "")


# -- open_store ----------------------------------------------------------------------------------------------


async def test_open_store_kinds(tmp_path: Path) -> None:
    sqlite_store = open_store("sqlite", script_root=tmp_path, settings=no_settings)
    memory_store = open_store("memory", script_root=tmp_path, settings=no_settings)
    tables_store = open_store("tables", script_root=tmp_path, settings=no_settings)

    assert isinstance(sqlite_store, SqliteStore)
    assert sqlite_store.path == tmp_path / ".funchost" / "assistants.db"
    assert isinstance(memory_store, MemoryStore)
    assert isinstance(tables_store, TablesStore)
    for store in (sqlite_store, memory_store, tables_store):
        await store.close()


def test_open_store_unknown_kind() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("cosmos", script_root=Path("."), settings=no_settings)

    assert str(caught.value) == "unknown assistant store 'cosmos': use one of sqlite, memory, tables."


async def test_the_callers_lists_are_not_kept_by_the_store(env: Env) -> None:
    messages = [system()]
    await env.store.create(env.where, state("a1", 1), messages)
    messages.append(msg(2))
    loaded = await rows_of(env, env.where, "a1")
    loaded[1].append(msg(3))

    assert (await rows_of(env, env.where, "a1"))[1] == [system()]


async def test_tables_service_uri_uses_an_identity_credential_per_setting() -> None:
    values = {
        "Chat__tableServiceUri": "https://acct.table.core.windows.net",
        "Chat__credential": "managedidentity",
        "Chat__clientId": "00000000-0000-0000-0000-000000000001",
        "Other__tableServiceUri": "https://other.table.core.windows.net/",
    }
    store = TablesStore(values.get)
    try:
        chat = store._service("Chat")
        other = store._service("Other")

        assert (chat.endpoint, type(chat.credential).__name__) == (
            "https://acct.table.core.windows.net",
            "ManagedIdentityCredential",
        )
        assert (other.endpoint, type(other.credential).__name__) == (
            "https://other.table.core.windows.net",
            "DefaultAzureCredential",
        )
        assert store._service("Chat") is chat
    finally:
        await store.close()
