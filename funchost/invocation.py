"""ONE invocation, end to end: trigger data -> inputs -> call -> outputs committed on success.

Every way of running a function (HTTP request, admin API, a plugin calling a function, ``host.invoke`` in tests) goes
through :meth:`Invoker.invoke`. Nobody else calls user functions.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import random
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import azure.functions as func

from funchost import retry
from funchost.console import log_info as _info
from funchost.context import Context, thread_local
from funchost.dotnet import format_timespan
from funchost.expressions import ExpressionError, Template, has_expressions, resolve_settings, system_data
from funchost.loopwatch import LoopWatch, loop_watch
from funchost.plugin import BindingError
from funchost.registry import (
    HOST_CALL_REASON,
    AnyBinding,
    BindingOptions,
    HostApi,
    InputBinding,
    InvocationResult,
    OutputBinding,
    Registry,
    Role,
    Trigger,
    TriggerData,
    parse_options,
)
from funchost.spec import BindingSpec, FunctionSpec
from funchost.workers import WorkerPool

_random = random.Random()

current_invocation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "funchost_invocation", default=None
)
"""The invocation id of the code running now (visible to logging in user code and its threads)."""

SettingLookup = Callable[[str], str | None]
TriggerInput = TriggerData | Callable[[], TriggerData | Awaitable[TriggerData]]
"""Trigger data, or a conversion to run inside the invocation (admin input) so that its failure is a failed
invocation like any other."""

IMPLICIT_OUTPUT_EXCLUDED = frozenset({"httptrigger", "http", "durableclient"})
BUSY_WARNING_INTERVAL = 10.0
"""Seconds between two "All N worker threads are busy" warnings (calls that waited meanwhile are counted)."""


class InvocationError(Exception):
    """An invocation failed; its ``Executed ... (Failed ...)`` line has been logged."""

    def __init__(
        self, function: str, invocation_id: str, message: str, cause: BaseException | None, status: int
    ):
        super().__init__(message)
        self.function = function
        self.invocation_id = invocation_id
        self.cause = cause
        self.status = status


class FunctionTimeout(Exception):
    """The function ran longer than host.json ``functionTimeout``."""


log = logging.getLogger("funchost.invocation")


@dataclass
class _Busy:
    function: str
    invocation_id: str
    since: float

    def describe(self, now: float) -> str:
        return f"'Functions.{self.function}' (Id={self.invocation_id}, running for {now - self.since:.1f}s)"


@dataclass
class BoundBinding:
    """A binding of one function joined to its plugin, with its expressions compiled once."""

    spec: BindingSpec
    plugin: AnyBinding | None
    base: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    setting_errors: dict[str, str] = field(default_factory=dict)
    static: BindingOptions | None = None

    def options(self, data: Mapping[str, Any]) -> BindingOptions:
        """The binding's options with expressions resolved against this invocation's binding data."""
        if self.static is not None:
            return self.static
        if self.setting_errors:
            raise BindingError(next(iter(self.setting_errors.values())))
        assert self.plugin is not None
        resolved = {}
        for prop, template in self.templates.items():
            try:
                resolved[prop] = template.render(data)
            except ExpressionError as exc:
                raise BindingError(f"cannot resolve property '{prop}' ({template.text!r}): {exc}") from None
        return parse_options(self.plugin, self.base, resolved)


@dataclass
class BoundFunction:
    spec: FunctionSpec
    trigger: BoundBinding
    inputs: list[BoundBinding]
    outputs: list[BoundBinding]
    implicit_return: bool

    def __post_init__(self) -> None:
        self.log = logging.getLogger(f"Function.{self.spec.name}")
        """The category the host logs invocations under (shown by default, like Core Tools)."""
        # The invocation plan, fixed at bind time: the hot path does no discovery.
        self.trigger_name = self.trigger.spec.name
        self.out_names = tuple(b.spec.name for b in self.outputs if b.spec.name != "$return")
        """Output bindings passed to the function as ``func.Out`` arguments."""
        self.returns = any(b.spec.name == "$return" for b in self.outputs)
        """Whether the return value goes to a ``$return`` output binding."""


def bind_function(spec: FunctionSpec, registry: Registry, lookup: SettingLookup) -> BoundFunction:
    """Join a function's bindings to plugins and validate their options; problems go into ``spec.errors``."""
    trigger_b: BoundBinding | None = None
    inputs: list[BoundBinding] = []
    outputs: list[BoundBinding] = []
    for b in spec.bindings:
        role: Role = "trigger" if b.is_trigger else "in" if b.direction == "in" else "out"
        plugin = registry.find(b.type, role)
        if plugin is None and registry.roles_of(b.type):
            wanted = "a trigger" if b.is_trigger else f"an {b.direction}put binding"
            spec.errors.append(f"Binding '{b.name}': type '{b.type}' cannot be used as {wanted}.")
            continue
        if plugin is None and not b.is_trigger:
            spec.errors.append(
                f"The binding type '{b.type}' of binding '{b.name}' is not registered: no installed plugin "
                f"handles it. Installed binding types: {', '.join(registry.installed_types())}. Install a "
                "funchost plugin for it, or check the spelling."
            )
            continue
        bound = BoundBinding(spec=b, plugin=plugin)
        if plugin is not None:
            try:
                _compile(bound, plugin, lookup, trigger=b.is_trigger)
                plugin.check(spec, b, bound.static or parse_options(plugin, bound.base))
            except BindingError as exc:
                spec.errors.append(f"Binding '{b.name}' ({b.type}): {exc}")
                continue
        if b.is_trigger:
            trigger_b = bound
        elif b.direction == "in":
            inputs.append(bound)
        else:
            outputs.append(bound)
    if trigger_b is None:  # no trigger plugin (or no trigger at all: the function is in error already)
        fallback = next((b for b in spec.bindings if b.is_trigger), None)
        trigger_b = BoundBinding(spec=fallback or BindingSpec("", "", "in", {}), plugin=None)
    has_return = any(b.name == "$return" for b in spec.bindings)
    implicit = not has_return and (
        (isinstance(trigger_b.plugin, Trigger) and trigger_b.plugin.returns_to_caller)
        or any(b.kind not in IMPLICIT_OUTPUT_EXCLUDED for b in spec.bindings)
    )
    return BoundFunction(spec, trigger_b, inputs, outputs, implicit)


