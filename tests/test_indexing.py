"""Tests for funchost.indexing against small real apps under tests/apps/idx_*."""

from __future__ import annotations

import inspect
import shutil
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from funchost.indexing import (
    FunctionLoadError,
    IndexResult,
    index_app,
    is_disabled,
    unload_app,
    validate_parameters,
)
from funchost.spec import BindingSpec, FunctionSpec

APPS = Path(__file__).parent / "apps"


@pytest.fixture(autouse=True)
def _unload() -> Iterator[None]:
    yield
    unload_app()


def index(app: str, settings: dict[str, str] | None = None) -> IndexResult:
    return index_app(APPS / app, settings or {})


def by_name(result: IndexResult) -> dict[str, FunctionSpec]:
    return {f.name: f for f in result.functions}


def get(url: str = "http://localhost/api/x") -> func.HttpRequest:
    return func.HttpRequest("GET", url, body=b"", params={"name": "Ada"})


def call(spec: FunctionSpec, **kwargs: Any) -> Any:
    assert spec.func is not None
    return spec.func(**kwargs)


# ---------------------------------------------------------------- v2


def test_v2_single_file_functions_sorted_with_bindings() -> None:
    result = index("idx_v2_single")
    root = (APPS / "idx_v2_single").resolve()
    assert result.model == "v2"
    assert result.errors == [] and result.warnings == []
    assert [f.name for f in result.functions] == ["enqueue", "Hello", "with_context"]
    hello = by_name(result)["Hello"]
    assert [(b.name, b.type, b.direction) for b in hello.bindings] == [
        ("req", "httpTrigger", "in"),
        ("$return", "http", "out"),
    ]
    assert hello.bindings[0].raw["route"] == "hello"
    assert hello.bindings[0].raw["methods"] == ["GET"]
    assert hello.bindings[0].raw["authLevel"] == "ANONYMOUS"
    assert hello.directory == root
    assert hello.script_file == root / "function_app.py"
    assert hello.errors == [] and not hello.disabled
    assert not hello.is_async and not hello.wants_context
    enqueue = by_name(result)["enqueue"]
    assert [b.name for b in enqueue.outputs] == ["msg", "$return"]
    assert enqueue.errors == []
    assert sorted(result.modules) == ["function_app", "state"]
    assert sys.path[-1] == str(root)  # after the installed packages, as the worker puts it


def test_v2_async_function_with_context_parameter() -> None:
    spec = by_name(index("idx_v2_single"))["with_context"]
    assert spec.is_async
    assert spec.wants_context
    assert [b.name for b in spec.bindings] == ["req", "$return"]
    assert spec.errors == []


def test_v2_blueprint_function_directory_is_blueprint_folder() -> None:
    result = index("idx_v2_blueprint")
    root = (APPS / "idx_v2_blueprint").resolve()
    specs = by_name(result)
    assert list(specs) == ["get_todos", "root_fn"]
    assert specs["get_todos"].directory == root / "blueprints"
    assert specs["get_todos"].script_file == root / "function_app.py"
    assert specs["root_fn"].directory == root
    assert specs["get_todos"].bindings[0].raw["route"] == "todos"
    assert sorted(result.modules) == ["blueprints", "blueprints.todo", "function_app"]


def test_reindexing_gives_fresh_module_state() -> None:
    first = by_name(index("idx_v2_single"))["Hello"]
    assert call(first, req=get()).get_body() == b"call 1 load 1"
    assert call(first, req=get()).get_body() == b"call 2 load 1"
    second = by_name(index("idx_v2_single"))["Hello"]
    assert second.func is not first.func
    assert call(second, req=get()).get_body() == b"call 1 load 1"


def test_another_app_does_not_see_previous_apps_modules() -> None:
    index("idx_v2_single")
    assert "state" in sys.modules
    result = index("idx_mixed")
    assert "state" not in sys.modules
    assert [f.name for f in result.functions] == ["modern"]
    assert (
        Path(sys.modules["function_app"].__file__ or "") == (APPS / "idx_mixed" / "function_app.py").resolve()
    )
    assert str((APPS / "idx_v2_single").resolve()) not in sys.path


