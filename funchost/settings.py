"""host.json + local.settings.json -> typed, frozen settings, read the way Core Tools and the host read them.

Decisions where funchost differs from Core Tools on purpose:

- A missing ``host.json`` is treated as ``{"version": "2.0"}`` with a warning; funchost never writes files.
- ``local.settings.json`` without ``IsEncrypted`` is read as plain text. Core Tools defaults it to ``true``
  and then fails to decrypt plain values, so a file without the flag only works there when it has no
  values; users who leave the flag out mean plain text. ``"IsEncrypted": true`` with any value is refused
  (funchost cannot decrypt DataProtection ciphertext).
- ``Values`` numbers and booleans become strings as Newtonsoft does (booleans, and strings equal to
  true/false in any case, are lower-cased); an object or array value is skipped with a warning instead of
  discarding the whole file.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from funchost.dotnet import TIMESPAN_MAX_TEXT, parse_timespan

__all__ = [
    "DEFAULT_FUNCTION_TIMEOUT",
    "DEFAULT_ROUTE_PREFIX",
    "AppConfig",
    "ConfigError",
    "ConnectionString",
    "HostJson",
    "LocalSettings",
    "environment_updates",
    "export_environment",
    "functions_override",
    "host_environment",
    "is_secret",
    "load_settings",
    "mask",
    "redact",
]

HOST_JSON = "host.json"
LOCAL_SETTINGS_JSON = "local.settings.json"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)
MIN_FUNCTION_TIMEOUT = timedelta(seconds=1)
DEFAULT_SQL_PROVIDER = "System.Data.SqlClient"
JOB_HOST_SECTION = "AzureFunctionsJobHost"
DEFAULT_WATCH_DIRECTORIES = ("node_modules",)
DEFAULT_WATCH_FILES = ("host.json", "function.json", "proxies.json")
LOG_LEVELS = ("Trace", "Debug", "Information", "Warning", "Error", "Critical", "None")
_HOSTJSON_DOCS = "https://aka.ms/functions-hostjson"
_MASK = "***"


class ConfigError(Exception):
    """A configuration file or setting the host cannot start with."""

    def __init__(self, message: str, *, path: Path | str, hint: str) -> None:
        self.message = message
        self.path = str(path)
        self.hint = hint
        super().__init__(f"{message}\n  file: {self.path}\n  fix: {hint}")


@dataclass(frozen=True)
class HostJson:
    """host.json after environment overrides (``AzureFunctionsJobHost__a__b``) are applied."""

    path: Path
    exists: bool = True
    version: str = "2.0"
    route_prefix: str = DEFAULT_ROUTE_PREFIX
    function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT
    """None means unbounded (``"-1"``)."""
    log_level_default: str | None = None
    log_levels: dict[str, str] = field(default_factory=dict)
    """The full ``logging.logLevel`` map, category -> canonical level name."""
    functions: list[str] | None = None
    """The allow-list; None when every function runs."""
    custom_headers: dict[str, str] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    """``extensions.http`` as written (env overrides arrive as strings)."""
    watch_directories: list[str] = field(default_factory=lambda: list(DEFAULT_WATCH_DIRECTORIES))
    watch_files: list[str] = field(default_factory=lambda: list(DEFAULT_WATCH_FILES))
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectionString:
    """One ``ConnectionStrings`` entry of local.settings.json."""

    value: str
    provider_name: str | None = DEFAULT_SQL_PROVIDER


@dataclass(frozen=True)
class LocalSettings:
    """local.settings.json as read (before the environment is considered)."""

    path: Path
    exists: bool = False
    is_encrypted: bool = False
    values: dict[str, str] = field(default_factory=dict)
    connection_strings: dict[str, ConnectionString] = field(default_factory=dict)
    local_http_port: int | None = None
    local_http_address: str | None = None
    cors: list[str] = field(default_factory=list)
    cors_credentials: bool = False


@dataclass(frozen=True)
class AppConfig:
    """Everything the host needs from the app folder's configuration."""

    script_root: Path
    host: HostJson
    local: LocalSettings
    warnings: list[str] = field(default_factory=list)
    """Lines the host prints at start, in order."""
    settings: dict[str, str] = field(default_factory=dict)
    """Effective app settings: local values the environment does not define, the environment, then the
    port-independent variables Core Tools injects. Lookups through :meth:`setting` let the environment win."""
    injected: dict[str, str] = field(default_factory=dict)
    """local.settings.json entries (Values and ``ConnectionStrings:{name}``) that reach the environment."""
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Build the case-insensitive lookup index (later entries win)."""
        object.__setattr__(self, "_index", {_norm(k): v for k, v in self.settings.items()})

    def setting(self, name: str) -> str | None:
        """An app setting by name: case-insensitive, ``:`` and ``__`` equivalent."""
        return self._index.get(_norm(name))

    def extension(self, name: str) -> dict[str, Any]:
        """host.json ``extensions.<name>`` (case-insensitive), empty when absent."""
        section = _get_ci(self.host.raw, "extensions", name)
        return section if isinstance(section, dict) else {}

    def connection(self, name: str) -> str | None:
        """A binding ``connection`` value: ``ConnectionStrings:{name}`` first, then the plain setting."""
        value = self.setting(f"ConnectionStrings:{name}")
        return value if value is not None else self.setting(name)


# --- JSON reading


@functools.lru_cache(maxsize=64)
def _strip_json_extras(text: str) -> str:
    """Blank out comments and trailing commas (Newtonsoft accepts both), keeping line/column positions.

    Cached by content: a test session or a reload reads the same host.json and local.settings.json again and
    again, and this character loop is most of the cost of reading them."""
    out = list(text)
    i, n = 0, len(text)
    last_comma = -1
    while i < n:
        ch = text[i]
        if ch == '"':
            last_comma = -1
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if out[j] != "\n":
                    out[j] = " "
            i = end
        elif ch == ",":
            last_comma = i if last_comma < 0 else -2  # a doubled comma stays an error
            i += 1
        elif ch in "}]":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
            i += 1
        else:
            if not ch.isspace():
                last_comma = -1
            i += 1
    return "".join(out)


class _JsonProblem(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _read_json_object(path: Path) -> dict[str, Any]:
    """Parse a JSON object file the way Newtonsoft's JObject.Parse does."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(_strip_json_extras(text))
    except json.JSONDecodeError as exc:
        raise _JsonProblem(f"{exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    if not isinstance(data, dict):
        raise _JsonProblem(f"The file must hold a JSON object, found {_json_kind(data)} at line 1, column 1.")
    return data


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float):
        return "a number"
    return "a string"


