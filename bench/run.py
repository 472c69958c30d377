"""Run every benchmark and print one Markdown report.

``python bench/run.py [--quick] [--only NAME ...] [--before REV] [--after REV]``: with ``--before``, the start,
CLI, HTTP and pytest-plugin measures also run that git revision (checked out into a throwaway worktree) in the same
run, interleaved with ``--after`` (default: the working tree), so an optimisation's before/after share the noise."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import cli_speed, history, http_throughput, instructions, memory, startup, stores
from bench.common import BENCH, REPO, Result, cores

MEASURES: dict[str, Callable[[bool], Result]] = {
    "cli": cli_speed.measure,
    "startup": startup.measure,
    "http": http_throughput.measure,
    "stores": stores.measure,
    "memory": memory.measure,
    "history": history.measure,
    "instructions": instructions.measure,
}
OPT_IN = ("instructions",)
"""Measures run only when named with --only (instructions: ~10 min under valgrind)."""
EXTERNAL = ("reload_latency.py", "pytest_plugin_cost.py")
"""Benchmarks written as standalone scripts; run as subprocesses when present, their output included."""


_WRAPPER = (
    "import json, sys; sys.path.insert(0, sys.argv[1]); import importlib; "
    "m = importlib.import_module('bench.' + sys.argv[2]); r = m.measure(sys.argv[3] == '1'); "
    "print(r.text); print('@@SUMMARY ' + json.dumps(r.summary))"
)


def _external(script: str, quick: bool) -> Result:
    """Run ``bench/script`` in its own process (via its ``measure`` when it has one, else as a script)."""
    path = BENCH / script
    title = f"### {script}\n\n"
    if not path.exists():
        return Result(title + "not present in bench/ (not measured in this run).\n", [])
    if "def measure(" in path.read_text():
        argv = [sys.executable, "-c", _WRAPPER, str(REPO), path.stem, "1" if quick else "0"]
    else:
        argv = [sys.executable, str(path), *(["--quick"] if quick else [])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=1800)
    except subprocess.TimeoutExpired:
        return Result(title + "timed out after 30 min.\n", [(script, "timed out", "", "ERROR")])
    summary: list[tuple[str, str, str, str]] = []
    lines = []
    for line in done.stdout.splitlines():
        if line.startswith("@@SUMMARY "):
            summary += [(a, b, c, d) for a, b, c, d in json.loads(line[len("@@SUMMARY ") :])]
        else:
            lines.append(line)
    text = "\n".join(lines).strip()
    if done.returncode != 0:
        text += f"\n\n(exit {done.returncode})\n```\n{done.stderr.strip()[-3000:]}\n```"
        summary.append((script, f"exit {done.returncode}", "", "ERROR"))
    return Result(f"{text}\n\n(`{script}` run in its own process)\n", summary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs and fewer repetitions")
    parser.add_argument("--only", nargs="+", choices=[*MEASURES, "external"], help="run only these")
    parser.add_argument("--before", metavar="REV", help="also measure this git revision (e.g. a commit)")
    parser.add_argument("--after", metavar="REV", help="measure this revision instead of the working tree")
    args = parser.parse_args()
    for side in ("before", "after"):
        if getattr(args, side):
            os.environ[f"FUNCHOST_BENCH_{side.upper()}"] = getattr(args, side)
    chosen = args.only or [*(m for m in MEASURES if m not in OPT_IN), "external"]
    command = "python bench/run.py" + "".join(f" {flag}" for flag in sys.argv[1:])
    print("# funchost benchmarks\n")
    print(f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"- machine: {os.cpu_count()} CPUs (nproc), usable {len(cores())}; {platform.platform()}")
    print(f"- Python {platform.python_version()} ({sys.executable})")
    print(f"- command: `{command}`\n", flush=True)
    summary: list[tuple[str, str, str, str]] = []
    sections: list[str] = []
    started = time.monotonic()
    for name in chosen:
        if name == "external":
            continue
        t0 = time.monotonic()
        try:
            result = MEASURES[name](args.quick)
        except Exception as exc:  # one broken measure must not hide the others
            result = Result(
                f"### {name}\n\nfailed: {type(exc).__name__}: {exc}\n", [(name, "failed", "", "ERROR")]
            )
        sections.append(result.text + f"\n({time.monotonic() - t0:.0f} s)\n")
        summary += result.summary
        print(sections[-1], flush=True)
    if "external" in chosen:
        for script in EXTERNAL:
            t0 = time.monotonic()
            result = _external(script, args.quick)
            sections.append(result.text + f"\n({time.monotonic() - t0:.0f} s)\n")
            summary += result.summary
            print(sections[-1], flush=True)
    print("## Summary\n")
    print("| measure | figure | target | verdict |\n|---|---|---|---|")
    for row in summary:
        print("| " + " | ".join(row) + " |")
    print(f"\nTotal bench time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