def test_reindex_picks_up_edited_code(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "idx_v2_custom_script", app)
    settings = {"PYTHON_SCRIPT_FILE_NAME": "main_app.py"}
    assert [f.name for f in index_app(app, settings).functions] == ["custom"]
    script = app / "main_app.py"
    script.write_text(
        script.read_text()
        + '\n\n@app.route(route="added")\ndef added(req: func.HttpRequest) -> func.HttpResponse:\n'
        + '    return func.HttpResponse("added")\n'
    )
    assert [f.name for f in index_app(app, settings).functions] == ["added", "custom"]


SINGLE = ["enqueue", "Hello", "with_context"]
"""The functions of tests/apps/idx_v2_single."""


def test_a_module_of_the_scripts_name_imported_from_elsewhere_is_not_taken_for_the_app() -> None:
    other = (APPS / "idx_mixed").resolve()
    sys.path.insert(0, str(other))
    try:
        import function_app  # a test's own import of another app, unknown to the indexer

        assert Path(function_app.__file__ or "").parent == other
    finally:
        sys.path.remove(str(other))
    result = index("idx_v2_single")
    assert [f.name for f in result.functions] == SINGLE
    assert Path(sys.modules["function_app"].__file__ or "").parent == (APPS / "idx_v2_single").resolve()


def test_an_earlier_apps_folder_put_back_on_sys_path_does_not_shadow_the_next_app() -> None:
    index("idx_mixed")
    older = list(sys.path)  # what pytest's monkeypatch restores at the end of a test that changed sys.path
    index("idx_v2_blueprint")
    sys.path[:] = older
    result = index("idx_v2_single")
    assert result.errors == []
    assert [f.name for f in result.functions] == SINGLE
    assert str((APPS / "idx_mixed").resolve()) not in sys.path


def test_a_module_of_the_scripts_name_first_on_sys_path_is_an_index_error_naming_both(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "function_app.py").write_text("x = 1\n")
    sys.path.insert(0, str(elsewhere))
    try:
        result = index("idx_v2_single")
    finally:
        sys.path.remove(str(elsewhere))
        sys.modules.pop("function_app", None)
    assert result.functions == []
    assert len(result.errors) == 1
    error = result.errors[0]
    assert f"gave {(elsewhere / 'function_app.py').resolve()}, not {(APPS / 'idx_v2_single').resolve()}" in error
    assert "Take that folder off sys.path, or give the script another name (PYTHON_SCRIPT_FILE_NAME)" in error


def test_a_symlinked_script_is_the_apps_script(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "idx_v2_single", app)
    (app / "function_app.py").rename(tmp_path / "real_app.py")
    (app / "function_app.py").symlink_to(tmp_path / "real_app.py")
    result = index_app(app, {})
    assert result.errors == []
    assert [f.name for f in result.functions] == SINGLE


def test_a_module_added_to_the_app_after_an_index_is_found_by_the_next(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "idx_v2_single", app)
    assert [f.name for f in index_app(app, {}).functions] == SINGLE
    (app / "extra_functions.py").write_text(
        "import azure.functions as func\n\nbp = func.Blueprint()\n\n\n@bp.route(route='extra')\n"
        "def extra(req: func.HttpRequest) -> func.HttpResponse:\n    return func.HttpResponse('extra')\n"
    )
    script = app / "function_app.py"
    script.write_text("from extra_functions import bp\n" + script.read_text() + "\napp.register_functions(bp)\n")
    assert [f.name for f in index_app(app, {}).functions] == sorted([*SINGLE, "extra"], key=str.lower)


def test_v2_no_function_app_is_an_app_error() -> None:
    result = index("idx_v2_no_app")
    assert result.functions == []
    assert len(result.errors) == 1
    assert "Could not find top level function app instances in function_app.py." in result.errors[0]
    assert str((APPS / "idx_v2_no_app" / "function_app.py").resolve()) in result.errors[0]


def test_v2_two_function_apps_is_an_app_error() -> None:
    result = index("idx_v2_two_apps")
    assert result.functions == []
    assert result.errors == [
        "Worker failed to index functions: ValueError: More than one FunctionApp or other top level function "
        "app instances are defined. Keep one and register the others' functions as blueprints "
        f"(app.register_functions(bp)) in {(APPS / 'idx_v2_two_apps' / 'function_app.py').resolve()}."
    ]


