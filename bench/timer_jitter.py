"""Timer jitter: how late a timer function starts after its scheduled time, funchost vs a bare asyncio loop.

A cron schedule firing every second (``* * * * * *``) runs a function that records ``time.time()`` on entry; every
occurrence is on a whole second, so the lateness is the fractional part. The baseline, in the same run, is a bare
asyncio loop that sleeps until each whole second and records the same thing. Both run pinned to the server CPU.

    python bench/timer_jitter.py            # 30 s each
    python bench/timer_jitter.py --quick    # 8 s each
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median, percentile, pin, server_cpu, spawn_host, table, wait_running

APP = textwrap.dedent(
    """
    import os
    import time

    import azure.functions as func

    app = func.FunctionApp()


    @app.timer_trigger(schedule="* * * * * *", arg_name="timer")
    def every_second(timer: func.TimerRequest) -> None:
        now = time.time()
        with open(os.environ["JITTER_RECORD"], "a") as f:
            f.write(f"{now}\\n")
    """
)

BASELINE = textwrap.dedent(
    """
    import asyncio, sys, time

    async def main(seconds: float, path: str) -> None:
        end = time.time() + seconds
        with open(path, "a") as f:
            while time.time() < end:
                due = int(time.time()) + 1
                await asyncio.sleep(due - time.time())
                f.write(f"{time.time()}\\n")
                f.flush()

    asyncio.run(main(float(sys.argv[1]), sys.argv[2]))
    """
)


def lateness_ms(path: Path) -> list[float]:
    """Milliseconds after the whole second each run started (first two dropped: start-up)."""
    stamps = [float(line) for line in path.read_text().split()] if path.exists() else []
    return [(s - int(s)) * 1000 for s in stamps[2:]]


def run_baseline(seconds: float, folder: Path) -> list[float]:
    record = folder / "baseline.txt"
    subprocess.run(
        [*pin(server_cpu()), sys.executable, "-c", BASELINE, str(seconds), str(record)], check=True
    )
    return lateness_ms(record)


def run_funchost(seconds: float, folder: Path) -> list[float]:
    app = folder / "jitter_app"
    app.mkdir()
    (app / "function_app.py").write_text(APP)
    (app / "host.json").write_text('{"version": "2.0"}')
    record = folder / "funchost.txt"
    server = spawn_host(app, env={"JITTER_RECORD": str(record)}, cpu=server_cpu())
    try:
        wait_running(server)
        time.sleep(seconds)
    finally:
        server.stop()
    return lateness_ms(record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s per side instead of 30 s")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = run_baseline(seconds, folder)
        host = run_funchost(seconds, folder)
    rows = []
    for name, values in (("bare asyncio sleep loop", base), ("funchost timerTrigger (sync def)", host)):
        rows.append(
            [name, len(values), median(values), percentile(values, 99), max(values, default=float("nan"))]
        )
    ratio = median(host) / median(base) if base and median(base) > 0 else float("nan")
    print(
        table(
            "Timer jitter: start of the run after the scheduled second (ms)",
            ["loop", "runs", "p50 ms", "p99 ms", "max ms"],
            rows,
            f"{seconds:.0f} s each, schedule `* * * * * *`, same machine and run; p50 ratio funchost/baseline "
            f"= {ratio:.2f}× (added p50 = {median(host) - median(base):.2f} ms).",
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
