"""Where a test's time goes in the pytest plugin: the steps of one ``funchost`` test, timed in-process.

``python bench/harness_phases.py [--tests N]``: the sample app through the public entry points, each step run N
times after a warm-up (medians): ``index_app`` (import the app afresh, build the function specs), ``Host.load``
(settings + index + bind), then one whole test as the fixture runs it (``Harness.start``, PUT + GET, close).
``--only test`` or ``--only floor`` runs just that loop (the floor: the app imported afresh and the same two
requests to a bare aiohttp test server): bench/instructions.py counts its CPU instructions per test.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import app_copy, median, table
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


async def measure(app: Path, count: int, only: list[str] | None = None) -> str:
    tmp = app.parent  # the throwaway copy's folder (plugins ask for one only for file-backed stores)

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
        harness = Harness(app.parent, lambda: tmp)
        t0 = time.perf_counter()
        host: Any = await harness.start(app)
        t1 = time.perf_counter()
        created = await host.client.put(f"/api/assistants/a{n}")
        assert created.status == 202, await created.text()
        state = await host.client.get(f"/api/assistants/a{n}?timestampUTC=2000-01-01T00:00:00Z")
        assert (await state.json())["exists"] is True
        t2 = time.perf_counter()
        await harness.close()
        t3 = time.perf_counter()
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

    steps = {"index": index, "load": load, "test": test, "floor": floor}
    found: dict[str, float] = {}
    for name in only or steps:
        found.update(await _timed(count, steps[name]))
    rows = [[name, seconds * 1000] for name, seconds in found.items()]
    return table(
        "pytest plugin: one test's steps, in-process (sample app)",
        ["step", "median ms"],
        rows,
        f"{count} runs of each after {WARM_UP} warm-up runs, in one process (as a pytest session runs them).",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--only", nargs="+", choices=["index", "load", "test", "floor"])
    args = parser.parse_args()
    with app_copy() as app:
        print(asyncio.run(measure(app, args.tests, args.only)))


if __name__ == "__main__":
    main()