def test_v2_syntax_error_shows_file_and_line() -> None:
    result = index("idx_v2_syntax_error")
    script = (APPS / "idx_v2_syntax_error" / "function_app.py").resolve()
    assert result.functions == []
    [error] = result.errors
    assert error.startswith(f"Worker failed to index functions: importing {script} failed.\n")
    assert f'File "{script}", line 7' in error
    assert "def broken(req: func.HttpRequest) -> func.HttpResponse" in error
    assert error.endswith("SyntaxError: expected ':'")
    assert "indexing.py" not in error


def test_v2_import_error_shows_traceback_through_app_modules() -> None:
    result = index("idx_v2_import_error")
    root = (APPS / "idx_v2_import_error").resolve()
    [error] = result.errors
    assert "Traceback (most recent call last):" in error
    assert f'File "{root / "function_app.py"}", line 3, in <module>' in error
    assert f'File "{root / "idx_broken_helpers.py"}", line 1, in <module>' in error
    assert error.endswith("ModuleNotFoundError: No module named 'not_a_real_module_for_idx_tests'")
    assert result.functions == []


def test_v2_function_without_trigger_fails_indexing() -> None:
    result = index("idx_v2_no_trigger")
    assert result.functions == []
    [error] = result.errors
    assert error.endswith(
        "ValueError: Function Lonely does not have a trigger. "
        "A valid function must have one and only one trigger registered."
    )


def test_v2_duplicate_function_names_fail_indexing() -> None:
    result = index("idx_v2_duplicate")
    assert result.functions == []
    [error] = result.errors
    assert error.endswith(
        "ValueError: Function Twin does not have a unique function name. "
        "Please change @app.function_name() or the function method name to be unique."
    )


def test_v2_per_function_validation_errors() -> None:
    specs = by_name(index("idx_v2_validation"))
    assert specs["good"].errors == []
    assert specs["mismatch"].errors == [
        "cannot load the mismatch function: the following parameters are declared in Python but not in "
        "function.json: {'extra'}"
    ]
    assert specs["bad_out"].errors == [
        'cannot load the bad_out function: binding msg is declared to have the "out" direction, but its '
        "annotation in Python is not a subclass of azure.functions.Out"
    ]
    assert specs["bad_context"].errors == [
        'cannot load the bad_context function: the "context" parameter is expected to be of type '
        "azure.functions.Context, got <class 'str'>"
    ]
    assert specs["host"].in_error
    assert specs["host"].errors[0].startswith("'host' is not a valid function name.")
    assert specs["dup"].errors == [
        "Multiple bindings with name 'req' discovered. Binding names must be unique."
    ]


def test_script_file_name_setting_selects_the_v2_script() -> None:
    result = index("idx_v2_custom_script", {"PYTHON_SCRIPT_FILE_NAME": "main_app.py"})
    assert result.model == "v2"
    [spec] = result.functions
    assert spec.name == "custom"
    assert spec.script_file == (APPS / "idx_v2_custom_script" / "main_app.py").resolve()
    assert result.modules == ["main_app"]


def test_missing_v2_script_falls_back_to_v1_and_warns_when_empty() -> None:
    result = index("idx_v2_custom_script")
    assert result.model == "v1"
    assert result.functions == [] and result.errors == []
    assert result.warnings[0].startswith("No functions found in ")


def test_invalid_script_file_name_is_refused() -> None:
    result = index("idx_v2_custom_script", {"PYTHON_SCRIPT_FILE_NAME": "../main_app.py"})
    assert result.functions == []
    assert result.errors[0].startswith(
        "Worker failed to index functions: Invalid file name: ../main_app.py "
        "(app setting PYTHON_SCRIPT_FILE_NAME)."
    )


def test_mixed_app_warns_and_indexes_only_decorated_functions() -> None:
    result = index("idx_mixed")
    assert result.model == "v2"
    assert [f.name for f in result.functions] == ["modern"]
    [warning] = result.warnings
    assert warning.startswith("Detected mixed function app. Some functions may not be indexed")
    assert "Legacy" in warning


# ---------------------------------------------------------------- v1


@pytest.fixture
def v1() -> dict[str, FunctionSpec]:
    result = index("idx_v1_app")
    assert result.model == "v1"
    assert result.errors == []
    return by_name(result)