def _scalar_text(value: Any) -> str:
    """A JSON scalar as .NET configuration renders it (invariant culture)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value).replace("e", "E")
    return str(value)


def _get_ci(obj: Mapping[str, Any], *path: str) -> Any:
    """A nested value by case-insensitive keys, or None."""
    node: Any = obj
    for part in path:
        if not isinstance(node, Mapping):
            return None
        if part in node:
            node = node[part]
            continue
        lowered = part.lower()
        node = next((v for k, v in node.items() if k.lower() == lowered), None)
    return node


def _norm(name: str) -> str:
    return name.replace("__", ":").lower()


# --- host.json


def _apply_overrides(raw: dict[str, Any], settings: Mapping[str, str]) -> dict[str, str]:
    """Merge ``AzureFunctionsJobHost__a__b`` settings into host.json; returns dotted path -> setting name."""
    prefix = JOB_HOST_SECTION.lower() + ":"
    sources: dict[str, str] = {}
    for name in sorted(settings):
        key = _norm(name)
        if not key.startswith(prefix) or len(key) == len(prefix):
            continue
        parts = name.replace("__", ":").split(":")[1:]
        if any(not p for p in parts):
            continue
        _set_path(raw, parts, settings[name])
        sources[".".join(parts).lower()] = name
    return sources


def _set_path(root: dict[str, Any], parts: Sequence[str], value: str) -> None:
    """Set a value at a configuration path, matching keys case-insensitively and indexing lists."""
    node: Any = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: Any = value if last else ([] if parts[i + 1].isdigit() else {})
        if isinstance(node, list):
            if not part.isdigit():
                return
            index = int(part)
            while len(node) <= index:
                node.append(None)
            if last or not isinstance(node[index], dict | list):
                node[index] = nxt
            node = node[index]
        elif isinstance(node, dict):
            key = next((k for k in node if k.lower() == part.lower()), part)
            if last or not isinstance(node.get(key), dict | list):
                node[key] = nxt
            node = node[key]
        else:
            return


def _hint_source(sources: Mapping[str, str], dotted: str) -> str:
    name = sources.get(dotted.lower())
    return f" (set by the setting '{name}')" if name else ""


def _string_list(value: Any, what: str, path: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(
            f"host.json '{what}' must be an array of strings, found {_json_kind(value)}.",
            path=path,
            hint=f'Write it as an array, e.g. "{what}": ["name1", "name2"].',
        )
    return [_scalar_text(v) for v in value if v is not None]


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _parse_function_timeout(value: Any, path: Path, source: str, warnings: list[str]) -> timedelta | None:
    if value is None:
        return DEFAULT_FUNCTION_TIMEOUT
    text = _scalar_text(value)
    try:
        span = parse_timespan(text)
    except ValueError:
        raise ConfigError(
            f"host.json 'functionTimeout' value '{text}'{source} is not a valid TimeSpan.",
            path=path,
            hint='Use "hh:mm:ss" (e.g. "00:10:00"), "d.hh:mm:ss", or "-1" for no timeout.',
        ) from None
    if span == timedelta(days=-1):
        return None
    if span < MIN_FUNCTION_TIMEOUT:
        raise ConfigError(
            f"FunctionTimeout must be greater than 00:00:01 and less than {TIMESPAN_MAX_TEXT}.",
            path=path,
            hint=f"host.json 'functionTimeout' is '{text}'{source}; use at least \"00:00:01\", "
            'or "-1" for no timeout.',
        )
    if text.strip().lstrip("-").isdigit():
        warnings.append(
            f"host.json 'functionTimeout' value '{text}' is read as {span.days} day(s): a bare number means "
            'days. Write "hh:mm:ss" (e.g. "00:05:00") for minutes or seconds.'
        )
    return span


def _parse_log_levels(value: Any, path: Path, sources: Mapping[str, str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"host.json 'logging.logLevel' must be an object, found {_json_kind(value)}.",
            path=path,
            hint='Write it as {"default": "Information", "Function": "Information"}.',
        )
    canonical = {level.lower(): level for level in LOG_LEVELS}
    levels: dict[str, str] = {}
    for category, level in value.items():
        text = "" if level is None else _scalar_text(level)
        if text.lower() not in canonical:
            where = f"logging.logLevel.{category}"
            raise ConfigError(
                f"Configuration value '{text}' for host.json '{where}'{_hint_source(sources, where)} "
                "is not a supported log level.",
                path=path,
                hint="Use one of " + ", ".join(LOG_LEVELS) + ".",
            )
        levels[category] = canonical[text.lower()]
    return levels


def _load_host_json(script_root: Path, settings: Mapping[str, str], warnings: list[str]) -> HostJson:
    path = script_root / HOST_JSON
    exists = path.is_file()
    raw: dict[str, Any]
    if not exists:
        warnings.append(
            f'Cannot find host configuration at \'{path}\'. Using the default {{"version": "2.0"}}; '
            f"create {HOST_JSON} in the app folder to configure the host."
        )
        raw = {"version": "2.0"}
    else:
        try:
            raw = _read_json_object(path)
        except _JsonProblem as exc:
            raise ConfigError(
                f"Unable to parse host configuration file '{path}'. {exc.detail}",
                path=path,
                hint=f"Fix the JSON syntax of {HOST_JSON} (a missing comma, quote or brace is typical).",
            ) from None
        if not raw:
            warnings.append(
                f'Host configuration is empty. Using the default {{"version": "2.0"}}; '
                f'add "version": "2.0" to \'{path}\'.'
            )
            raw = {"version": "2.0"}
    version_value = raw.get("version")
    version = "" if version_value is None else _scalar_text(version_value)
    if not version:
        raise ConfigError(
            f"The {HOST_JSON} file is missing the required 'version' property. See {_HOSTJSON_DOCS} "
            "for steps to migrate the configuration file.",
            path=path,
            hint=f'Add "version": "2.0" at the top level of {HOST_JSON}.',
        )
    if version != "2.0":
        message = (
            f"'{version}' is an invalid value for {HOST_JSON} 'version' property. We recommend you set the "
            "'version' property to '2.0'. "
        )
        if version.lower().startswith("3"):
            message += (
                "This does not correspond to the function runtime version, only to the schema version of the "
                f"{HOST_JSON} file. "
            )
        message += f"See {_HOSTJSON_DOCS} for more information on this configuration file."
        raise ConfigError(message, path=path, hint=f'Set "version": "2.0" (a JSON string) in {HOST_JSON}.')

    sources = _apply_overrides(raw, settings)
    route_prefix = _get_ci(raw, "extensions", "http", "routePrefix")
    http = _get_ci(raw, "extensions", "http")
    headers = _get_ci(raw, "extensions", "http", "customHeaders")
    functions = _string_list(_get_ci(raw, "functions"), "functions", path)
    log_levels = _parse_log_levels(_get_ci(raw, "logging", "logLevel"), path, sources)
    default_level = next((v for k, v in log_levels.items() if k.lower() == "default"), None)
    return HostJson(
        path=path,
        exists=exists,
        version=version,
        route_prefix=DEFAULT_ROUTE_PREFIX if route_prefix is None else _scalar_text(route_prefix),
        function_timeout=_parse_function_timeout(
            _get_ci(raw, "functionTimeout"), path, _hint_source(sources, "functionTimeout"), warnings
        ),
        log_level_default=default_level,
        log_levels=log_levels,
        functions=functions or None,
        custom_headers={k: _scalar_text(v) for k, v in headers.items() if v is not None}
        if isinstance(headers, dict)
        else {},
        http=dict(http) if isinstance(http, dict) else {},
        watch_directories=_dedupe(
            [
                *DEFAULT_WATCH_DIRECTORIES,
                *_string_list(_get_ci(raw, "watchDirectories"), "watchDirectories", path),
            ]
        ),
        watch_files=_dedupe(
            [*DEFAULT_WATCH_FILES, *_string_list(_get_ci(raw, "watchFiles"), "watchFiles", path)]
        ),
        raw=raw,
    )


# --- local.settings


def _value_text(name: str, value: Any, warnings: list[str]) -> str | None:
    """A Values entry as Core Tools stores it, or None (with a warning) when it cannot be one."""
    if value is None:
        warnings.append(f"Skipping '{name}' because value is null")
        return None
    if isinstance(value, dict | list):
        warnings.append(
            f"Skipping '{name}' from local settings: its value is {_json_kind(value)}, but Values entries "
            f"must be strings. Use flat names for nested settings, e.g. '{name}__child'."
        )
        return None
    text = _scalar_text(value)
    return text.lower() if text.lower() in ("true", "false") else text


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _parse_host_section(data: Any, path: Path) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"local.settings.json 'Host' must be an object, found {_json_kind(data)}.",
            path=path,
            hint='Write it as "Host": {"LocalHttpPort": 7071, "CORS": "*"}.',
        )
    result: dict[str, Any] = {}
    port = _get_ci(data, "LocalHttpPort")
    if port is not None:
        text = _scalar_text(port).strip()
        if isinstance(port, bool) or not text.isdigit() or not 0 < int(text) < 65536:
            raise ConfigError(
                f"local.settings.json 'Host.LocalHttpPort' must be a port number, found '{text}'.",
                path=path,
                hint='Use a whole number from 1 to 65535, e.g. "LocalHttpPort": 7071, or remove it.',
            )
        result["local_http_port"] = int(text)
    address = _get_ci(data, "LocalHttpAddress")
    if address is not None:
        result["local_http_address"] = _scalar_text(address)
    cors = _get_ci(data, "CORS")
    if cors is not None:
        result["cors"] = [o for o in _scalar_text(cors).split(",") if o]
    credentials = _get_ci(data, "CORSCredentials")
    if credentials is not None:
        flag = _as_bool(credentials)
        if flag is None:
            raise ConfigError(
                f"local.settings.json 'Host.CORSCredentials' must be true or false, found "
                f"'{_scalar_text(credentials)}'.",
                path=path,
                hint='Write "CORSCredentials": true or false.',
            )
        result["cors_credentials"] = flag
    return result


def _parse_connection_strings(data: Any, warnings: list[str]) -> dict[str, ConnectionString]:
    if not isinstance(data, dict):
        return {}
    result: dict[str, ConnectionString] = {}
    for name, entry in data.items():
        if entry is None:
            warnings.append(f"Skipping 'ConnectionStrings:{name}' because value is null")
        elif isinstance(entry, dict):
            value = entry.get("ConnectionString")
            provider = entry.get("ProviderName")
            result[name] = ConnectionString(
                value="" if value is None else _scalar_text(value),
                provider_name=None if provider is None else _scalar_text(provider),
            )
        elif isinstance(entry, list):
            warnings.append(
                f"Skipping 'ConnectionStrings:{name}' from local settings: use a string or "
                '{"ConnectionString": "...", "ProviderName": "..."}.'
            )
        else:
            result[name] = ConnectionString(value=_scalar_text(entry))
    return result


def _load_local_settings(script_root: Path, warnings: list[str]) -> LocalSettings:
    path = script_root / LOCAL_SETTINGS_JSON
    if not path.is_file():
        return LocalSettings(path=path, exists=False)
    try:
        data = _read_json_object(path)
    except _JsonProblem as exc:
        warnings.append(
            f"Failed to read app settings file at '{path}'. Ensure it is a valid JSON file. {exc.detail}"
        )
        return LocalSettings(path=path, exists=True)
    for key in ("Values", "IsEncrypted", "ConnectionStrings", "Host"):
        wrong = next((k for k in data if k != key and k.lower() == key.lower()), None)
        if wrong is not None and key not in data:
            warnings.append(
                f"local.settings.json has '{wrong}', which is ignored: names are case-sensitive, use '{key}'."
            )
    encrypted_value = data.get("IsEncrypted")
    encrypted = bool(_as_bool(encrypted_value)) if encrypted_value is not None else False
    raw_values = data.get("Values")
    values: dict[str, str] = {}
    if isinstance(raw_values, dict):
        for name, value in raw_values.items():
            text = _value_text(name, value, warnings)
            if text is not None:
                values[name] = text
    elif raw_values is not None:
        warnings.append(
            f"Failed to read app settings file at '{path}'. Ensure it is a valid JSON file. "
            f"'Values' must be an object, found {_json_kind(raw_values)}."
        )
        return LocalSettings(path=path, exists=True)
    connection_strings = _parse_connection_strings(data.get("ConnectionStrings"), warnings)
    if encrypted and (any(values.values()) or any(c.value for c in connection_strings.values())):
        raise ConfigError(
            'local.settings.json has "IsEncrypted": true; encrypted settings are not supported by funchost.',
            path=path,
            hint='Run `func settings decrypt` in the app folder, or set "IsEncrypted": false and write the '
            "values in plain text.",
        )
    return LocalSettings(
        path=path,
        exists=True,
        is_encrypted=encrypted,
        values=values,
        connection_strings=connection_strings,
        **_parse_host_section(data.get("Host"), path),
    )


# --- public API


def load_settings(script_root: Path, environ: Mapping[str, str]) -> AppConfig:
    """Read host.json and local.settings.json of an app folder against an environment."""
    script_root = Path(script_root).resolve()
    warnings: list[str] = []
    local = _load_local_settings(script_root, warnings)
    candidates = dict(local.values)
    for name, conn in local.connection_strings.items():
        candidates[f"ConnectionStrings:{name}"] = conn.value
    injected: dict[str, str] = {}
    for name, value in candidates.items():
        if environ.get(name):
            warnings.append(
                f"Skipping '{name}' from local settings as it's already defined in current environment "
                "variables."
            )
        else:
            injected[name] = value
    if "CONTAINER_NAME" in injected:
        warnings.append(
            "'CONTAINER_NAME' is a reserved setting name used by the hosting platform; remove it from "
            "local.settings.json."
        )
    current_env = environ.get("AZURE_FUNCTIONS_ENVIRONMENT")
    if current_env and current_env != "Development":
        warnings.append(
            f"AZURE_FUNCTIONS_ENVIRONMENT already exists with value '{current_env}', "
            "overriding to 'Development'."
        )
    settings: dict[str, str] = {**injected, **{k: v for k, v in environ.items() if k not in injected}}
    settings["AzureWebJobsScriptRoot"] = str(script_root)
    settings["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development"
    if not settings.get("FUNCTIONS_WORKER_RUNTIME"):
        settings["FUNCTIONS_WORKER_RUNTIME"] = "python"
    host = _load_host_json(script_root, settings, warnings)
    return AppConfig(
        script_root=script_root,
        host=host,
        local=local,
        warnings=warnings,
        settings=settings,
        injected=injected,
    )


def environment_updates(config: AppConfig, port: int) -> dict[str, str]:
    """The variables Core Tools sets in the process environment for the app."""
    updates = dict(config.injected)
    updates["WEBSITE_HOSTNAME"] = f"localhost:{port}"
    updates["AzureWebJobsScriptRoot"] = str(config.script_root)
    updates["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development"
    updates["FUNCTIONS_WORKER_RUNTIME"] = config.settings["FUNCTIONS_WORKER_RUNTIME"]
    return updates


_exported: dict[Path, dict[str, tuple[str, str | None]]] = {}
"""Per app folder: the variables the host itself exported, as (value set, value before) by name."""


def host_environment(script_root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment as it was before the host exported the app's settings (what a restart would see): a
    variable the host set for this app, still holding that value, is not a real environment variable."""
    mine = _exported.get(Path(script_root).resolve(), {})
    env = dict(environ)
    for name, (value, before) in mine.items():
        if env.get(name) == value:
            if before is None:
                del env[name]
            else:
                env[name] = before
    return env


