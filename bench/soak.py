"""Soak: mixed creates/posts/queries from 32 clients on two host processes sharing one store, with saves that
hot-reload both hosts every few seconds and one kill -9 + restart; then a checker walks every assistant.

    python bench/soak.py                       # 10 minutes on SQLite
    python bench/soak.py --minutes 3 --store tables

Passes when every acknowledged write is present and every history is whole (RowKeys msg-0001.. contiguous,
TotalMessages = rows, each User message answered). Writes bench/results/soak-<store>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.azurite import Azurite, start_azurite  # noqa: E402
from tests.cli import RunningHost, free_port, spawn, wait_running  # noqa: E402
from tests.integrity import Walk, walk_sqlite, walk_tables  # noqa: E402
from tests.slow_model import slow_echo_model  # noqa: E402

HARD_APP = REPO / "tests" / "apps" / "hard_app"
INFINITY = float("inf")


@dataclass
class Ledger:
    """What the clients were told: acknowledged creates and posts, with send/answer times."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    creates: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """assistant -> (sent, answered) of every create sent (answered = inf when the answer never came)."""
    posts: list[tuple[str, str, float]] = field(default_factory=list)
    """(assistant, message, sent) of every acknowledged post."""
    statuses: Counter[str] = field(default_factory=Counter)
    queries_ok: int = 0
    query_mismatch: list[str] = field(default_factory=list)


class Hosts:
    """Two ``funchost start`` processes on one app folder (so one SQLite file) or one Azure table."""

    def __init__(self, app: Path, args: list[str], env: dict[str, str]) -> None:
        self.app, self.args, self.env = app, args, env
        self.ports = [free_port(), free_port()]
        self.procs: list[RunningHost] = [self._start(p) for p in self.ports]
        self.restart_seconds = 0.0

    def _start(self, port: int) -> RunningHost:
        host = spawn(self.app, *self.args, env=self.env, port=port)
        wait_running(host, timeout=60)
        return host

    def kill9_and_restart(self, index: int) -> None:
        victim = self.procs[index]
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        started = time.monotonic()
        self.procs[index] = self._start(self.ports[index])
        self.restart_seconds = time.monotonic() - started

    def stop(self) -> None:
        for host in self.procs:
            host.stop()


def client(hosts: Hosts, worker: int, ledger: Ledger, stop: threading.Event, owned: list[str]) -> None:
    """One client: its own assistants to create/re-create; posts and queries to anyone's assistants."""
    rng = random.Random(worker)
    n = 0
    while not stop.is_set():
        host = hosts.procs[worker % 2]
        everyone = [a for a in list(ledger.creates) if ledger.creates[a]]
        roll = rng.random()
        try:
            if roll < 0.08 or not owned:
                fresh = not owned or rng.random() < 0.7
                assistant = f"c{worker}-{len(owned)}" if fresh else rng.choice(owned)
                sent = time.monotonic()
                with ledger.lock:
                    ledger.creates.setdefault(assistant, []).append((sent, INFINITY))
                    slot = len(ledger.creates[assistant]) - 1
                status = host.request("PUT", f"/api/assistants/{quote(assistant)}")[0]
                ledger.statuses[f"create {status}"] += 1
                if status == 202:
                    with ledger.lock:
                        ledger.creates[assistant][slot] = (sent, time.monotonic())
                    if fresh:
                        owned.append(assistant)
            elif roll < 0.75 and everyone:
                assistant = rng.choice(everyone)
                message = f"w{worker}-{n}"
                sent = time.monotonic()
                status, _, body = host.request(
                    "POST", f"/api/assistants/{quote(assistant)}?message={message}"
                )
                ledger.statuses[f"post {status}"] += 1
                if status == 200:
                    recent = json.loads(body).get("recentMessages") or []
                    if recent and recent[-1]["content"] == f"re: {message}":
                        with ledger.lock:
                            ledger.posts.append((assistant, message, sent))
            elif everyone:
                assistant = rng.choice(everyone)
                path = f"/api/assistants/{quote(assistant)}?timestampUTC=2000-01-01T00:00:00Z"
                status, _, body = host.request("GET", path)
                ledger.statuses[f"query {status}"] += 1
                if status == 200:
                    state = json.loads(body)
                    rows = state["recentMessages"]
                    if state["exists"] and state["totalMessages"] != len(rows):
                        ledger.query_mismatch.append(
                            f"{assistant}: total {state['totalMessages']}, {len(rows)} rows"
                        )
                    ledger.queries_ok += 1
        except OSError as exc:  # the host is being killed/restarted: not acknowledged
            ledger.statuses[f"connection error ({type(exc).__name__})"] += 1
            time.sleep(0.05)
        n += 1


