"""Where a test's time goes in the pytest plugin: the steps of one ``funchost`` test, timed in-process.

``python bench/harness_phases.py [--tests N]``: the sample app through the public entry points, each step run N
times after a warm-up (medians): ``index_app`` (import the app afresh, build the function specs), ``Host.load``
(settings + index + bind), then one whole test as the fixture runs it (``Harness.start``, PUT + GET, close).
``--only test`` or ``--only floor`` runs just that loop (the floor: the app imported afresh and the same two
requests to a bare aiohttp test server): bench/instructions.py counts its CPU instructions per test.
``--only steps`` runs whole tests with the host's own steps timed inside them (by wrapping the functions the
test path calls, this script only): where a test's time above the floor goes. ``--drift`` runs ``--tests`` whole
tests and reports the median of each tenth: whether a test costs more as a session goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import app_copy, median, table
from funchost import host as host_module
from funchost import indexing, testing
from funchost.host import Host, HostOptions
from funchost.indexing import index_app, unload_app
from funchost.testing import Harness

WARM_UP = 5


async def _timed(count: int, step: Callable[[int], Awaitable[dict[str, float]]]) -> dict[str, float]:
    """Median seconds of each named part of ``step`` over ``count`` runs after the warm-up."""
    parts: dict[str, list[float]] = {}
    for n in range(WARM_UP + count):
        for name, seconds in (await step(n)).items():
            if n >= WARM_UP:
                parts.setdefault(name, []).append(seconds)
    return {name: median(values) for name, values in parts.items()}


async def _floor_test(app: Path, n: int) -> None:
    """bench/pytest_plugin_cost.py's floor test, in-process."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    folder = str(app)
    for name in [
        m for m, mod in sys.modules.items() if (getattr(mod, "__file__", None) or "").startswith(folder)
    ]:
        del sys.modules[name]
    if folder not in sys.path:
        sys.path.append(folder)
    importlib.import_module("function_app")
    store: dict[str, bytes] = {}

    async def create(request: web.Request) -> web.Response:
        store[request.match_info["id"]] = await request.read()
        return web.json_response({"assistantId": request.match_info["id"]}, status=202)

    async def state(request: web.Request) -> web.Response:
        return web.json_response({"exists": request.match_info["id"] in store})

    server = web.Application()
    server.router.add_put("/api/assistants/{id}", create)
    server.router.add_get("/api/assistants/{id}", state)
    async with TestClient(TestServer(server)) as client:
        created = await client.put(f"/api/assistants/a{n}")
        assert created.status == 202
        answer = await client.get(f"/api/assistants/a{n}?timestampUTC=2000-01-01T00:00:00Z")
        assert (await answer.json())["exists"] is True


async def _one_test(app: Path, n: int) -> list[float]:
    """One test as the fixture runs it: the clock before the start, after it, after the PUT, the GET and the close."""
    harness = Harness(
        app.parent, lambda: app.parent
    )  # the copy's folder: asked for only by file-backed stores
    marks = [time.perf_counter()]
    host: Any = await harness.start(app)
    marks.append(time.perf_counter())
    created = await host.client.put(f"/api/assistants/a{n}")
    assert created.status == 202, await created.text()
    marks.append(time.perf_counter())
    state = await host.client.get(f"/api/assistants/a{n}?timestampUTC=2000-01-01T00:00:00Z")
    assert (await state.json())["exists"] is True
    marks.append(time.perf_counter())
    await harness.close()
    marks.append(time.perf_counter())
    return marks


