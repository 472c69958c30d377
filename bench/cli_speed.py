"""CLI commands that do not serve: ``funchost --help`` and ``funchost functions`` vs ``python -c 'import argparse'``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, app_copy, code_env, has_before, median, pin, server_cpu, table, tree, verdict

TARGET = 3.0


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
    }
    for side, source in sides.items():
        cases[f"`funchost --help` ({side})"] = (["-m", "funchost", "--help"], source)
        cases[f"`funchost functions` ({side})"] = (["-m", "funchost", "functions"], source)
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
        "app (and so azure.functions): `import function_app` is its floor.",
    )
    helps = median(times["`funchost --help` (after)"]) / base
    functions = median(times["`funchost functions` (after)"]) / base
    floor = median(times["`funchost functions` (after)"]) / median(times["`python -c 'import function_app'`"])
    return Result(
        text,
        [
            (
                "`funchost --help` vs `import argparse`",
                f"{helps:.2f}x",
                f"<= {TARGET}x",
                verdict(helps <= TARGET),
            ),
            (
                "`funchost functions` vs `import argparse`",
                f"{functions:.2f}x ({floor:.2f}x its floor, `import function_app`)",
                f"<= {TARGET}x",
                verdict(functions <= TARGET),
            ),
        ],
    )


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
