"""Issue 11 items 5 and 7: v1 loading as the worker and host do it (an import failure answers 500 with the
worker's text; function.json read leniently; the app folder after installed packages on sys.path), and the
FUNCTIONS_WORKER_PROCESS_COUNT notice."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from funchost.indexing import process_count_notice, read_function_json
from tests.cli import running

APP = "tests/apps/fidelity_v1"
MODULE_NOT_FOUND = (
    "Exception: ModuleNotFoundError: No module named 'notfound'. Cannot find module. Please check the "
    "requirements.txt file for the missing module. For more info, please refer the troubleshooting guide: "
    "https://aka.ms/functions-modulenotfound. Current sys.path: ["
)


async def test_v1_import_failure_is_a_500_with_the_workers_message(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    r = await host.client.get("/api/missing_module")  # worker: test_import_module_troubleshooting_url
    assert (r.status, await r.text()) == (500, "")
    [failure] = [line for line in host.logs if "Exception: ModuleNotFoundError" in line]
    assert (
        "Exception while executing function: Functions.missing_module. Result: Failure\nException: "
        in failure
    )
    assert MODULE_NOT_FOUND in failure
    assert "Stack: " in failure and "missing_module/__init__.py" in failure
    assert any(line.startswith("The 'missing_module' function failed to load;") for line in host.logs)
    r = await host.client.get("/api/trailing_commas")  # the other functions of the app are unaffected
    assert (r.status, await r.text()) == (200, "OK-trailing")


async def test_installed_packages_win_over_app_modules(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    r = await host.client.get("/api/shadow")
    assert r.status == 200
    assert "site-packages" in await r.text()
    assert sys.path.index(str(host.host.options.script_root.resolve())) > max(
        i for i, p in enumerate(sys.path) if p.endswith("site-packages")
    )


def test_function_json_is_read_like_newtonsoft() -> None:
    text = """{
      // comment
      'scriptFile': '__init__.py', /* block */
      entryPoint: "main",
      "bindings": [{"type": "http", "name": "a//b",},],
    }"""
    assert read_function_json(text) == {
        "scriptFile": "__init__.py",
        "entryPoint": "main",
        "bindings": [{"type": "http", "name": "a//b"}],
    }
    with pytest.raises(ValueError):
        read_function_json('{"a": 1} trailing')


def test_process_count_notice() -> None:
    assert process_count_notice({}) is None
    assert process_count_notice({"FUNCTIONS_WORKER_PROCESS_COUNT": "1"}) is None
    assert process_count_notice({"FUNCTIONS_WORKER_PROCESS_COUNT": "x"}) is None
    notice = process_count_notice({"functions_worker_process_count": "3"})
    assert notice is not None and notice.startswith(
        "FUNCTIONS_WORKER_PROCESS_COUNT=3: funchost runs one worker"
    )
    assert "\n" not in notice


@pytest.mark.slow
def test_cli_v1_loading_and_notice() -> None:
    env = {"FUNCTIONS_WORKER_PROCESS_COUNT": "2"}
    with running(Path(APP), env=env) as host:
        status, _, body = host.request("GET", "/api/missing_module")
        assert (status, body) == (500, b"")
        out = host.wait_for_output("Exception: ModuleNotFoundError")
        assert MODULE_NOT_FOUND in out
        assert "FUNCTIONS_WORKER_PROCESS_COUNT=2: funchost runs one worker process" in out
        status, _, body = host.request("GET", "/api/shadow")
        assert status == 200 and b"site-packages" in body
        status, _, body = host.request("GET", "/api/trailing_commas")
        assert (status, body) == (200, b"OK-trailing")
