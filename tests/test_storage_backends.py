"""One conformance suite for the storage backends: embedded SQLite and Azure Storage (real Azurite)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from funchost_storage.azure_backend import AzureStorage
from funchost_storage.backend import MessageGone, PreconditionFailed, StorageBackend, StorageUnavailable
from funchost_storage.embedded import EmbeddedStorage
from tests.azurite import AzuriteStorage, azurite_storage, free_port  # noqa: F401  (session fixture)

_counter = iter(range(10_000))


def unique(prefix: str) -> str:
    """Azurite lives for the whole session: every test gets its own container/queue names."""
    return f"{prefix}-{next(_counter)}"


@pytest.fixture(params=["embedded", "azurite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageBackend]:
    store: StorageBackend
    if request.param == "embedded":
        store = EmbeddedStorage(tmp_path / ".funchost")
    else:
        server: AzuriteStorage = request.getfixturevalue("azurite_storage")
        store = AzureStorage(connection_string=server.connection_string())
    try:
        yield store
    finally:
        await store.close()


async def test_blob_round_trip_with_etags(backend: StorageBackend) -> None:
    c = unique("box")
    assert await backend.get_blob(c, "a/b.txt") is None
    assert await backend.list_blobs(c) == []
    first = await backend.put_blob(c, "a/b.txt", b"one", content_type="text/plain")
    assert first.length == 3 and first.etag
    data, props = await backend.get_blob(c, "a/b.txt") or (b"", None)
    assert data == b"one" and props is not None and props.etag == first.etag
    assert props.content_type == "text/plain"
    second = await backend.put_blob(c, "a/b.txt", b"two!")
    assert second.etag != first.etag, "every version has a new ETag"
    with pytest.raises(PreconditionFailed):
        await backend.put_blob(c, "a/b.txt", b"x", if_match=first.etag)
    with pytest.raises(PreconditionFailed):
        await backend.put_blob(c, "a/b.txt", b"x", if_none_match=True)
    third = await backend.put_blob(c, "a/b.txt", b"three", if_match=second.etag)
    got = await backend.get_blob(c, "a/b.txt")
    assert got is not None and got[0] == b"three" and got[1].etag == third.etag
    assert (await backend.put_blob(c, "new.bin", b"\x00\xff", if_none_match=True)).length == 2


async def test_list_by_prefix_and_delete(backend: StorageBackend) -> None:
    c = unique("list")
    for name in ["in/2.txt", "in/1.txt", "out/1.txt", "inbox.txt"]:
        await backend.put_blob(c, name, name.encode())
    assert [b.name for b in await backend.list_blobs(c)] == ["in/1.txt", "in/2.txt", "inbox.txt", "out/1.txt"]
    assert [b.name for b in await backend.list_blobs(c, "in/")] == ["in/1.txt", "in/2.txt"]
    assert [b.length for b in await backend.list_blobs(c, "out/")] == [9]
    put = await backend.put_blob(c, "same.txt", b"s")
    listed = [b for b in await backend.list_blobs(c) if b.name == "same.txt"]
    got = await backend.get_blob(c, "same.txt")
    assert got is not None and put.etag == listed[0].etag == got[1].etag, "one ETag spelling everywhere"
    etag = (await backend.list_blobs(c, "out/"))[0].etag
    with pytest.raises(PreconditionFailed):
        await backend.delete_blob(c, "out/1.txt", if_match='"0x8D0000000000000"')
    assert await backend.delete_blob(c, "out/1.txt", if_match=etag) is True
    assert await backend.delete_blob(c, "out/1.txt") is False
    assert await backend.get_blob(c, "out/1.txt") is None


async def test_queue_send_receive_delete(backend: StorageBackend) -> None:
    q = unique("jobs")
    assert await backend.receive_messages(q, 5, 30) == [], "a queue that does not exist is empty"
    sent = [await backend.send_message(q, f"m{i}") for i in range(3)]
    assert sent[0].dequeue_count == 0 and sent[0].expiration_time > sent[0].insertion_time
    assert q in await backend.queue_names()
    peeked = await backend.peek_messages(q, 10)
    assert [m.text for m in peeked] == ["m0", "m1", "m2"]
    assert all(m.pop_receipt is None and m.dequeue_count == 0 for m in peeked)
    got = await backend.receive_messages(q, 2, 30)
    assert [m.text for m in got] == ["m0", "m1"]
    assert all(m.dequeue_count == 1 and m.pop_receipt for m in got)
    assert got[0].next_visible_time > got[0].insertion_time
    assert [m.text for m in await backend.peek_messages(q, 10)] == ["m2"], "received messages are hidden"
    for m in got:
        assert m.pop_receipt is not None
        await backend.delete_message(q, m.id, m.pop_receipt)
    rest = await backend.receive_messages(q, 10, 30)
    assert [m.text for m in rest] == ["m2"]
    assert await backend.receive_messages(q, 10, 30) == []


async def test_visibility_timeout_redelivers_with_count(backend: StorageBackend) -> None:
    q = unique("vis")
    await backend.send_message(q, "again")
    first = (await backend.receive_messages(q, 1, 1))[0]
    assert await backend.receive_messages(q, 1, 1) == []
    for _ in range(100):  # becomes visible after its timeout (1 s), not before: poll, no timed assertion
        await asyncio.sleep(0.1)
        second = await backend.receive_messages(q, 1, 30)
        if second:
            break
    assert second and second[0].id == first.id and second[0].dequeue_count == 2
    assert first.pop_receipt is not None
    with pytest.raises(MessageGone):  # the first receiver's receipt is stale now
        await backend.delete_message(q, first.id, first.pop_receipt)
    receipt, _ = await backend.update_message(q, second[0].id, second[0].pop_receipt or "", 0)
    assert receipt != second[0].pop_receipt
    third = await backend.receive_messages(q, 1, 30)
    assert third[0].id == first.id and third[0].dequeue_count == 3
    with pytest.raises(MessageGone):
        await backend.update_message(q, first.id, receipt, 0)


async def test_send_with_initial_invisibility_and_unicode(backend: StorageBackend) -> None:
    q = unique("later")
    await backend.send_message(q, "hidden", visibility_timeout=60)
    text = "héllo ✓ <x a=\"1\"> & 'q'"
    await backend.send_message(q, text)
    got = await backend.receive_messages(q, 10, 30)
    assert [m.text for m in got] == [text]


def test_embedded_is_safe_across_processes(tmp_path: Path) -> None:
    """Four processes race to receive 200 messages: each is taken exactly once."""
    root = tmp_path / ".funchost"

    async def fill() -> None:
        store = EmbeddedStorage(root)
        for i in range(200):
            await store.send_message("race", str(i))
        await store.close()

    asyncio.run(fill())
    worker = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from funchost_storage.embedded import EmbeddedStorage
        async def main():
            store = EmbeddedStorage(Path({str(root)!r}))
            while True:
                got = await store.receive_messages("race", 3, 300)
                if not got:
                    break
                for m in got:
                    print(m.text, flush=True)
                    await store.delete_message("race", m.id, m.pop_receipt)
            await store.close()
        asyncio.run(main())
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", worker], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    taken = [int(x) for out in outputs for x in out]
    assert sorted(taken) == list(range(200)), "every message taken exactly once"


async def test_embedded_drop_folder(tmp_path: Path) -> None:
    store = EmbeddedStorage(tmp_path / ".funchost")
    drop = store.drop / "inbox" / "sub"
    drop.mkdir(parents=True)
    (drop / "photo.txt").write_text("v1")
    try:
        listed = await store.list_blobs("inbox")
        assert [(b.name, b.length, b.content_type) for b in listed] == [("sub/photo.txt", 2, "text/plain")]
        first = listed[0].etag
        assert (await store.list_blobs("inbox"))[0].etag == first, "an unchanged file is not read in again"
        (drop / "photo.txt").write_text("version 2")
        got = await store.get_blob("inbox", "sub/photo.txt")
        assert got is not None and got[0] == b"version 2" and got[1].etag != first
    finally:
        await store.close()


async def test_embedded_persists_across_instances(tmp_path: Path) -> None:
    store = EmbeddedStorage(tmp_path / ".funchost")
    await store.put_blob("keep", "x", b"1")
    taken = await store.receive_messages("q-none", 1, 30)
    await store.send_message("kept", "m")
    got = await store.receive_messages("kept", 1, 1)
    await store.close()
    assert taken == [] and got
    again = EmbeddedStorage(tmp_path / ".funchost")
    try:
        assert (await again.get_blob("keep", "x") or (b"",))[0] == b"1"
        assert (tmp_path / ".funchost" / ".gitignore").read_text() == "*\n"
        for _ in range(100):
            await asyncio.sleep(0.1)
            back = await again.receive_messages("kept", 1, 30)
            if back:
                break
        assert back[0].id == got[0].id and back[0].dequeue_count == 2
    finally:
        await again.close()


async def test_azure_unreachable_is_unavailable() -> None:
    port = free_port()
    store = AzureStorage(
        connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
    )
    try:
        with pytest.raises(StorageUnavailable, match=f"127.0.0.1:{port}.*AzureWebJobsStorage"):
            await store.get_blob("x-box", "y")
    finally:
        await store.close()