def export_environment(
    script_root: Path, updates: Mapping[str, str], environ: MutableMapping[str, str]
) -> None:
    """Set ``updates`` in ``environ`` as a restart would leave it: variables the previous load exported and
    this one does not are removed (or get back the value they had before), and what is set is remembered."""
    root = Path(script_root).resolve()
    previous = _exported.get(root, {})
    record: dict[str, tuple[str, str | None]] = {}
    for name, (value, before) in previous.items():
        if environ.get(name) != value:
            continue  # changed since by someone else: no longer ours
        if name in updates:
            record[name] = (updates[name], before)
        elif before is None:
            del environ[name]
        else:
            environ[name] = before
    for name, value in updates.items():
        if name not in record:
            record[name] = (value, environ.get(name))
        environ[name] = value
    _exported[root] = record


def functions_override(names: Sequence[str]) -> dict[str, str]:
    """The settings ``--functions f1 f2`` sets (merged index by index over host.json ``functions``)."""
    return {f"{JOB_HOST_SECTION}__functions__{i}": name for i, name in enumerate(names)}


# --- secrets

_SECRET_NAME_PARTS = ("key", "secret", "password", "connectionstring", "token")
_SECRET_VALUE_MARKERS = ("accountkey=", "sharedaccesssignature=", "sharedaccesskey=", "password=")
_SECRET_FRAGMENT = re.compile(
    r"(?i)\b(AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)=([^;\s\"']+)"
)
_MIN_SECRET_LENGTH = 6


