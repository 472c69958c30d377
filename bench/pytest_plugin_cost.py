"""Per-test cost of the ``funchost`` fixture: create an assistant and read it back, vs an empty async test."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, app_copy, median, percentile, table, verdict

TESTS = 200
QUICK_TESTS = 50

CONFTEST = """
import json, os, time
import pytest

_times = []

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    yield
    _times.append(time.perf_counter() - started)

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_TIMES"], "w") as file:
        json.dump(_times, file)
"""

FUNCHOST_TEST = """
async def test_assistant_{n}(funchost):
    host = await funchost({app!r})
    created = await host.client.put("/api/assistants/a{n}")
    assert created.status == 202
    state = await host.client.get("/api/assistants/a{n}?timestampUTC=2000-01-01T00:00:00Z")
    assert (await state.json())["exists"] is True
"""

EMPTY_TEST = """
async def test_empty_{n}():
    pass
"""


def _run(folder: Path, template: str, count: int, app: Path) -> tuple[list[float], float]:
    """Run ``count + 1`` generated tests (the first one warms up); per-test times of the others, wall time."""
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    body = "".join(template.format(n=n, app=str(app)) for n in range(count + 1))
    (folder / "test_generated.py").write_text(body)
    times_file = folder / "times.json"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "--rootdir",
        str(folder),
        str(folder),
    ]
    started = time.perf_counter()
    proc = subprocess.run(
        argv,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**_environ(), "BENCH_TIMES": str(times_file)},
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"pytest failed in {folder}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    times: list[float] = json.loads(times_file.read_text())
    return times[1:], wall


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}


def measure(quick: bool = False) -> Result:
    count = QUICK_TESTS if quick else TESTS
    with app_copy() as app, tempfile.TemporaryDirectory(prefix="funchost-bench-pytest-") as tmp:
        base, base_wall = _run(Path(tmp) / "empty", EMPTY_TEST, count, app)
        host, host_wall = _run(Path(tmp) / "funchost", FUNCHOST_TEST, count, app)
    base_ms, host_ms = median(base) * 1000, median(host) * 1000
    cost = host_ms - base_ms
    rows = [
        ["empty async test (baseline)", count, base_ms, percentile(base, 90) * 1000, base_wall, "1.00"],
        [
            "funchost: start sample app, PUT + GET assistant",
            count,
            host_ms,
            percentile(host, 90) * 1000,
            host_wall,
            f"{host_ms / base_ms:.1f}",
        ],
    ]
    text = table(
        "pytest plugin: cost per test after the first",
        ["test", "tests", "median ms", "p90 ms", "pytest wall s", "x baseline"],
        rows,
        f"Each test is timed from setup to teardown (pytest_runtest_protocol) in one pytest process; the first "
        f"test of each run (imports, warm-up) is left out. Cost added by funchost: {cost:.1f} ms per test "
        "(median minus baseline median).",
    )
    return Result(
        text,
        [
            (
                "pytest plugin: create + read back, per test (median)",
                f"{host_ms:.1f} ms",
                "<= 20 ms",
                verdict(host_ms <= 20),
            )
        ],
    )


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
