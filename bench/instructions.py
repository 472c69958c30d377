"""CPU instructions per HTTP request (valgrind callgrind), funchost vs bare aiohttp doing the same work.

Wall-clock throughput on a shared 2-core machine moves by +-30 % between runs; the instruction count of a server
loop does not depend on what the neighbours do, so small hot-path changes can be compared. The server runs under
``valgrind --tool=callgrind --instr-atstart=no``; counting is switched on (``callgrind_control -i on``) only for
a fixed-time wrk load after a warm-up, then the counts are dumped: instructions of every thread of the process
(the worker pool's too) divided by the requests served. Kernel time (syscalls, thread switches) is not counted,
so the ratios here are a little better than the wall-clock ones. ``python bench/instructions.py [--quick]``, or
``python bench/run.py --only instructions --before REV``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadgen
from bench.common import (
    BENCH,
    Result,
    Server,
    app_copy,
    code_env,
    free_port,
    has_before,
    server_cpu,
    spawn,
    spawn_host,
    table,
    tree,
    verdict,
    wait_http,
    wait_running,
)

CASES = (
    ("hello", BENCH / "apps" / "async_hello", "GET", "/api/hello"),
    ("hello (sync)", None, "GET", "/api/hello"),
    ("CreateAssistant", None, "PUT", "/api/assistants/bench-{n}"),
)
"""(name, app folder or None for the sample app, method, path); the bare app serves each the same way."""
STARTUP = 300.0
"""Seconds a server may take to start under valgrind."""
TARGETS = {"hello": 0.5, "hello (sync)": 0.4, "CreateAssistant": 0.35}
"""Issue 14's throughput targets, read here as bare instructions / funchost instructions."""


def _valgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]


def _per_request(server: Server, out: Path, method: str, pattern: str, seconds: float) -> tuple[int, float]:
    """(requests, instructions per request) of one counted load run."""
    loadgen.run(server.url, method, pattern, concurrency=4, seconds=3, ids=1000)  # warm-up, not counted
    pid = str(server.proc.pid)
    subprocess.run(["callgrind_control", "-i", "on", pid], capture_output=True, check=True)
    load = loadgen.run(server.url, method, pattern, concurrency=16, seconds=seconds, ids=1000)
    subprocess.run(["callgrind_control", "-i", "off", pid], capture_output=True, check=True)
    subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=True)
    server.stop()
    total = 0
    for dump in out.parent.glob(out.name + "*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return load.requests, total / max(load.requests, 1)


TESTS = (4, 24)
"""The pytest plugin's loop runs this many tests (after its warm-up) in two processes: the difference is per test."""


def _per_test(source: Path, step: str, work: Path) -> float:
    """Instructions one test of ``bench/harness_phases.py --only step`` costs (whole process, two lengths)."""
    env = {**code_env(source), "PYTHONHASHSEED": "0"}
    script = [sys.executable, str(BENCH / "harness_phases.py"), "--only", step]
    warm = [*script, "--tests", "1"]  # writes the byte-code, so that no counted run compiles
    subprocess.run(warm, env=env, capture_output=True, check=True, timeout=600)
    totals = []
    for count in TESTS:
        out = work / f"test-{step}-{count}-{source.name}.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *script, "--tests", str(count)],
            env=env,
            capture_output=True,
            check=True,
            timeout=1800,
        )
        totals.append(sum(_totals(dump) for dump in out.parent.glob(out.name + "*")))
    return (totals[1] - totals[0]) / (TESTS[1] - TESTS[0])


def _totals(dump: Path) -> int:
    return sum(
        int(line.split()[1])
        for line in dump.read_text(errors="replace").splitlines()
        if line.startswith("totals:")
    )


def _pytest_plugin(sides: dict[str, Path], work: Path) -> str:
    floor = _per_test(sides["after"], "floor", work)
    rows: list[list[object]] = [
        ["floor: app imported afresh + bare aiohttp test server, PUT + GET", f"{floor / 1e6:.2f} M", "1.00"]
    ]
    for side, source in sides.items():
        per = _per_test(source, "test", work)
        rows.append(
            [f"funchost {side}: Harness.start, PUT + GET, close", f"{per / 1e6:.2f} M", f"{per / floor:.2f}"]
        )
    text = table(
        "pytest plugin: instructions per test (callgrind)",
        ["test", "instructions / test", "x floor"],
        rows,
        f"`bench/harness_phases.py --only test|floor` (the sample app, in-process as the fixture runs it) under "
        f"callgrind for {TESTS[0]} and {TESTS[1]} tests after its warm-up; the difference divided by "
        f"{TESTS[1] - TESTS[0]}. Whole processes, all threads, kernel time not counted; PYTHONHASHSEED=0.",
    )
    return text


def measure(quick: bool = False) -> Result:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        text = "### Instructions per request (callgrind)\n\nvalgrind is not installed: not measured.\n"
        return Result(text, [("instructions per request", "valgrind missing", "", "not run")])
    seconds = 8.0 if quick else 20.0
    sides = {"after": tree("after"), **({"before": tree("before")} if has_before() else {})}
    rows: list[list[object]] = []
    summary: list[tuple[str, str, str, str]] = []
    with app_copy() as sample, tempfile.TemporaryDirectory(prefix="funchost-bench-cg-") as tmp:
        work = Path(tmp)
        for name, folder, method, pattern in CASES:
            app = folder or sample
            counts: dict[str, tuple[int, float]] = {}
            out = work / f"bare-{len(rows)}.out"
            port = free_port()
            bare = spawn(
                [*_valgrind(out), sys.executable, str(BENCH / "baseline_app.py"), "--port", str(port)],
                log=work / "bare.log",
                port=port,
                cpu=server_cpu(),
            )
            wait_http(bare, "/api/hello", timeout=STARTUP)
            counts["bare aiohttp"] = _per_request(bare, out, method, pattern, seconds)
            for side, source in sides.items():
                out = work / f"{side}-{len(rows)}.out"
                host = spawn_host(
                    app, "--store", "memory", cpu=server_cpu(), source=source, prefix=_valgrind(out)
                )
                wait_running(host, timeout=STARTUP, interval=0.5)
                counts[f"funchost {side}"] = _per_request(host, out, method, pattern, seconds)
            base = counts["bare aiohttp"][1]
            for who, (requests, per) in counts.items():
                rows.append([name, who, requests, f"{per:,.0f}", f"{base / per:.2f}"])
            ratio = base / counts["funchost after"][1]
            summary.append(
                (
                    f"instructions per request, {name}: bare / funchost",
                    f"{base:,.0f} / {counts['funchost after'][1]:,.0f} = {ratio:.2f}x",
                    f">= {TARGETS[name]}x",
                    verdict(ratio >= TARGETS[name]),
                )
            )
        plugin_text = _pytest_plugin(sides, work)
    note = (
        "Each server under valgrind callgrind, pinned to the server core; counting on only during a "
        f"{seconds:.0f} s load at 16 connections (after a 3 s warm-up); all threads counted, kernel time not. "
        "`bare / this` is the throughput ratio the instruction counts predict."
    )
    text = table(
        "Instructions per request (callgrind)",
        ["function", "server", "requests counted", "instructions / request", "bare / this"],
        rows,
        note,
    )
    return Result(text + "\n" + plugin_text, summary)


if __name__ == "__main__":
    print(measure("--quick" in sys.argv).text)
