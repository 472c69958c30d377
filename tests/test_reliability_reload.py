"""Issue 10, hot reload: every outcome of importing the app is reported, the last good version keeps serving,
later reloads work; a deleted or empty app is a broken edit; a failed reload shows in /admin/host/status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import RunningHost, running
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

GOOD = """import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("{version}")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "host.json").write_text('{"version": "2.0"}')
    (root / "function_app.py").write_text(GOOD.format(version="v1"))
    return root


def _serves(host: RunningHost, text: str) -> bool:
    status, _, body = host.request("GET", "/api/hello")
    return status == 200 and body.decode() == text


def _status_errors(host: RunningHost) -> list[str]:
    status, _, body = host.request("GET", "/admin/host/status")
    assert status == 200
    errors: list[str] = json.loads(body).get("errors", [])
    return errors


def _save(app: Path, text: str) -> None:
    (app / "function_app.py").write_text(text)


def _kept(host: RunningHost, count: int) -> None:
    wait_until(
        lambda: host.output.count("Keeping the last good version running") >= count,
        message=lambda: f"no 'Keeping the last good version' #{count}:\n{host.output}",
    )


@pytest.mark.parametrize("raised", ["BaseException", "GeneratorExit", "KeyboardInterrupt", "SystemExit"])
def test_base_exceptions_at_import_are_reported_and_reload_goes_on(app: Path, raised: str) -> None:
    with running(app, reload=True) as host:
        host.wait_for_output("Watching")
        _save(app, f"raise {raised}('from module code')\n" + GOOD.format(version="v2"))
        _kept(host, 1)
        assert host.proc.poll() is None  # KeyboardInterrupt used to stop the host (rc 0)
        # The first report names the exception and its message: a GeneratorExit used to reach the reload as a
        # new, bare GeneratorExit (CPython closes a coroutine chain that a GeneratorExit is thrown into).
        first = host.output.split("Keeping the last good version running")[0]
        assert f"{raised}: from module code" in first, host.output
        assert _serves(host, "v1")
        assert any(raised in e for e in _status_errors(host))
        _save(app, GOOD.format(version="v3"))
        wait_until(lambda: _serves(host, "v3"), message=lambda: host.output)
        assert _status_errors(host) == []


def test_a_hanging_import_is_reported_and_the_next_save_reloads(app: Path) -> None:
    with running(app, reload=True, env={"FUNCHOST_RELOAD_SLOW_SECONDS": "1"}) as host:
        host.wait_for_output("Watching")
        _save(app, "import time\n\ntime.sleep(3600)\n" + GOOD.format(version="v2"))
        out = host.wait_for_output("Importing the app has not finished after 1s")
        assert f"{app / 'function_app.py'}:3 in <module>: time.sleep(3600)" in out
        assert _serves(host, "v1")
        assert host.request("GET", "/admin/host/ping")[0] == 200
        assert any("has not finished" in e for e in _status_errors(host))
        _save(app, GOOD.format(version="v3"))
        host.wait_for_output("Abandoned the hung import")
        wait_until(lambda: _serves(host, "v3"), message=lambda: host.output)
        assert _status_errors(host) == []
        _save(app, GOOD.format(version="v4"))  # and the one after
        wait_until(lambda: _serves(host, "v4"), message=lambda: host.output)


def test_deleting_or_emptying_the_app_keeps_the_last_good_version(app: Path) -> None:
    with running(app, reload=True) as host:
        host.wait_for_output("Watching")
        (app / "function_app.py").unlink()
        _kept(host, 1)
        assert "The reloaded app has no functions: function_app.py was deleted or renamed." in host.output
        assert _serves(host, "v1")
        assert any("deleted or renamed" in e for e in _status_errors(host))
        _save(app, "import azure.functions as func\n\napp = func.FunctionApp()\n")
        _kept(host, 2)
        assert "The reloaded app has no functions: the app now defines no function." in host.output
        assert _serves(host, "v1")
        _save(app, GOOD.format(version="v2"))
        wait_until(lambda: _serves(host, "v2"), message=lambda: host.output)
        assert _status_errors(host) == []
