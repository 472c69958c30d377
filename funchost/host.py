"""A loaded function app: settings, indexed functions, plugins and the invoker, as one object.

A :class:`Host` is one version of the app. Reload builds a new Host beside the running one and swaps it in
(see :mod:`funchost.reload`); the web server always asks :class:`Server` for the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from funchost import DEFAULT_MAX_BODY, DEFAULT_PORT, retry
from funchost.console import announce
from funchost.expressions import json_binding_data
from funchost.indexing import IndexResult, index_app
from funchost.invocation import BoundFunction, InvocationError, Invoker, bind_function
from funchost.plugin import PluginInfo, ServiceKey
from funchost.registry import (
    AdminHandler,
    BindingOptions,
    HttpHandler,
    InvocationResult,
    Registry,
    Trigger,
    TriggerData,
    discover,
)
from funchost.settings import (
    AppConfig,
    ConfigError,
    environment_updates,
    export_environment,
    host_environment,
    load_settings,
)
from funchost.spec import FunctionSpec
from funchost.web.keys import KeyRing

log = logging.getLogger("funchost.host")
K = TypeVar("K")
T = TypeVar("T")

_kept: dict[tuple[Path, str], Any] = {}
"""``HostApi.keep`` objects of every app in this process, by (app folder, key): they outlive a reload."""


@dataclass
class HostOptions:
    """What the CLI (or a test) asks for."""

    script_root: Path
    port: int | None = None
    bind: str = "127.0.0.1"
    functions: list[str] | None = None
    verbose: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    """Settings that win over everything (plugins' start flags, test settings)."""
    environ: Mapping[str, str] | None = None
    """The environment to read; defaults to os.environ."""
    apply_environment: bool = True
    """Export the app settings into os.environ, as Core Tools does for the worker."""
    plugins: Sequence[PluginInfo] | None = None
    """The plugins' manifests to use instead of the installed ones (tests)."""
    enable_auth: bool = False
    services: dict[str, Any] = field(default_factory=dict)
    """Stand-ins handed to plugins by service name (``HostApi.provided``), from a test harness."""
    index_in_thread: bool = True
    """Import the app in a worker thread (the server stays responsive during a reload); a test harness, with
    nothing else to serve, imports it on the event loop's thread as the Python worker does."""


class Host:
    """One loaded version of a function app."""

    def __init__(self, options: HostOptions, config: AppConfig, index: IndexResult) -> None:
        self.options = options
        self.config = config
        self.index = index
        self.port = options.port or config.local.local_http_port or DEFAULT_PORT
        self.http_handlers: list[HttpHandler] = []
        self.admin_handlers: dict[tuple[str, str], AdminHandler] = {}
        self._log = log
        self.registry: Registry = Registry()
        self.bound: dict[str, BoundFunction] = {}
        self.retries: dict[str, retry.RetryPolicy] = {}
        self.invoker = Invoker(self, thread_count=_thread_count(config), timeout=config.host.function_timeout)
        self.state = "Initialized"
        self.keys: KeyRing | None = None
        self.active_requests = 0
        """HTTP requests routed to this version and not yet answered."""
        self.background: set[asyncio.Task[Any]] = set()

    # -- HostApi -------------------------------------------------------------------------------------------
    @property
    def script_root(self) -> Path:
        return self.options.script_root

    @property
    def settings(self) -> Mapping[str, str]:
        return self.config.settings

    @property
    def functions(self) -> Sequence[FunctionSpec]:
        return [b.spec for b in self.bound.values()]

    @property
    def route_prefix(self) -> str:
        return self.config.host.route_prefix

    @property
    def log(self) -> logging.Logger:
        return self._log

    def setting(self, name: str) -> str | None:
        return self.config.setting(name)

    def extension(self, name: str) -> Mapping[str, Any]:
        return self.config.extension(name)

    def binding_options(self, function: FunctionSpec, binding: str) -> BindingOptions:
        bound = self.bound[function.name.lower()]
        for b in (bound.trigger, *bound.inputs, *bound.outputs):
            if b.spec.name == binding:
                return b.static or b.options({})
        raise KeyError(f"function '{function.name}' has no binding '{binding}'")

    def provided(self, key: ServiceKey[K]) -> K | None:
        value: K | None = self.options.services.get(key.name)
        return value

    def keep(self, key: str, factory: Callable[[], K]) -> K:
        slot = (self.script_root, key)
        if slot not in _kept:
            _kept[slot] = factory()
        value: K = _kept[slot]
        return value

    def serve_http(self, handler: HttpHandler) -> None:
        self.http_handlers.append(handler)

    def serve_admin(self, method: str, path: str, handler: AdminHandler) -> None:
        self.admin_handlers[(method.upper(), path.rstrip("/").lower())] = handler

    def authorize(self, request: Any, level: str) -> bool:
        return self.keys is None or self.keys.allows(request, level)

    def invoke(self, function: FunctionSpec, trigger: TriggerData) -> Coroutine[Any, Any, InvocationResult]:
        """A trigger's run: its retry policy applies (funchost.retry). Not a coroutine function itself: it hands
        back the invocation's coroutine (one coroutine fewer per request)."""
        key = function.name.lower()
        bound = self.bound[key]
        policy = self.retries.get(key)
        if policy is None:  # the common case: no retry layer per request
            return self.invoker.invoke(bound, trigger)
        return retry.run(self, policy, function.name, lambda: self.invoker.invoke(bound, trigger))

    # -- lifecycle -----------------------------------------------------------------------------------------
    @classmethod
    async def load(cls, options: HostOptions) -> Host:
        """Read the configuration, index the app and bind its functions; raises ConfigError or AppError."""
        environ = os.environ if options.environ is None else options.environ
        # What this host exported on a previous load is not a real environment variable: a reload applies
        # local.settings.json as a restart would (changed, added and deleted keys).
        real = host_environment(options.script_root, environ)
        config = load_settings(options.script_root, {**real, **options.overrides})
        port = options.port or config.local.local_http_port or DEFAULT_PORT
        if options.apply_environment:
            export_environment(options.script_root, environment_updates(config, port), os.environ)
        if options.index_in_thread:
            index = await _in_thread(index_app, options.script_root, config.settings)
        else:
            index = index_app(options.script_root, config.settings)
        host = cls(options, config, index)
        host._bind()
        return host

    def _bind(self) -> None:
        allow = [n.lower() for n in (self.options.functions or self.config.host.functions or [])]
        specs = [s for s in self.index.functions if not allow or s.name.lower() in allow]
        used = {b.type for spec in specs for b in spec.bindings}
        self.registry = discover(self, self.options.plugins, used)
        for spec in specs:
            self.bound[spec.name.lower()] = bind_function(spec, self.registry, self.setting)
        self.retries = retry.policies(self.bound.values())

    async def start(self) -> None:
        """Report problems, start plugins and triggers; the host is Running afterwards."""
        for warning in [*self.config.warnings, *self.index.warnings]:
            log.warning(warning)
        for error in self.registry.errors:
            log.error(error)
        if self.options.functions or self.config.host.functions:
            names = ", ".join(self.options.functions or self.config.host.functions or [])
            announce(
                log,
                "A function allow list has been specified, excluding all but the following functions: [%s]",
                names,
            )
        for plugin in self.registry.plugins:
            await plugin.start()
        by_trigger: dict[str, list[FunctionSpec]] = {}
        for bound in self.bound.values():
            spec = bound.spec
            if spec.errors:
                log.error("The '%s' function is in error: %s", spec.name, " ".join(spec.errors))
                continue
            if spec.disabled:
                continue
            if bound.trigger.plugin is None:
                log.warning(
                    "No installed binding plugin handles trigger type '%s' of function '%s'. It is listed and can "
                    "be run through the admin API (POST /admin/functions/%s), but nothing will fire it.",
                    spec.trigger.type,
                    spec.name,
                    spec.name,
                )
                continue
            by_trigger.setdefault(spec.trigger.kind, []).append(spec)
        for kind, specs in by_trigger.items():
            trigger = self.registry.find(kind, "trigger")
            assert isinstance(trigger, Trigger)
            await trigger.start(specs)
        if not self.bound:
            log.warning(
                "No job functions found. Check that %s defines functions with a trigger (v2 model) or that "
                "function folders hold a function.json (v1 model).",
                self.script_root,
            )
        self.state = "Running"

    async def stop(self) -> None:
        self.state = "Stopping"
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)
        for plugin in reversed(self.registry.plugins):
            try:
                await plugin.stop()
            except Exception:
                log.exception("Plugin '%s' failed to stop", plugin.name)
        self.invoker.close()
        self.state = "Stopped"

    async def close(self) -> None:
        """Stop, then release the plugins' shared resources (end of process or test)."""
        if self.state != "Stopped":
            await self.stop()
        for plugin in reversed(self.registry.plugins):
            try:
                await plugin.close()
            except Exception:
                log.exception("Plugin '%s' failed to close", plugin.name)
        for slot in [s for s in _kept if s[0] == self.script_root]:
            kept = _kept.pop(slot)
            try:
                closing = getattr(kept, "close", None)
                result = closing() if callable(closing) else None
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("Closing '%s' failed", slot[1])

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the requests routed to this version and its invocations have finished (before a reload
        retires it); at most the function timeout."""
        if timeout is None:
            limit = self.config.host.function_timeout
            timeout = limit.total_seconds() if limit is not None else 3600.0
        deadline = asyncio.get_running_loop().time() + timeout
        while (
            self.active_requests or self.invoker.in_flight
        ) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    # -- helpers used by the web layer, the CLI and the pytest plugin -------------------------------------------
    def find(self, name: str) -> BoundFunction | None:
        return self.bound.get(name.lower())

    def service(self, name: str) -> Any:
        return self.registry.service(name)

    def trigger_data(self, bound: BoundFunction, value: Any) -> TriggerData | Awaitable[TriggerData]:
        """A caller's input (admin-API text, a test's object), converted by the function's trigger plugin (or the
        generic rule when no plugin handles the trigger)."""
        trigger = bound.trigger.plugin
        if isinstance(trigger, Trigger):
            options = bound.trigger.static or bound.trigger.options({})
            return trigger.admin_input(bound.spec, options, value)
        text = value if isinstance(value, str) else str(value)
        return TriggerData(value=text, binding_data=json_binding_data(text))

    async def invoke_by_name(self, name: str, text: str) -> InvocationResult:
        bound = self.find(name)
        if bound is None:
            raise KeyError(name)
        return await self.invoker.invoke(bound, lambda: self.trigger_data(bound, text))

    def run_in_background(self, name: str, text: str) -> None:
        async def run() -> None:
            with contextlib.suppress(InvocationError):  # already logged as "Executed ... (Failed ...)"
                await self.invoke_by_name(name, text)

        task = asyncio.get_running_loop().create_task(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def invoke_url(self, bound: BoundFunction, base_url: str) -> str | None:
        """The URL that runs a function (HTTP triggers), for the admin API's metadata."""
        trigger = bound.trigger.plugin
        if not isinstance(trigger, Trigger) or bound.spec.errors:
            return None
        return trigger.invoke_url(bound.spec, bound.trigger.static or bound.trigger.options({}), base_url)

    def summaries(self, base_url: str) -> list[tuple[FunctionSpec, str, bool]]:
        """Per function: what the ``Functions:`` block shows after its name, and whether it has a URL."""
        rows = []
        for bound in self.bound.values():
            trigger = bound.trigger.plugin
            if isinstance(trigger, Trigger) and not bound.spec.errors:
                options = bound.trigger.static or bound.trigger.options({})
                url = trigger.invoke_url(bound.spec, options, base_url)
                rows.append((bound.spec, trigger.summary(bound.spec, options, base_url), url is not None))
            else:
                rows.append((bound.spec, bound.spec.trigger.type if bound.spec.bindings else "", False))
        return rows

    def describe(self) -> list[str]:
        lines: list[str] = []
        for plugin in self.registry.plugins:
            lines.extend(plugin.describe())
        return lines


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread; whatever it raises is re-raised here unchanged.

    Any exception travels back as a value: a ``GeneratorExit`` (an app's module code may raise one) set on an
    awaited future is thrown into the waiting task, and CPython answers a thrown ``GeneratorExit`` by closing the
    awaiting coroutines, which then see a new, bare ``GeneratorExit`` with no message and no traceback.
    """

    results: list[T] = []

    def run() -> BaseException | None:
        try:
            results.append(function(*args))
        except BaseException as exc:
            return exc
        return None

    raised = await asyncio.to_thread(run)
    if raised is not None:
        raise raised
    return results[0]


def _thread_count(config: AppConfig) -> int | None:
    raw = config.setting("PYTHON_THREADPOOL_THREAD_COUNT")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        log.warning(
            "PYTHON_THREADPOOL_THREAD_COUNT must be an integer >= 1, got '%s'; using the default (%d).",
            raw,
            min(32, (os.cpu_count() or 1) + 4),
        )
        return None
    return value


__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PORT", "ConfigError", "Host", "HostOptions"]
