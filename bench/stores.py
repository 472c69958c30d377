"""Creates/s through the host on the memory, SQLite and Azure Tables (Azurite) stores."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadgen
from bench.common import REPO, Result, app_copy, server_cpu, spawn_host, table, verdict, wait_running

CONCURRENCY = 16


def _ensure_azurite() -> str | None:
    """The azurite-table executable; installs npm azurite into bench/node_modules when npm is there."""
    sys.path.insert(0, str(REPO))
    from tests.azurite import find_azurite

    found = find_azurite()
    local = REPO / "bench" / "node_modules" / ".bin" / "azurite-table"
    if found is None and local.exists():
        found = str(local)
    if found is None and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--prefix", str(REPO / "bench"), "azurite"],
            check=False,
            capture_output=True,
            timeout=600,
        )
        found = str(local) if local.exists() else None
    return found


def _creates(app: Path, store: str, seconds: float, env: dict[str, str] | None = None) -> loadgen.Load:
    host = spawn_host(app, "--store", store, env=env, cpu=server_cpu())
    try:
        wait_running(host)
        loadgen.run(host.url, "PUT", "/api/assistants/warm-{n}", concurrency=CONCURRENCY, seconds=1)
        return loadgen.run(
            host.url, "PUT", "/api/assistants/bench-{n}", concurrency=CONCURRENCY, seconds=seconds
        )
    finally:
        host.stop()


def measure(quick: bool = False) -> Result:
    from tests.azurite import start_azurite

    seconds = 3.0 if quick else 8.0
    loads: dict[str, loadgen.Load] = {}
    with app_copy() as app:
        loads["memory"] = _creates(app, "memory", seconds)
        loads["sqlite"] = _creates(app, "sqlite", seconds)
        executable = _ensure_azurite()
        if executable is not None:
            azurite = start_azurite(executable)
            try:
                env = {"AzureWebJobsStorage": azurite.connection_string()}
                loads["tables (Azurite)"] = _creates(app, "tables", seconds, env)
            finally:
                azurite.stop()
    memory, sqlite = loads["memory"].rps, loads["sqlite"].rps
    azurite_rps = loads["tables (Azurite)"].rps if "tables (Azurite)" in loads else float("nan")
    rows = [[name, r.rps, r.p50_ms, r.p99_ms, r.errors, f"{r.rps / memory:.2f}"] for name, r in loads.items()]
    method = loads["memory"].method
    text = table(
        "Creates/s through the host, per store",
        ["store", "creates/s", "p50 ms", "p99 ms", "errors", "x memory"],
        rows,
        f"PUT /api/assistants/{{unique id}} (CreateAssistant) through `funchost start --store ...`, {method}, "
        f"{seconds:.0f} s after a 1 s warm-up, server and load generator pinned apart. Azurite: npm azurite, "
        "in-memory persistence, started by the bench on a free loopback port."
        + ("" if "tables (Azurite)" in loads else " Azurite was not found (npm missing): no Tables row."),
    )
    summary = [
        (
            "SQLite creates/s vs Azurite",
            f"{sqlite:,.0f} vs {azurite_rps:,.0f} = {sqlite / azurite_rps:.1f}x",
            ">= 10x",
            verdict(sqlite / azurite_rps >= 10),
        ),
        (
            "SQLite creates/s vs memory",
            f"{sqlite:,.0f} vs {memory:,.0f} = {sqlite / memory:.2f}x",
            ">= 0.5x",
            verdict(sqlite / memory >= 0.5),
        ),
    ]
    return Result(text, summary)


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
