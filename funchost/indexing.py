"""Discover an app's functions the way the Python worker and the host do (v2 decorators, v1 function.json)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import re
import sys
import traceback
import typing
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal

import azure.functions as func

from funchost.spec import BindingSpec, Direction, FunctionSpec

__all__ = [
    "DEFAULT_SCRIPT_FILE_NAME",
    "SCRIPT_FILE_SETTING",
    "FunctionLoadError",
    "IndexResult",
    "WorkerLoadError",
    "index_app",
    "is_disabled",
    "process_count_notice",
    "read_function_json",
    "unload_app",
    "validate_parameters",
]

SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
PROCESS_COUNT_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
MODULE_NOT_FOUND_URL = "https://aka.ms/functions-modulenotfound"
DEFAULT_SCRIPT_FILE_NAME = "function_app.py"
V1_PACKAGE = "__app__"

_SCRIPT_FILE_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_\-]*\.py$")
_FUNCTION_NAME_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)
_DIRECTIONS: dict[str, Direction] = {"in": "in", "out": "out", "inout": "inout"}
_NO_PRIMARY_SCRIPT = (
    "Unable to determine the primary function script. Make sure at least one script file is present. "
    "Try renaming your entry point script to 'run' or alternatively you can specify the name of the entry "
    "point script explicitly by adding a 'scriptFile' property to your function metadata."
)
_MISSING_SCRIPT = (
    "Invalid script file name configuration. The 'scriptFile' property is set to a file that does not exist."
)
_INDEX_FAILED = "Worker failed to index functions"

# Module names imported from any app by earlier index_app calls, and every app folder this module put on
# sys.path (all of them: code that restores an older copy of sys.path, such as pytest's monkeypatch, can bring
# back a folder an index after it had removed, and that app's modules would shadow the next app's).
_app_modules: set[str] = set()
_inserted_roots: set[str] = set()
_scanned: dict[str, dict[str, ModuleType]] = {}
"""Per app root, sys.modules as its last scan for app modules left it: the next scan looks only at what changed."""
_SCANNED_ROOTS = 8
_indexes = 0


@dataclass
class IndexResult:
    """What indexing one app folder found."""

    functions: list[FunctionSpec]
    errors: list[str]
    """App-level failures: when present there are no functions at all."""
    warnings: list[str]
    modules: list[str]
    """Names of the modules imported from the app folder (for a reloader to purge)."""
    model: Literal["v1", "v2"]
    script_root: Path
    script_file: Path | None = None
    """The v2 script that was (or would have been) imported; None for a v1 app."""
    load_failures: list[str] = field(default_factory=list)
    """v1 functions the worker failed to load: they are routed, and every call fails with the worker's error."""


class FunctionLoadError(RuntimeError):
    """A per-function indexing failure; its text is the message the host shows."""


def index_app(script_root: Path, settings: Mapping[str, str]) -> IndexResult:
    """Index the app at `script_root`, importing its modules afresh."""
    root = Path(script_root).resolve()
    settings = _Settings(settings)
    raw_name = _setting(settings, SCRIPT_FILE_SETTING) or DEFAULT_SCRIPT_FILE_NAME
    if not _SCRIPT_FILE_RE.match(raw_name):
        error = (
            f"{_INDEX_FAILED}: Invalid file name: {raw_name} (app setting {SCRIPT_FILE_SETTING}). "
            f"Use a name such as '{DEFAULT_SCRIPT_FILE_NAME}': letters, digits, '_' or '-', ending in '.py'."
        )
        return IndexResult([], [error], [], [], "v2", root, root / raw_name)
    global _indexes
    _indexes += 1
    if _indexes == 2:
        _presign_binding_classes()
    _prepare_import_state(root)
    script = root / raw_name
    before = set(sys.modules)
    result = _index_v2(root, script, settings) if script.is_file() else _index_v1(root, settings)
    result.modules = _record_app_modules(root, before)
    result.functions.sort(key=lambda f: f.name.lower())
    notice = process_count_notice(settings)
    if notice:
        result.warnings.append(notice)
    return result


