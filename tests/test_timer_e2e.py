"""Timer and warmup triggers end to end, through the real ``funchost start`` on the unchanged v2 app
``tests/apps/timer_app`` (copied per test, so its ``.funchost/`` status starts empty)."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from funchost_timer.status import ScheduleStatus, StatusStore, status_path
from tests.cli import RunningHost, running

APP = Path(__file__).parent / "apps" / "timer_app"

Ticks = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "timer_app"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns(".funchost", "ticks.jsonl", "__pycache__"))
    return target


def ticks_of(app: Path) -> Ticks:
    def read() -> list[dict[str, Any]]:
        path = app / "ticks.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    return read


def wait_for(what: Callable[[], bool], host: RunningHost, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout}s; output:\n{host.output}")


def env(app: Path, **values: str) -> dict[str, str]:
    return {"TIMER_RECORD": str(app / "ticks.jsonl"), **values}


@pytest.mark.slow
def test_two_second_timer_runs_on_startup_then_on_schedule(app: Path) -> None:
    ticks = ticks_of(app)
    with running(app, "--verbose", "--functions", "every_two_seconds", env=env(app)) as host:
        wait_for(lambda: len(ticks()) >= 4, host)
        out = host.output
    runs = [t for t in ticks() if t["name"] == "every_two_seconds"]
    assert all(t["past_due"] is False for t in runs)
    # sub-minute schedules are not monitored (the host turns useMonitor off): the host sends a null
    # ScheduleStatus, which the worker's converter turns into {}
    assert all(t["status"] == {} for t in runs)
    assert runs[0]["schedule"] == {"AdjustForDST": True}
    # after the startup run, one run per 2-second occurrence: never two in the same occurrence
    slots = [int(t["start"] // 2) for t in runs[1:]]
    assert slots == sorted(set(slots))
    assert "Function 'every_two_seconds' is configured to run on startup. Executing now." in out
    assert (
        "The next 5 occurrences of the 'every_two_seconds' schedule "
        "(Cron: '0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40,42,44,46,48,50,52,54,56,58 * * * * *') "
        "will be:"
    ) in out
    assert "Executing 'Functions.every_two_seconds' (Reason='Timer fired at " in out
    assert out.count("Executed 'Functions.every_two_seconds' (Succeeded") >= 4


def test_missed_occurrence_after_restart_is_past_due(app: Path) -> None:
    ticks = ticks_of(app)
    with running(app, "--functions", "hourly", env=env(app)):
        pass  # first start records the status: next = the next full hour
    store = StatusStore(status_path(app))
    first = store.get("hourly")
    assert first is not None and first.last is None and first.next is not None
    assert first.next.minute == 0 and first.next.second == 0
    # the host was down for two hours: the recorded run and its successor lie in the past
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store.put(
        "hourly",
        ScheduleStatus(hour - timedelta(hours=2), hour - timedelta(hours=1), hour - timedelta(hours=2)),
    )
    store.close()
    with running(app, "--functions", "hourly", env=env(app)) as host:
        wait_for(lambda: len(ticks()) >= 1, host)
        out = host.output
    (run,) = ticks()
    assert run["past_due"] is True
    missed = (hour - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert run["status"]["Next"] == missed
    assert run["status"]["Last"] == (hour - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert "hourly past_due=True" in out
    after = StatusStore(status_path(app)).get("hourly")
    assert after is not None and after.next == hour + timedelta(hours=1)  # back on schedule, not past due


@pytest.mark.slow
def test_missed_occurrence_while_really_down(app: Path) -> None:
    """No seeding: a one-minute schedule, the host stopped across an occurrence."""
    ticks = ticks_of(app)
    settings = env(app, SLOW_SCHEDULE="00:01:00")
    with running(app, "--functions", "slow", env=settings):
        pass
    recorded = StatusStore(status_path(app)).get("slow")
    assert recorded is not None and recorded.next is not None
    time.sleep(max(0.0, (recorded.next - datetime.now(UTC)).total_seconds()) + 1.5)
    with running(app, "--functions", "slow", env=settings) as host:
        wait_for(lambda: len(ticks()) >= 1, host)
    assert ticks()[0]["past_due"] is True


@pytest.mark.slow
def test_a_run_longer_than_the_period_never_overlaps(app: Path) -> None:
    ticks = ticks_of(app)
    with running(
        app, "--functions", "slow", env=env(app, SLOW_SCHEDULE="00:00:01", SLOW_SECONDS="1.5")
    ) as host:
        wait_for(lambda: len(ticks()) >= 3, host)
    runs = ticks()
    for before, after in itertools.pairwise(runs):
        assert after["start"] >= before["end"], runs


@pytest.mark.slow
def test_reload_neither_refires_startup_nor_doubles_an_occurrence(app: Path) -> None:
    ticks = ticks_of(app)
    args = ("--functions", "startup_once", "every_two_seconds")
    with running(app, *args, env=env(app), reload=True) as host:
        wait_for(lambda: sum(t["name"] == "startup_once" for t in ticks()) == 1, host)
        wait_for(lambda: sum(t["name"] == "every_two_seconds" for t in ticks()) >= 2, host)
        code = app / "function_app.py"
        code.write_text(code.read_text() + "\n# edited\n")
        host.wait_for_output("Reloaded in")
        before = len(ticks())
        wait_for(lambda: len(ticks()) >= before + 2, host)
    runs = ticks()
    assert sum(t["name"] == "startup_once" for t in runs) == 1
    slots = [int(t["start"] // 2) for t in runs if t["name"] == "every_two_seconds"][1:]
    assert slots == sorted(set(slots)), runs


def test_malformed_schedule_is_an_index_time_error_and_the_host_stays_up(app: Path) -> None:
    (app / "function_app.py").write_text(
        "import azure.functions as func\n\napp = func.FunctionApp()\n\n\n"
        "@app.timer_trigger(schedule='0 61 * * * *', arg_name='timer')\n"
        "def bad(timer: func.TimerRequest) -> None:\n    pass\n\n\n"
        "@app.timer_trigger(schedule='%MISSING_SCHEDULE%', arg_name='timer')\n"
        "def unset(timer: func.TimerRequest) -> None:\n    pass\n\n\n"
        "@app.route(route='ping')\n"
        "def ping(req: func.HttpRequest) -> str:\n    return 'pong'\n"
    )
    with running(app, env=env(app)) as host:
        status, _, body = host.request("GET", "/api/ping")
        out = host.output
        bad_status = host.json("GET", "/admin/functions/bad/status")
    assert (status, body) == (200, b"pong")
    assert (
        "The 'bad' function is in error: Binding 'timer' (timerTrigger): property 'schedule' ('0 61 * * * *'): "
        "field 2 (minute) '61': 61 is out of range: a minute is 0-59."
    ) in out
    assert "MISSING_SCHEDULE" in out and "The 'unset' function is in error" in out
    assert isinstance(bad_status, dict) and "field 2 (minute)" in " ".join(bad_status["errors"])


def test_admin_api_hands_a_real_timer_request(app: Path) -> None:
    ticks = ticks_of(app)
    with running(app, "--functions", "hourly", env=env(app)) as host:
        status, _, _ = host.request("POST", "/admin/functions/hourly", json.dumps({"input": "ignored"}))
        wait_for(lambda: len(ticks()) >= 1, host)
        out = host.output
    assert status == 202
    (run,) = ticks()
    assert run["past_due"] is False
    assert set(run["status"]) == {"Last", "Next", "LastUpdated"}  # hourly is monitored
    assert run["status"]["Last"] == "0001-01-01T00:00:00+00:00"
    assert "This function was programmatically called via the host APIs." in out


def test_warmup_runs_once_per_process(app: Path) -> None:
    with running(app, "--functions", "warmup", env=env(app)) as host:
        first = host.request("GET", "/admin/warmup")
        second = host.request("POST", "/admin/warmup")
        out = host.output
    assert first[0] == 200 and second[0] == 200
    assert out.count("Function App instance is warm") == 1
    assert out.count("Executed 'Functions.warmup' (Succeeded") == 1