def _compile(bound: BoundBinding, plugin: AnyBinding, lookup: SettingLookup, *, trigger: bool) -> None:
    names = plugin.options.property_names()
    auto = {p.lower() for p in plugin.options.auto_resolve}
    base: dict[str, Any] = {}
    for key, value in bound.spec.raw.items():
        lowered = key.lower()
        base[names.get(lowered, key)] = value
        if lowered not in auto or not isinstance(value, str):
            continue
        prop = names[lowered]
        try:
            value = resolve_settings(value, lookup)
        except ExpressionError as exc:
            if trigger:
                raise BindingError(f"property '{prop}': {exc}") from None
            bound.setting_errors[prop] = f"property '{prop}': {exc}"
            continue
        if not trigger and has_expressions(value):
            try:
                bound.templates[prop] = Template.compile(value)
            except ExpressionError as exc:
                raise BindingError(f"property '{prop}': {exc}") from None
        else:
            base[prop] = value
    bound.base = {k: v for k, v in base.items() if k.lower() not in ("name", "type", "direction", "datatype")}
    # Unknown keys and missing required properties fail here, at index time, whatever the values.
    options = parse_options(plugin, bound.spec.raw, {k: base[k] for k in base if k in names.values()})
    if not bound.templates and not bound.setting_errors:
        bound.static = options


