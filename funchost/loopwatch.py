"""Warns, naming the function, when an ``async def`` function blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any

log = logging.getLogger("funchost.invocation")

BLOCKED_LOOP_SECONDS = 1.0
"""An ``async def`` function that holds the event loop this long gets a warning (asyncio debug mode's
slow-callback check, done from a thread and only while async functions run)."""


class LoopWatch:
    """Warns, naming the function, when an ``async def`` function blocks the event loop (``time.sleep``, blocking
    I/O): a thread posts a no-op to the loop every half threshold while async functions run and reports when it
    is not run within the threshold. No cost while no async function runs.

    An invocation costs a dict write and an attribute test: the thread is woken (an ``Event.set``, which also
    costs the loop a thread switch) only when it sleeps, after ``IDLE_AFTER`` seconds without async functions;
    while they keep coming it polls ``running`` every half threshold instead."""

    IDLE_AFTER = 5.0
    """Seconds without a running async function before the thread sleeps until the next one."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        self.loop = loop
        self.threshold = threshold
        self.running: dict[asyncio.Task[Any], tuple[str, str]] = {}
        self._wake = threading.Event()
        self._idle = True
        """True while the thread sleeps on ``_wake`` (set by the thread; cleared by the ``enter`` that wakes it)."""
        self._thread: threading.Thread | None = None

    def enter(self, task: asyncio.Task[Any], function: str, invocation_id: str) -> None:
        self.running[task] = (function, invocation_id)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="funchost-loopwatch", daemon=True)
            self._thread.start()
        if self._idle:
            self._idle = False
            self._wake.set()

    def leave(self, task: asyncio.Task[Any]) -> None:
        self.running.pop(task, None)

    def _run(self) -> None:
        quiet_since: float | None = None
        while not self.loop.is_closed():
            if not self.running:
                now = time.monotonic()
                if quiet_since is None:
                    quiet_since = now
                if now - quiet_since < self.IDLE_AFTER:
                    time.sleep(self.threshold / 2)  # async functions come and go: poll, nobody wakes us
                    continue
                self._idle = True
                if not self.running:  # checked after publishing _idle: an enter() since then sets _wake
                    self._wake.wait(1.0)
                self._wake.clear()
                if not self._idle or self.running:
                    self._idle = False
                    quiet_since = None
                continue
            quiet_since = None
            beat = threading.Event()
            try:
                self.loop.call_soon_threadsafe(beat.set)
            except RuntimeError:  # the loop closed
                return
            started = time.monotonic()
            if beat.wait(self.threshold):
                time.sleep(self.threshold / 2)
                continue
            task = asyncio.current_task(self.loop)
            who = self.running.get(task) if task is not None else None
            culprit = (
                f"'Functions.{who[0]}' (Id={who[1]})"
                if who
                else "Code run by one of these async functions: "
                + ", ".join(f"'Functions.{f}' (Id={i})" for f, i in list(self.running.values()))
            )
            log.warning(
                "%s has blocked the event loop for %.1fs: no other request is served, not even "
                "/admin/host/ping, and functionTimeout cannot fire while it blocks. An async def function must "
                "not call blocking code: use `await asyncio.sleep(...)` instead of time.sleep(), and run blocking "
                "work in a thread (`await asyncio.to_thread(work, ...)`), or make the function a plain def.",
                culprit,
                time.monotonic() - started,
            )
            while not beat.wait(1.0):
                if self.loop.is_closed():
                    return
            log.warning("%s blocked the event loop for %.1fs.", culprit, time.monotonic() - started)


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWatch] = weakref.WeakKeyDictionary()


def loop_watch(loop: asyncio.AbstractEventLoop) -> LoopWatch:
    """The blocked-loop watch of ``loop`` (one per loop, shared by every host version)."""
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = LoopWatch(loop, BLOCKED_LOOP_SECONDS)
    return watch
