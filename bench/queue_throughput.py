"""Queue trigger end to end: enqueue via HTTP -> queueTrigger executed; throughput and enqueue->execution latency.

Runs the real CLI on ``tests/apps/storage_app`` twice in the same run, on the embedded storage and on a real
Azurite, and prints one table. Each message carries its send time; the function logs the latency it sees.

    python bench/queue_throughput.py [--messages 500] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import median, percentile, table  # noqa: E402
from tests.azurite import start_azurite_storage  # noqa: E402
from tests.cli import RunningHost, running  # noqa: E402

APP = REPO / "tests" / "apps" / "storage_app"
DONE = re.compile(r"bench-done (\d+) ([\d.]+)")


def post(host: RunningHost, seq: int) -> None:
    body = json.dumps({"seq": seq, "at": time.time()}).encode()
    req = urllib.request.Request(host.url + "/api/enqueue/bench", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 202


def run(label: str, env: dict[str, str], messages: int, concurrency: int) -> list[object]:
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        shutil.copytree(APP, app, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
        with running(app, env=env) as host:
            post(host, -1)  # warm-up: the first invocation imports and creates the queue
            host.wait_for_output("bench-done -1", timeout=60)
            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda i: post(host, i), range(messages)))
            enqueued = time.perf_counter() - start
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                done = {
                    int(m.group(1)): float(m.group(2))
                    for m in DONE.finditer(host.output)
                    if m.group(1) != "-1"
                }
                if len(done) >= messages:
                    break
                time.sleep(0.05)
            total = time.perf_counter() - start
    latencies = list(done.values())
    return [
        label,
        f"{len(done)}/{messages}",
        f"{messages / enqueued:.0f}",
        f"{len(done) / total:.0f}",
        f"{median(latencies):.1f}",
        f"{percentile(latencies, 99):.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows = [run("embedded (SQLite)", {}, args.messages, args.concurrency)]
    azurite = start_azurite_storage()
    try:
        env = {"FUNCHOST_STORAGE": "azure", "AzureWebJobsStorage": azurite.connection_string()}
        rows.append(run("Azurite (azure SDK)", env, args.messages, args.concurrency))
    finally:
        azurite.stop()
    print(
        table(
            f"Queue trigger end to end ({args.messages} messages via HTTP, {args.concurrency} senders)",
            ["storage", "executed", "enqueued/s", "executed/s", "latency p50 ms", "latency p99 ms"],
            rows,
            note="executed/s counts from the first enqueue to the last execution; latency = enqueue -> function "
            "start, as the function sees it.",
        )
    )


if __name__ == "__main__":
    main()
