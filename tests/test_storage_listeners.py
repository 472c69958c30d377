"""Blob and queue listeners across a hot reload, and the blob trigger's poison path, through the real CLI on the
storage app (copied per test, with the functions these tests need appended)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.cli import running, wait_until

APP = Path(__file__).parent / "apps" / "storage_app"
pytestmark = pytest.mark.slow

EXTRA = """

VERSION = "v1"


@app.queue_trigger(arg_name="msg", queue_name="tally", connection="AzureWebJobsStorage")
def tally(msg: func.QueueMessage) -> None:
    time.sleep(0.02)
    logging.info("tally %s by %s", msg.get_body().decode(), VERSION)


@app.blob_trigger(arg_name="blob", path="tallyblobs/{name}", connection="AzureWebJobsStorage")
def tally_blob(blob: func.InputStream) -> None:
    logging.info("tallyblob %s by %s", blob.name, VERSION)


@app.blob_trigger(arg_name="blob", path="fragile/{name}", connection="AzureWebJobsStorage")
def fragile(blob: func.InputStream) -> None:
    logging.info("fragile attempt on %s", blob.name)
    raise ValueError("this blob can never be processed")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "storage_app"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    with (target / "function_app.py").open("a") as f:
        f.write(EXTRA)
    return target


def storage_cli(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "funchost", "storage", *args, "--script-root", str(app)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hot_reload_while_messages_and_blobs_flow_loses_and_doubles_nothing(app: Path) -> None:
    total = 120
    with running(app, "--functions", "tally", "tally_blob", "enqueue", reload=True) as host:
        sent: list[int] = []

        def send() -> None:
            for i in range(total):
                assert host.request("POST", "/api/enqueue/tally", str(i).encode())[0] == 202
                if i % 10 == 0:
                    put = storage_cli(app, "blob", "put", f"tallyblobs/b{i}", "--text", str(i))
                    assert put.returncode == 0, put.stderr
                sent.append(i)
                time.sleep(0.01)

        sender = threading.Thread(target=send)
        sender.start()
        wait_until(lambda: host.output.count("tally ") >= 20, timeout=30, message=lambda: host.output)
        source = app / "function_app.py"
        source.write_text(source.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sender.join(120)
        assert len(sent) == total
        wait_until(
            lambda: len(set(re.findall(r"tally (\d+) by v\d", host.output))) >= total,
            timeout=60,
            message=lambda: host.output,
        )
        wait_until(
            lambda: host.output.count("tallyblob ") >= total // 10, timeout=30, message=lambda: host.output
        )
        time.sleep(1.5)  # a duplicate would arrive within the next polls
        out = host.output
    processed = re.findall(r"tally (\d+) by (v\d)", out)
    bodies = [int(b) for b, _ in processed]
    assert sorted(bodies) == list(range(total)), "every message processed exactly once"
    versions = {v for _, v in processed}
    assert versions == {"v1", "v2"}, "the reload happened while messages flowed"
    last_v1 = max(i for i, (_, v) in enumerate(processed) if v == "v1")
    first_v2 = min(i for i, (_, v) in enumerate(processed) if v == "v2")
    assert last_v1 < first_v2, "the old version's listener stopped before the new one started"
    blobs = re.findall(r"tallyblob (tallyblobs/b\d+) by v\d", out)
    assert sorted(blobs) == sorted(f"tallyblobs/b{i}" for i in range(0, total, 10)), "each blob fired once"


def test_blob_trigger_poison_after_max_dequeue_count(app: Path) -> None:
    with running(app, "--functions", "fragile") as host:
        put = storage_cli(app, "blob", "put", "fragile/report.csv", "--text", "a,b")
        assert put.returncode == 0, put.stderr
        host.wait_for_output("Moving message to queue 'webjobs-blobtrigger-poison'", timeout=30)
        time.sleep(2.5)  # no further attempt once poisoned
        out = host.output
    assert (
        "Message has reached MaxDequeueCount of 3. Moving message to queue 'webjobs-blobtrigger-poison'."
        in out
    )
    assert out.count("fragile attempt on fragile/report.csv") == 3
    assert out.count("Executed 'Functions.fragile' (Failed") == 3
    peek = storage_cli(app, "queue", "peek", "webjobs-blobtrigger-poison", "--json")
    assert peek.returncode == 0, peek.stderr
    (row,) = [json.loads(line) for line in peek.stdout.splitlines()]
    poison = json.loads(row["body"])
    assert poison["Type"] == "BlobTrigger"
    assert poison["FunctionId"] == "Host.Functions.fragile"
    assert (poison["ContainerName"], poison["BlobName"]) == ("fragile", "report.csv")
    # The receipt remembers the poisoned version: a restart does not try it again.
    with running(app, "--functions", "fragile") as host:
        time.sleep(3)
        assert "fragile attempt" not in host.output
