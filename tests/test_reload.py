"""Hot reload, end to end: the real CLI in a subprocess, real edits on disk in a temporary copy of an app."""

from __future__ import annotations

import re
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.reload import KEEPING, watched
from tests.cli import RunningHost, running
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # end-to-end through the real CLI in a subprocess

APPS = Path(__file__).parent / "apps"
SAMPLE = Path(__file__).parent.parent / "sample_app"
WATCHING = "for changes; --no-reload turns it off."


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(APPS / "reload_basic", target, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    return target


@pytest.fixture
def host(app: Path) -> Iterator[RunningHost]:
    with running(app, reload=True) as started:
        started.wait_for_output(WATCHING)
        yield started


def get(host: RunningHost, path: str) -> tuple[int, str]:
    status, _, body = host.request("GET", path)
    return status, body.decode()


def wait_served(host: RunningHost, path: str, expected: str, timeout: float = 20.0) -> None:
    """Poll until ``path`` answers 200 with ``expected``."""
    last: list[tuple[int, str]] = [(0, "")]

    def served() -> bool:
        last[0] = get(host, path)
        return last[0] == (200, expected)

    wait_until(
        served,
        timeout=timeout,
        interval=0.01,
        message=lambda: f"{path} never served {expected!r}; last {last[0]!r}\n{host.output}",
    )


def wait_count(host: RunningHost, text: str, count: int, timeout: float = 20.0) -> None:
    wait_until(
        lambda: host.output.count(text) >= count,
        timeout=timeout,
        message=lambda: f"{text!r} did not appear {count} times:\n{host.output}",
    )


def set_text(app: Path, text: str, extra: str = "") -> None:
    source = (app / "function_app.py").read_text()
    source = re.sub(r'^TEXT = ".*"$', f'TEXT = "{text}"', source, flags=re.M)
    (app / "function_app.py").write_text(source + extra)


def test_banner_says_reload_is_on_and_an_edit_is_served(app: Path, host: RunningHost) -> None:
    assert f"Watching {app} {WATCHING}" in host.output
    assert get(host, "/api/text") == (200, "v0 h0")
    set_text(app, "v1")
    wait_served(host, "/api/text", "v1 h0")
    (app / "helper.py").write_text('SUFFIX = "h1"\n')
    wait_served(host, "/api/text", "v1 h1")
    wait_count(
        host, "text: [GET] http://localhost:", 3
    )  # the Functions block is printed again after each reload
    out = host.output
    assert f"File change of type 'Changed' detected for '{app / 'function_app.py'}'" in out
    assert f"File change of type 'Changed' detected for '{app / 'helper.py'}'" in out
    assert out.count("Host configuration has changed. Signaling restart") == 2
    assert re.search(r"Reloaded in \d+ ms", out)
    # the Functions block is printed again after each reload
    assert out.count("text: [GET] http://localhost:") == 3


def test_an_edit_using_a_new_binding_type_starts_its_plugin(app: Path, host: RunningHost) -> None:
    """Plugins start for the binding types an app uses (their manifests list them): an HTTP-only app has no timer
    plugin, and an edit adding a warmup function brings it in on the reload."""
    assert host.request("GET", "/admin/warmup")[0] == 404
    set_text(
        app,
        "v1",
        '\n\nimport logging\n\n\n@app.warm_up_trigger("context")\ndef warm(context) -> None:\n'
        '    logging.info("warmed by the new plugin")\n',
    )
    wait_served(host, "/api/text", "v1 h0")
    assert host.request("POST", "/admin/warmup")[0] == 200
    wait_count(host, "Executed 'Functions.warm' (Succeeded", 1)
    assert "warmed by the new plugin" in host.output
    assert "warm: warmupTrigger" in host.output


def test_zero_failed_requests_under_load_during_20_edits(app: Path, host: RunningHost) -> None:
    failures: list[str] = []
    seen: list[int] = []
    done = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + 180
        for _ in range(20_000):
            if done.is_set() or time.monotonic() > deadline:
                return
            try:
                with urllib.request.urlopen(host.url + "/api/text", timeout=10) as resp:
                    body = resp.read().decode()
                    match = re.fullmatch(r"v(\d+) h0", body)
                    if resp.status != 200 or match is None:
                        failures.append(f"{resp.status} {body!r}")
                    else:
                        seen.append(int(match.group(1)))
            except (OSError, urllib.error.HTTPError) as exc:
                failures.append(repr(exc))

    clients = [threading.Thread(target=load) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        for version in range(1, 21):
            set_text(app, f"v{version}")
            wait_served(host, "/api/text", f"v{version} h0")
    finally:
        done.set()
        for client in clients:
            client.join(30)
    assert failures == []
    assert len(seen) > 20  # the load really ran during the edits
    assert get(host, "/api/text") == (200, "v20 h0")
    assert host.output.count("Host configuration has changed. Signaling restart") >= 1
    assert KEEPING not in host.output


def test_in_flight_request_finishes_on_the_old_code(app: Path, host: RunningHost) -> None:
    result: list[tuple[int, str]] = []
    slow = threading.Thread(target=lambda: result.append(get(host, "/api/slow?s=2")))
    slow.start()
    host.wait_for_output("Executing 'Functions.slow'")
    set_text(app, "v1")
    wait_served(host, "/api/text", "v1 h0")
    slow.join(30)
    assert result == [(200, "v0 h0")]


BROKEN = {
    "syntax": ("def broken(:\n", ["SyntaxError"]),
    "import": ("import not_a_module_xyz\n", ["ModuleNotFoundError: No module named 'not_a_module_xyz'"]),
    "runtime": ("raise RuntimeError('boom at import')\n", ["RuntimeError: boom at import"]),
    "indexing": (
        "\n\n@app.function_name(name='text')\n@app.route(route='again')\n"
        "def again(req: func.HttpRequest) -> func.HttpResponse:\n    return func.HttpResponse('x')\n",
        ["ValueError: Function text does not have a unique function name."],
    ),
    "no_trigger": (
        "\n\n@app.function_name(name='Lonely')\n@app.queue_output(arg_name='m', queue_name='q', connection='S')\n"
        "def lonely(m: func.Out[str]) -> None:\n    m.set('x')\n",
        ["ValueError: Function Lonely does not have a trigger."],
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_edit_keeps_the_last_good_version_then_a_fix_reloads(
    app: Path, host: RunningHost, kind: str
) -> None:
    extra, expected = BROKEN[kind]
    script = app / "function_app.py"
    good = script.read_text()
    line = len(good.splitlines()) + 1  # where the appended text starts
    set_text(app, "v1", extra)
    wait_count(host, KEEPING, 1)
    out = host.output
    if kind in ("syntax", "import", "runtime"):
        assert f'File "{app / "function_app.py"}", line {line}' in out
    for text in expected:
        assert text in out
    assert "Worker failed to index functions" in out
    assert get(host, "/api/text") == (200, "v0 h0")
    script.write_text(good)
    set_text(app, "v2")
    wait_served(host, "/api/text", "v2 h0")
    assert host.output.count(KEEPING) >= 1


def test_invalid_host_json_keeps_the_last_good_version(app: Path, host: RunningHost) -> None:
    (app / "host.json").write_text('{"version": "2.0",')
    wait_count(host, KEEPING, 1)
    assert "host.json" in host.output.split(KEEPING)[0].rsplit("Signaling restart", 1)[1]
    assert get(host, "/api/text") == (200, "v0 h0")
    (app / "host.json").write_text('{"version": "2.0"}')
    set_text(app, "v1")
    wait_served(host, "/api/text", "v1 h0")


def test_module_state_is_fresh_after_a_reload(app: Path, host: RunningHost) -> None:
    assert [get(host, "/api/count") for _ in range(3)] == [(200, "1"), (200, "2"), (200, "3")]
    set_text(app, "v1")
    wait_served(host, "/api/text", "v1 h0")
    assert get(host, "/api/count") == (200, "1")


def test_ignored_folders_and_requirements_do_not_reload(app: Path, host: RunningHost) -> None:
    venv = app / "env313"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    ignored = [
        app / ".funchost" / "x.py",
        app / "__pycache__" / "x.py",
        app / ".venv" / "lib" / "x.py",
        app / "venv" / "x.py",
        venv / "lib" / "site.py",
        app / ".git" / "hooks.py",
        app / "node_modules" / "x.py",
    ]
    for path in ignored:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("X = 1\n")
    (app / "notes.txt").write_text("not code\n")
    (app / "requirements.txt").write_text("azure-functions\nrequests\n")
    host.wait_for_output("requirements.txt changed: install the new packages with `pip install -r")
    assert "Signaling restart" not in host.output
    set_text(app, "v1")
    wait_served(host, "/api/text", "v1 h0")
    out = host.output
    assert out.count("Host configuration has changed. Signaling restart") == 1
    for path in [*ignored, app / "notes.txt", venv / "pyvenv.cfg"]:
        assert str(path) not in out


def test_memory_store_keeps_its_data_across_a_reload(tmp_path: Path) -> None:
    app = tmp_path / "sample"
    shutil.copytree(SAMPLE, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    with running(app, "--store", "memory", reload=True) as host:
        host.wait_for_output(WATCHING)
        status, _, _ = host.request("PUT", "/api/assistants/keeper")
        assert status == 202
        script = app / "function_app.py"
        script.write_text(script.read_text().replace('f"Hello, {name}!"', 'f"Hi, {name}!"'))
        wait_served(host, "/api/hello?name=Ada", "Hi, Ada!")
        state = host.json("GET", "/api/assistants/keeper?timestampUTC=2000-01-01T00:00:00Z")
        assert isinstance(state, dict)
        assert (state["id"], state["exists"]) == ("keeper", True)
    assert (
        "Assistant store: memory (kept while this process runs, across reloads; gone on restart)"
        in host.output
    )


def test_no_reload_flag_serves_the_original_code(app: Path) -> None:
    with running(app) as host:
        set_text(app, "v1")
        time.sleep(1.5)  # give a (wrongly enabled) reloader ample time; no timing is asserted
        assert get(host, "/api/text") == (200, "v0 h0")
        assert WATCHING not in host.output
        assert "File change of type" not in host.output


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("function_app.py", True),
        ("pkg/mod.py", True),
        ("Fn/function.json", True),
        ("host.json", True),
        ("local.settings.json", True),
        ("requirements.txt", True),
        ("README.md", False),
        ("function_app.py~", False),
        (".funchost/keys.json", False),
        ("pkg/__pycache__/mod.cpython-311.pyc", False),
        ("pkg/__pycache__/mod.py", False),
        (".venv/lib/site.py", False),
        ("venv/x.py", False),
        (".git/x.py", False),
        ("node_modules/x/host.json", False),
    ],
)
def test_watched_paths(tmp_path: Path, relative: str, expected: bool) -> None:
    assert watched(tmp_path, str(tmp_path / relative)) is expected


def test_a_folder_with_pyvenv_cfg_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "myenv").mkdir()
    assert watched(tmp_path, str(tmp_path / "myenv" / "lib" / "x.py")) is True
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert watched(tmp_path, str(tmp_path / "myenv" / "lib" / "x.py")) is False
    assert watched(tmp_path, "/elsewhere/x.py") is False
