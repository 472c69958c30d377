"""The worker-style thread pool sync functions run in, handing results back to the event loop cheaply."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

_Item = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[..., Any], tuple[Any, ...]
]


class WorkerPool:
    """Up to ``size`` threads (named ``<prefix>_<n>``, started when no thread is idle, like
    ``ThreadPoolExecutor``) running calls for an event loop: a call is one queue item, its outcome one
    ``call_soon_threadsafe`` back to the loop. ``run_in_executor`` costs the loop a ``concurrent.futures.Future``,
    a work item and two chained futures with their callbacks per call; this costs an ``asyncio.Future``.

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
        self._queue.put((loop, future, context, target, args))
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
                loop, future = item[0], item[1]
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_cancel, future)
        for _ in range(count):
            self._queue.put(None)

    def _work(self) -> None:
        get, idle = self._queue.get, self._idle
        while True:
            item = get()
            if item is None:
                return
            loop, future, context, target, args = item
            del item
            if not future.cancelled():  # cancelled while queued (timeout, client gone): never runs
                try:
                    result = context.run(target, *args)
                except BaseException as exc:
                    _post(loop, _set_exception, future, exc)
                else:
                    _post(loop, _set_result, future, result)
                    result = None
            future = target = args = context = None  # type: ignore[assignment]  # nothing kept while idle
            if self._closed:
                return
            idle.release()


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody awaits the outcome
        loop.call_soon_threadsafe(callback, *args)


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


def _cancel(future: asyncio.Future[Any]) -> None:
    future.cancel()