class Invoker:
    """Runs functions: the thread pool for sync code, the timeout, logging, output commit."""

    def __init__(
        self,
        host: HostApi,
        *,
        thread_count: int | None = None,
        timeout: timedelta | None = None,
    ) -> None:
        self.host = host
        self.thread_count = thread_count or min(32, (os.cpu_count() or 1) + 4)
        self.pool = WorkerPool(self.thread_count, "funchost-fn")
        self.timeout = timeout
        self._timeout_seconds = None if timeout is None else timeout.total_seconds()
        self.in_flight = 0
        self._busy: dict[str, _Busy] = {}
        """Sync invocations holding a worker thread, by invocation id (written from the worker threads)."""
        self._queued = 0
        self._busy_warned = -BUSY_WARNING_INTERVAL
        self._busy_unwarned = 0
        self._busy_lock = threading.Lock()
        self._running: dict[int, _Deadline] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._loop_watch: LoopWatch | None = None

    def busy(self) -> list[str]:
        """The sync invocations holding a worker thread now, longest first."""
        now = time.monotonic()
        with self._busy_lock:
            held = sorted(self._busy.values(), key=lambda b: b.since)
        return [b.describe(now) for b in held]

    def close(self) -> None:
        self.pool.close()
        if self._watchdog is not None:
            self._watchdog.cancel()

    async def _watch(self, period: float) -> None:
        """Cancel the calls past their deadline; one task for all, cheaper than a timer per invocation."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for deadline in list(self._running.values()):
                if deadline.at <= now and not deadline.expired:
                    deadline.expired = True
                    deadline.task.cancel()

    async def invoke(self, bound: BoundFunction, trigger: TriggerInput) -> InvocationResult:
        """Run one invocation. ``trigger`` may be a conversion to run inside the invocation (admin input), so
        that a conversion failure is a failed invocation like any other."""
        fn = bound.spec
        invocation_id = new_invocation_id()
        log = bound.log
        reason = trigger.reason if isinstance(trigger, TriggerData) else HOST_CALL_REASON
        _info(
            log,
            "Executing 'Functions.%s' (Reason='%s', Id=%s)",
            fn.name,
            reason,
            invocation_id,
            plain=invocation_id,
        )
        started = time.perf_counter()
        token = current_invocation.set(invocation_id)
        self.in_flight += 1
        try:
            result = await self._run(bound, trigger, invocation_id)
        except BaseException as exc:
            task = asyncio.current_task()
            cancelled = isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling() > 0
            duration = int((time.perf_counter() - started) * 1000)
            message, status = self._failure(fn, exc)
            log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
                fn.name,
                invocation_id,
                duration,
                message,
            )
            if (
                cancelled
            ):  # the caller went away or the host stops; a CancelledError the function raised is a failure
                raise
            raise InvocationError(fn.name, invocation_id, message, exc, status) from exc
        finally:
            self.in_flight -= 1
            current_invocation.reset(token)
        duration = int((time.perf_counter() - started) * 1000)
        _info(
            log,
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
            fn.name,
            invocation_id,
            duration,
            plain=invocation_id,
        )
        return result

    async def _run(self, bound: BoundFunction, trigger: TriggerInput, invocation_id: str) -> InvocationResult:
        fn = bound.spec
        if not isinstance(trigger, TriggerData):
            made = trigger()
            trigger = made if isinstance(made, TriggerData) else await made
        if fn.func is None or fn.errors:
            raise BindingError(f"The '{fn.name}' function is in error: " + " ".join(fn.errors))
        data = _BindingData(trigger.binding_data, fn.name)
        call = _Call(fn, invocation_id, data, self.host)
        args: dict[str, Any] = {bound.trigger_name: trigger.value}
        for b in bound.inputs:
            # bind_function sorted the plugins by role: a cast (a string: no subscript per call), no ABC check
            reader = cast("InputBinding[Any]", b.plugin)
            try:
                args[b.spec.name] = await reader.read(b.options(data), call.serving(b.spec))
            except BindingError as exc:
                raise _binding_failure(b, exc, "input") from exc
        outs: dict[str, func.Out[Any]] = {}
        for name in bound.out_names:
            outs[name] = args[name] = _Out()
        if fn.wants_context:
            args["context"] = Context.for_trigger(
                invocation_id, fn.name, str(fn.directory), trigger.binding_data, retry.current.get()
            )
        returned = await self._call(fn, args, invocation_id)
        values: dict[str, Any] = {name: out.get() for name, out in outs.items()} if outs else {}
        if bound.returns:
            values["$return"] = returned
        elif returned is not None and not bound.implicit_return:
            raise RuntimeError(f"function '{fn.name}' without a $return binding returned a non-None value")
        await self._commit(bound, values, call)
        return InvocationResult(invocation_id, returned, values)

    async def _call(self, fn: FunctionSpec, args: dict[str, Any], invocation_id: str) -> Any:
        assert fn.func is not None
        # The running loop once: in Python 3.11 each lookup (current_task() without a loop too) is a getpid().
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        started: list[bool] = []
        deadline = self._arm(loop, task)
        try:
            if fn.is_async:
                watch = self._loop_watch
                if watch is None or watch.loop is not loop:
                    watch = self._loop_watch = loop_watch(loop)
                watch.enter(task, fn.name, invocation_id)
                try:
                    return await fn.func(**args)
                finally:
                    watch.leave(task)
            self._note_queue(fn, invocation_id)
            work = self.pool.run(
                loop, contextvars.copy_context(), self._run_sync, fn, args, invocation_id, started
            )
            try:
                return await work
            finally:
                with self._busy_lock:
                    if not started:  # cancelled while queued: it will never run
                        self._queued -= 1
                        started.append(False)
        except asyncio.CancelledError:
            if deadline is None or not deadline.expired:
                raise
            task.uncancel()
            raise self._timed_out(fn, invocation_id, started) from None
        finally:
            if deadline is not None:
                del self._running[id(deadline)]

    def _run_sync(
        self, fn: FunctionSpec, args: dict[str, Any], invocation_id: str, started: list[bool]
    ) -> Any:
        """Runs in a worker thread: the function, with this thread marked busy with it."""
        assert fn.func is not None
        with self._busy_lock:
            if not started:
                self._queued -= 1
            started.append(True)
            self._busy[invocation_id] = _Busy(fn.name, invocation_id, time.monotonic())
        try:
            return _call_sync(fn.func, args, invocation_id)
        finally:
            with self._busy_lock:
                self._busy.pop(invocation_id, None)

    def _note_queue(self, fn: FunctionSpec, invocation_id: str) -> None:
        """Count a sync call going to the pool; say so when it must wait because every thread is busy (once per
        ``BUSY_WARNING_INTERVAL``: under load calls queue for a moment all the time, and a line per request
        would bury the one that names a hung function)."""
        with self._busy_lock:
            full = len(self._busy) + self._queued >= self.thread_count
            self._queued += 1
        if full:
            now = time.monotonic()
            if now - self._busy_warned < BUSY_WARNING_INTERVAL:
                self._busy_unwarned += 1
                return
            self._busy_warned, unwarned, self._busy_unwarned = now, self._busy_unwarned, 0
            log.warning(
                "All %d worker threads (PYTHON_THREADPOOL_THREAD_COUNT) are busy with sync functions: %s. "
                "'Functions.%s' (Id=%s) waits for a free thread (functionTimeout counts from now). A sync function "
                "that never returns holds its thread for good (threads cannot be killed): fix it, make the "
                "function async, or raise PYTHON_THREADPOOL_THREAD_COUNT. Async functions, the admin API and "
                "/admin/host/ping keep working.%s",
                self.thread_count,
                ", ".join(self.busy()) or "(starting)",
                fn.name,
                invocation_id,
                f" ({unwarned} more calls had to wait since the last warning.)" if unwarned else "",
            )

    def _arm(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> _Deadline | None:
        """The call's host.json ``functionTimeout`` deadline (None without one): the watchdog cancels ``task``
        when it passes."""
        if self._timeout_seconds is None:
            return None
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = loop.create_task(self._watch(min(1.0, self._timeout_seconds / 10)))
        deadline = _Deadline(loop.time() + self._timeout_seconds, task)
        self._running[id(deadline)] = deadline
        return deadline

    def _timed_out(self, fn: FunctionSpec, invocation_id: str, started: list[bool]) -> FunctionTimeout:
        """Log the timeout as the host does; the error the invocation fails with."""
        assert self.timeout is not None
        limit = format_timespan(self.timeout)
        waited = ""
        if not fn.is_async and True not in started:  # [False]: cancelled while queued
            waited = (
                f" It never started: it waited the whole time for a worker thread, all {self.thread_count} "
                f"were busy with {', '.join(self.busy()) or 'other calls'}."
            )
        logging.getLogger(f"Function.{fn.name}").error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). Initiating cancellation.%s",
            limit,
            fn.name,
            invocation_id,
            waited,
        )
        return FunctionTimeout(
            f"Timeout value of {limit} was exceeded by function: Functions.{fn.name}"
            + (f".{waited}" if waited else "")
        )

    async def _commit(self, bound: BoundFunction, values: Mapping[str, Any], call: _Call) -> None:
        """Validate every output's items first, then write them all concurrently: a refusal writes nothing."""
        plan: list[tuple[BoundBinding, OutputBinding[Any], BindingOptions, list[Any], _Call]] = []
        for b in bound.outputs:
            value = values.get(b.spec.name)
            if b.plugin is None:
                continue
            writer = cast("OutputBinding[Any]", b.plugin)  # see _run: sorted by role at bind time
            if value is None:
                if b.spec.name == "$return" and writer.none_is_error:
                    raise TypeError(
                        f'unable to encode outgoing TypedData: unsupported type "{b.spec.type}" for Python type '
                        '"NoneType"'
                    )
                continue
            try:
                options = b.options(call.binding_data)
                serving = call.serving(b.spec)
                if writer.fan_out:
                    parsed = [writer.parse(item, options, serving) for item in _fan_out(value)]
                else:
                    parsed = [writer.parse(value, options, serving)]
            except BindingError as exc:
                raise _binding_failure(b, exc, "output") from exc
            if writer.writes:
                plan.append((b, writer, options, parsed, serving))
        if len(plan) <= 1:  # the usual shape (an http response, or one output): no concurrency to arrange
            for b, plugin, options, items, serving in plan:
                try:
                    await plugin.write(items, options, serving)
                except BindingError as exc:
                    raise _binding_failure(b, exc, "output") from exc
            return
        results: list[BaseException | None] = []
        # Every write runs concurrently; the last one in this task (no gather: one task fewer per invocation),
        # the others as tasks, cancelled if this one is.
        loop = asyncio.get_running_loop()
        others = [
            loop.create_task(p.write(items, options, serving)) for _, p, options, items, serving in plan[:-1]
        ]
        _, plugin, options, items, serving = plan[-1]
        try:
            try:
                await plugin.write(items, options, serving)
                last: BaseException | None = None
            except Exception as exc:
                last = exc
            for task in others:
                try:
                    await task
                    results.append(None)
                except Exception as exc:
                    results.append(exc)
        finally:
            for task in others:
                if not task.done():
                    task.cancel()
        results.append(last)
        for (b, *_), res in zip(plan, results, strict=True):
            if isinstance(res, BindingError):
                raise _binding_failure(b, res, "output") from res
            if isinstance(res, BaseException):
                raise res

    @staticmethod
    def _failure(fn: FunctionSpec, exc: BaseException) -> tuple[str, int]:
        head = f"Exception while executing function: Functions.{fn.name}."
        if isinstance(exc, BindingError):
            return f"{head} {exc}", exc.status
        if isinstance(exc, FunctionTimeout):
            return f"{head} {exc}", 500
        stack = "".join(traceback.extract_tb(exc.__traceback__).format())
        body = f"Result: Failure\nException: {type(exc).__name__}: {exc}\nStack: {stack}".rstrip()
        return f"{head} {body}", 500


