"""Running timers as the host's TimerListener does: one loop per function, never overlapping itself.

What outlives a hot reload lives in :class:`TimerRuntime` (kept by the host for the whole process): each timer's
schedule status, its pending startup invocation and the lock that serialises its invocations. A reload therefore
neither fires an occurrence twice nor skips one; ``runOnStartup`` fires once per process. Only one process per
app runs the app's timers (a file lock, like the host's singleton listener lease); another one waits and takes
over when the first stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any

from azure.functions import meta
from azure.functions.timer import TimerRequest, TimerRequestConverter

from funchost.plugin import InvocationError
from funchost_timer.schedule import (
    Schedule,
    datetime_o_local,
    format_occurrences,
    json_datetime,
    next_occurrences,
)
from funchost_timer.status import ScheduleStatus, StatusStore, status_path

__all__ = ["TimerRuntime", "TimerState", "build_timer_request", "check_past_due"]

log = logging.getLogger("funchost.timer")
"""Shown with --verbose, as the host's ``Host.Triggers.Timer`` lines are under Core Tools."""

_MAX_SLEEP = 30.0
"""Sleep in slices so a wall-clock change (suspend, NTP) is noticed."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TimerState:
    """One timer's state for the whole process."""

    name: str
    schedule_text: str
    monitor: bool
    status: ScheduleStatus
    startup: str | None = None
    """``"past_due"`` or ``"run_on_startup"``: an invocation due as soon as the timer starts."""
    original: datetime | None = None
    """The missed occurrence a past-due invocation stands for."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    generation: int = 0
    """Bumped by every invocation, so a loop of an older app version can tell its occurrence was handled."""


def check_past_due(
    store: StatusStore | None,
    name: str,
    now: datetime,
    schedule: Schedule,
    tz: tzinfo,
    status: ScheduleStatus | None,
) -> tuple[bool, ScheduleStatus]:
    """The host's ``ScheduleMonitor.CheckPastDueAsync``: whether an occurrence was missed since the recorded
    status, and the status to run with (rewritten when the schedule changed or nothing was recorded)."""
    if status is None:
        status = ScheduleStatus(None, schedule.next_after(now, tz), now)
        if store is not None:
            store.put(name, status)
        recorded = status.next
    else:
        base = status.last or status.last_updated
        expected = schedule.next_after(base, tz) if base is not None else schedule.next_after(now, tz)
        updated = base or now
        if status.next != expected:
            # the schedule changed while the host was down: start over from now, not past due
            if expected is None or now > expected:
                expected = schedule.next_after(now, tz)
                updated = now
            status = ScheduleStatus(None, expected, updated)
            if store is not None:
                store.put(name, status)
        recorded = status.next
    return (recorded is not None and now > recorded), status


def status_json(status: ScheduleStatus, tz: tzinfo) -> dict[str, str]:
    return {
        "Last": json_datetime(status.last, tz),
        "Next": json_datetime(status.next, tz),
        "LastUpdated": json_datetime(status.last_updated, tz),
    }


def build_timer_request(status: ScheduleStatus | None, past_due: bool, tz: tzinfo) -> TimerRequest:
    """The ``func.TimerRequest`` the Python worker builds from the host's TimerInfo JSON."""
    info = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": None if status is None else status_json(status, tz),
        "IsPastDue": past_due,
    }
    request: TimerRequest = TimerRequestConverter.decode(
        meta.Datum(json.dumps(info), "json"), trigger_metadata={}
    )
    return request


