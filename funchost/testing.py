"""Run a function app in-process for integration tests: :class:`TestHost` and the :class:`Harness` behind it.

The pytest plugin (:mod:`funchost.pytest_plugin`) is a thin layer over :class:`Harness`; use the harness
directly to get the same hosts outside pytest. Plugins add keyword options to :meth:`Harness.start` (their
manifest's ``test_options``) and read them through a :class:`TestSetup`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestClient

from funchost.console import CaptureHandler, shown
from funchost.host import DEFAULT_MAX_BODY, Host, HostOptions
from funchost.indexing import unload_app
from funchost.invocation import FunctionTimeout, InvocationError
from funchost.plugin import BindingError, PluginInfo, ServiceKey, load_object, manifests
from funchost.registry import TriggerData
from funchost.web.app import HANDLER_LIMITS, Server

__all__ = ["AppLoadError", "FunctionNotFound", "Harness", "TestHost", "TestSetup"]

T = TypeVar("T")


class TestSetup:
    """What a plugin's test hook may arrange for one ``start()``: settings, provided services, paths."""

    __test__ = False

    def __init__(self, harness: Harness, settings: dict[str, str], services: dict[str, Any]) -> None:
        self._harness = harness
        self.settings = settings
        """App settings that win over everything (as start flags do)."""
        self._services = services
        self.environ: Mapping[str, str] = harness.environ

    def provide(self, key: ServiceKey[T], value: T) -> None:
        """Hand the plugin a stand-in (``HostApi.provided(key)`` returns it)."""
        self._services[key.name] = value

    def tmp_dir(self) -> Path:
        """A fresh folder for this test (created on first use)."""
        return self._harness.tmp_dir()

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A path given by the test, relative to the test root."""
        return self._harness.resolve(path)


class AppLoadError(Exception):
    """The app did not load cleanly (indexing, binding or plugin errors); the message lists every problem."""


class FunctionNotFound(LookupError):
    """``invoke()`` was asked for a function the app does not have."""


class TestHost:
    """One app running in-process on the test's event loop: HTTP client, services, invoke, captured logs."""

    __test__ = False  # not a test class, whatever pytest's collection rules say

    def __init__(
        self, host: Host, server: Server, client: TestClient[Any, Any], capture: CaptureHandler
    ) -> None:
        self.host = host
        self.server = server
        self.client = client
        self._capture = capture
        self._closed = False

    def __getitem__(self, key: ServiceKey[T]) -> T:
        """A service a plugin offers, typed by its key (e.g. ``test_host[STORE]``)."""
        value: T = self.service(key.name)
        return value

    def __getattr__(self, name: str) -> Any:
        """A service by name as an attribute (``test_host.<service name>``)."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.service(name)
        except LookupError as exc:
            raise AttributeError(str(exc)) from None

    def service(self, name: str) -> Any:
        """An object a plugin offers by name, else the stand-in the test provided under that name (its plugin may
        not have started: the app uses none of its binding types); LookupError lists those offered."""
        try:
            return self.host.service(name)
        except KeyError:
            if name in self.host.options.services:
                return self.host.options.services[name]
            registry = self.host.registry
            known = sorted({n for p in registry.plugins for n in p.services})
            idle = (
                f" Plugins are started only for apps using their binding types; this app uses none of "
                f"{', '.join(sorted(registry.idle_types, key=str.lower))}."
                if registry.idle_types
                else ""
            )
            raise LookupError(
                f"No plugin of the app at {self.host.script_root} offers a service named {name!r}; "
                f"offered: {', '.join(known) or 'none'}.{idle}"
            ) from None

    @property
    def records(self) -> list[logging.LogRecord]:
        """Every log record emitted since the host started (all loggers, all levels)."""
        return list(self._capture.records)

    @property
    def logs(self) -> list[str]:
        """Log lines as the console shows them: function and user logs from Information, host logs from
        Warning (one string per record, multi-line for failures)."""
        return [r.getMessage() for r in self._capture.records if shown(r)]

    async def invoke(self, name: str, input: Any = None) -> Any:
        """Run a function by name through the host's invocation path and return what it returned.

        ``input`` is what the admin API takes: text, or a dict/list sent as JSON (for a skill trigger, the
        arguments the model would send); a trigger plugin may take objects too (HTTP: a ``func.HttpRequest``).
        The function's own exception is re-raised; binding and timeout failures raise :class:`InvocationError`.
        """
        bound = self.host.find(name)
        if bound is None:
            names = ", ".join(sorted(b.spec.name for b in self.host.bound.values())) or "none"
            raise FunctionNotFound(
                f"The app at {self.host.script_root} has no function named {name!r}; its functions: {names}."
            )
        value = "" if input is None else json.dumps(input) if isinstance(input, dict | list) else input
        try:
            made = self.host.trigger_data(bound, value)
            trigger = made if isinstance(made, TriggerData) else await made
        except BindingError as exc:
            shown = repr(value)[:200]
            raise BindingError(f"Cannot run {bound.spec.name!r} with input {shown}: {exc}") from None
        try:
            result = await self.host.invoker.invoke(bound, trigger)
        except InvocationError as exc:
            cause = exc.cause
            if cause is None or isinstance(cause, BindingError | FunctionTimeout):
                raise
            raise cause from None
        return result.return_value

    async def close(self) -> None:
        """Stop the HTTP server and the host (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.client.close()
        finally:
            await self.host.close()


class Harness:
    """Starts apps for one test and undoes everything at :meth:`close`: hosts, environment, modules, logging.

    ``base`` is where relative app (and plugin option) paths are resolved; ``tmp_dir`` gives a fresh folder (for
    the SQLite store) and is called only when one is needed.
    """

    def __init__(
        self, base: Path, tmp_dir: Callable[[], Path], environ: Mapping[str, str] | None = None
    ) -> None:
        self.base = Path(base)
        self.tmp_dir = tmp_dir
        self.environ = os.environ if environ is None else environ
        self.plugins: tuple[PluginInfo, ...] | None = None
        """The plugins whose test hooks run (None: the installed ones)."""
        self.hosts: list[TestHost] = []
        self._env: dict[str, str] | None = None
        self._root_level: int | None = None
        self._handlers: list[logging.Handler] = []

    async def start(
        self,
        app: str | os.PathLike[str],
        *,
        settings: Mapping[str, str] | None = None,
        strict: bool = True,
        max_body: int | None = None,
        **plugin_options: Any,
    ) -> TestHost:
        """Load, start and serve the app at ``app``; AppLoadError (strict) when it does not load cleanly.

        ``max_body`` is the request-body limit in bytes (larger bodies get 413); None means Core Tools' default
        of 100 MiB. Other keywords belong to plugins (their manifests' ``test_options``); an unknown one is a
        TypeError naming those the installed plugins offer.
        """
        root = self.resolve(app)
        if not root.is_dir():
            raise FileNotFoundError(
                f"funchost: the app folder {os.fspath(app)!r} does not exist (looked at {root}). Pass the "
                f"folder holding function_app.py or host.json; relative paths start at {self.base}."
            )
        if self._env is None:
            self._env = dict(os.environ)
        given = {k: str(v) for k, v in (settings or {}).items()}
        os.environ.update(given)  # app code sees test settings as environment variables, as in Azure
        overrides = dict(given)
        services: dict[str, Any] = {}
        self._configure_plugins(TestSetup(self, overrides, services), plugin_options)
        capture = self._capture()
        options = HostOptions(
            script_root=root,
            overrides=overrides,
            services=services,
            environ=self.environ,
            plugins=self.plugins,
            index_in_thread=False,
        )
        host = await Host.load(options)
        host.config.warnings[:] = [w for w in host.config.warnings if not _shadowed(w, given)]
        try:
            await host.start()
            server = Server(host, max_body=DEFAULT_MAX_BODY if max_body is None else max_body)
            test_server = _HostTestServer(server, host="127.0.0.1")
            await test_server.start_server(  # as funchost start serves: its header limits, no access log
                access_log=None,
                max_line_size=HANDLER_LIMITS["max_line_size"],
                max_field_size=HANDLER_LIMITS["max_field_size"],
            )
            client: TestClient[Any, Any] = TestClient(test_server)
            await client.start_server()
        except BaseException:
            await host.close()
            raise
        test_host = TestHost(host, server, client, capture)
        self.hosts.append(test_host)
        problems = _problems(host)
        if strict and problems:
            raise AppLoadError(
                f"The app at {root} did not load cleanly:\n"
                + "\n".join(f"- {p}" for p in problems)
                + "\nFix the app, or pass strict=False to test a broken app."
            )
        return test_host

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A path relative to the harness base (absolute paths as they are)."""
        candidate = Path(path)
        return (candidate if candidate.is_absolute() else self.base / candidate).resolve()

    def _configure_plugins(self, setup: TestSetup, options: dict[str, Any]) -> None:
        plugins = self.plugins if self.plugins is not None else manifests()[0]
        offered = {name: info for info in plugins for name in info.test_options}
        unknown = sorted(set(options) - set(offered))
        if unknown:
            names = ", ".join(f"{n} ({offered[n].name})" for n in sorted(offered)) or "none"
            raise TypeError(
                f"start() got unknown option(s) {', '.join(map(repr, unknown))}; the installed plugins offer: "
                f"{names}. Check the spelling, or install the plugin that adds it."
            )
        for info in plugins:
            if info.testing is None:
                continue
            hook: Callable[[TestSetup, dict[str, Any]], None] = load_object(info.testing)
            hook(setup, {k: v for k, v in options.items() if k in info.test_options})

    def _capture(self) -> CaptureHandler:
        root = logging.getLogger()
        if self._root_level is None:
            self._root_level = root.level
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)
        handler = CaptureHandler()
        root.addHandler(handler)
        self._handlers.append(handler)
        return handler

    async def close(self) -> None:
        """Close every host, then restore the environment, the module table and the logging set-up."""
        errors: list[BaseException] = []
        for test_host in reversed(self.hosts):
            try:
                await test_host.close()
            except Exception as exc:
                errors.append(exc)
        self.hosts.clear()
        if self._env is not None:
            unload_app()
            _restore(os.environ, self._env)
            self._env = None
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
        self._handlers.clear()
        if self._root_level is not None:
            root.setLevel(self._root_level)
            self._root_level = None
        if errors:
            raise errors[0]


class _HostTestServer(BaseTestServer):
    """aiohttp's test server running the host's low-level server, as ``funchost start`` serves it."""

    def __init__(self, server: Server, **kwargs: Any) -> None:
        self._server = server
        super().__init__(**kwargs)

    async def _make_runner(self, **kwargs: Any) -> web.ServerRunner:
        return web.ServerRunner(self._server.low_level(**kwargs))


def _shadowed(warning: str, given: Mapping[str, str]) -> bool:
    """A "Skipping 'X' from local settings" warning about a setting the test itself gave."""
    return any(warning.startswith(f"Skipping '{name}' from local settings") for name in given)


def _problems(host: Host) -> list[str]:
    found = [*host.index.errors, *host.index.load_failures, *host.registry.errors]
    for bound in host.bound.values():
        found.extend(f"function '{bound.spec.name}': {e}" for e in bound.spec.errors)
    return found


def _restore(environ: os._Environ[str], saved: Mapping[str, str]) -> None:
    for key in [k for k in environ if k not in saved]:
        del environ[key]
    for key, value in saved.items():
        if environ.get(key) != value:
            environ[key] = value
