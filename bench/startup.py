"""Start -> /admin/host/status Running for the sample app, vs ``python -c "import aiohttp, azure.functions"``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BENCH,
    Result,
    app_copy,
    code_env,
    has_before,
    median,
    pin,
    server_cpu,
    spawn_host,
    table,
    tree,
    verdict,
    wait_running,
)

FLOOR = "import aiohttp.web, azure.functions, pydantic, function_app"
"""What a start cannot do without: the server library, the app (with azure.functions) and pydantic (the plugin
API's binding options)."""
BASELINES = {
    "import aiohttp, azure.functions": "import aiohttp, azure.functions",
    "import function_app": "import function_app",
    FLOOR: FLOOR,
}
TARGET = 1.5
HTTP_APP = BENCH / "apps" / "async_hello"
HTTP_ONLY = "HTTP-only app"


def _python_once(app: Path, code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [*pin(server_cpu()), sys.executable, "-c", code],
        cwd=app,
        check=True,
        capture_output=True,
        timeout=60,
        env=code_env(),
    )
    return time.perf_counter() - t0


def _start_once(app: Path, source: Path) -> float:
    server = spawn_host(app, "--store", "memory", cpu=server_cpu(), source=source)
    try:
        return wait_running(server, interval=0.005)
    finally:
        server.stop()


def measure(quick: bool = False) -> Result:
    runs = 3 if quick else 7
    sides = {"after": tree("after"), **({"before": tree("before")} if has_before() else {})}
    http_only = {f"{HTTP_ONLY} {side}": source for side, source in sides.items()}
    times: dict[str, list[float]] = {name: [] for name in [*BASELINES, *sides, *http_only]}
    with app_copy() as app:
        for code in BASELINES.values():  # warm the page cache and __pycache__ for every side alike
            _python_once(app, code)
        for source in sides.values():
            _start_once(app, source)
            _start_once(HTTP_APP, source)
        for _ in range(runs):  # interleaved so every side sees the same machine noise
            for name, code in BASELINES.items():
                times[name].append(_python_once(app, code))
            for name, source in sides.items():
                times[name].append(_start_once(app, source))
            for name, source in http_only.items():
                times[name].append(_start_once(HTTP_APP, source))
    base = median(times["import aiohttp, azure.functions"])
    rows = []
    for name, values in times.items():
        if name in BASELINES:
            what = f'`python -c "{name}"`'
        elif name.startswith(HTTP_ONLY):
            what = f"`funchost start` -> Running, {name}"
        else:
            what = f"`funchost start` -> Running ({name})"
        if name == "import aiohttp, azure.functions":
            what += " (baseline)"
        rows.append([what, runs, median(values) * 1000, min(values) * 1000, f"{median(values) / base:.2f}"])
    text = table(
        "Start to Running (sample app)",
        ["what", "runs", "median ms", "min ms", "x baseline"],
        rows,
        "Time from process start (Popen) until `/admin/host/status` answers `Running` (polled every 5 ms), "
        "memory store, no reload; baselines are whole `python -c` processes in the sample app's folder. The "
        "HTTP-only app (bench/apps/async_hello) starts only the HTTP plugin (plugins start for the binding types "
        "an app uses). Runs "
        "interleaved; byte-code caching on. `before`/`after` are the revisions named by FUNCHOST_BENCH_BEFORE/"
        "FUNCHOST_BENCH_AFTER (after: the working tree when unset).",
    )
    after = median(times["after"])
    ratio = after / base
    floor = median(times[FLOOR]) / base
    return Result(
        text,
        [
            (
                "start -> Running (median)",
                f"{after * 1000:.0f} ms = {ratio:.2f}x `import aiohttp, azure.functions` (imports it needs: {floor:.2f}x)",
                f"<= {TARGET}x",
                verdict(ratio <= TARGET),
            )
        ],
    )


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
