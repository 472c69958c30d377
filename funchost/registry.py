"""Binding plugins: the protocol a plugin implements and how the host finds them.

A plugin is a callable registered under the entry-point group ``funchost.bindings``. The host calls it with a
:class:`HostApi` and gets back a :class:`Plugin`: a set of bindings that share state (a store, a client).
Each binding handles one binding ``type`` (matched case-insensitively) in one role: trigger, input or output.
"""

from __future__ import annotations

import builtins
import difflib
import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from funchost.expressions import json_binding_data

if TYPE_CHECKING:
    from funchost.spec import BindingSpec, FunctionSpec

ENTRY_POINT_GROUP = "funchost.bindings"
HOST_CALL_REASON = "This function was programmatically called via the host APIs."
COMMON_PROPERTIES = frozenset({"name", "type", "direction", "datatype"})

log = logging.getLogger("funchost.registry")


class BindingError(Exception):
    """A binding refused a value or could not do its work; the message says what and what to do."""

    status: int = 500


class BindingUnavailable(BindingError):
    """A backing service (storage, model endpoint) cannot be reached; worth retrying later."""

    status = 503


class BindingOptions(BaseModel):
    """A binding's properties; subclasses declare them in snake_case, the JSON spells them camelCase."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        coerce_numbers_to_str=True,
    )

    auto_resolve: ClassVar[frozenset[str]] = frozenset()
    """Properties (JSON spelling) that hold binding expressions: ``%Setting%`` and ``{data}``."""

    @classmethod
    def property_names(cls) -> dict[str, str]:
        """Lower-cased JSON name -> JSON name."""
        names: dict[str, str] = {}
        for fname, info in cls.model_fields.items():
            alias = info.alias or fname
            names[alias.lower()] = alias
        return names


@dataclass(frozen=True)
class TriggerData:
    """What a trigger hands to an invocation."""

    value: Any
    """The value passed to the trigger parameter."""
    binding_data: Mapping[str, Any] = field(default_factory=dict)
    """Names available to ``{expressions}`` in the other bindings."""
    reason: str = HOST_CALL_REASON


@dataclass(frozen=True)
class InvocationResult:
    """The committed outcome of a successful invocation."""

    invocation_id: str
    return_value: Any
    outputs: Mapping[str, Any]
    """Every output binding's value as set by the function (``$return`` included), None when unset."""


class CallContext(Protocol):
    """What a binding sees of the invocation it serves."""

    @property
    def function(self) -> FunctionSpec: ...
    @property
    def invocation_id(self) -> str: ...
    @property
    def binding_data(self) -> Mapping[str, Any]: ...
    @property
    def host(self) -> HostApi: ...


class HttpRoutes(Protocol):
    def add(self, template: str, methods: Sequence[str] | None, target: Any) -> object: ...


class HostApi(Protocol):
    """The host as plugins see it."""

    @property
    def script_root(self) -> Path: ...
    @property
    def settings(self) -> Mapping[str, str]:
        """App settings (local.settings.json Values over the environment), as the app sees them."""
        ...

    @property
    def functions(self) -> Sequence[FunctionSpec]: ...
    @property
    def routes(self) -> HttpRoutes: ...
    @property
    def route_prefix(self) -> str: ...
    @property
    def log(self) -> logging.Logger: ...

    def setting(self, name: str) -> str | None:
        """One app setting; ``a:b`` and ``a__b`` are the same name, matched case-insensitively."""
        ...

    def binding_options(self, function: FunctionSpec, binding: str) -> BindingOptions:
        """A binding's options as validated at index time (expressions unresolved)."""
        ...

    def provided(self, name: str) -> Any:
        """An object the embedder supplied (e.g. a test's store or scripted model), or None."""
        ...

    def authorize(self, request: Any, level: str) -> bool:
        """Whether a request carries a key good enough for an auth level (always true without --enable-auth)."""
        ...

    async def invoke(self, function: FunctionSpec, trigger: TriggerData) -> InvocationResult:
        """Run a function through the host's one invocation path; raises InvocationError on failure."""
        ...


class Binding(ABC):
    """One binding type in one role."""

    type: ClassVar[str]
    options: ClassVar[builtins.type[BindingOptions]] = BindingOptions

    def check(self, function: FunctionSpec, binding: BindingSpec, options: BindingOptions) -> None:
        """Index-time checks beyond the options model; raise BindingError to put the function in error."""


class Trigger(Binding):
    returns_to_caller: ClassVar[bool] = False
    """True when the function's return value goes back to whoever fired the trigger (skills)."""

    def admin_input(self, function: FunctionSpec, options: BindingOptions, text: str) -> TriggerData:
        """Turn an admin-API ``input`` string into trigger data (a JSON object's properties become data)."""
        return TriggerData(value=text, binding_data=json_binding_data(text))

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        """Begin listening for the functions this trigger serves."""


