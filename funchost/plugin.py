"""THE public API for plugin authors: everything a binding plugin imports from funchost comes from here.

A plugin is two things:

* a light **manifest**, a :class:`PluginInfo` published under the entry-point group ``funchost.plugins``. The CLI
  and the test harness read it without importing the plugin: its start flags, its commands, its test options;
* a **factory** named by the manifest (``"package.module:Class"``), called with the :class:`HostApi` of each
  loaded app version. It returns a :class:`Plugin`: bindings (:class:`Trigger`, :class:`InputBinding`,
  :class:`OutputBinding`, each generic over its :class:`BindingOptions` model) that share state.

The manifest classes live in this module and import nothing heavy, so a manifest module stays cheap to import;
the binding classes are imported on first use.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from funchost.expressions import BindingData as BindingData
    from funchost.expressions import CaseSensitive as CaseSensitive
    from funchost.expressions import add_system_data as add_system_data
    from funchost.expressions import json_binding_data as json_binding_data
    from funchost.invocation import InvocationError as InvocationError
    from funchost.registry import Binding as Binding
    from funchost.registry import BindingOptions as BindingOptions
    from funchost.registry import CallContext as CallContext
    from funchost.registry import HostApi as HostApi
    from funchost.registry import InputBinding as InputBinding
    from funchost.registry import InvocationResult as InvocationResult
    from funchost.registry import OutputBinding as OutputBinding
    from funchost.registry import Plugin as Plugin
    from funchost.registry import Trigger as Trigger
    from funchost.registry import TriggerData as TriggerData
    from funchost.settings import AppConfig as AppSettings
    from funchost.spec import BindingSpec as BindingSpec
    from funchost.spec import FunctionSpec as FunctionSpec
    from funchost.testing import TestSetup as TestSetup

__all__ = [
    "ENTRY_POINT_GROUP",
    "AppSettings",
    "Binding",
    "BindingData",
    "BindingError",
    "BindingOptions",
    "BindingSpec",
    "BindingUnavailable",
    "CallContext",
    "CaseSensitive",
    "Command",
    "FunctionSpec",
    "HostApi",
    "InputBinding",
    "InvocationError",
    "InvocationResult",
    "OutputBinding",
    "Plugin",
    "PluginInfo",
    "ServiceKey",
    "StartFlag",
    "TestSetup",
    "Trigger",
    "TriggerData",
    "add_app_argument",
    "add_system_data",
    "json_binding_data",
    "read_app_settings",
]

ENTRY_POINT_GROUP = "funchost.plugins"
"""Entry points whose objects are :class:`PluginInfo` manifests."""

T = TypeVar("T")

_LAZY = {
    "InvocationError": "funchost.invocation",
    **dict.fromkeys(
        ("BindingData", "CaseSensitive", "add_system_data", "json_binding_data"), "funchost.expressions"
    ),
    "AppSettings": "funchost.settings:AppConfig",
    "BindingSpec": "funchost.spec",
    "FunctionSpec": "funchost.spec",
    "TestSetup": "funchost.testing",
    **dict.fromkeys(
        (
            "Binding",
            "BindingOptions",
            "CallContext",
            "HostApi",
            "InputBinding",
            "InvocationResult",
            "OutputBinding",
            "Plugin",
            "Trigger",
            "TriggerData",
        ),
        "funchost.registry",
    ),
}


class BindingError(Exception):
    """A binding refused a value or could not do its work; the message says what and what to do.

    Defined here, not with the binding classes, so that a plugin's command can raise it without importing
    pydantic."""

    status: int = 500


class BindingUnavailable(BindingError):
    """A backing service (storage, model endpoint) cannot be reached; worth retrying later."""

    status = 503


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'funchost.plugin' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value
    return value


def load_object(ref: str) -> Any:
    """The object a ``"package.module:attr"`` reference names."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"'{ref}' is not a 'package.module:attr' reference")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class ServiceKey(Generic[T]):
    """A typed name for an object a plugin offers (in the spirit of aiohttp's ``AppKey``).

    ``plugin.provide(STORE, store)`` offers it; ``test_host[STORE]`` reads it back typed; a test harness supplies
    a stand-in that ``host.provided(STORE)`` returns.
    """

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: type[T] | None = None) -> None:
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ServiceKey({self.name!r})"


@dataclass(frozen=True)
class StartFlag:
    """An option of ``funchost start`` that sets an app setting (the setting also works on its own)."""

    flag: str
    """``--store``"""
    setting: str
    """``FUNCHOST_STORE``: what the flag sets (it wins over local.settings.json and the environment)."""
    help: str
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    path: bool = False
    """The value is a file path: made absolute against the current folder before the host moves to the app."""


@dataclass(frozen=True)
class Command:
    """A ``funchost NAME ...`` sub-command; ``main(argv) -> exit code`` parses the arguments after NAME."""

    name: str
    help: str
    main: str
    """``"package.module:function"``, imported only when the command runs."""