def process_count_notice(settings: Mapping[str, str]) -> str | None:
    """The one-line notice for FUNCTIONS_WORKER_PROCESS_COUNT above 1 (funchost runs one worker process)."""
    raw = _setting(settings, PROCESS_COUNT_SETTING)
    try:
        count = int(raw) if raw is not None else 1
    except ValueError:
        return None
    if count <= 1:
        return None
    return (
        f"{PROCESS_COUNT_SETTING}={count}: funchost runs one worker process, so up to {count} times fewer "
        f"invocations run at once than on Azure; raise {THREAD_COUNT_SETTING} to run more sync functions in parallel."
    )


def is_disabled(name: str, settings: Mapping[str, str]) -> bool:
    """Whether `AzureWebJobs.<name>.Disabled` is true or 1."""
    value = _setting(settings, f"AzureWebJobs.{name}.Disabled")
    return value is not None and value.strip().lower() in ("true", "1")


# ---------------------------------------------------------------- v2


def _index_v2(root: Path, script: Path, settings: Mapping[str, str]) -> IndexResult:
    result = IndexResult([], [], [], [], "v2", root, script)
    v1_folders = sorted(p.parent.name for p in root.glob("*/function.json"))
    if v1_folders:
        result.warnings.append(
            "Detected mixed function app. Some functions may not be indexed - the folder(s) "
            f"{', '.join(v1_folders)} contain function.json but {script.name} exists, so only its decorated "
            "functions are indexed. Move those functions into decorators or remove function.json."
        )
    expected = _real(str(script))
    other = sys.modules.get(script.stem)  # from elsewhere: another app, a test's own import
    if other is not None and _module_file(other) != expected:
        del sys.modules[script.stem]
    try:
        module = importlib.import_module(script.stem)
    except (Exception, SystemExit) as exc:
        result.errors.append(f"{_INDEX_FAILED}: importing {script} failed.\n{_format_exception(exc)}")
        return result
    if _module_file(module) != expected:
        result.errors.append(
            f"{_INDEX_FAILED}: importing {script.stem} gave {_module_file(module) or repr(module)}, not {script}: "
            "a folder before the app's on sys.path has a module of that name (or another thread was importing "
            "one). Take that folder off sys.path, or give the script another name (PYTHON_SCRIPT_FILE_NAME)."
        )
        return result
    apps = [value for value in _module_values(module) if isinstance(value, func.FunctionRegister)]
    if len(apps) != 1:
        message = (
            f"Could not find top level function app instances in {script.name}."
            if not apps
            else "More than one FunctionApp or other top level function app instances are defined."
        )
        hint = (
            "Create exactly one, e.g. `app = func.FunctionApp()`, at module level"
            if not apps
            else "Keep one and register the others' functions as blueprints (app.register_functions(bp))"
        )
        result.errors.append(f"{_INDEX_FAILED}: ValueError: {message} {hint} in {script}.")
        return result
    try:
        functions = apps[0].get_functions()
    except (Exception, SystemExit) as exc:
        result.errors.append(
            f"{_INDEX_FAILED}: building the functions of {script} failed.\n{_format_exception(exc)}"
        )
        return result
    for function in functions:
        result.functions.append(_spec_from_v2(function, script, settings))
    return result


def _spec_from_v2(function: Any, script: Path, settings: Mapping[str, str]) -> FunctionSpec:
    name = str(function.get_function_name())
    user_func: Callable[..., Any] = function.get_user_function()
    spec = FunctionSpec(
        name=name,
        bindings=(),
        func=user_func,
        directory=_defining_directory(user_func, script.parent),
        script_file=script,
        is_async=inspect.iscoroutinefunction(user_func),
        disabled=is_disabled(name, settings),
        retry=dict(function.get_settings_dict("retry_policy") or {}) or None,
    )
    try:
        spec.bindings = _parse_bindings(json.loads(raw) for raw in function.get_raw_bindings())
        spec.wants_context = validate_parameters(name, user_func, spec.bindings)
        _validate_metadata(name, spec.bindings)
    except FunctionLoadError as exc:
        spec.errors.append(str(exc))
    return spec


def _module_file(module: ModuleType) -> str | None:
    file = getattr(module, "__file__", None)
    return _real(file) if isinstance(file, str) else None


