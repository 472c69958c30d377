"""Blob and queue triggers end to end through the real CLI, on embedded storage and on real Azurite."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.azurite import AzuriteStorage, azurite_storage  # noqa: F401  (session fixture)
from tests.cli import RunningHost, running, spawn, wait_running, wait_until

APP = Path(__file__).parent / "apps" / "storage_app"
pytestmark = pytest.mark.slow


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A fresh copy of the unchanged app (its .funchost/ storage starts empty)."""
    target = tmp_path / "storage_app"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    return target


@pytest.fixture(params=["embedded", "azurite"])
def storage_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "embedded":
        yield {}
        return
    server: AzuriteStorage = request.getfixturevalue("azurite_storage")
    yield {"FUNCHOST_STORAGE": "azure", "AzureWebJobsStorage": server.connection_string()}


def storage_cli(app: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "funchost", "storage", *args, "--script-root", str(app)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def count(host: RunningHost, text: str) -> int:
    return host.output.count(text)


def test_http_writes_blob_blob_trigger_queues_queue_trigger_consumes(
    app: Path, storage_env: dict[str, str]
) -> None:
    with running(app, env=storage_env) as host:
        status, _, _ = host.request("POST", "/api/upload/report.txt", b"quarterly numbers")
        assert status == 201
        host.wait_for_output("Executed 'Functions.work' (Succeeded", timeout=30)
        status, _, body = host.request("GET", "/api/results/report")
        assert (status, body) == (200, b"QUARTERLY NUMBERS")
        out = host.output
        assert "Reason='New blob detected(LogsAndContainerScan): uploads/report.txt'" in out
        assert "blob uploads/report.txt length=17 uri=" in out
        assert "Reason='New queue message detected on 'work'.'" in out
        assert "work report dequeue_count=1" in out
        status, _, _ = host.request("GET", "/api/results/missing")
        assert status == 404, "a missing blob is None in the function"
        # A blob the pattern does not match (.csv) does not fire; the same version never fires twice.
        assert host.request("POST", "/api/upload/data.csv", b"x")[0] == 201
        assert host.request("POST", "/api/upload/second.txt", b"two")[0] == 201
        host.wait_for_output("work second dequeue_count=1", timeout=30)
        assert count(host, "Executing 'Functions.on_upload'") == 2
    # Receipts survive a restart: nothing fires again for versions already processed.
    with running(app, env=storage_env) as host:
        assert host.request("POST", "/api/upload/third.txt", b"3")[0] == 201
        host.wait_for_output("work third dequeue_count=1", timeout=30)
        assert count(host, "Executing 'Functions.on_upload'") == 1
    listing = storage_cli(app, "blob", "ls", "results", env=storage_env)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[-1] for line in listing.stdout.splitlines()] == ["report", "second", "third"]


def test_poison_after_exactly_max_dequeue_count(app: Path, storage_env: dict[str, str]) -> None:
    with running(app, env=storage_env) as host:
        assert host.request("POST", "/api/enqueue/doomed", b"order-17")[0] == 202
        host.wait_for_output("Moving message to queue 'doomed-poison'", timeout=30)
        out = host.output
        assert "Message has reached MaxDequeueCount of 3. Moving message to queue 'doomed-poison'." in out
        assert [
            line.split("doomed attempt ")[1] for line in out.splitlines() if "doomed attempt" in line
        ] == [
            "1 of order-17",
            "2 of order-17",
            "3 of order-17",
        ]
        assert count(host, "Executed 'Functions.doomed' (Failed") == 3
    peek = storage_cli(app, "queue", "peek", "doomed-poison", "--json", env=storage_env)
    assert peek.returncode == 0, peek.stderr
    rows = [json.loads(line) for line in peek.stdout.splitlines()]
    assert [r["body"] for r in rows] == ["order-17"]
    assert storage_cli(app, "queue", "peek", "doomed", env=storage_env).stdout == ""


def test_cli_send_reaches_the_trigger_and_blob_put_fires(app: Path, storage_env: dict[str, str]) -> None:
    sent = storage_cli(
        app, "queue", "send", "work", json.dumps({"name": "cli", "text": "from cli"}), env=storage_env
    )
    assert sent.returncode == 0, sent.stderr
    put = storage_cli(app, "blob", "put", "uploads/put.txt", "--text", "via put", env=storage_env)
    assert put.returncode == 0, put.stderr
    with running(app, env=storage_env) as host:
        host.wait_for_output("work cli dequeue_count=1", timeout=30)
        host.wait_for_output("work put dequeue_count=1", timeout=30)
    got = storage_cli(app, "blob", "get", "results/put", env=storage_env)
    assert (got.returncode, got.stdout) == (0, "VIA PUT")


def test_drop_folder_files_fire_the_blob_trigger(app: Path) -> None:
    drop = app / ".funchost" / "blobs" / "uploads"
    with running(app) as host:
        drop.mkdir(parents=True)
        (drop / "dropped.txt").write_text("dropped in")
        host.wait_for_output("work dropped dequeue_count=1", timeout=30)
        assert host.request("GET", "/api/results/dropped")[2] == b"DROPPED IN"


def test_kill_9_during_processing_delivers_again_after_restart(
    app: Path, storage_env: dict[str, str]
) -> None:
    env = {**storage_env, "FUNCHOST_QUEUE_LEASE": "2"}
    host = spawn(app, "--no-reload", env=env)
    try:
        wait_running(host)
        for i in range(3):
            assert host.request("POST", "/api/enqueue/slow", f"job-{i}".encode())[0] == 202
        wait_until(lambda: count(host, "slow start") == 3, timeout=30, message=lambda: host.output)
        host.proc.send_signal(signal.SIGKILL)
        host.proc.wait(10)
    finally:
        if host.proc.poll() is None:
            host.proc.kill()
    assert "slow done" not in host.output
    with running(app, env=env) as again:
        wait_until(lambda: count(again, "slow done") == 3, timeout=60, message=lambda: again.output)
        assert sorted(
            line.split("slow start ")[1] for line in again.output.splitlines() if "slow start" in line
        ) == [
            "job-0 dequeue_count=2",
            "job-1 dequeue_count=2",
            "job-2 dequeue_count=2",
        ]
    got = storage_cli(app, "blob", "ls", "done", env=storage_env)
    assert got.returncode == 0 and len(got.stdout.splitlines()) == 3, "each message completed exactly once"
    assert storage_cli(app, "queue", "peek", "slow", env=storage_env).stdout == ""


def test_admin_api_gives_typed_inputs(app: Path) -> None:
    with running(app) as host:
        status, _, _ = host.request(
            "POST", "/admin/functions/work", json.dumps({"input": '{"name": "adm", "text": "x"}'})
        )
        assert status == 202
        host.wait_for_output("work adm dequeue_count=1", timeout=30)
        assert host.request("GET", "/api/results/adm")[2] == b"x"
        put = storage_cli(app, "blob", "put", "uploads/admin.txt", "--text", "abc")
        assert put.returncode == 0
        host.wait_for_output("work admin dequeue_count=1", timeout=30)
        status, _, _ = host.request(
            "POST", "/admin/functions/on_upload", json.dumps({"input": "uploads/admin.txt"})
        )
        assert status == 202
        wait_until(
            lambda: count(host, "blob uploads/admin.txt length=3") == 2,
            timeout=30,
            message=lambda: host.output,
        )
