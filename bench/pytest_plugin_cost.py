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

from bench.common import Result, app_copy, code_env, has_before, median, percentile, table, tree, verdict

FLOOR = "floor: import afresh + bare aiohttp test server, PUT + GET (no funchost)"
TESTS = 200
QUICK_TESTS = 50
TARGET_MS = 5.0

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

IMPORT_TEST = """
import importlib, sys

def test_import_{n}():
    for name in [m for m, mod in sys.modules.items() if (getattr(mod, "__file__", None) or "").startswith({app!r})]:
        del sys.modules[name]
    if {app!r} not in sys.path:
        sys.path.append({app!r})
    importlib.import_module("function_app")
"""

FLOOR_TEST = """
import importlib, sys
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

async def create(request):
    request.app["store"][request.match_info["id"]] = await request.read()
    return web.json_response({{"assistantId": request.match_info["id"]}}, status=202)

async def state(request):
    return web.json_response({{"exists": request.match_info["id"] in request.app["store"]}})

async def test_floor_{n}():
    for name in [m for m, mod in sys.modules.items() if (getattr(mod, "__file__", None) or "").startswith({app!r})]:
        del sys.modules[name]
    if {app!r} not in sys.path:
        sys.path.append({app!r})
    importlib.import_module("function_app")
    app = web.Application()
    app["store"] = {{}}
    app.router.add_put("/api/assistants/{{id}}", create)
    app.router.add_get("/api/assistants/{{id}}", state)
    async with TestClient(TestServer(app)) as client:
        created = await client.put("/api/assistants/a{n}")
        assert created.status == 202
        state_ = await client.get("/api/assistants/a{n}?timestampUTC=2000-01-01T00:00:00Z")
        assert (await state_.json())["exists"] is True
"""


def _run(
    folder: Path, template: str, count: int, app: Path, source: Path | None = None
) -> tuple[list[float], float]:
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
        env={**_environ(source), "BENCH_TIMES": str(times_file)},
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"pytest failed in {folder}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    times: list[float] = json.loads(times_file.read_text())
    return times[1:], wall


def _environ(source: Path | None) -> dict[str, str]:
    return {k: v for k, v in code_env(source).items() if not k.startswith("PYTEST")}


def measure(quick: bool = False) -> Result:
    count = QUICK_TESTS if quick else TESTS
    sides = {"after": tree("after"), **({"before": tree("before")} if has_before() else {})}
    runs: dict[str, tuple[list[float], float]] = {}
    with app_copy() as app, tempfile.TemporaryDirectory(prefix="funchost-bench-pytest-") as tmp:
        runs["empty async test (baseline)"] = _run(Path(tmp) / "empty", EMPTY_TEST, count, app)
        runs["import the sample app afresh (no funchost)"] = _run(
            Path(tmp) / "import", IMPORT_TEST, count, app
        )
        runs[FLOOR] = _run(Path(tmp) / "floor", FLOOR_TEST, count, app)
        for side, source in sides.items():
            runs[f"funchost ({side}): start sample app, PUT + GET assistant"] = _run(
                Path(tmp) / f"funchost-{side}", FUNCHOST_TEST, count, app, source
            )
    base_ms = median(runs["empty async test (baseline)"][0]) * 1000
    import_ms = median(runs["import the sample app afresh (no funchost)"][0]) * 1000
    floor_ms = median(runs[FLOOR][0]) * 1000
    rows = [
        [name, count, median(t) * 1000, percentile(t, 90) * 1000, wall, f"{median(t) * 1000 / base_ms:.1f}"]
        for name, (t, wall) in runs.items()
    ]
    host_ms = median(runs["funchost (after): start sample app, PUT + GET assistant"][0]) * 1000
    text = table(
        "pytest plugin: cost per test after the first",
        ["test", "tests", "median ms", "p90 ms", "pytest wall s", "x baseline"],
        rows,
        f"Each test is timed from setup to teardown (pytest_runtest_protocol) in one pytest process per row; the "
        f"first test of each run (imports, warm-up) is left out. Byte-code caching on. Cost added by funchost "
        f"(after) over an empty test: {host_ms - base_ms:.1f} ms. Importing the app's modules afresh (an isolation "
        f"guarantee: fresh app modules per test) costs {import_ms - base_ms:.1f} ms of it without funchost; with two "
        f"real requests to a bare aiohttp server on loopback that is the floor row, {floor_ms:.1f} ms a test.",
    )
    return Result(
        text,
        [
            (
                "pytest plugin: create + read back, per test (median)",
                f"{host_ms:.1f} ms (floor without funchost: {floor_ms:.1f} ms)",
                f"<= {TARGET_MS} ms",
                verdict(host_ms <= TARGET_MS),
            )
        ],
    )


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