@dataclass(frozen=True)
class PluginInfo:
    """A plugin's manifest: cheap to import, read by the CLI and the test harness."""

    name: str
    factory: str
    """``"package.module:callable"`` taking a :class:`HostApi` and returning a :class:`Plugin`."""
    flags: tuple[StartFlag, ...] = ()
    commands: tuple[Command, ...] = ()
    testing: str | None = None
    """``"package.module:callable"`` ``(setup: TestSetup, options: dict) -> None``: turns the keyword arguments
    of ``funchost(app, ...)`` named in :attr:`test_options` into settings and provided services."""
    test_options: tuple[str, ...] = ()
    binding_types: tuple[str, ...] = ()
    """The binding types the plugin registers. When given, the host starts the plugin only for an app that uses
    one of them, and does not even import its factory otherwise (a faster start, CLI and test for every other app).
    Leave it empty for a plugin that every app needs (one serving routes of its own). A plugin registering a type
    its manifest does not list is disabled with a message naming it."""

    def check(self) -> None:
        """Raise ValueError naming what is wrong with the manifest itself."""
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"plugin name {self.name!r} must be a non-empty word (letters, digits, - and _)")
        for ref in (
            self.factory,
            *(c.main for c in self.commands),
            *([self.testing] if self.testing else []),
        ):
            if ref.count(":") != 1 or ref.startswith(":") or ref.endswith(":"):
                raise ValueError(f"'{ref}' is not a 'package.module:attr' reference")
        for flag in self.flags:
            if not flag.flag.startswith("--"):
                raise ValueError(f"start flag {flag.flag!r} must start with '--'")
        if isinstance(self.binding_types, str):
            raise ValueError(
                f"binding_types is the string {self.binding_types!r}: give a tuple of type names, e.g. "
                f"({self.binding_types!r},) (mind the comma)"
            )
        for kind in self.binding_types:
            if not isinstance(kind, str) or not kind.isidentifier():
                raise ValueError(f"binding type {kind!r} must be a name such as 'myBinding'")


@functools.cache
def manifests() -> tuple[tuple[PluginInfo, ...], tuple[str, ...]]:
    """The installed plugins' manifests (entry points ``funchost.plugins``), loaded once per process, and the
    load failures (a broken plugin never takes the host down)."""
    found: list[PluginInfo] = []
    errors: list[str] = []
    for ep in sorted(_entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            info = ep.load()
            if not isinstance(info, PluginInfo):
                raise TypeError(
                    f"the entry point names {type(info).__name__}, not a funchost.plugin.PluginInfo"
                )
            info.check()
        except Exception as exc:
            errors.append(f"Binding plugin '{ep.name}' ({ep.value}) failed to load: {exc}")
            continue
        found.append(info)
    return tuple(found), tuple(errors)


@dataclass(frozen=True)
class _EntryPoint:
    name: str
    value: str

    def load(self) -> Any:
        return load_object(self.value.replace(" ", ""))


def _entry_points(group: str) -> Sequence[Any]:
    """The entry points of ``group``, read from the ``*.dist-info``/``*.egg-info`` folders on sys.path.

    ``importlib.metadata`` costs ~50 ms to import (email, zipfile, csv) on every CLI command; this reads the same
    ``entry_points.txt`` files (first distribution of a name on sys.path wins, as there). A zip on sys.path
    falls back to ``importlib.metadata``."""
    import os
    import sys

    if any(entry and os.path.isfile(entry) for entry in sys.path):
        from importlib.metadata import entry_points

        return list(entry_points(group=group))
    found: list[_EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            dist = folder.rsplit(".", 1)[0].partition("-")[0].lower().replace("_", "-").replace(".", "-")
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(entry or ".", folder, "entry_points.txt"), encoding="utf-8") as file:
                    text = file.read()
            except OSError:
                continue
            section = None
            for raw in text.splitlines():
                line = raw.strip()
                if not line or line.startswith(("#", ";")):
                    continue
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip()
                elif section == group and "=" in line:
                    name, _, value = line.partition("=")
                    found.append(_EntryPoint(name.strip(), value.partition("[")[0].strip()))
    return found


def add_app_argument(parser: Any) -> None:
    """Add funchost's ``--script-root`` (alias ``--prefix``) to a command's argparse parser."""
    parser.add_argument(
        "--script-root",
        "--prefix",
        dest="script_root",
        default=".",
        help="the function app folder (default: the current folder)",
    )


def read_app_settings(script_root: Path | str) -> AppSettings:
    """The app's settings as ``funchost start`` reads them (host.json, local.settings.json, environment).

    Raises ``funchost.settings.ConfigError`` (its message names the file and the fix)."""
    import os

    from funchost.settings import load_settings

    return load_settings(Path(script_root), dict(os.environ))


PluginFactory = Callable[["HostApi"], "Plugin"]
Manifests = Sequence[PluginInfo]