class HostLease:
    """An exclusive lock on ``<app>/.funchost/timers.lock``: the process holding it runs the app's timers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        try:
            import fcntl
        except ImportError:  # Windows: no cross-process lock, every process runs its timers
            self._file = open(os.devnull, "w")  # noqa: SIM115 - held until release()
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def holder(self) -> str:
        with contextlib.suppress(OSError):
            return self.path.read_text().strip() or "?"
        return "?"

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TimerRuntime:
    """Process-wide timer state of one app (kept across reloads)."""

    def __init__(self, script_root: Path) -> None:
        self.store = StatusStore(status_path(script_root))
        self.lease = HostLease(script_root / ".funchost" / "timers.lock")
        self.states: dict[str, TimerState] = {}
        self.warmed_up = False
        self._leader = asyncio.Event()
        self._waiter: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        """Wait until this process may run the app's timers."""
        if self._leader.is_set():
            return
        if self.lease.try_acquire():
            self._leader.set()
            return
        if self._waiter is None:
            log.warning(
                "The timers of this app are run by another funchost process (pid %s); this one takes over if "
                "that one stops.",
                self.lease.holder(),
            )
            self._waiter = asyncio.get_running_loop().create_task(self._wait_for_lease())
        await self._leader.wait()

    async def _wait_for_lease(self) -> None:
        while not self.lease.try_acquire():
            await asyncio.sleep(1.0)
        log.info("This process now runs the app's timers.")
        self._leader.set()

    def state(
        self,
        name: str,
        schedule: Schedule,
        monitor: bool,
        run_on_startup: bool,
        tz: tzinfo,
        now: datetime,
    ) -> tuple[TimerState, bool]:
        """The timer's kept state, made on first start (or when its schedule changed); True when new."""
        key = name.lower()
        current = self.states.get(key)
        text = f"{schedule} {tz}"
        if current is not None and current.schedule_text == text and current.monitor == monitor:
            return current, False
        stored = self.store.get(key) if monitor else None
        past_due = False
        if monitor:
            past_due, status = check_past_due(self.store, key, now, schedule, tz, stored)
        else:
            status = ScheduleStatus(None, schedule.next_after(now, tz), None)
        state = TimerState(key, text, monitor, status)
        if current is not None:
            state.lock = current.lock
            state.generation = current.generation + 1
        if past_due:
            state.startup, state.original = "past_due", status.next
        elif run_on_startup and current is None:
            state.startup = "run_on_startup"
        self.states[key] = state
        return state, True

    def close(self) -> None:
        if self._waiter is not None:
            self._waiter.cancel()
        self.lease.release()
        self.store.close()


Invoke = Callable[[TimerRequest, str], Any]


class TimerLoop:
    """One function's timer in one app version."""

    def __init__(
        self,
        runtime: TimerRuntime,
        name: str,
        schedule: Schedule,
        tz: tzinfo,
        monitor: bool,
        run_on_startup: bool,
        invoke: Invoke,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.schedule = schedule
        self.tz = tz
        self.monitor = monitor
        self.run_on_startup = run_on_startup
        self.invoke = invoke
        self.stopping = False
        self.firing = False
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"timer {self.name}")

    async def stop(self) -> None:
        """Stop waiting; an invocation in progress finishes first (as the host's listener waits for it)."""
        self.stopping = True
        task = self.task
        if task is None or task.done():
            return
        if not self.firing:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        await self.runtime.lead()
        now = utcnow()
        state, fresh = self.runtime.state(
            self.name, self.schedule, self.monitor, self.run_on_startup, self.tz, now
        )
        if fresh:
            upcoming = format_occurrences(next_occurrences(self.schedule, 5, now, self.tz), self.tz)
            log.info(
                "The next 5 occurrences of the '%s' schedule (%s) will be:\n%s",
                self.name,
                self.schedule,
                "\n".join(upcoming),
            )
        while not self.stopping:
            if state.startup is None and state.status.next is None:
                return  # the schedule has no further occurrence
            due = utcnow() if state.startup else state.status.next
            generation = state.generation
            assert due is not None
            await _sleep_until(due)
            async with state.lock:
                if self.stopping or self.runtime.states.get(state.name) is not state:
                    return  # stopped, or a newer version of the app changed this timer's schedule
                if state.generation != generation:
                    continue  # an older version of the app ran this occurrence while we waited
                self.firing = True
                try:
                    await self._fire(state)
                finally:
                    self.firing = False

    async def _fire(self, state: TimerState) -> None:
        """The host's ``InvokeJobFunction``: run, then record Last/Next (the next interval counts from the
        time this invocation was due, so a slow run is followed by an immediate one, never by an overlap)."""
        startup, state.startup = state.startup, None
        past_due = startup == "past_due"
        if past_due:
            log.debug("Function '%s' is past due on startup. Executing now.", self.name)
        elif startup:
            log.debug("Function '%s' is configured to run on startup. Executing now.", self.name)
        fired = utcnow()
        request = build_timer_request(state.status if state.monitor else None, past_due, self.tz)
        try:
            await self.invoke(request, f"Timer fired at {datetime_o_local(fired, self.tz)}")
        except InvocationError:
            pass  # logged by the host as "Executed ... (Failed ...)"; the schedule goes on
        except Exception:
            log.exception("Error occurred during scheduled invocation for '%s'.", self.name)
        adjusted = fired
        if not startup and state.status.next is not None and state.status.next > fired:
            adjusted = state.status.next
        state.status = ScheduleStatus(adjusted, self.schedule.next_after(adjusted, self.tz), adjusted)
        state.generation += 1
        if state.monitor:
            try:
                await asyncio.to_thread(self.runtime.store.put, state.name, state.status)
            except Exception:
                log.exception("Function '%s': could not record the timer status", self.name)


async def _sleep_until(due: datetime) -> None:
    while True:
        remaining = (due - utcnow()) / timedelta(seconds=1)
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, _MAX_SLEEP))