def test_v1_lists_every_function_folder_sorted(v1: dict[str, FunctionSpec]) -> None:
    assert list(v1) == [
        "Broken",
        "HttpA",
        "Mismatch",
        "MissingScript",
        "NoEntry",
        "NoPrimary",
        "NoTrigger",
        "Outs",
    ]


def test_v1_relative_import_of_shared_module_works(v1: dict[str, FunctionSpec]) -> None:
    root = (APPS / "idx_v1_app").resolve()
    spec = v1["HttpA"]
    assert spec.errors == []
    assert spec.directory == root / "HttpA"
    assert spec.script_file == root / "HttpA" / "__init__.py"
    assert spec.wants_context and not spec.is_async
    assert [(b.name, b.type, b.direction) for b in spec.bindings] == [
        ("req", "httpTrigger", "in"),
        ("$return", "http", "out"),
    ]
    assert call(spec, req=get(), context=None).get_body() == b"Hello, Ada!"
    assert spec.func is not None and spec.func.__module__ == "__app__.HttpA"


def test_v1_modules_are_recorded_for_purging() -> None:
    result = index("idx_v1_app")
    assert {"__app__", "__app__.HttpA", "__app__.shared", "__app__.Outs.handler"} <= set(result.modules)


def test_v1_missing_script_file(v1: dict[str, FunctionSpec]) -> None:
    [error] = v1["MissingScript"].errors
    assert error.startswith(
        "Invalid script file name configuration. "
        "The 'scriptFile' property is set to a file that does not exist."
    )
    assert "missing.py" in error
    assert v1["MissingScript"].func is None


def test_v1_missing_entry_point_is_routed_and_fails_each_call(v1: dict[str, FunctionSpec]) -> None:
    spec = v1["NoEntry"]
    assert spec.errors == [] and spec.func is not None
    with pytest.raises(RuntimeError) as caught:
        spec.func(req=get())
    assert (
        str(caught.value)
        == "cannot load function NoEntry: function run_me() is not present in NoEntry/__init__.py"
    )


def test_v1_no_primary_script(v1: dict[str, FunctionSpec]) -> None:
    [error] = v1["NoPrimary"].errors
    assert error.startswith("Unable to determine the primary function script. Make sure at least one script")


def _load_error(spec: FunctionSpec) -> BaseException:
    assert spec.errors == [] and spec.func is not None, "a worker load failure leaves the function routed"
    with pytest.raises(BaseException) as caught:
        spec.func(req=get())
    return caught.value


def test_v1_single_file_is_primary_and_out_annotation_checked(v1: dict[str, FunctionSpec]) -> None:
    spec = v1["Outs"]
    assert spec.script_file.name == "handler.py"
    error = _load_error(spec)
    assert type(error).__name__ == "FunctionLoadError"
    assert str(error) == (
        'cannot load the Outs function: binding msg is declared to have the "out" direction, but its '
        "annotation in Python is not a subclass of azure.functions.Out"
    )


def test_v1_parameter_mismatch_and_missing_trigger(v1: dict[str, FunctionSpec]) -> None:
    assert str(_load_error(v1["Mismatch"])) == (
        "cannot load the Mismatch function: the following parameters are declared in Python but not in "
        "function.json: {'extra'}"
    )
    assert v1["NoTrigger"].errors == [
        "No trigger binding specified. A function must have a trigger input binding."
    ]


def test_v1_import_error_is_the_workers_and_stays_with_its_function(v1: dict[str, FunctionSpec]) -> None:
    error = _load_error(v1["Broken"])
    assert type(error) is ImportError
    assert str(error).startswith("cannot import name 'no_such_name' from '__app__.shared' (")
    assert (
        ". Cannot find module. Please check the requirements.txt file for the missing module. For more info, "
        "please refer the troubleshooting guide: https://aka.ms/functions-modulenotfound. Current sys.path: ["
    ) in str(error)
    init = (APPS / "idx_v1_app" / "Broken" / "__init__.py").resolve()
    frames = [f.filename for f in traceback.extract_tb(error.__traceback__)]
    assert str(init) in frames  # the stack shows where the import failed
    assert v1["HttpA"].errors == []


