"""The worker-style thread pool sync functions run in, handing results back to the event loop cheaply."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any


class _Outbox:
    """Outcomes of calls for one event loop, handed over in batches: under load many calls end between two
    loop iterations, and each ``call_soon_threadsafe`` is a write to the loop's self-pipe (a syscall, and a
    wake-up to read it); here a batch costs one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: collections.deque[tuple[Callable[..., None], asyncio.Future[Any], Any]] = (
            collections.deque()
        )
        self._scheduled = False

    def post(self, callback: Callable[..., None], future: asyncio.Future[Any], value: Any) -> None:
        """From a worker thread: ``callback(future, value)`` on the loop, soon."""
        self._items.append((callback, future, value))
        if self._scheduled:  # a delivery is pending and resets the flag before it reads the items
            return
        self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop closed meanwhile: nobody awaits the outcome
            self._items.clear()

    def _deliver(self) -> None:
        self._scheduled = False
        items = self._items
        while items:
            callback, future, value = items.popleft()
            callback(future, value)


_Item = tuple[_Outbox, "asyncio.Future[Any]", contextvars.Context, Callable[..., Any], tuple[Any, ...]]


class WorkerPool:
    """Up to ``size`` threads (named ``<prefix>_<n>``, started when no thread is idle, like
    ``ThreadPoolExecutor``) running calls for an event loop: a call is one queue item, its outcome goes back to
    the loop in a batch (:class:`_Outbox`). ``run_in_executor`` costs the loop a ``concurrent.futures.Future``,
    a work item, two chained futures with their callbacks and a self-pipe write per call; this costs an
    ``asyncio.Future``.

    A call cancelled while queued never runs; :meth:`close` cancels the queued calls and lets every thread end
    after its current call (threads are not daemons: the CLI's stop reports those still busy)."""

    def __init__(self, size: int, prefix: str) -> None:
        self.size = size
        self.prefix = prefix
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()
        self._outbox: _Outbox | None = None

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        target: Callable[..., Any],
        *args: Any,
    ) -> asyncio.Future[Any]:
        """``target(*args)`` in ``context`` on a pool thread; the future completes on ``loop``."""
        if self._closed:
            raise RuntimeError("cannot run a call: the worker pool is closed")
        future: asyncio.Future[Any] = loop.create_future()
        outbox = self._outbox
        if outbox is None or outbox.loop is not loop:
            outbox = self._outbox = _Outbox(loop)
        self._queue.put((outbox, future, context, target, args))
        if len(self._threads) < self.size and not self._idle.acquire(blocking=False):  # all started: no count
            with self._lock:
                if len(self._threads) < self.size and not self._closed:
                    thread = threading.Thread(
                        target=self._work, name=f"{self.prefix}_{len(self._threads)}", daemon=False
                    )
                    thread.start()
                    self._threads.append(thread)
        return future

    def close(self) -> None:
        """Cancel the queued calls; every thread ends after its current call."""
        with self._lock:
            self._closed = True
            count = len(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].post(_cancel, item[1], None)
        for _ in range(count):
            self._queue.put(None)

    def _work(self) -> None:
        get, idle = self._queue.get, self._idle
        while True:
            item = get()
            if item is None:
                return
            outbox, future, context, target, args = item
            del item
            if not future.cancelled():  # cancelled while queued (timeout, client gone): never runs
                try:
                    result = context.run(target, *args)
                except BaseException as exc:
                    outbox.post(_set_exception, future, exc)
                else:
                    outbox.post(_set_result, future, result)
                    result = None
            outbox = future = target = args = context = None  # type: ignore[assignment]  # nothing kept while idle
            if self._closed:
                return
            idle.release()


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, StopIteration):  # a future refuses StopIteration (TypeError): the awaiter would hang
        wrapped = RuntimeError(f"the function raised StopIteration: {exc}")
        wrapped.__cause__ = exc
        exc = wrapped
    future.set_exception(exc)


def _cancel(future: asyncio.Future[Any], _: None) -> None:
    future.cancel()
