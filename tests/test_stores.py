"""One conformance suite for every assistant store (memory, SQLite, Azure Tables on a real Azurite)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import subprocess
import sys
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
    StateChanged,
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
    path: Path | None = None

    def table(self, name: str | None = None) -> Collection:
        return Collection(self.where.connection, name or unique_table())

    def second(self) -> AssistantStore:
        """Another store on the same data, as a second host process would open it (memory: the same one)."""
        if self.kind == "sqlite":
            assert self.path is not None
            return SqliteStore(self.path)
        if self.kind == "tables":
            assert self.azurite is not None
            return TablesStore({"AzureWebJobsStorage": self.azurite.connection_string()}.get)
        return self.store


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
        path = tmp_path / ".funchost" / "assistants.db"
        store = SqliteStore(path)
    else:
        server = request.getfixturevalue("azurite")
        values = {
            "AzureWebJobsStorage": server.connection_string(),
            "Other": server.connection_string(EXTRA_ACCOUNT),
        }
        store = TablesStore(values.get)
    table = unique_table()
    yield Env(
        request.param,
        store,
        Collection("AzureWebJobsStorage", table),
        Collection("Other", table),
        server,
        tmp_path / ".funchost" / "assistants.db",
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


# -- writes that must see the state they read (several processes on one store) ------------------------------


async def test_loaded_state_carries_a_version_that_every_write_changes(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    first, _ = await rows_of(env, env.where, "a1")
    again, _ = await rows_of(env, env.where, "a1")

    await env.store.append(env.where, state("a1", 2, updated=2), [msg(2)], if_match=first.etag)
    after_post, _ = await rows_of(env, env.where, "a1")

    assert first.etag and first.etag == again.etag
    assert after_post.etag and after_post.etag != first.etag
    assert (await env.store.list(env.where))[0] == after_post


async def test_append_onto_a_state_that_was_posted_to_meanwhile_writes_nothing(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    read, _ = await rows_of(env, env.where, "a1")
    other = env.second()
    try:
        await other.append(env.where, state("a1", 3, updated=3), [msg(2), msg(3)], if_match=read.etag)

        with pytest.raises(StateChanged) as caught:
            await env.store.append(env.where, state("a1", 3, updated=4), [msg(2), msg(3)], if_match=read.etag)
    finally:
        if other is not env.store:
            await other.close()

    assert str(caught.value) == (
        f"assistant 'a1' in table '{env.where.table}' changed while this post was running (it was re-created, "
        "deleted or posted to by another host process sharing the store); nothing was saved for this post: "
        "send the message again."
    )
    assert isinstance(caught.value, Conflict)
    assert await env.store.load(env.where, "a1") == (state("a1", 3, updated=3), [system(), msg(2), msg(3)])


async def test_append_onto_a_recreated_assistant_writes_nothing(env: Env) -> None:
    """Issue 10 item 2: a post that read the old assistant must not land on the new one (a RowKey gap)."""
    await env.store.create(env.where, state("a1", 1), [system("old")])
    await env.store.append(env.where, state("a1", 5, updated=5), [msg(i) for i in range(2, 6)])
    read, _history = await rows_of(env, env.where, "a1")
    other = env.second()
    try:
        await other.create(env.where, state("a1", 1, tokens=1, updated=6), [system("new")])
    finally:
        if other is not env.store:
            await other.close()

    with pytest.raises(StateChanged):
        await env.store.append(
            env.where, state("a1", 8, updated=9), [msg(6), msg(7), msg(8)], if_match=read.etag
        )

    assert await env.store.load(env.where, "a1") == (state("a1", 1, tokens=1, updated=6), [system("new")])


async def test_append_onto_a_deleted_assistant_writes_nothing(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    read, _ = await rows_of(env, env.where, "a1")
    assert await env.store.delete(env.where, "a1") is True

    with pytest.raises(StateChanged):
        await env.store.append(env.where, state("a1", 2, updated=2), [msg(2)], if_match=read.etag)

    assert await env.store.load(env.where, "a1") is None
    assert await env.store.create(env.where, state("a1", 0), []) is None
    assert await env.store.load(env.where, "a1") == (state("a1", 0), [])


async def test_append_of_more_than_100_rows_onto_a_changed_state_writes_nothing(env: Env) -> None:
    await env.store.create(env.where, state("a1", 1), [system()])
    read, _ = await rows_of(env, env.where, "a1")
    await env.store.append(env.where, state("a1", 1, tokens=3, updated=1), [], if_match=read.etag)

    with pytest.raises(StateChanged):
        await env.store.append(
            env.where, state("a1", 151, updated=2), [msg(i) for i in range(2, 152)], if_match=read.etag
        )

    assert await env.store.load(env.where, "a1") == (state("a1", 1, tokens=3, updated=1), [system()])


async def test_two_processes_posting_and_recreating_one_assistant_keep_every_history_whole(env: Env) -> None:
    """Posts (read, then write only onto what was read) race with re-creates from a second store instance."""
    await env.store.create(env.where, state("race", 1), [system("v0")])
    other = env.second()
    written: list[int] = []
    refused = 0

    async def poster(store: AssistantStore, worker: int) -> None:
        nonlocal refused
        for n in range(6):
            loaded = await store.load(env.where, "race")
            if loaded is None:  # Azure Tables: a create in progress in the other process (state row first)
                assert env.kind == "tables"
                refused += 1
                continue
            read, _history = loaded
            await asyncio.sleep(0.001 * ((worker + n) % 3))  # "the model is thinking"
            new = [
                msg(read.total_messages + 1, content=f"w{worker}-{n}"),
                msg(read.total_messages + 2, "Assistant"),
            ]
            try:
                await store.append(
                    env.where,
                    state("race", read.total_messages + 2, updated=worker * 100 + n),
                    new,
                    if_match=read.etag,
                )
                written.append(worker)
            except StateChanged:
                refused += 1
            except Conflict:
                refused += 1

    async def recreator(store: AssistantStore) -> None:
        for n in range(4):
            await store.create(env.where, state("race", 1, tokens=n + 1), [system(f"v{n + 1}")])
            await asyncio.sleep(0.003)

    try:
        await asyncio.gather(
            *(poster(env.store if w % 2 else other, w) for w in range(4)),
            recreator(other),
            recreator(env.store),
        )
    finally:
        if other is not env.store:
            await other.close()

    final, messages = await rows_of(env, env.where, "race")
    assert [m.index for m in messages] == list(range(1, len(messages) + 1))  # contiguous from msg-0001
    assert final.total_messages == len(messages)
    assert messages[0].role == "System" and messages[0].content.startswith("v")
    assert written and refused  # both outcomes happened: the test exercised the race


async def test_concurrent_creates_of_one_id_from_two_stores_end_in_one_clean_assistant(env: Env) -> None:
    await env.store.create(env.where, state("same", 1), [system("before")])
    await env.store.append(env.where, state("same", 40), [msg(i) for i in range(2, 41)])
    other = env.second()
    try:
        await asyncio.gather(
            *(
                (other if i % 2 else env.store).create(
                    env.where, state("same", 1, tokens=i), [system(f"create {i}")]
                )
                for i in range(12)
            )
        )
    finally:
        if other is not env.store:
            await other.close()

    loaded_state, messages = await rows_of(env, env.where, "same")
    assert [m.content for m in messages] == [f"create {loaded_state.total_tokens}"]
    assert loaded_state.total_messages == 1


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


async def test_sqlite_database_wal_and_shm_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "app" / ".funchost" / "assistants.db"
    store = SqliteStore(path)
    try:
        await store.create(Collection(), state("a1", 1), [system()])
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode)
            for p in path.parent.iterdir()
            if p.name.startswith("assistants")
        }
    finally:
        await store.close()

    assert modes == {"assistants.db": 0o600, "assistants.db-wal": 0o600, "assistants.db-shm": 0o600}


async def test_sqlite_reads_on_a_missing_file_do_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "app" / ".funchost" / "assistants.db"
    store = SqliteStore(path)
    try:
        assert await store.list(Collection()) == []
        assert await store.load(Collection(), "a1") is None
        assert await store.delete(Collection(), "a1") is False
        with pytest.raises(StoreError):
            await store.append(Collection(), state("a1", 2), [msg(2)])
    finally:
        await store.close()

    assert not path.parent.exists()


async def test_sqlite_file_deleted_while_running_is_unavailable_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".funchost" / "assistants.db"
    store = SqliteStore(path)
    try:
        await store.create(Collection(), state("a1", 1), [system()])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

        for attempt in (
            store.create(Collection(), state("a2", 1), [system()]),
            store.append(Collection(), state("a1", 2), [msg(2)]),
            store.load(Collection(), "a1"),
            store.list(Collection()),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt
            assert str(caught.value) == (
                f"sqlite store {path} was deleted while the host was running; nothing more is read or written "
                "through the old file, whose data would be lost at the next start. Restart funchost to open the "
                "file now at that path (a new, empty store if it is gone), or restore the file."
            )
    finally:
        await store.close()


async def test_sqlite_file_replaced_while_running_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "assistants.db"
    store = SqliteStore(path)
    try:
        await store.create(Collection(), state("a1", 1), [system()])
        path.rename(tmp_path / "moved.db")
        path.write_bytes(b"")

        with pytest.raises(StoreUnavailable) as caught:
            await store.load(Collection(), "a1")
    finally:
        await store.close()

    assert f"sqlite store {path} was replaced by another file while the host was running" in str(caught.value)


async def test_sqlite_corrupt_file_names_the_file_and_the_fix_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "assistants.db"
    path.write_bytes(b"this is not a database, it is a text file\n" * 200)
    store = SqliteStore(path)
    try:
        for attempt in (store.load(Collection(), "a1"), store.create(Collection(), state("a1", 0), [])):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt
            assert str(caught.value) == (
                f"sqlite store {path} is not a usable SQLite database (file is not a database): the file is "
                "damaged or is not an assistant store. Stop funchost and move the file away (a new, empty store "
                "is created at the next call) or restore a backup of it."
            )
        path.rename(tmp_path / "corrupt.db")
        await store.create(Collection(), state("a1", 0), [])
        assert await store.load(Collection(), "a1") == (state("a1", 0), [])
    finally:
        await store.close()


_WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from funchost_assistants.models import AssistantState, ChatMessage
from funchost_assistants.stores import Collection, SqliteStore, StateChanged

async def main() -> None:
    store = SqliteStore(Path(sys.argv[1]))
    where = Collection()
    ok = refused = 0
    for n in range(int(sys.argv[3])):
        state, history = await store.load(where, "shared")
        now = datetime.now(UTC)
        new = [ChatMessage(state.total_messages + 1, f"{sys.argv[2]}-{n}", "User", now),
               ChatMessage(state.total_messages + 2, "ok", "Assistant", now)]
        if n % 7 == 3:
            await store.create(where, AssistantState("shared", True, now, now, 1, 0),
                               [ChatMessage(1, f"recreated by {sys.argv[2]}", "System", now)])
            continue
        try:
            await store.append(where, AssistantState("shared", True, state.created_at, now,
                                                     state.total_messages + 2, n), new, if_match=state.etag)
            ok += 1
        except StateChanged:
            refused += 1
    await store.close()
    print(ok, refused)

asyncio.run(main())
"""


def test_sqlite_two_processes_posting_and_recreating_keep_the_history_whole(tmp_path: Path) -> None:
    """Two real processes on one SQLite file: every history stays contiguous and its total matches."""
    path = tmp_path / "shared.db"

    async def seed() -> None:
        store = SqliteStore(path)
        await store.create(Collection(), state("shared", 1), [system()])
        await store.close()

    asyncio.run(seed())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, "60"], stdout=subprocess.PIPE, text=True
        )
        for name in ("p1", "p2")
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)

    with sqlite3.connect(path) as db:
        keys = [
            r[0] for r in db.execute("SELECT RowKey FROM entities WHERE RowKey LIKE 'msg-%' ORDER BY RowKey")
        ]
        (total,) = db.execute("SELECT TotalMessages FROM entities WHERE RowKey = 'state'").fetchone()
    assert keys == [f"msg-{i:04X}" for i in range(1, len(keys) + 1)]
    assert total == len(keys)
    assert sum(int(o[0]) for o in outputs) > 0


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
