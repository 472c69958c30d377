"""CLI commands that do not serve (``--help``, ``functions``, ``keys`` and the plugins' commands) vs
``python -c 'import argparse'``, each with its floor: what the command cannot avoid importing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, app_copy, code_env, has_before, median, pin, server_cpu, table, tree, verdict

TARGET = 3.0
COMMANDS = ("--help", "functions", "keys", "assistants list", "vectors list", "storage queue peek orders")
TARGETED = ("--help", "functions")
"""The commands issue 14 sets the target for; it names the others as paying for the whole server then."""
STORE_FLOOR = "import asyncio, sqlite3, json"
"""The floor of the commands reading a local store (assistants, vectors, storage): an async SQLite reader."""


def _once(app: Path, argv: list[str], source: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [*pin(server_cpu()), sys.executable, *argv],
        cwd=app,
        capture_output=True,
        timeout=60,
        env=code_env(source),
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(
            f"{argv} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}"
        )
    return elapsed


def measure(quick: bool = False) -> Result:
    runs = 5 if quick else 15
    sides = {"after": tree("after"), **({"before": tree("before")} if has_before() else {})}
    cases: dict[str, tuple[list[str], Path]] = {
        "`python -c 'import argparse'` (baseline)": (["-c", "import argparse"], sides["after"]),
        "`python -c 'import function_app'`": (["-c", "import function_app"], sides["after"]),
        f"`python -c '{STORE_FLOOR}'`": (["-c", STORE_FLOOR], sides["after"]),
    }
    for side, source in sides.items():
        for command in COMMANDS:
            cases[f"`funchost {command}` ({side})"] = (["-m", "funchost", *command.split()], source)
    times: dict[str, list[float]] = {name: [] for name in cases}
    with app_copy() as app:
        for argv, source in cases.values():
            _once(app, argv, source)  # warm-up: __pycache__, page cache
        for _ in range(runs):
            for name, (argv, source) in cases.items():
                times[name].append(_once(app, argv, source))
    base = median(times["`python -c 'import argparse'` (baseline)"])
    rows = [
        [name, runs, median(v) * 1000, min(v) * 1000, f"{median(v) / base:.2f}"] for name, v in times.items()
    ]
    text = table(
        "CLI commands that do not serve (sample app folder)",
        ["command", "runs", "median ms", "min ms", "x baseline"],
        rows,
        "Whole processes, interleaved, pinned to the server core, byte-code caching on. `functions` imports the "
        f"app (and so azure.functions): `import function_app` is its floor. The plugins' commands read a local "
        f"store: `{STORE_FLOOR}` is theirs. `storage queue peek` creates the app's embedded storage on its first "
        "run (the warm-up).",
    )
    floors = {
        "functions": "`python -c 'import function_app'`",
        **dict.fromkeys(COMMANDS[3:], f"`python -c '{STORE_FLOOR}'`"),
    }
    summary = []
    for command in COMMANDS:
        took = median(times[f"`funchost {command}` (after)"])
        floor = f" ({took / median(times[floors[command]]):.2f}x its floor)" if command in floors else ""
        targeted = command in TARGETED  # the others are shown for the "every command" point
        summary.append(
            (
                f"`funchost {command}` vs `import argparse`",
                f"{took / base:.2f}x{floor}",
                f"<= {TARGET}x" if targeted else "(none)",
                verdict(took / base <= TARGET) if targeted else "-",
            )
        )
    return Result(text, summary)


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
