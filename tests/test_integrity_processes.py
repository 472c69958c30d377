"""Issue 10 item 2: two host processes on one store (one SQLite file, one Azure table on Azurite)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.azurite import Azurite, azurite
from tests.cli import RunningHost, running
from tests.integrity import Walk, missing_acknowledged, walk_sqlite, walk_tables
from tests.slow_model import slow_echo_model

__all__ = ["azurite"]
HARD_APP = Path(__file__).parent / "apps" / "hard_app"
pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "tables"])
def shared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, list[str], dict[str, str]]]:
    """One app folder (so one SQLite file) or one Azurite account for two hosts: (app, args, env)."""
    app = tmp_path / "app"
    shutil.copytree(HARD_APP, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    env: dict[str, str] = {}
    if request.param == "tables":
        server: Azurite = request.getfixturevalue("azurite")
        env["AzureWebJobsStorage"] = server.connection_string()
    yield app, ["--store", request.param], env


def walk(app: Path, args: list[str], env: dict[str, str]) -> Walk:
    if args[-1] == "tables":
        return walk_tables(env["AzureWebJobsStorage"])
    return walk_sqlite(app / ".funchost" / "assistants.db")


def post(host: RunningHost, assistant: str, message: str) -> tuple[int, bytes]:
    status, _, body = host.request("POST", f"/api/assistants/{assistant}?message={quote(message)}")
    return status, body


def test_a_recreate_by_another_process_during_a_post_leaves_no_gap(
    shared: tuple[Path, list[str], dict[str, str]],
) -> None:
    """Process B re-creates while A's post waits on the model: A's post is refused, nothing of it is written.

    Before the fix A appended onto B's new assistant: RowKey gap, TotalMessages=9 with 3 rows."""
    app, args, env = shared
    assistant = f"gap{int(time.time() * 1000)}"
    with (
        slow_echo_model(1.0) as slow,
        slow_echo_model(0.0) as fast,
        running(app, *args, env={**env, **slow.env()}) as a,
        running(app, *args, env={**env, **fast.env()}) as b,
    ):
        assert a.request("PUT", f"/api/assistants/{assistant}")[0] == 202
        for n in range(3):
            assert post(b, assistant, f"before {n}")[0] == 200
        result: list[tuple[int, bytes]] = []
        waiting = threading.Thread(target=lambda: result.append(post(a, assistant, "too late")))
        waiting.start()
        time.sleep(0.4)  # A has read the state and waits on its slow model
        assert b.request("PUT", f"/api/assistants/{assistant}?instructions=fresh")[0] == 202
        waiting.join(30)
        [(status, body)] = result
        a.wait_for_output("changed while this post was running")
        assert post(b, assistant, "after")[0] == 200

    assert (status, body) == (409, b"")
    stored = walk(app, args, env)
    assert stored.problems == []
    rows = stored.assistants[assistant].rows
    assert [(role, content) for _, role, content in rows] == [
        ("System", "fresh"),
        ("User", "after"),
        ("Assistant", "re: after"),
    ]


def test_two_processes_posting_and_recreating_keep_every_acknowledged_write(
    shared: tuple[Path, list[str], dict[str, str]],
) -> None:
    """Eight clients on each host post to four shared assistants, and re-create them now and then."""
    app, args, env = shared
    prefix = f"p{int(time.time() * 1000)}-"
    names = [f"{prefix}{i}" for i in range(4)]
    stop = threading.Event()
    lock = threading.Lock()
    posts: list[tuple[float, int, str, str]] = []  # (sent, status, assistant, message)

    def client(host: RunningHost, worker: int) -> None:
        n = 0
        while not stop.is_set():
            assistant = names[(worker + n) % len(names)]
            if n % 9 == 8:
                status = host.request("PUT", f"/api/assistants/{assistant}")[0]
                assert status == 202
            else:
                message = f"{worker}-{n}"
                sent = time.monotonic()
                status, _ = post(host, assistant, message)
                with lock:
                    posts.append((sent, status, assistant, message))
            n += 1

    with (
        slow_echo_model(0.05) as model,
        running(app, *args, env={**env, **model.env()}) as a,
        running(app, *args, env={**env, **model.env()}) as b,
    ):
        for name in names:
            assert a.request("PUT", f"/api/assistants/{name}")[0] == 202
        threads = [threading.Thread(target=client, args=(h, w)) for w in range(8) for h in (a, b)]
        for t in threads:
            t.start()
        time.sleep(8)
        stop.set()
        for t in threads:
            t.join(30)
        final = {name: [f"final {h}" for h in ("a", "b")] for name in names}
        for name in names:  # the re-creates are over: these posts must all be kept
            assert post(a, name, "final a")[0] == 200
            assert post(b, name, "final b")[0] == 200

    ok = [p for p in posts if p[1] == 200]
    statuses = {status: sum(1 for p in posts if p[1] == status) for status in {p[1] for p in posts}}
    assert len(ok) > 30, statuses
    assert set(statuses) <= {200, 409}, statuses  # a refused post is a clean 409, never a 500 or a 503
    stored = walk(app, args, env)
    assert stored.problems == []
    assert missing_acknowledged(stored, final) == []
