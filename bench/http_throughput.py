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
    server_cpu,
    spawn,
    spawn_host,
    table,
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


def measure(quick: bool = False) -> Result:
    seconds = 3.0 if quick else 8.0
    rounds = 1 if quick else 3
    results: dict[tuple[str, str], list[loadgen.Load]] = {}
    with app_copy() as app:
        host = spawn_host(app, "--store", "memory", cpu=server_cpu())
        base = _baseline(app.parent)
        try:
            wait_running(host)
            for _ in range(rounds):  # alternate host and baseline so both see the same noise
                for name, method, pattern in CASES:
                    for who, server in (("baseline", base), ("funchost", host)):
                        results.setdefault((name, who), []).append(_load(server, method, pattern, seconds))
            host.stop()
            # Informational: the same hello as an `async def` (no thread-pool hop), against the same baseline runs.
            async_host = spawn_host(BENCH / "apps" / "async_hello", "--store", "memory", cpu=server_cpu())
            wait_running(async_host)
            for _ in range(rounds):
                results.setdefault(("hello", "async"), []).append(
                    _load(async_host, "GET", "/api/hello", seconds)
                )
            async_host.stop()
        finally:
            host.stop()
            base.stop()
    rows: list[list[object]] = []
    summary: list[tuple[str, str, str, str]] = []
    method = ""
    for name, _, _ in CASES:
        best: dict[str, loadgen.Load] = {}
        for who in ("baseline", "funchost"):
            runs = sorted(results[(name, who)], key=lambda r: r.rps)
            best[who] = runs[len(runs) // 2]  # the median run by requests/s
            method = best[who].method
        for who in ("baseline", "funchost"):
            r = best[who]
            rows.append(
                [
                    name,
                    "bare aiohttp" if who == "baseline" else "funchost (memory store)",
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.errors,
                    f"{r.rps / best['baseline'].rps:.2f}",
                ]
            )
        ratio = best["funchost"].rps / best["baseline"].rps
        summary.append(
            (
                f"HTTP {name} req/s vs bare aiohttp",
                f"{best['funchost'].rps:,.0f} vs "
                f"{best['baseline'].rps:,.0f} = {ratio:.2f}x (p99 {best['funchost'].p99_ms:.1f} ms)",
                ">= 0.7x",
                verdict(ratio >= 0.7),
            )
        )
    runs = sorted(results[("hello", "async")], key=lambda r: r.rps)
    r = runs[len(runs) // 2]
    baseline_hello = sorted(results[("hello", "baseline")], key=lambda r: r.rps)[len(runs) // 2]
    rows.append(
        [
            "hello, async def",
            "funchost (no thread hop)",
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            f"{r.rps / baseline_hello.rps:.2f}",
        ]
    )
    text = table(
        "HTTP throughput (fixed concurrency)",
        ["function", "server", "req/s", "p50 ms", "p99 ms", "errors", "x baseline"],
        rows,
        f"Load: {method}, {seconds:.0f} s per run after a 1 s warm-up, median of {rounds} alternating run(s); "
        f"server pinned to CPU {server_cpu()}, load generator to the other core (taskset). CreateAssistant uses "
        "1,000 rotating ids. The baseline is bench/baseline_app.py (same route parse, same request JSON, kept in "
        "a dict, 202). funchost logs Executing/Executed per request to its console (a file here), as func does. "
        "The `async def` row (bench/apps/async_hello) shows what the worker's thread-pool hop for sync functions "
        "costs; it is informational, not a target.",
    )
    return Result(text, summary)


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
