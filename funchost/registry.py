"""Binding plugins: the classes a plugin implements, and how the host finds, validates and isolates them.

Plugin authors import these through :mod:`funchost.plugin`. A manifest (:class:`funchost.plugin.PluginInfo`,
entry-point group ``funchost.plugins``) names a factory; the host calls it with a :class:`HostApi` and gets back
a :class:`Plugin`: a set of bindings that share state (a store, a client). Each binding handles one binding
``type`` (matched case-insensitively) in one role: trigger, input or output.
"""

from __future__ import annotations

import builtins
import logging
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from funchost.expressions import json_binding_data
from funchost.plugin import BindingError, PluginInfo, ServiceKey, load_object, manifests

if TYPE_CHECKING:
    from aiohttp import web

    from funchost.spec import BindingSpec, FunctionSpec

HOST_CALL_REASON = "This function was programmatically called via the host APIs."
COMMON_PROPERTIES = frozenset({"name", "type", "direction", "datatype"})

log = logging.getLogger("funchost.registry")


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
        """Lower-cased JSON name -> JSON name (computed once per class; do not mutate)."""
        names = _PROPERTY_NAMES.get(cls)
        if names is None:
            names = {}
            for fname, info in cls.model_fields.items():
                alias = info.alias or fname
                names[alias.lower()] = alias
            _PROPERTY_NAMES[cls] = names
        return names


_PROPERTY_NAMES: weakref.WeakKeyDictionary[type[BindingOptions], dict[str, str]] = weakref.WeakKeyDictionary()
"""Options class -> its property names (pydantic's ``model_fields`` is slow to read on every binding)."""


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
    @property
    def binding(self) -> BindingSpec | None:
        """The binding being read or written (None for the trigger)."""
        ...


OptionsT = TypeVar("OptionsT", bound=BindingOptions)
K = TypeVar("K")

HttpHandler = Callable[["web.BaseRequest"], Awaitable["web.StreamResponse | None"]]
"""Serves an app request, or returns None to let the next handler (finally a 404) have it."""
AdminHandler = Callable[["web.BaseRequest"], Awaitable["web.StreamResponse"]]


class HostApi(Protocol):
    """The host as plugins see it (one loaded version of the app)."""

    @property
    def script_root(self) -> Path: ...
    @property
    def settings(self) -> Mapping[str, str]:
        """App settings (local.settings.json Values over the environment), as the app sees them."""
        ...

    @property
    def functions(self) -> Sequence[FunctionSpec]: ...
    @property
    def route_prefix(self) -> str:
        """host.json ``extensions.http.routePrefix`` (default ``api``)."""
        ...

    @property
    def port(self) -> int: ...
    @property
    def log(self) -> logging.Logger: ...

    def setting(self, name: str) -> str | None:
        """One app setting; ``a:b`` and ``a__b`` are the same name, matched case-insensitively."""
        ...

    def extension(self, name: str) -> Mapping[str, Any]:
        """host.json ``extensions.<name>`` (names matched case-insensitively), empty when absent."""
        ...

    def binding_options(self, function: FunctionSpec, binding: str) -> BindingOptions:
        """A binding's options as validated at index time (expressions unresolved)."""
        ...

    def provided(self, key: ServiceKey[K]) -> K | None:
        """An object the embedder supplied for ``key`` (e.g. a test's store or scripted model), or None."""
        ...

    def keep(self, key: str, factory: Callable[[], K]) -> K:
        """One object per app and ``key`` for the whole process, kept across hot reloads (stores, clients, locks,
        pollers' state); made by ``factory`` on first use, closed (``close()``, awaited if async) when the
        process ends. Prefix keys with the plugin name."""
        ...

    def serve_http(self, handler: HttpHandler) -> None:
        """Offer a handler for app requests (every path but ``/admin/...``), tried in registration order."""
        ...

    def serve_admin(self, method: str, path: str, handler: AdminHandler) -> None:
        """Add an admin endpoint, e.g. ``("GET", "/admin/warmup", ...)``; admin keys apply as for the others."""
        ...

    def authorize(self, request: Any, level: str) -> bool:
        """Whether a request carries a key good enough for an auth level (always true without --enable-auth)."""
        ...

    async def invoke(self, function: FunctionSpec, trigger: TriggerData) -> InvocationResult:
        """Run a function through the host's one invocation path; raises InvocationError on failure."""
        ...


class Binding(ABC, Generic[OptionsT]):
    """One binding type in one role, generic over its options model."""

    type: ClassVar[str]
    options: builtins.type[OptionsT]

    def check(self, function: FunctionSpec, binding: BindingSpec, options: OptionsT) -> None:
        """Index-time checks beyond the options model; raise BindingError to put the function in error."""


