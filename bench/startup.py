"""Start -> /admin/host/status Running for the sample app, vs ``python -c "import function_app"``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, app_copy, median, pin, server_cpu, spawn_host, table, verdict, wait_running


def _import_once(app: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [*pin(server_cpu()), sys.executable, "-c", "import function_app"],
        cwd=app,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return time.perf_counter() - t0


def _start_once(app: Path) -> float:
    server = spawn_host(app, "--store", "memory", cpu=server_cpu())
    try:
        return wait_running(server, interval=0.005)
    finally:
        server.stop()


def measure(quick: bool = False) -> Result:
    runs = 3 if quick else 5
    with app_copy() as app:
        _import_once(app)  # warm the page cache and __pycache__ for both sides alike
        _start_once(app)
        imports, starts = [], []
        for _ in range(runs):  # interleaved so both see the same machine noise
            imports.append(_import_once(app))
            starts.append(_start_once(app))
    base, host = median(imports), median(starts)
    ratio = host / base
    rows = [
        ['`python -c "import function_app"` (baseline)', runs, base * 1000, min(imports) * 1000, "1.00"],
        ["`funchost start` -> status Running", runs, host * 1000, min(starts) * 1000, f"{ratio:.2f}"],
    ]
    text = table(
        "Start to Running (sample app)",
        ["what", "runs", "median ms", "min ms", "x baseline"],
        rows,
        "Time from process start (Popen) until `/admin/host/status` answers `Running` (polled every 5 ms), "
        "memory store, no reload; baseline is the whole `python -c` process in the same app folder. "
        "Runs interleaved.",
    )
    ok = host < 1.0 and ratio <= 1.3
    return Result(
        text,
        [
            (
                "start -> Running (median)",
                f"{host * 1000:.0f} ms = {ratio:.2f}x import",
                "< 1 s and <= 1.3x",
                verdict(ok),
            )
        ],
    )


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