def _module_values(module: ModuleType) -> Iterable[Any]:
    for attr in module.__dir__():
        yield getattr(module, attr, None)


def _defining_directory(user_func: Callable[..., Any], fallback: Path) -> Path:
    try:
        # realpath, cached: one file holds many functions
        return Path(_real(inspect.getfile(user_func))).parent
    except (TypeError, OSError):
        return fallback


# ---------------------------------------------------------------- v1


def _index_v1(root: Path, settings: Mapping[str, str]) -> IndexResult:
    result = IndexResult([], [], [], [], "v1", root)
    folders = sorted(p.parent for p in root.glob("*/function.json") if p.is_file())
    if not folders:
        result.warnings.append(
            f"No functions found in {root}: there is no {DEFAULT_SCRIPT_FILE_NAME} and no subfolder with a "
            "function.json. Add a function_app.py with decorated functions (or set PYTHON_SCRIPT_FILE_NAME)."
        )
        return result
    _install_app_package(root)
    for folder in folders:
        spec = _spec_from_v1(root, folder, settings)
        if spec.func is not None and getattr(spec.func, "__funchost_load_error__", None) is not None:
            error = getattr(spec.func, "__funchost_load_error__")  # noqa: B009
            result.load_failures.append(f"{spec.name}: {type(error).__name__}: {error}")
            result.warnings.append(
                f"The '{spec.name}' function failed to load; every call to it fails with this error, as on "
                f"Azure: {type(error).__name__}: {error}"
            )
        result.functions.append(spec)
    return result


def _spec_from_v1(root: Path, folder: Path, settings: Mapping[str, str]) -> FunctionSpec:
    name = folder.name
    spec = FunctionSpec(
        name=name,
        bindings=(),
        func=None,
        directory=folder,
        script_file=folder / "function.json",
        disabled=is_disabled(name, settings),
    )
    try:
        config = _read_function_json(folder / "function.json")
        retry = config.get("retry")
        spec.retry = retry if isinstance(retry, dict) else None
        raw_bindings = config.get("bindings")
        if not isinstance(raw_bindings, list) or not raw_bindings:
            raise FunctionLoadError("At least one binding must be declared.")
        spec.bindings = _parse_bindings(raw_bindings)
        _validate_metadata(name, spec.bindings)
        spec.script_file = _primary_script(folder, config.get("scriptFile"))
    except FunctionLoadError as exc:  # the host's own checks: the function is in error, not routed
        spec.errors.append(str(exc))
        return spec
    entry_point = config.get("entryPoint") or "main"
    try:  # the worker's load: a failure leaves the function routed, and every call fails with the error
        user_func = _load_v1_function(root, name, spec.script_file, str(entry_point))
        spec.wants_context = validate_parameters(name, user_func, spec.bindings)
    except WorkerLoadError as exc:
        spec.func = _failing_function(exc.error)
        return spec
    except FunctionLoadError as exc:
        spec.func = _failing_function(exc)
        return spec
    spec.func = user_func
    spec.is_async = inspect.iscoroutinefunction(user_func)
    return spec