class Trigger(Binding[OptionsT]):
    returns_to_caller: ClassVar[bool] = False
    """True when the function's return value goes back to whoever fired the trigger (skills)."""
    supports_retry: ClassVar[bool] = False
    """True when the host applies ``@app.retry`` policies to this trigger's runs (as the runtime does for timer,
    Event Hubs, Cosmos DB, Kafka); other triggers get the runtime's "not supported" warning."""

    def admin_input(
        self, function: FunctionSpec, options: OptionsT, value: Any
    ) -> TriggerData | Awaitable[TriggerData]:
        """Turn a caller's value into trigger data: the admin API's ``input`` string, or an object a test passes
        to ``invoke``; may be async (e.g. to read from storage). By default the text is the value and a JSON object's
        properties become binding data."""
        if not isinstance(value, str):
            raise BindingError(f"a '{self.type}' function takes a string input, not {type(value).__name__}")
        return TriggerData(value=value, binding_data=json_binding_data(value))

    def summary(self, function: FunctionSpec, options: OptionsT, base_url: str) -> str:
        """What the ``Functions:`` block shows after the function's name (the trigger type by default)."""
        return function.trigger.type

    def invoke_url(self, function: FunctionSpec, options: OptionsT, base_url: str) -> str | None:
        """The URL that runs the function, for triggers that have one (HTTP)."""
        return None

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        """Begin listening for the functions this trigger serves (stop in :meth:`Plugin.stop`)."""


class InputBinding(Binding[OptionsT]):
    @abstractmethod
    async def read(self, options: OptionsT, call: CallContext) -> Any:
        """The value passed to the function's parameter."""


class OutputBinding(Binding[OptionsT]):
    fan_out: ClassVar[bool] = True
    """A JSON array string is written as one item per element."""
    none_is_error: ClassVar[bool] = False
    """A ``$return`` of None fails the invocation (the worker cannot encode it), instead of writing nothing."""
    writes: ClassVar[bool] = True
    """False for an output its trigger answers with (the http response): :meth:`parse` still validates the value
    before anything is written, :meth:`write` is not called."""

    def parse(self, item: Any, options: OptionsT, call: CallContext) -> Any:
        """Validate one item before anything is written; raise BindingError to refuse it."""
        return item

    @abstractmethod
    async def write(self, items: Sequence[Any], options: OptionsT, call: CallContext) -> None:
        """Commit the parsed items of one output binding."""


AnyBinding = Binding[Any]


class Plugin:
    """A named set of bindings sharing state. Subclass it, or use it as is for stateless bindings."""

    def __init__(self, name: str, host: HostApi, bindings: Sequence[AnyBinding] = ()) -> None:
        self.name = name
        self.host = host
        self.bindings: Sequence[AnyBinding] = bindings
        self.services: dict[str, Any] = {}
        """Objects the plugin offers to tests and tools, by service name."""

    def provide(self, key: ServiceKey[K], value: K) -> None:
        """Offer an object to tests and tools under ``key``."""
        self.services[key.name] = value

    async def start(self) -> None:
        """Called once the app is indexed, before any trigger starts."""

    async def stop(self) -> None:
        """Stop serving this host version (a reload may hand kept resources to the next one)."""

    async def close(self) -> None:
        """The process (or test) is ending: release what :meth:`stop` left."""

    def describe(self) -> list[str]:
        """Lines for the start banner (what is used, where)."""
        return []


PluginFactory = Callable[[HostApi], Plugin]


@dataclass
class Registry:
    """The bindings of every started plugin, by lower-cased type."""

    plugins: list[Plugin] = field(default_factory=list)
    bindings: dict[tuple[str, Role], AnyBinding] = field(default_factory=dict)
    """By lower-cased type and role: one type may have both an input and an output binding."""
    errors: list[str] = field(default_factory=list)
    idle_types: set[str] = field(default_factory=set)
    """Types of the installed plugins not started for this app (it uses none of their manifest's types)."""

    def add(self, plugin: Plugin, source: str, declared: Collection[str] = ()) -> None:
        """Validate and register a plugin; a plugin that fails validation is reported and left out whole.
        ``declared``: the binding types its manifest lists (empty: not listed)."""
        problems = _verify(plugin, source, declared)
        if problems:
            self.errors.append(
                f"Binding plugin '{source}' is disabled: "
                + "; ".join(problems)
                + ". Fix the plugin or uninstall it."
            )
            return
        self.plugins.append(plugin)
        for binding in plugin.bindings:
            for role in roles(binding):
                key = (binding.type.lower(), role)
                if key in self.bindings:
                    self.errors.append(
                        f"Plugin '{plugin.name}' registers binding type '{binding.type}' ({role}), which is "
                        "already registered; the first registration is kept."
                    )
                    continue
                self.bindings[key] = binding

    def find(self, binding_type: str, role: Role) -> AnyBinding | None:
        return self.bindings.get((binding_type.lower(), role))

    def roles_of(self, binding_type: str) -> list[Role]:
        kind = binding_type.lower()
        return [role for (t, role) in self.bindings if t == kind]

    def installed_types(self) -> list[str]:
        """Every installed binding type, the idle plugins' included."""
        return sorted({b.type for b in self.bindings.values()} | self.idle_types, key=str.lower)

    def service(self, name: str) -> Any:
        for plugin in self.plugins:
            if name in plugin.services:
                return plugin.services[name]
        raise KeyError(f"no plugin offers a service named '{name}'")