def check(walk: Walk, ledger: Ledger) -> dict[str, object]:
    """Every acknowledged create and post present, every history whole."""
    missing_creates = [a for a, tries in ledger.creates.items() if any(t[1] < INFINITY for t in tries)
                       and (a not in walk.assistants or walk.assistants[a].total_messages is None)]  # fmt: skip
    must, missing_posts = 0, []
    present = {a.id: {c for _, role, c in a.rows if role == "User"} for a in walk.assistants.values()}
    for assistant, message, sent in ledger.posts:
        # It may be wiped only by a create of its assistant that was still unanswered when it was sent.
        if all(answered < sent for _, answered in ledger.creates.get(assistant, [])):
            must += 1
            if message not in present.get(assistant, set()):
                missing_posts.append(f"{assistant}: {message}")
    return {
        "assistants": len(walk.assistants),
        "message_rows": walk.messages,
        "history_problems": walk.problems[:20],
        "acknowledged_creates": sum(1 for t in ledger.creates.values() if any(x[1] < INFINITY for x in t)),
        "acknowledged_posts": len(ledger.posts),
        "posts_that_must_be_present": must,
        "missing_creates": missing_creates[:20],
        "missing_posts": missing_posts[:20],
        "query_total_mismatches": ledger.query_mismatch[:20],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--store", choices=("sqlite", "tables"), default="sqlite")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--save-every", type=float, default=3.0, help="seconds between saves (hot reloads)")
    parser.add_argument("--model-delay", type=float, default=0.02, help="seconds the echo model takes")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="funchost-soak-"))
    app = work / "app"
    shutil.copytree(HARD_APP, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    azurite: Azurite | None = None
    ledger = Ledger()
    stop = threading.Event()
    saves = 0
    try:
        with slow_echo_model(args.model_delay) as model:
            env = {**model.env()}
            if args.store == "tables":
                azurite = start_azurite()
                env["AzureWebJobsStorage"] = azurite.connection_string()
            hosts = Hosts(app, ["--store", args.store], env)
            source = app / "function_app.py"
            original = source.read_text()
            threads = [
                threading.Thread(target=client, args=(hosts, w, ledger, stop, []), daemon=True)
                for w in range(args.clients)
            ]
            started = time.monotonic()
            for t in threads:
                t.start()
            duration = args.minutes * 60
            killed_at = None
            while (elapsed := time.monotonic() - started) < duration:
                time.sleep(args.save_every)
                saves += 1
                source.write_text(original + f"\n# soak save {saves}\n")
                if killed_at is None and elapsed > duration * 0.4:
                    killed_at = elapsed
                    hosts.kill9_and_restart(1)
                    print(
                        f"[{elapsed:6.1f}s] kill -9 of host 2, back in {hosts.restart_seconds:.2f}s",
                        flush=True,
                    )
                if saves % 10 == 0:
                    print(
                        f"[{elapsed:6.1f}s] {sum(ledger.statuses.values())} requests, {saves} saves",
                        flush=True,
                    )
            stop.set()
            for t in threads:
                t.join(60)
            elapsed = time.monotonic() - started
            reloads = sum(h.output.count("Signaling restart") for h in hosts.procs)
            hosts.stop()
        walk = (walk_tables(env["AzureWebJobsStorage"]) if args.store == "tables"
                else walk_sqlite(app / ".funchost" / "assistants.db"))  # fmt: skip
        result = {
            "store": args.store,
            "minutes": round(elapsed / 60, 2),
            "clients": args.clients,
            "requests": sum(ledger.statuses.values()),
            "requests_per_second": round(sum(ledger.statuses.values()) / elapsed, 1),
            "statuses": dict(sorted(ledger.statuses.items())),
            "saves": saves,
            "reloads_seen_by_surviving_processes": reloads,
            "kill9_at_seconds": round(killed_at or 0, 1),
            "restart_seconds": round(hosts.restart_seconds, 2),
            "queries_ok": ledger.queries_ok,
            **check(walk, ledger),
        }
    finally:
        stop.set()
        if azurite is not None:
            azurite.stop()
        shutil.rmtree(work, ignore_errors=True)
    ok = not (result["history_problems"] or result["missing_creates"] or result["missing_posts"]
              or result["query_total_mismatches"])  # fmt: skip
    result["passed"] = ok
    out = REPO / "bench" / "results" / f"soak-{args.store}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"{'PASS' if ok else 'FAIL'}: written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
