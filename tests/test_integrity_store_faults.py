"""Issue 10 items 3, 9, 11 and 13 through the real CLI: a deleted or damaged SQLite file, file modes, read-only
commands, an unreachable Azurite for ``funchost assistants``, and the echo model's memory."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from funchost_assistants.chat.base import ChatRequest
from funchost_assistants.chat.scripted import KEEP_REQUESTS, ScriptedChatModel, echo
from tests.azurite import WELL_KNOWN_KEY, free_port
from tests.cli import running

HARD_APP = Path(__file__).parent / "apps" / "hard_app"
ENV = {"FUNCHOST_CHAT": "echo"}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(HARD_APP, target, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    return target


def cli(app: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "funchost", "assistants", *args, "--script-root", str(app)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.slow
def test_sqlite_file_deleted_while_running_is_503_saying_what_happened(app: Path) -> None:
    """Before: 5 posts and a create answered 200/202 into the unlinked file, and were gone after a restart."""
    db = app / ".funchost" / "assistants.db"
    with running(app, "--store", "sqlite", env=ENV) as host:
        assert host.request("PUT", "/api/assistants/a1")[0] == 202
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)

        answers = [host.request("POST", "/api/assistants/a1?message=hi")[0] for _ in range(5)]
        answers.append(host.request("PUT", "/api/assistants/a2")[0])
        out = host.wait_for_output("was deleted while the host was running")
        assert host.request("GET", "/api/hello")[0] == 200  # the host stays up

    assert answers == [503] * 6
    assert f"sqlite store {db} was deleted while the host was running" in out
    assert "Restart funchost to open the file now at that path" in out


@pytest.mark.slow
def test_corrupt_database_names_the_file_and_the_fix(app: Path) -> None:
    db = app / ".funchost" / "assistants.db"
    db.parent.mkdir()
    db.write_bytes(b"not a database\n" * 500)
    with running(app, "--store", "sqlite", env=ENV) as host:
        status = host.request("PUT", "/api/assistants/a1")[0]
        out = host.wait_for_output("is not a usable SQLite database")
    listing = cli(app, "list")

    assert status == 503
    assert f"sqlite store {db} is not a usable SQLite database (file is not a database)" in out
    assert "move the file away (a new, empty store is created at the next call) or restore a backup" in out
    assert "Traceback" not in listing.stderr and listing.returncode == 1
    assert listing.stderr.strip().startswith(f"funchost assistants list: sqlite store {db} is not a usable")
    assert len(listing.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_database_files_are_private_to_the_owner(app: Path) -> None:
    """Before: assistants.db was created 0644 in a 0755 folder, chat history world-readable."""
    with running(app, "--store", "sqlite", env=ENV) as host:
        assert host.request("PUT", "/api/assistants/a1")[0] == 202
        assert host.request("POST", "/api/assistants/a1?message=secret")[0] == 200
        files = sorted((app / ".funchost").glob("assistants.db*"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}

    assert modes == {"assistants.db": 0o600, "assistants.db-shm": 0o600, "assistants.db-wal": 0o600}


def test_read_only_commands_do_not_create_a_database(app: Path) -> None:
    results = [cli(app, "list"), cli(app, "show", "nobody"), cli(app, "export", "x"), cli(app, "delete", "x")]

    assert [r.returncode for r in results] == [0, 1, 1, 1]
    assert results[0].stdout.startswith("No assistants in 'ChatState' (sqlite (")
    assert not (app / ".funchost").exists()


def test_assistants_list_with_azurite_down_is_one_clear_line(app: Path) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
    conn = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={WELL_KNOWN_KEY};TableEndpoint={endpoint};"
    env = {**os.environ, "AzureWebJobsStorage": conn}

    result = cli(app, "list", "--store", "tables", env=env)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"funchost assistants list: cannot reach the table endpoint {endpoint} (connection setting "
        "'AzureWebJobsStorage', table 'ChatState') after 4 attempts: ServiceRequestError. Start Azurite or fix "
        "the setting, then retry."
    )


async def test_the_echo_model_and_scripted_models_keep_a_bounded_number_of_requests() -> None:
    """Before: FUNCHOST_CHAT=echo kept a deep copy of every request (176 -> 677 MB in 60 s of load)."""
    echo_model = ScriptedChatModel(default=echo, keep=0)
    scripted = ScriptedChatModel(default=echo)
    history = [{"role": "user", "content": "x" * 1000}] * 50
    for n in range(KEEP_REQUESTS + 50):
        request = ChatRequest(model="m", messages=[*history, {"role": "user", "content": f"m{n}"}])
        assert (await echo_model.complete(request)).content == f"m{n}"
        await scripted.complete(request)

    assert echo_model.requests == [] and echo_model.request_count == KEEP_REQUESTS + 50
    assert len(scripted.requests) == KEEP_REQUESTS and scripted.request_count == KEEP_REQUESTS + 50
    assert scripted.requests[-1].messages[-1]["content"] == f"m{KEEP_REQUESTS + 49}"
    assert scripted.requests[0].messages[-1]["content"] == "m50"