Role = Literal["trigger", "in", "out"]


def roles(binding: AnyBinding) -> list[Role]:
    """The roles a binding object plays (an object may be both an input and an output binding)."""
    found: list[Role] = []
    if isinstance(binding, Trigger):
        found.append("trigger")
    if isinstance(binding, InputBinding):
        found.append("in")
    if isinstance(binding, OutputBinding):
        found.append("out")
    return found


def _verify(plugin: object, source: str, declared: Collection[str]) -> list[str]:
    """What is wrong with a plugin object (pluggy-style validation at registration)."""
    if not isinstance(plugin, Plugin):
        return [f"its factory returned {type(plugin).__name__}, not a funchost.plugin.Plugin"]
    problems: list[str] = []
    if not isinstance(getattr(plugin, "name", None), str) or not plugin.name:
        problems.append("it has no name (pass one to Plugin.__init__)")
    listed = {t.lower() for t in declared}
    for binding in plugin.bindings:
        label = type(binding).__name__
        if not isinstance(binding, Trigger | InputBinding | OutputBinding):
            problems.append(f"{label} is not a Trigger, InputBinding or OutputBinding")
            continue
        kind = getattr(binding, "type", None)
        if not isinstance(kind, str) or not kind:
            problems.append(
                f"{label} has no binding 'type' (set the class attribute, e.g. type = \"myBinding\")"
            )
        elif isinstance(binding, Trigger) != kind.lower().endswith("trigger"):
            problems.append(
                f"{label} (type '{kind}'): trigger types end in 'Trigger' and only triggers do, as the host reads it"
            )
        elif listed and kind.lower() not in listed:
            problems.append(
                f"{label} registers type '{kind}', which the manifest's binding_types ({', '.join(declared)}) "
                "does not list: the host would not start the plugin for an app using only that type; add it there"
            )
        model = getattr(binding, "options", None)
        if not (isinstance(model, builtins.type) and issubclass(model, BindingOptions)):
            problems.append(f"{label} has no options model (set options = a BindingOptions subclass)")
    return problems


def discover(
    host: HostApi, plugins: Sequence[PluginInfo] | None = None, used: Collection[str] | None = None
) -> Registry:
    """Start the plugins an app needs, from ``plugins`` (default: the installed manifests): each one whose manifest
    lists no binding types, and each listing a type in ``used`` (the app's binding types; None: every plugin).
    The others are not imported. A broken plugin is reported and skipped; the others keep working."""
    registry = Registry()
    if plugins is None:
        plugins, errors = manifests()
        registry.errors.extend(errors)
    wanted = None if used is None else {kind.lower() for kind in used}
    for info in plugins:
        if (
            info.binding_types
            and wanted is not None
            and wanted.isdisjoint(t.lower() for t in info.binding_types)
        ):
            registry.idle_types.update(info.binding_types)
            continue
        try:
            factory: PluginFactory = load_object(info.factory)
        except Exception as exc:
            registry.errors.append(f"Binding plugin '{info.name}' ({info.factory}) failed to load: {exc!r}")
            continue
        try:
            plugin = factory(host)
        except Exception as exc:
            registry.errors.append(f"Binding plugin '{info.name}' failed to start: {exc!r}")
            continue
        registry.add(plugin, info.name, info.binding_types)
    return registry


def parse_options(
    binding: AnyBinding, raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
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
            import difflib  # only for this message: it costs a few ms at start

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
        options: BindingOptions = model.model_validate(data)
        return options
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(binding)"
            problems.append(f"property '{where}': {err['msg']}")
        raise BindingError("; ".join(problems)) from None