class WorkerLoadError(Exception):
    """Wraps the exception the worker's ``load_function`` raises (kept as is, to fail every call with it)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _failing_function(error: BaseException) -> Callable[..., Any]:
    """What the host calls for a v1 function the worker could not load: it raises the load error."""
    traceback_at_load = error.__traceback__

    def failed_to_load(**_bindings):  # type: ignore[no-untyped-def]  # no annotations: nothing to check
        raise error.with_traceback(traceback_at_load)

    failed_to_load.__funchost_load_error__ = error  # type: ignore[attr-defined]
    return failed_to_load


def _read_function_json(path: Path) -> dict[str, Any]:
    try:
        config = read_function_json(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise FunctionLoadError(
            f"{path} is not a readable JSON file: {exc}. Fix the JSON and save it again."
        ) from exc
    if not isinstance(config, dict):
        raise FunctionLoadError(f"{path} must contain a JSON object with a 'bindings' list.")
    return config


def read_function_json(text: str) -> Any:
    """Parse function.json as the host's reader (Newtonsoft ``JObject.Parse``) does: comments, trailing commas,
    single-quoted strings and unquoted property names are accepted; anything else must be JSON."""
    return json.loads(_strict_json(text))


_BARE_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def _strict_json(text: str) -> str:
    """``text`` with Newtonsoft's leniencies rewritten to plain JSON (string contents untouched)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            end = i + 1
            while end < n and text[end] != ch:
                end += 2 if text[end] == "\\" else 1
            body = text[i + 1 : end]
            if ch == "'":  # a single-quoted string: re-quote it
                body = body.replace("\\'", "'").replace('"', '\\"')
            out.append(f'"{body}"')
            i = end + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"unterminated /* comment at character {i}")
            out.append(" ")
            i = end + 2
        elif ch in "}]":
            _drop_trailing_comma(out)
            out.append(ch)
            i += 1
        elif (match := _BARE_NAME.match(text, i)) and match.group() not in ("true", "false", "null"):
            after = text[match.end() :].lstrip()
            out.append(f'"{match.group()}"' if after.startswith(":") else match.group())
            i = match.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _drop_trailing_comma(out: list[str]) -> None:
    for k in range(len(out) - 1, -1, -1):
        if out[k].strip() == "":
            continue
        if out[k] == ",":
            del out[k]
        return


def _primary_script(folder: Path, script_file: object) -> Path:
    if script_file:
        path = (folder / str(script_file)).resolve()
        if not path.is_file():
            where = f"scriptFile '{script_file}' in {folder / 'function.json'}"
            raise FunctionLoadError(f"{_MISSING_SCRIPT} ({where}: add the file or fix the path)")
        return path
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower() != "function.json")
    if len(files) == 1:
        return files[0].resolve()
    for candidate in files:
        lowered = candidate.name.lower()
        if candidate.stem.lower() == "run" or lowered in ("index.js", "__init__.py"):
            return candidate.resolve()
    raise FunctionLoadError(f"{_NO_PRIMARY_SCRIPT} (folder {folder})")


