"""Two ``funchost start`` on one app folder: only one runs the timers; when it stops, the other takes over."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli import spawn, wait_running, wait_until

APP = Path(__file__).parent / "apps" / "timer_app"


@pytest.mark.slow
def test_second_host_waits_then_takes_over_the_timer(tmp_path: Path) -> None:
    app = tmp_path / "timer_app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns(".funchost", "ticks.jsonl", "__pycache__"))
    record = app / "ticks.jsonl"
    env = {"TIMER_RECORD": str(record)}

    def ticks() -> list[dict[str, Any]]:
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]

    args = ("--no-reload", "--verbose", "--functions", "every_two_seconds")
    first = spawn(app, *args, env=env)
    second = None
    try:
        wait_running(first)
        wait_until(lambda: len(ticks()) >= 2, timeout=20, message=lambda: first.output)
        second = spawn(app, *args, env=env)
        wait_running(second)  # it serves HTTP at once; only the timers wait for the lock
        seen = len(ticks())
        wait_until(lambda: len(ticks()) >= seen + 3, timeout=20, message=lambda: first.output)
        pids = {t["pid"] for t in ticks()}
        assert pids == {first.proc.pid}, "only the first host runs the timer while both are up"
        assert "Executing 'Functions.every_two_seconds'" not in second.output
        first.stop()
        stopped_at = time.time()
        wait_until(
            lambda: any(t["pid"] == second.proc.pid for t in ticks()),
            timeout=30,
            message=lambda: second.output,
        )
        assert "This process now runs the app's timers." in second.output
        mine = [t for t in ticks() if t["pid"] == second.proc.pid]
        assert all(t["start"] >= stopped_at - 0.5 for t in mine), (
            "the second host ran nothing before the first stopped"
        )
        # The takeover does not replay the first host's occurrences: at most one catch-up run, then the schedule.
        wait_until(lambda: len([t for t in ticks() if t["pid"] == second.proc.pid]) >= 3, timeout=20)
        starts = sorted(t["start"] for t in ticks() if t["pid"] == second.proc.pid)
        assert all(b - a > 1.0 for a, b in itertools.pairwise(starts[1:]))
    finally:
        first.stop()
        if second is not None:
            second.stop()
