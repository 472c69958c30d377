"""Run a function app in-process for integration tests: :class:`TestHost` and the :class:`Harness` behind it.

The pytest plugin (:mod:`funchost.pytest_plugin`) is a thin layer over :class:`Harness`; use the harness
directly to get the same hosts outside pytest. ``MemoryStore`` and ``ScriptedChatModel`` are re-exported
here, imported on first use so that importing funchost does not import the assistant bindings.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import azure.functions as func
from aiohttp.test_utils import TestClient, TestServer

from funchost.console import ALWAYS, CaptureHandler, is_system
from funchost.expressions import http_binding_data
from funchost.host import DEFAULT_MAX_BODY, Host, HostOptions
from funchost.indexing import unload_app
from funchost.invocation import FunctionTimeout, InvocationError
from funchost.registry import BindingError, TriggerData
from funchost.web.app import Server

if TYPE_CHECKING:
    from funchost_assistants.chat.scripted import ScriptedChatModel
    from funchost_assistants.stores.memory import MemoryStore

__all__ = [
    "CHAT_FROM_SETTINGS",
    "RECORD_ENV",
    "STORE_KINDS",
    "AppLoadError",
    "FunctionNotFound",
    "Harness",
    "MemoryStore",
    "ScriptedChatModel",
    "TestHost",
]

RECORD_ENV = "FUNCHOST_RECORD"
"""Set to 1 to record cassettes through the real model instead of replaying them."""
STORE_KINDS = ("memory", "sqlite", "tables")
CHAT_FROM_SETTINGS = "settings"
"""``chat=`` value that leaves the chat model to the app's settings (no scripted stand-in)."""

