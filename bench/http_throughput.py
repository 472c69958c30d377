"""HTTP throughput and latency through the host vs a bare aiohttp app doing the same work."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadgen
from bench.common import (
    BENCH,
    Result,
    Server,
    app_copy,
    free_port,
    has_before,
    server_cpu,
    spawn,
    spawn_host,
    table,
    tree,
    verdict,
    wait_http,
    wait_running,
)

CONCURRENCY = 16
CASES = (("CreateAssistant", "PUT", "/api/assistants/bench-{n}"), ("hello", "GET", "/api/hello"))


def _baseline(workdir: Path) -> Server:
    port = free_port()
    server = spawn(
        [sys.executable, str(BENCH / "baseline_app.py"), "--port", str(port)],
        log=workdir / "baseline.log",
        port=port,
        cpu=server_cpu(),
    )
    wait_http(server, "/api/hello")
    return server


def _load(server: Server, method: str, pattern: str, seconds: float) -> loadgen.Load:
    loadgen.run(server.url, method, pattern, concurrency=CONCURRENCY, seconds=1, ids=1000)  # warm-up
    return loadgen.run(server.url, method, pattern, concurrency=CONCURRENCY, seconds=seconds, ids=1000)


TARGETS = {"hello": 0.4, "CreateAssistant": 0.35, "hello, async def": 0.5}
"""Issue 14: req/s as a fraction of bare aiohttp doing the same work (sync hello, CreateAssistant, async hello)."""
P99_TARGET = 3.0
"""Issue 14: sync hello p99 at most this many times the bare p99."""


def _median_run(runs: list[loadgen.Load]) -> loadgen.Load:
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def measure(quick: bool = False) -> Result:
    seconds = 3.0 if quick else 8.0
    rounds = 1 if quick else 3
    sides = {"after": tree("after"), **({"before": tree("before")} if has_before() else {})}
    results: dict[tuple[str, str], list[loadgen.Load]] = {}
    with app_copy() as app:
        base = _baseline(app.parent)
        hosts: dict[str, Server] = {}
        try:
            for side, source in sides.items():
                hosts[side] = spawn_host(app, "--store", "memory", cpu=server_cpu(), source=source)
                hosts["async " + side] = spawn_host(
                    BENCH / "apps" / "async_hello", "--store", "memory", cpu=server_cpu(), source=source
                )
            for server in hosts.values():
                wait_running(server)
            for _ in range(rounds):  # alternate every server so all see the same noise
                for name, method, pattern in CASES:
                    for who, server in (("baseline", base), *((s, hosts[s]) for s in sides)):
                        results.setdefault((name, who), []).append(_load(server, method, pattern, seconds))
                for side in sides:
                    results.setdefault(("hello, async def", side), []).append(
                        _load(hosts["async " + side], "GET", "/api/hello", seconds)
                    )
        finally:
            for server in hosts.values():
                server.stop()
            base.stop()
    rows: list[list[object]] = []
    summary: list[tuple[str, str, str, str]] = []
    method = ""
    for name in ("CreateAssistant", "hello", "hello, async def"):
        bare = _median_run(results[("hello" if name.startswith("hello") else name, "baseline")])
        method = bare.method
        if name != "hello, async def":
            rows.append([name, "bare aiohttp", bare.rps, bare.p50_ms, bare.p99_ms, bare.errors, "1.00"])
        for side in sides:
            r = _median_run(results[(name, side)])
            label = f"funchost {side}" + (
                " (no thread hop)" if name.endswith("async def") else " (memory store)"
            )
            rows.append([name, label, r.rps, r.p50_ms, r.p99_ms, r.errors, f"{r.rps / bare.rps:.2f}"])
        r = _median_run(results[(name, "after")])
        ratio = r.rps / bare.rps
        summary.append(
            (
                f"HTTP {name} req/s vs bare aiohttp",
                f"{r.rps:,.0f} vs {bare.rps:,.0f} = {ratio:.2f}x (p99 {r.p99_ms:.1f} ms)",
                f">= {TARGETS[name]}x",
                verdict(ratio >= TARGETS[name]),
            )
        )
        if name == "hello":
            p99 = r.p99_ms / bare.p99_ms
            summary.append(
                (
                    "HTTP hello (sync) p99 vs bare p99, c=16",
                    f"{r.p99_ms:.1f} vs {bare.p99_ms:.2f} ms = {p99:.1f}x",
                    f"<= {P99_TARGET}x",
                    verdict(p99 <= P99_TARGET),
                )
            )
    text = table(
        "HTTP throughput (fixed concurrency)",
        ["function", "server", "req/s", "p50 ms", "p99 ms", "errors", "x baseline"],
        rows,
        f"Load: {method}, {seconds:.0f} s per run after a 1 s warm-up, median of {rounds} alternating run(s); "
        f"servers pinned to CPU {server_cpu()}, load generator to the other core (taskset). CreateAssistant uses "
        "1,000 rotating ids. The baseline is bench/baseline_app.py (same route parse, same request JSON, kept in "
        "a dict, 202). funchost logs Executing/Executed per request to its console (a file here), as func does; "
        "sync functions run in the worker-style thread pool. `hello, async def` is bench/apps/async_hello (no "
        "thread hop), against the same bare hello runs. before/after: FUNCHOST_BENCH_BEFORE/_AFTER revisions.",
    )
    return Result(text, summary)


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