@dataclass
class _Deadline:
    at: float
    task: asyncio.Task[Any]
    expired: bool = False


_GUID_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)
_GUID_V4 = (0x4000 << 64) | (0x8000 << 48)
"""The bits a random number keeps, and the version (4) and variant (RFC 4122) bits set, in a version 4 GUID."""


def new_invocation_id(getrandbits: Callable[[int], int] = _random.getrandbits) -> str:
    """A random (version 4) GUID, lower-case and hyphenated; from the PRNG, not os.urandom (every invocation)."""
    h = "%032x" % (getrandbits(128) & _GUID_KEEP | _GUID_V4)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _binding_failure(b: BoundBinding, exc: BindingError, role: str) -> BindingError:
    failure = type(exc)(f"Error in {role} binding '{b.spec.name}' ({b.spec.type}): {exc}")
    failure.status = exc.status
    return failure


def _call_sync(target: Callable[..., Any], args: dict[str, Any], invocation_id: str) -> Any:
    thread_local.invocation_id = invocation_id
    return target(**args)


def _fan_out(value: Any) -> list[Any]:
    """The host's collector rule: a JSON array becomes one item per element, a JSON object one item."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = value.strip()
        if (text.startswith("[") and text.endswith("]")) or (text.startswith("{") and text.endswith("}")):
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise BindingError(
                    f"the value looks like JSON but does not parse: {exc}. Set a valid JSON string."
                ) from None
            return list(parsed) if isinstance(parsed, list) else [parsed]
    return [value]


class _Out(func.Out[Any]):
    """The worker's Out: set() keeps the last value; None means nothing is written."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _BindingData(Mapping[str, Any]):
    """Trigger binding data plus the built-ins (sys, rand-guid, DateTime), created only when asked for."""

    def __init__(self, data: Mapping[str, Any], method_name: str) -> None:
        self._data = data
        self._method = method_name
        self._system: Mapping[str, Any] | None = None

    def _sys(self) -> Mapping[str, Any]:
        if self._system is None:
            self._system = system_data(self._method)
        return self._system

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        return self._sys()[key]

    def __iter__(self) -> Any:
        yield from self._data
        yield from (k for k in self._sys() if k not in self._data)

    def __len__(self) -> int:
        return len(set(self._data) | set(self._sys()))


@dataclass(slots=True)
class _Call:
    """The call as a binding sees it (read-only by convention: not frozen, a frozen dataclass costs ~1 us more
    to build, and the host builds a few per invocation)."""

    function: FunctionSpec
    invocation_id: str
    binding_data: Mapping[str, Any]
    host: HostApi
    binding: BindingSpec | None = None

    def serving(self, binding: BindingSpec) -> _Call:
        """This call as seen by one of its bindings."""
        return _Call(self.function, self.invocation_id, self.binding_data, self.host, binding)