def test_v1_load_failures_are_reported_at_start() -> None:
    result = index("idx_v1_app")
    assert sorted(f.split(":")[0] for f in result.load_failures) == ["Broken", "Mismatch", "NoEntry", "Outs"]
    broken = [w for w in result.warnings if w.startswith("The 'Broken' function failed to load")]
    assert len(broken) == 1 and "ImportError: cannot import name 'no_such_name'" in broken[0]


# ---------------------------------------------------------------- settings and direct checks


def test_disabled_setting_marks_functions() -> None:
    settings = {
        "AzureWebJobs.Hello.Disabled": "True",
        "azurewebjobs.with_context.disabled": "1",
        "AzureWebJobs.enqueue.Disabled": "false",
    }
    specs = by_name(index("idx_v2_single", settings))
    assert specs["Hello"].disabled
    assert specs["with_context"].disabled
    assert not specs["enqueue"].disabled
    assert not is_disabled("Hello", {"AzureWebJobs.Hello.Disabled": "0"})


def _binding(name: str, direction: str, kind: str = "queue") -> BindingSpec:
    return BindingSpec(name, kind, direction, {"name": name, "type": kind, "direction": direction})  # type: ignore[arg-type]


def _trigger() -> BindingSpec:
    return _binding("req", "in", "httpTrigger")


def test_inout_and_return_direction_refused() -> None:
    def fn(req: func.HttpRequest, data: str) -> None: ...

    with pytest.raises(FunctionLoadError) as inout:
        validate_parameters("F", fn, [_trigger(), _binding("data", "inout")])
    assert str(inout.value) == 'cannot load the F function: "inout" bindings are not supported'

    def fn2(req: func.HttpRequest) -> None: ...

    with pytest.raises(FunctionLoadError) as ret:
        validate_parameters("G", fn2, [_trigger(), _binding("$return", "in", "http")])
    assert str(ret.value) == 'cannot load the G function: "$return" binding must have direction set to "out"'


def test_out_annotation_on_input_and_missing_parameter_refused() -> None:
    def fn(req: func.HttpRequest, blob: func.Out[str]) -> None: ...

    with pytest.raises(FunctionLoadError) as wrong_out:
        validate_parameters("F", fn, [_trigger(), _binding("blob", "in", "blob")])
    assert str(wrong_out.value) == (
        'cannot load the F function: binding blob is declared to have the "in" direction in function.json, '
        "but its annotation is azure.functions.Out in Python"
    )

    def fn2(req: func.HttpRequest) -> None: ...

    with pytest.raises(FunctionLoadError) as missing:
        validate_parameters("G", fn2, [_trigger(), _binding("blob", "in", "blob")])
    assert str(missing.value) == (
        "cannot load the G function: the following parameters are declared in function.json but not in "
        "Python: {'blob'}"
    )


def test_context_injected_only_when_not_a_binding() -> None:
    def fn(req: func.HttpRequest, context: func.Context, out: func.Out[str]) -> None: ...

    assert validate_parameters("F", fn, [_trigger(), _binding("out", "out")]) is True

    def fn2(req: func.HttpRequest, context: str) -> None: ...

    assert validate_parameters("G", fn2, [_trigger(), _binding("context", "in", "blob")]) is False


def test_unload_app_forgets_modules_and_path() -> None:
    root = str((APPS / "idx_v2_blueprint").resolve())
    result = index("idx_v2_blueprint")
    assert all(name in sys.modules for name in result.modules)
    unload_app()
    assert not any(name in sys.modules for name in result.modules)
    assert root not in sys.path


def test_precomputed_signatures_of_the_binding_classes_are_what_inspect_computes() -> None:
    from azure.functions.decorators.utils import BuildDictMeta

    index("idx_v2_single")
    index("idx_v2_blueprint")  # from the second index of a process on, the classes carry their signatures
    inits = [
        vars(cls)["__init__"]
        for name, module in list(sys.modules.items())
        if name.startswith("azure.functions")
        for cls in vars(module).values()
        if isinstance(cls, BuildDictMeta)
    ]
    presigned = [f for f in inits if "__signature__" in vars(f)]
    assert len(presigned) == len(inits) > 20
    for function in presigned:
        kept = function.__signature__
        del function.__signature__
        try:
            assert inspect.signature(function) == kept
        finally:
            function.__signature__ = kept
