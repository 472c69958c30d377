"""The public plugin API (funchost.plugin) as a third party uses it: the README's example plugin type-checks and
runs, broken plugins are isolated with a message naming them, the core knows no plugin, and an app's own modules
named like the plugins run unchanged."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from funchost.host import Host, HostOptions
from funchost.indexing import unload_app
from funchost.plugin import (
    BindingOptions,
    CallContext,
    HostApi,
    InputBinding,
    OutputBinding,
    Plugin,
    PluginInfo,
    StartFlag,
    manifests,
)
from funchost.testing import Harness
from tests.cli import running

ROOT = Path(__file__).resolve().parents[1]
APPS = Path(__file__).parent / "apps"


def readme_plugin_sources() -> dict[str, str]:
    """The README's example plugin: the manifest block and the plugin block, by module name."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Writing a binding plugin")
    section = readme[start : readme.index("\n## ", start + 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    sources = {}
    for block in blocks:
        first = block.splitlines()[0]
        match = re.match(r"# (funchost_pigeon/\w+\.py)", first)
        assert match, f"each README plugin block starts with its file name, got {first!r}"
        sources[match.group(1)] = block
    assert set(sources) == {"funchost_pigeon/__init__.py", "funchost_pigeon/plugin.py"}
    return sources


@pytest.fixture
def pigeon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, source in readme_plugin_sources().items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield tmp_path / "src"
    for name in [m for m in sys.modules if m.startswith("funchost_pigeon")]:
        del sys.modules[name]


PIGEON_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="send/{to}")
@app.generic_output_binding(arg_name="note", type="carrierPigeon", destination="{to}-%SUFFIX%")
def send(req: func.HttpRequest, note: func.Out[str]) -> str:
    note.set(req.get_body().decode())
    if req.params.get("fail"):
        raise RuntimeError("no pigeon today")
    return "sent"


@app.route(route="bad")
@app.generic_output_binding(arg_name="note", type="carrierPigeon", destination="x")
def bad(req: func.HttpRequest, note: func.Out[str]) -> str:
    note.set(42)
    return "never"
"""


@pytest.mark.slow
def test_readme_plugin_example_type_checks_strictly(pigeon: Path) -> None:
    env = {"MYPYPATH": f"{ROOT}:{ROOT / 'bindings'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "funchost_pigeon"],
        cwd=pigeon,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


async def test_readme_plugin_example_runs(pigeon: Path, tmp_path: Path) -> None:
    from funchost_pigeon import info
    from funchost_pigeon.plugin import LOFT, PigeonPlugin

    assert isinstance(info, PluginInfo)
    info.check()
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(PIGEON_APP)
    (app / "host.json").write_text('{"version": "2.0"}')
    harness = Harness(tmp_path, lambda: tmp_path)
    harness.plugins = (PluginInfo("http", "funchost_http.plugin:HttpPlugin"), info)
    try:
        host = await harness.start(app, settings={"SUFFIX": "home"})
        ok = await host.client.post("/api/send/ann", data=b"hello")
        assert (ok.status, await ok.text()) == (200, "sent")
        failed = await host.client.post("/api/send/ann?fail=1", data=b"lost")
        assert failed.status == 500
        refused = await host.client.post("/api/bad")
        assert refused.status == 500
        assert host[LOFT] == {"ann-home": ["hello"]}  # the failed and refused invocations wrote nothing
        assert any("a pigeon carries text, not int; set a str." in line for line in host.logs)
        assert isinstance(host.host.registry.plugins[1], PigeonPlugin)
        assert host.host.describe() == ["Pigeon loft: in memory"]
    finally:
        await harness.close()


class NoType(OutputBinding[BindingOptions]):  # forgot `type`
    options = BindingOptions

    async def write(self, items: Sequence[Any], options: BindingOptions, call: CallContext) -> None: ...


class Echo(InputBinding[BindingOptions]):
    type = "echoTrigger"  # a trigger name on an input binding
    options = BindingOptions

    async def read(self, options: BindingOptions, call: CallContext) -> str:
        return ""


class GoodOptions(BindingOptions):
    text: str
    auto_resolve: ClassVar[frozenset[str]] = frozenset()


class Good(InputBinding[GoodOptions]):
    type = "good"
    options = GoodOptions

    async def read(self, options: GoodOptions, call: CallContext) -> str:
        return options.text


BROKEN = ("notype", "wrongrole", "notaplugin")


def notype_plugin(host: HostApi) -> Plugin:
    return Plugin("notype", host, [NoType()])


def wrongrole_plugin(host: HostApi) -> Plugin:
    return Plugin("wrongrole", host, [Echo()])


def notaplugin_plugin(host: HostApi) -> object:
    return object()


def good_plugin(host: HostApi) -> Plugin:
    return Plugin("good", host, [Good()])


GOOD_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="good")
@app.generic_input_binding(arg_name="g", type="good", text="fine")
def good(req: func.HttpRequest, g: str) -> str:
    return g


@app.route(route="half")
@app.generic_input_binding(arg_name="g", type="bad", text="starts the 'undeclared' plugin")
def half(req: func.HttpRequest, g: str) -> str:
    return g
"""


@pytest.fixture
async def broken_host(tmp_path: Path) -> AsyncIterator[Host]:
    (tmp_path / "function_app.py").write_text(textwrap.dedent(GOOD_APP))
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    host = await Host.load(
        HostOptions(
            script_root=tmp_path,
            apply_environment=False,
            plugins=[
                PluginInfo("http", "funchost_http.plugin:HttpPlugin"),
                *(PluginInfo(name, f"{__name__}:{name}_plugin") for name in BROKEN),
                PluginInfo("good", f"{__name__}:good_plugin", binding_types=("good",)),
                PluginInfo("undeclared", f"{__name__}:good_plugin", binding_types=("bad",)),
                PluginInfo("idle", "tests.no_such_module:never_imported", binding_types=("neverUsed",)),
            ],
        )
    )
    await host.start()
    yield host
    await host.close()
    unload_app()


async def test_invalid_plugins_are_disabled_by_name_and_the_rest_run(broken_host: Host) -> None:
    errors = "\n".join(broken_host.registry.errors)
    assert "Binding plugin 'notype' is disabled: NoType has no binding 'type'" in errors
    assert (
        "Binding plugin 'wrongrole' is disabled: Echo (type 'echoTrigger'): trigger types end in 'Trigger'"
        in errors
    )
    assert (
        "Binding plugin 'notaplugin' is disabled: its factory returned object, not a funchost.plugin.Plugin"
        in errors
    )
    assert (
        "Binding plugin 'undeclared' is disabled: Good registers type 'good', which the manifest's binding_types "
        "(bad) does not list" in errors
    )
    assert [p.name for p in broken_host.registry.plugins] == ["http", "good"]
    # 'idle' lists only a type the app does not use: never imported (its factory module does not exist), not
    # started, yet its type is named among the installed ones.
    assert "idle" not in errors and "no_such_module" not in errors
    assert broken_host.bound["half"].spec.errors == [
        "The binding type 'bad' of binding 'g' is not registered: no installed plugin handles it. Installed "
        "binding types: good, http, httpTrigger, neverUsed. Install a funchost plugin for it, or check the spelling."
    ]
    assert broken_host.state == "Running"
    assert "good" in broken_host.bound, (broken_host.index.errors, broken_host.index.warnings)
    result = await broken_host.invoke(broken_host.bound["good"].spec, _http_get(broken_host))
    assert result.return_value == "fine"


def _http_get(host: HostApi) -> Any:
    import azure.functions as func

    from funchost.plugin import TriggerData

    return TriggerData(func.HttpRequest("GET", "http://localhost/api/good", body=b""))


def test_manifests_are_checked() -> None:
    with pytest.raises(ValueError, match=r"not a 'package\.module:attr' reference"):
        PluginInfo("x", "no_colon").check()
    with pytest.raises(ValueError, match="must start with '--'"):
        PluginInfo("x", "a:b", flags=(StartFlag("store", setting="S", help="h"),)).check()
    with pytest.raises(ValueError, match=r"binding type 'my binding' must be a name such as 'myBinding'"):
        PluginInfo("x", "a:b", binding_types=("my binding",)).check()
    with pytest.raises(
        ValueError, match=r"binding_types is the string 'queue': give a tuple .* \('queue',\)"
    ):
        PluginInfo("x", "a:b", binding_types="queue").check()  # ("queue") without its comma
    installed = {info.name for info in manifests()[0]}
    assert {"http", "assistants"} <= installed


def test_the_core_names_no_plugin() -> None:
    offenders = []
    for path in (ROOT / "funchost").rglob("*.py"):
        text = path.read_text().lower()
        plugins = (
            "funchost_http",
            "funchost_assistants",
            "funchost_retrieval",
            "funchost_storage",
            "funchost_timer",
        )
        for word in (
            "assistant",
            "cassette",
            "chat model",
            "embedding",
            "blobtrigger",
            "queuetrigger",
            "timertrigger",
            *plugins,
        ):
            if word in text:
                offenders.append(f"{path.relative_to(ROOT)}: {word}")
    assert offenders == []


def _cli_in_fresh_python(argv: list[str], watched: tuple[str, ...]) -> str:
    """Run ``funchost <argv>`` in a new Python, check it imported none of ``watched`` nor any plugin's factory
    module, and return its exit code (``main``'s return or ``SystemExit``'s) and what it printed."""
    code = (
        "import sys, contextlib, io\n"
        "from funchost.cli import main\n"
        "out, code = io.StringIO(), None\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        code = main({argv!r})\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        f"watched = {watched!r}\n"
        "print(sorted(m for m in sys.modules if m in watched or m.endswith('.plugin') and m != 'funchost.plugin'))\n"
        "print(code, out.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    imported, _, printed = result.stdout.partition("\n")
    assert imported == "[]", result.stdout + result.stderr
    return printed


def test_cli_help_imports_no_server_and_lists_plugin_contributions() -> None:
    help_text = _cli_in_fresh_python(
        ["start", "--help"], ("aiohttp", "pydantic", "azure.functions", "openai")
    )
    assert "--store" in help_text and "[assistants plugin; setting FUNCHOST_STORE]" in help_text


def test_cli_functions_imports_the_app_but_no_server_pydantic_or_plugin() -> None:
    """`funchost functions` costs about what importing the app costs: settings are plain records, plugins are
    read only as manifests."""
    argv = ["functions", "--script-root", str(ROOT / "sample_app")]
    listing = _cli_in_fresh_python(
        argv, ("aiohttp", "pydantic", "openai", "funchost.host", "funchost.registry")
    )
    assert listing.startswith("0 ") and "CreateAssistant: httpTrigger" in listing, listing


SERVER_MODULES = ("aiohttp", "pydantic", "azure.functions", "openai", "funchost.host", "funchost.registry")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["assistants", "--help"], "usage: funchost assistants"),
        (["vectors", "-h"], "usage: funchost vectors"),
        (["storage", "--help"], "usage: funchost storage"),
        (["assistants", "list"], "No assistants in 'ChatState'"),
        (["vectors", "list"], "No collections ("),
        (["storage", "queue", "send", "orders", "hi"], "orders: message "),
        (["storage", "blob", "ls", "photos"], ""),
    ],
)
def test_plugin_commands_answer_their_own_help_and_import_no_server(
    tmp_path: Path, argv: list[str], expected: str
) -> None:
    """A plugin's command parses its own arguments (`funchost assistants --help` used to be refused by the top
    parser) and imports what it needs, not the server, pydantic or azure.functions."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "local.settings.json").write_text(
        '{"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}}'
    )
    if "--help" not in argv and "-h" not in argv:
        argv = [*argv, "--script-root", str(app)]
    printed = _cli_in_fresh_python(argv, SERVER_MODULES)
    assert printed.startswith("0 ") and expected in printed, printed


@pytest.mark.slow
def test_an_app_with_modules_named_like_the_plugins_runs_unchanged() -> None:
    with running(APPS / "shadowing_app") as host:
        status, _, body = host.request("GET", "/api/greet")
    assert (status, body) == (200, b"app-bindings app-assistants app-retrieval app-storage app-timer")


@pytest.mark.slow
def test_local_http_address_from_local_settings_is_honoured(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(
        "import azure.functions as func\napp = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n\n"
        "@app.route(route='hi')\ndef hi(req: func.HttpRequest) -> str:\n    return 'hi'\n"
    )
    (app / "host.json").write_text('{"version": "2.0"}')
    from tests.cli import free_port, spawn, wait_running

    port = free_port()
    (app / "local.settings.json").write_text(
        '{"IsEncrypted": false, "Values": {}, "Host": {"LocalHttpAddress": "127.0.0.2"}}'
    )
    proc = spawn(app, "--no-reload", port=port)
    try:
        proc.url = f"http://127.0.0.2:{port}"
        wait_running(proc)
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/api/hi", timeout=5) as resp:
            assert resp.read() == b"hi"
        assert "reachable from other machines" not in proc.output
    finally:
        proc.stop()


PLUGIN_PACKAGES = (
    "funchost_assistants",
    "funchost_http",
    "funchost_retrieval",
    "funchost_storage",
    "funchost_timer",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("app", "started"),
    [
        ("e2e_http", ["http"]),
        ("timer_app", ["http", "timer"]),
        ("../../sample_app", ["assistants", "http", "retrieval"]),
    ],
)
def test_an_app_imports_only_the_plugins_its_binding_types_need(app: str, started: list[str]) -> None:
    """A host (of `funchost start`, of a test) imports and starts a plugin whose manifest lists binding types only
    for an app using one of them: the others cost that app nothing. The HTTP plugin lists none: every app gets it."""
    code = (
        "import asyncio, sys\n"
        "from funchost.host import Host, HostOptions\n"
        f"options = HostOptions(script_root=__import__('pathlib').Path({str(APPS / app)!r}), apply_environment=False)\n"
        "host = asyncio.run(Host.load(options))\n"
        f"print(sorted(p.partition('_')[2] for p in {PLUGIN_PACKAGES!r} if p + '.plugin' in sys.modules))\n"
        "print(sorted(p.name for p in host.registry.plugins), host.registry.errors)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == [repr(started), f"{started!r} []"], result.stdout + result.stderr


def _echo_command(argv: list[str]) -> int:
    print("echo", *argv)
    return 7


def test_plugin_command_names_taken_are_ignored_once_and_the_first_plugin_keeps_its_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from funchost import cli
    from funchost.plugin import Command, PluginInfo

    echo = f"{__name__}:_echo_command"
    first = PluginInfo(
        "first", "x.y:z", commands=(Command("echo", "echo", echo), Command("start", "no", echo))
    )
    second = PluginInfo("second", "x.y:z", commands=(Command("echo", "shadow", "missing.module:main"),))
    monkeypatch.setattr(cli, "_manifests", lambda: (first, second))
    assert cli.main(["echo", "--help", "x"]) == 7  # the plugin parses its own --help
    out, err = capsys.readouterr()
    assert out == "echo --help x\n"
    assert err.count("plugin 'first' adds a command 'start', which is taken; ignored.") == 1
    assert err.count("plugin 'second' adds a command 'echo', which is taken; ignored.") == 1
    with pytest.raises(SystemExit):
        cli.main(["start", "--help"])
    out, err = capsys.readouterr()
    assert "usage: funchost start" in out and err.count("taken; ignored") == 2  # once per warning, not twice