def is_secret(name: str, value: str) -> bool:
    """Whether a setting looks like a secret, by its name or by connection-string markers in its value."""
    lowered = name.lower().replace("_", "").replace(":", "")
    if any(part in lowered for part in _SECRET_NAME_PARTS):
        return True
    value_lowered = value.lower()
    return any(marker in value_lowered for marker in _SECRET_VALUE_MARKERS)


def mask(value: str) -> str:
    """A secret value as shown to users."""
    return _MASK if value else ""


class Redactor:
    """Masks the secret-looking setting values (and connection-string key fragments) in texts.

    Built once per configuration: it sits on every log line, so the secrets are found once and matched with
    one compiled pattern.
    """

    def __init__(self, settings: Mapping[str, str]) -> None:
        secrets = sorted(
            {
                value
                for name, value in settings.items()
                if len(value) >= _MIN_SECRET_LENGTH
                and value.lower() not in ("true", "false")
                and not _is_number(value)
                and is_secret(name, value)
            },
            key=len,
            reverse=True,
        )
        self._values = re.compile("|".join(map(re.escape, secrets))) if secrets else None

    def __call__(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(_MASK, text)
        if "=" not in text:
            return text
        return _SECRET_FRAGMENT.sub(lambda m: f"{m.group(1)}={_MASK}", text)


def redact(text: str, config: AppConfig | Mapping[str, str]) -> str:
    """Replace every secret-looking setting value (and connection-string key fragments) in a text."""
    return Redactor(config.settings if isinstance(config, AppConfig) else config)(text)


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text))
    except ValueError:
        return False