class InputBinding(Binding):
    @abstractmethod
    async def read(self, options: BindingOptions, call: CallContext) -> Any:
        """The value passed to the function's parameter."""


class OutputBinding(Binding):
    fan_out: ClassVar[bool] = True
    """A JSON array string is written as one item per element."""
    none_is_error: ClassVar[bool] = False
    """A ``$return`` of None fails the invocation (the worker cannot encode it), instead of writing nothing."""

    def parse(self, item: Any, options: BindingOptions, call: CallContext) -> Any:
        """Validate one item before anything is written; raise BindingError to refuse it."""
        return item

    @abstractmethod
    async def write(self, items: Sequence[Any], options: BindingOptions, call: CallContext) -> None:
        """Commit the parsed items of one output binding."""


class Plugin:
    """A set of bindings sharing state. Subclass it, or use it as is for stateless bindings."""

    name: str = "plugin"

    def __init__(self, host: HostApi, bindings: Sequence[Binding] = ()) -> None:
        self.host = host
        self.bindings: Sequence[Binding] = bindings
        self.services: dict[str, Any] = {}
        """Objects the plugin offers to tests and tools (e.g. ``store``, ``chat``)."""

    async def start(self) -> None:
        """Called once the app is indexed, before any trigger starts."""

    async def stop(self) -> None:
        """Stop serving this host version (a reload may hand shared resources to the next one)."""

    async def close(self) -> None:
        """Release shared resources for good (the process is ending)."""

    def describe(self) -> list[str]:
        """Lines for the start banner (what is used, where)."""
        return []


PluginFactory = Callable[[HostApi], Plugin]


@dataclass
class Registry:
    """The bindings of every loaded plugin, by lower-cased type."""

    plugins: list[Plugin] = field(default_factory=list)
    bindings: dict[str, Binding] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, plugin: Plugin) -> None:
        self.plugins.append(plugin)
        for binding in plugin.bindings:
            key = binding.type.lower()
            if key in self.bindings:
                self.errors.append(
                    f"Plugin '{plugin.name}' registers binding type '{binding.type}', which is already "
                    "registered; the first registration is kept."
                )
                continue
            self.bindings[key] = binding

    def find(self, binding_type: str) -> Binding | None:
        return self.bindings.get(binding_type.lower())

    def installed_types(self) -> list[str]:
        return sorted((b.type for b in self.bindings.values()), key=str.lower)

    def service(self, name: str) -> Any:
        for plugin in self.plugins:
            if name in plugin.services:
                return plugin.services[name]
        raise KeyError(f"no plugin offers a service named '{name}'")


@functools.cache
def plugin_factories() -> tuple[Mapping[str, PluginFactory], tuple[str, ...]]:
    """The plugin factories of the entry-point group, loaded once per process, and the load failures."""
    factories: dict[str, PluginFactory] = {}
    errors: list[str] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            factories[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin never takes the host down
            errors.append(f"Binding plugin '{ep.name}' ({ep.value}) failed to load: {exc!r}")
    return factories, tuple(errors)


def discover(host: HostApi, factories: Mapping[str, PluginFactory] | None = None) -> Registry:
    """Start every plugin (the entry points unless ``factories`` is given); a broken one is reported and
    skipped."""
    registry = Registry()
    if factories is None:
        factories, errors = plugin_factories()
        registry.errors.extend(errors)
    for name, factory in factories.items():
        try:
            plugin = factory(host)
        except Exception as exc:
            registry.errors.append(f"Binding plugin '{name}' failed to start: {exc!r}")
            continue
        registry.add(plugin)
    return registry


def parse_options(
    binding: Binding, raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> BindingOptions:
    """Validate a binding's properties against the plugin's options model.

    Keys match case-insensitively; an unknown key or a missing required one raises BindingError naming it.
    ``overrides`` replaces values (resolved expressions) by JSON name.
    """
    model = binding.options
    names = model.property_names()
    data: dict[str, Any] = {}
    for key, value in raw.items():
        lowered = key.lower()
        if lowered in COMMON_PROPERTIES:
            continue
        if lowered not in names:
            hint = difflib.get_close_matches(lowered, list(names), n=1)
            did_you_mean = f" Did you mean '{names[hint[0]]}'?" if hint else ""
            known = ", ".join(sorted(names.values())) or "none"
            raise BindingError(
                f"unknown property '{key}' for binding type '{binding.type}'.{did_you_mean} "
                f"Known properties: {known}."
            )
        data[names[lowered]] = value
    if overrides:
        data.update(overrides)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(binding)"
            problems.append(f"property '{where}': {err['msg']}")
        raise BindingError("; ".join(problems)) from None