async def measure(app: Path, count: int, only: list[str] | None = None) -> str:
    async def index(_: int) -> dict[str, float]:
        started = time.perf_counter()
        index_app(app, {})
        took = time.perf_counter() - started
        unload_app()
        return {"index_app: import the app afresh, build the function specs": took}

    async def load(_: int) -> dict[str, float]:
        started = time.perf_counter()
        host = await Host.load(HostOptions(script_root=app, apply_environment=False, index_in_thread=False))
        took = time.perf_counter() - started
        await host.close()
        unload_app()
        return {"Host.load: settings + index_app + bind (plugins, options)": took}

    async def test(n: int) -> dict[str, float]:
        t0, t1, _, t2, t3 = await _one_test(app, n)
        return {
            "Harness.start: Host.load + plugins' test hooks + start + test server and client": t1 - t0,
            "two requests (PUT create, GET state) through the test client": t2 - t1,
            "Harness.close: hosts, environment, modules, logging": t3 - t2,
            "the whole test": t3 - t0,
        }

    async def floor(n: int) -> dict[str, float]:
        started = time.perf_counter()
        await _floor_test(app, n)
        return {
            "floor: import afresh + bare aiohttp test server, PUT + GET (no funchost)": time.perf_counter()
            - started
        }

    async def steps(n: int) -> dict[str, float]:
        spent.clear()
        t0, t1, t2, t3, t4 = await _one_test(app, n)
        inside = {f"  {label}": spent[label] for label in SHOWN if label != "TestHost.close"}
        return {
            "Harness.start": t1 - t0,
            **inside,
            "  the rest of Harness.start (test server and client, plugins' test hooks, log capture)": t1
            - t0
            - spent["Host.load"]
            - spent["Host.start"],
            "first request (PUT: connection, a worker thread, the store's first write)": t2 - t1,
            "second request (GET)": t3 - t2,
            "Harness.close": t4 - t3,
            "  TestHost.close (client, server, host, worker threads)": spent["TestHost.close"],
            "the whole test": t4 - t0,
        }

    spent: dict[str, float] = {}
    if only and "steps" in only:
        _time_calls(spent)
    steps_ = {"index": index, "load": load, "test": test, "floor": floor, "steps": steps}
    found: dict[str, float] = {}
    for name in only or ("index", "load", "test", "floor"):
        found.update(await _timed(count, steps_[name]))
    rows = [[name, seconds * 1000] for name, seconds in found.items()]
    return table(
        "pytest plugin: one test's steps, in-process (sample app)",
        ["step", "median ms"],
        rows,
        f"{count} runs of each after {WARM_UP} warm-up runs, in one process (as a pytest session runs them).",
    )


async def drift(app: Path, count: int) -> str:
    """Whole tests in one process, median per tenth of the run: does a test cost more as a session goes on?"""
    rows: list[list[object]] = []
    took: list[float] = []
    block = max(1, count // 10)
    for n in range(count):
        marks = await _one_test(app, n)
        took.append(marks[-1] - marks[0])
        if len(took) == block:
            rows.append(
                [f"{n + 2 - block}-{n + 1}", median(took) * 1000, len(gc.get_objects()), len(sys.modules)]
            )
            took.clear()
    return table(
        "pytest plugin: cost along a session (sample app)",
        ["tests", "median ms", "live objects after", "modules after"],
        rows,
        f"{count} whole tests (start, PUT, GET, close) in one process, no warm-up.",
    )


def _time_calls(spent: dict[str, float]) -> None:
    """Wrap the steps a test runs so their time adds up in ``spent`` (for ``--only steps``)."""

    def timed(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)
        if asyncio.iscoroutinefunction(inner):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await inner(*args, **kwargs)
                finally:
                    spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

            setattr(owner, name, async_wrapper)
            return

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, wrapper)

    for label, (owner, name) in STEPS.items():
        timed(owner, name, label)
    real_import = importlib.import_module

    def import_app(name: str, package: str | None = None) -> Any:  # indexing's import of function_app only
        if name != "function_app":
            return real_import(name, package)
        started = time.perf_counter()
        try:
            return real_import(name, package)
        finally:
            spent[IMPORT] = spent.get(IMPORT, 0.0) + time.perf_counter() - started

    importlib.import_module = import_app


IMPORT = "index_app: import the app (the floor imports it too)"
STEPS: dict[str, tuple[Any, str]] = {
    "Host.load": (Host, "load"),
    "settings: the environment without what funchost exported": (host_module, "host_environment"),
    "settings: host.json, local.settings.json": (host_module, "load_settings"),
    "index_app": (host_module, "index_app"),
    "index_app: function specs (azure.functions' binding JSON, parameter checks)": (
        indexing,
        "_spec_from_v2",
    ),
    "bind: start the plugins the app uses": (host_module, "discover"),
    "bind: bind functions to plugins, validate options": (host_module, "bind_function"),
    "Host.start": (Host, "start"),
    "TestHost.close": (testing.TestHost, "close"),
}
"""``--only steps``: what is timed inside a test, by label (and ``IMPORT``)."""
SHOWN = [*list(STEPS)[:4], IMPORT, *list(STEPS)[4:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--only", nargs="+", choices=["index", "load", "test", "floor", "steps"])
    parser.add_argument("--drift", action="store_true", help="only the cost along a session of --tests tests")
    args = parser.parse_args()
    with app_copy() as app:
        print(asyncio.run(drift(app, args.tests) if args.drift else measure(app, args.tests, args.only)))


if __name__ == "__main__":
    main()