def _install_app_package(root: Path) -> None:
    spec = importlib.machinery.ModuleSpec(V1_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    sys.modules[V1_PACKAGE] = importlib.util.module_from_spec(spec)


def _load_v1_function(root: Path, name: str, script: Path, entry_point: str) -> Callable[..., Any]:
    try:
        relative = script.relative_to(root)
    except ValueError:
        raise FunctionLoadError(
            f"script path {script} is not relative to the specified directory {root}"
        ) from None
    if script.suffix != ".py":
        raise WorkerLoadError(RuntimeError(f"cannot load function {name}: invalid Python filename {script}"))
    parts = [V1_PACKAGE, *relative.parts[:-1]]
    if script.stem != "__init__":
        parts.append(script.stem)
    try:
        module = importlib.import_module(".".join(parts))
    except ImportError as exc:  # the worker's loader adds its troubleshooting text (utils/tracing.py)
        raise WorkerLoadError(_with_module_not_found_help(exc)) from exc
    except (Exception, SystemExit) as exc:
        raise WorkerLoadError(exc) from exc
    user_func = getattr(module, entry_point, None)
    if user_func is None or not callable(user_func):
        raise WorkerLoadError(
            RuntimeError(
                f"cannot load function {name}: function {entry_point}() is not present in {relative}"
            )
        )
    return typing.cast(Callable[..., Any], user_func)


def _with_module_not_found_help(exc: ImportError) -> BaseException:
    """The same exception type, its message extended as the worker's ``load_function`` does."""
    help_text = (
        "Cannot find module. Please check the requirements.txt file for the missing module. For more info, "
        f"please refer the troubleshooting guide: {MODULE_NOT_FOUND_URL}. Current sys.path: {sys.path}"
    )
    old = getattr(exc, "msg", None) or str(exc) or ""
    message = (str(old).rstrip(".") + ". " + help_text).rstrip()
    try:
        extended = type(exc)(message)
    except Exception:
        extended = ImportError(message)
    return extended.with_traceback(exc.__traceback__)


# ---------------------------------------------------------------- validation


def _parse_bindings(raw_bindings: Iterable[Any]) -> tuple[BindingSpec, ...]:
    bindings: list[BindingSpec] = []
    for raw in raw_bindings:
        if not isinstance(raw, dict):
            raise FunctionLoadError(f"Each binding must be a JSON object, got {raw!r}.")
        name, kind = raw.get("name"), raw.get("type")
        if not isinstance(name, str) or not name:
            raise FunctionLoadError(f"A binding has no 'name': {json.dumps(raw)}. Give every binding a name.")
        if not isinstance(kind, str) or not kind:
            raise FunctionLoadError(f"Binding '{name}' has no 'type'. Set its type, e.g. 'httpTrigger'.")
        raw_direction = raw.get("direction", "in")
        direction = _DIRECTIONS.get(str(raw_direction).lower())
        if direction is None:
            raise FunctionLoadError(
                f"Binding '{name}' has direction '{raw_direction}'. Use 'in', 'out' or 'inout'."
            )
        bindings.append(BindingSpec(name=name, type=kind, direction=direction, raw=raw))
    return tuple(bindings)


def _validate_metadata(name: str, bindings: tuple[BindingSpec, ...]) -> None:
    """The host's checks: function name, unique binding names, one trigger."""
    if not _FUNCTION_NAME_RE.match(name) or name.lower() == "host":
        raise FunctionLoadError(
            f"'{name}' is not a valid function name. Use a letter followed by letters, digits, '_' or '-' "
            "(at most 128 characters), and not 'host'."
        )
    seen: set[str] = set()
    for binding in bindings:
        if binding.name.lower() in seen:
            raise FunctionLoadError(
                f"Multiple bindings with name '{binding.name}' discovered. Binding names must be unique."
            )
        seen.add(binding.name.lower())
    if not bindings:
        raise FunctionLoadError("At least one binding must be declared.")
    triggers = [b for b in bindings if b.is_trigger and b.direction == "in"]
    if not triggers:
        raise FunctionLoadError("No trigger binding specified. A function must have a trigger input binding.")
    if len(triggers) > 1:
        names = ", ".join(b.name for b in triggers)
        raise FunctionLoadError(
            f"Multiple trigger bindings specified ({names}). A function must have exactly one trigger."
        )


def validate_parameters(name: str, user_func: Callable[..., Any], bindings: Iterable[BindingSpec]) -> bool:
    """The worker's parameter checks; returns whether `context` is injected. Raises on mismatch."""

    def fail(message: str) -> FunctionLoadError:
        return FunctionLoadError(f"cannot load the {name} function: {message}")

    bound: dict[str, BindingSpec] = {}
    for binding in bindings:
        if binding.direction == "inout":
            raise fail('"inout" bindings are not supported')
        if binding.name == "$return":
            if binding.direction != "out":
                raise fail('"$return" binding must have direction set to "out"')
        else:
            bound[binding.name] = binding
    try:
        params = dict(inspect.signature(user_func).parameters)
    except (TypeError, ValueError) as exc:
        raise fail(f"its signature cannot be read: {exc}") from exc
    try:
        annotations = typing.get_type_hints(user_func)
    except Exception as exc:
        raise fail(f"its type annotations cannot be resolved: {type(exc).__name__}: {exc}") from exc
    wants_context = "context" in params and "context" not in bound
    if wants_context:
        params.pop("context")
        anno = annotations.get("context")
        if "context" in annotations and (not isinstance(anno, type) or anno.__name__ != "Context"):
            raise fail(
                f'the "context" parameter is expected to be of type azure.functions.Context, got {anno!r}'
            )
    extra, missing = set(params) - set(bound), set(bound) - set(params)
    if extra:
        raise fail(f"the following parameters are declared in Python but not in function.json: {_set(extra)}")
    if missing:
        raise fail(
            f"the following parameters are declared in function.json but not in Python: {_set(missing)}"
        )
    for param in params:
        _check_out_annotation(fail, param, bound[param], annotations)
    if "return" in annotations and "$return" in {b.name for b in bindings}:
        origin = typing.get_origin(annotations["return"])
        if isinstance(origin, type) and origin.__name__ == "Out":
            raise fail("return annotation should not be azure.functions.Out")
    return wants_context


def _check_out_annotation(
    fail: Callable[[str], FunctionLoadError], param: str, binding: BindingSpec, annotations: Mapping[str, Any]
) -> None:
    if param not in annotations:
        return
    anno = annotations[param]
    origin = typing.get_origin(anno)
    target = origin if origin is not None else anno
    is_out = isinstance(target, type) and target.__name__ == "Out"
    if is_out and len(typing.get_args(anno)) != 1:
        raise fail(f"binding {param} has invalid Out annotation {anno!r}")
    if binding.direction == "out" and not is_out:
        raise fail(
            f'binding {param} is declared to have the "out" direction, but its annotation in Python is not '
            "a subclass of azure.functions.Out"
        )
    if binding.direction != "out" and is_out:
        raise fail(
            f'binding {param} is declared to have the "in" direction in function.json, but its annotation '
            "is azure.functions.Out in Python"
        )


def _set(names: set[str]) -> str:
    return "{" + ", ".join(repr(n) for n in sorted(names)) + "}"


# ---------------------------------------------------------------- module state


def _prepare_import_state(root: Path) -> None:
    """Put `root` on sys.path after the installed packages, as the worker does (an app module named like an
    installed package does not shadow it), and forget every module imported from an app before."""
    entry = str(root)
    _drop_app_roots()
    _inserted_roots.add(entry)
    sys.path.append(entry)
    stale = {n for n in _app_modules if n in sys.modules}
    stale.update(_modules_under(root))
    for module_name in stale:
        sys.modules.pop(module_name, None)
    _app_modules.clear()
    _scanned.pop(entry, None)
    _scanned[entry] = dict(sys.modules)
    while len(_scanned) > _SCANNED_ROOTS:  # a test session indexes many throwaway apps: keep the recent ones
        del _scanned[next(iter(_scanned))]
    # Files may have changed since the last import: forget what the finders of the app's folders have cached
    # (the other finders' folders are not the app's; invalidating them all made every import list site-packages).
    for path, finder in list(sys.path_importer_cache.items()):
        if not _under(path, entry):
            continue
        if finder is None:  # a folder that had no finder (did not exist) may have one now
            del sys.path_importer_cache[path]
        elif hasattr(finder, "invalidate_caches"):
            finder.invalidate_caches()


def _presign_binding_classes() -> None:
    """Give azure.functions' binding classes a precomputed ``__signature__`` on their ``__init__`` functions.

    Every binding object a decorator creates runs ``inspect.signature`` on its class's ``__init__`` (the
    library's ``BuildDictMeta.add_to_dict``): about half of what re-importing a typical app costs. Those
    functions never change and ``inspect.signature`` returns a function's ``__signature__`` as it is, so from the
    second index in a process (a reload, the next test) they carry the signature ``inspect`` computed for them.
    """
    meta = getattr(sys.modules.get("azure.functions.decorators.utils"), "BuildDictMeta", None)
    if not isinstance(meta, type):
        return
    pending: list[Any] = []
    for name, module in list(sys.modules.items()):
        if name.startswith("azure.functions") and module is not None:
            pending.extend(vars(v).get("__init__") for v in vars(module).values() if isinstance(v, meta))
    done: set[int] = set()
    while pending:
        function = pending.pop()
        if not inspect.isfunction(function) or id(function) in done or "__signature__" in vars(function):
            continue
        done.add(id(function))
        try:
            function.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
        except (TypeError, ValueError):  # no signature to keep: the library computes (and fails) as before
            continue
        for cell in function.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell
                pending.append(cell.cell_contents)


def unload_app() -> None:
    """Forget the last indexed app: drop its modules from sys.modules and its root from sys.path."""
    _drop_app_roots()
    for module_name in _app_modules:
        sys.modules.pop(module_name, None)
    sys.modules.pop(V1_PACKAGE, None)
    _app_modules.clear()


def _drop_app_roots() -> None:
    if any(p in _inserted_roots for p in sys.path):
        sys.path[:] = [p for p in sys.path if p not in _inserted_roots]  # the same list object


def _record_app_modules(root: Path, before: set[str]) -> list[str]:
    imported = sorted(
        n for n in set(sys.modules) - before if n in sys.modules and _is_app_module(n, sys.modules[n], root)
    )
    _app_modules.update(imported)
    return imported


def _modules_under(root: Path) -> set[str]:
    """The names of the loaded modules imported from the app at ``root`` (a fast scan of sys.modules)."""
    top = str(root)
    prefix = top.rstrip(os.sep) + os.sep
    found: set[str] = set()
    scanned = _scanned.get(top)
    changed = sys.modules.items() - scanned.items() if scanned is not None else list(sys.modules.items())
    for name, module in changed:
        seen = _located.get(name)
        if seen is not None and seen[0]() is module and not name.startswith(V1_PACKAGE):
            if not seen[1]:
                continue
            path = seen[1][0]
            if path != top and not path.startswith(prefix):
                continue
        if _is_app_module(name, module, root):
            found.add(name)
    return found


def _is_app_module(name: str, module: ModuleType | None, root: Path) -> bool:
    if name == V1_PACKAGE or name.startswith(V1_PACKAGE + "."):
        return True
    if module is None:
        return False
    locations = _locations(name, module)
    top = str(root)
    if not locations or not _under(locations[0], top):  # the common case, decided without a sys.path scan
        return False
    return all(_owned_by_root(loc, root) for loc in locations)


_located: dict[str, tuple[weakref.ref[ModuleType], tuple[str, ...]]] = {}
"""Module name -> (the module, its real file path): every index scans all of sys.modules (~1,500 modules)."""


def _locations(name: str, module: ModuleType) -> tuple[str, ...]:
    """The real paths a module was loaded from (its file, else a package's ``__path__`` entries)."""
    seen = _located.get(name)
    if seen is not None and seen[0]() is module:
        return seen[1]
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        found = (_real(file),)
        with contextlib.suppress(TypeError):  # not a real module object: not cached
            _located[name] = (weakref.ref(module), found)
        return found
    path = getattr(module, "__path__", None)
    if path is None:  # a built-in module: never the app's
        with contextlib.suppress(TypeError):
            _located[name] = (weakref.ref(module), ())
        return ()
    # A namespace package's path can grow when sys.path does: read every time.
    return tuple(_real(str(p)) for p in path)


def _owned_by_root(path: str | Path, root: Path) -> bool:
    """Whether `path` is under `root` and not under a deeper sys.path entry (e.g. a .venv in the app)."""
    resolved = _real(os.fspath(path))
    top = str(root)
    if not _under(resolved, top):
        return False
    for entry in sys.path:
        if not entry:
            continue
        candidate = _real(entry)
        if candidate != top and _under(candidate, top) and _under(resolved, candidate):
            return False
    return True


@functools.lru_cache(maxsize=8192)
def _real(path: str) -> str:
    """The real absolute path (cached: every index scans all of sys.modules). A folder is resolved once for all
    the files in it, so a file costs one lstat (``os.path.realpath`` walks every component of every path)."""
    folder, name = os.path.split(path)
    if not name or not os.path.isabs(path) or os.path.normpath(path) != path:
        return os.path.realpath(path)
    real = os.path.join(_real(folder), name)
    return os.path.realpath(real) if os.path.islink(real) else real


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


# ---------------------------------------------------------------- helpers


class _Settings(dict[str, str]):
    """App settings with their case-insensitive lookup built once (indexing asks per function)."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        super().__init__(settings)
        self.lowered = {k.lower(): v for k, v in reversed(self.items())}  # the first spelling wins


def _setting(settings: Mapping[str, str], key: str) -> str | None:
    if key in settings:
        return settings[key]
    if isinstance(settings, _Settings):
        return settings.lowered.get(key.lower())
    lowered = key.lower()
    return next((v for k, v in settings.items() if k.lower() == lowered), None)


def _format_exception(exc: BaseException) -> str:
    """A Python traceback without this module's and importlib's frames."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and _is_internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")


def _is_internal(filename: str) -> bool:
    return filename in (__file__, importlib.__file__) or filename.startswith("<frozen importlib")
