"""Idle RSS of the host and RSS after many requests (it should stay flat)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadgen
from bench.common import Result, app_copy, rss_mb, server_cpu, spawn_host, table, verdict, wait_running

CONCURRENCY = 16


def measure(quick: bool = False) -> Result:
    total = 2_000 if quick else 20_000
    steps = 4
    rows: list[list[object]] = []
    with app_copy() as app:
        host = spawn_host(app, "--store", "memory", cpu=server_cpu())
        try:
            wait_running(host)
            idle = rss_mb(host.proc.pid)
            rows.append(["idle (after start)", 0, idle, "0"])
            done = 0
            errors = 0
            samples = [idle]
            for _ in range(steps):  # half creates on 100 rotating ids, half hello, in bounded counts
                n = total // steps // 2
                a = loadgen.run(
                    host.url,
                    "PUT",
                    "/api/assistants/rss-{n}",
                    concurrency=CONCURRENCY,
                    seconds=300,
                    ids=100,
                    count=n,
                    tool="python",
                )
                b = loadgen.run(
                    host.url,
                    "GET",
                    "/api/hello",
                    concurrency=CONCURRENCY,
                    seconds=300,
                    count=n,
                    tool="python",
                )
                done += a.requests + b.requests
                errors += a.errors + b.errors
                samples.append(rss_mb(host.proc.pid))
                rows.append([f"after {done:,} requests", errors, samples[-1], f"{samples[-1] - idle:+.1f}"])
        finally:
            host.stop()
    growth_second_half = samples[-1] - samples[len(samples) // 2]
    text = table(
        "RSS of the host process",
        ["when", "errors so far", "RSS MB", "vs idle MB"],
        rows,
        "`funchost start --store memory` on the sample app; requests from the Python generator in its own "
        "process (exact counts), half CreateAssistant on 100 rotating ids, half hello. RSS from /proc/PID/status.",
    )
    peak = max(samples)
    ok = peak <= 100 and growth_second_half <= 5
    return Result(
        text,
        [
            (
                "RSS idle / after requests",
                f"{idle:.0f} MB / {samples[-1]:.0f} MB after {done:,} "
                f"(second half {growth_second_half:+.1f} MB)",
                "<= 100 MB, flat",
                verdict(ok),
            )
        ],
    )


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