_LAZY = {
    "MemoryStore": "funchost_assistants.stores.memory",
    "ScriptedChatModel": "funchost_assistants.chat.scripted",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'funchost.testing' has no attribute {name!r}")


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

    @property
    def store(self) -> Any:
        """The assistant store the app uses (arrange and assert state through it)."""
        return self.service("store")

    @property
    def chat(self) -> Any:
        """The chat model the app uses: a ScriptedChatModel unless a cassette is in use."""
        return self.service("chat")

    def service(self, name: str) -> Any:
        """An object a plugin offers (``store``, ``chat``, ``assistants``); LookupError lists the offered."""
        try:
            return self.host.service(name)
        except KeyError:
            known = sorted({n for p in self.host.registry.plugins for n in p.services})
            raise LookupError(
                f"No plugin of the app at {self.host.script_root} offers a service named {name!r}; "
                f"offered: {', '.join(known) or 'none'}."
            ) from None

    @property
    def records(self) -> list[logging.LogRecord]:
        """Every log record emitted since the host started (all loggers, all levels)."""
        return list(self._capture.records)

    @property
    def logs(self) -> list[str]:
        """Log lines as the console shows them: function and user logs from Information, host logs from
        Warning (one string per record, multi-line for failures)."""
        return [r.getMessage() for r in self._capture.records if _shown(r)]

    async def invoke(self, name: str, input: Any = None) -> Any:
        """Run a function by name through the host's invocation path and return what it returned.

        ``input`` is what the admin API takes: text, or a dict/list sent as JSON (for a skill trigger, the
        arguments the model would send). HTTP functions take a ``func.HttpRequest``. The function's own
        exception is re-raised; binding and timeout failures raise :class:`InvocationError`.
        """
        bound = self.host.find(name)
        if bound is None:
            names = ", ".join(sorted(b.spec.name for b in self.host.bound.values())) or "none"
            raise FunctionNotFound(
                f"The app at {self.host.script_root} has no function named {name!r}; its functions: {names}."
            )
        if isinstance(input, func.HttpRequest):
            trigger = _http_trigger_data(input)
        else:
            text = "" if input is None else input if isinstance(input, str) else json.dumps(input)
            try:
                trigger = self.host.trigger_data(bound, text)
            except BindingError as exc:
                if bound.spec.is_http:
                    raise TypeError(
                        f"{bound.spec.name!r} is an HTTP function: pass a func.HttpRequest to invoke(), "
                        "or call its route through host.client."
                    ) from None
                raise BindingError(
                    f"Cannot run {bound.spec.name!r} with input {text[:200]!r}: {exc}"
                ) from None
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


def _shown(record: logging.LogRecord) -> bool:
    if getattr(record, ALWAYS, False):
        return True
    return record.levelno >= (logging.WARNING if is_system(record.name) else logging.INFO)


def _http_trigger_data(req: func.HttpRequest) -> TriggerData:
    body = req.get_body()
    headers = {k.lower(): v for k, v in req.headers.items()}
    data = http_binding_data(
        body=body,
        content_length=len(body),
        query=list(req.params.items()),
        route=dict(req.route_params),
        headers=headers,
        request=req,
    )
    return TriggerData(req, data)


class Harness:
    """Starts apps for one test and undoes everything at :meth:`close`: hosts, environment, modules, logging.

    ``base`` is where relative app and cassette paths are resolved; ``tmp_dir`` gives a fresh folder (for
    the SQLite store) and is called only when one is needed.
    """

    def __init__(
        self, base: Path, tmp_dir: Callable[[], Path], environ: Mapping[str, str] | None = None
    ) -> None:
        self.base = Path(base)
        self.tmp_dir = tmp_dir
        self.environ = os.environ if environ is None else environ
        self.hosts: list[TestHost] = []
        self._env: dict[str, str] | None = None
        self._root_level: int | None = None
        self._handlers: list[logging.Handler] = []

    async def start(
        self,
        app: str | os.PathLike[str],
        *,
        settings: Mapping[str, str] | None = None,
        store: Any = "memory",
        chat: Any = None,
        cassette: str | os.PathLike[str] | None = None,
        strict: bool = True,
        max_body: int | None = None,
    ) -> TestHost:
        """Load, start and serve the app at ``app``; AppLoadError (strict) when it does not load cleanly.

        ``chat`` is a chat model object, None for a fresh ScriptedChatModel, or ``"settings"`` for the model
        the app's settings name (as ``funchost start`` opens it). ``max_body`` is the request-body limit in
        bytes (larger bodies get 413); None means Core Tools' default of 100 MiB.
        """
        root = self._resolve(app)
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
        self._choose_store(store, overrides, services)
        self._choose_chat(chat, cassette, overrides, services)
        capture = self._capture()
        options = HostOptions(script_root=root, overrides=overrides, services=services, environ=self.environ)
        host = await Host.load(options)
        host.config.warnings[:] = [w for w in host.config.warnings if not _shadowed(w, given)]
        try:
            await host.start()
            server = Server(host, max_body=DEFAULT_MAX_BODY if max_body is None else max_body)
            client: TestClient[Any, Any] = TestClient(TestServer(server.app, host="127.0.0.1"))
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

    def _resolve(self, path: str | os.PathLike[str]) -> Path:
        candidate = Path(path)
        return (candidate if candidate.is_absolute() else self.base / candidate).resolve()

    def _choose_store(self, store: Any, overrides: dict[str, str], services: dict[str, Any]) -> None:
        if not isinstance(store, str):
            services["store"] = store
            return
        kind = store.strip().lower()
        if kind not in STORE_KINDS:
            raise ValueError(
                f"store={store!r} is not a store kind: use one of {', '.join(STORE_KINDS)}, "
                "or pass a store object."
            )
        overrides["FUNCHOST_STORE"] = kind
        if kind == "memory":
            from funchost_assistants.stores.memory import MemoryStore

            services["store"] = MemoryStore()
        elif kind == "sqlite":
            from funchost_assistants.stores.sqlite import SqliteStore

            services["store"] = SqliteStore(self.tmp_dir() / "assistants.db")

    def _choose_chat(
        self,
        chat: Any,
        cassette: str | os.PathLike[str] | None,
        overrides: dict[str, str],
        services: dict[str, Any],
    ) -> None:
        if cassette is None:
            if isinstance(chat, str):
                if chat.strip().lower() != CHAT_FROM_SETTINGS:
                    raise ValueError(
                        f"chat={chat!r} is not a chat choice: pass a chat model object, None for a "
                        f"ScriptedChatModel, or {CHAT_FROM_SETTINGS!r} for the model the app's settings name."
                    )
                return  # no stand-in: the plugin opens the model from the settings
            if chat is None:
                from funchost_assistants.chat.scripted import ScriptedChatModel

                chat = ScriptedChatModel()
            services["chat"] = chat
            return
        if chat is not None:
            raise ValueError("Pass either chat=... or cassette=..., not both.")
        path = self._resolve(cassette)
        if self.environ.get(RECORD_ENV, "").strip().lower() in ("1", "true", "yes"):
            path.unlink(missing_ok=True)
            overrides["FUNCHOST_CHAT_RECORD"] = str(path)  # the plugin opens the real model from the settings
            return
        from funchost_assistants.chat.cassette import ReplayChatModel

        if not path.is_file():
            raise FileNotFoundError(
                f"The cassette {path} does not exist: record it once with {RECORD_ENV}=1 (the app's settings "
                "must reach the real model), or fix the path."
            )
        services["chat"] = ReplayChatModel(path)

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


def _shadowed(warning: str, given: Mapping[str, str]) -> bool:
    """A "Skipping 'X' from local settings" warning about a setting the test itself gave."""
    return any(warning.startswith(f"Skipping '{name}' from local settings") for name in given)


def _problems(host: Host) -> list[str]:
    found = [*host.index.errors, *host.registry.errors]
    for bound in host.bound.values():
        found.extend(f"function '{bound.spec.name}': {e}" for e in bound.spec.errors)
    return found


def _restore(environ: os._Environ[str], saved: Mapping[str, str]) -> None:
    for key in [k for k in environ if k not in saved]:
        del environ[key]
    for key, value in saved.items():
        if environ.get(key) != value:
            environ[key] = value
