"""End to end: the real ``funchost start`` in a subprocess, driven over loopback HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import RunningHost, free_port, run_command, running, spawn

pytestmark = pytest.mark.slow  # end-to-end through the real CLI in a subprocess

APPS = Path(__file__).parent / "apps"
STAMP = r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "
HOST_CALL = "This function was programmatically called via the host APIs."
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def unstamped(output: str) -> list[str]:
    """The output lines with their ``[timestamp] `` prefix removed."""
    return [re.sub("^" + STAMP, "", line) for line in output.splitlines()]


def raw_request(
    host: RunningHost, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """A request that may repeat a header (urllib cannot)."""
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    result = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    conn.close()
    return result


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "funchost", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def copy_app(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(APPS / name, target)
    return target


# -- console ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def console_host() -> Iterator[RunningHost]:
    with running(APPS / "e2e_console", "--store", "memory") as host:
        yield host


def test_banner_and_functions_block(console_host: RunningHost) -> None:
    out = console_host.wait_for_output("For detailed output, run funchost with --verbose flag.")
    base = f"http://localhost:{console_host.port}/custom"
    block = (
        "\nFunctions:\n\n"
        f"\tAlpha:  {base}/hello\n\n"
        f"\tbeta: [GET] {base}/logs\n\n"
        f"\tBoom: [GET] {base}/boom\n\n"
        f"\tzeta: [GET,POST] {base}/items/{{id}}\n\n"
        "\tgamma_queue: eventHubTrigger\n\n"
        "Function Retired is disabled.\n"
    )
    assert block in out + "\n"
    assert out.splitlines()[:4] == [
        "",
        "funchost 0.1.0  (Azure Functions host, Python worker semantics)",
        "Function Runtime Version: 4.x (emulated, no .NET)",
        "",
    ]
    assert re.search(STAMP + "Worker process started and initialized.", out)
    assert "\x1b[" not in out  # not a terminal: no colours


def test_invocation_lines_share_the_id(console_host: RunningHost) -> None:
    status, _, body = console_host.request("GET", "/custom/items/7")
    assert status == 200
    invocation_id = body.decode()
    assert re.fullmatch(UUID, invocation_id)
    out = console_host.wait_for_output(f"Executed 'Functions.zeta' (Succeeded, Id={invocation_id}")
    assert re.search(
        STAMP + re.escape(f"Executing 'Functions.zeta' (Reason='{HOST_CALL}', Id={invocation_id})"), out
    )
    assert re.search(
        STAMP
        + re.escape(f"Executed 'Functions.zeta' (Succeeded, Id={invocation_id}, ")
        + r"Duration=\d+ms\)",
        out,
    )


def test_user_logging_and_print_are_timestamped_lines(console_host: RunningHost) -> None:
    assert console_host.request("GET", "/custom/logs?n=5")[0] == 200
    out = console_host.wait_for_output("Executed 'Functions.beta' (Succeeded")
    assert re.search(STAMP + "user info line 5$", out, re.M)
    assert re.search(STAMP + "printed line$", out, re.M)
    assert "user debug line" not in out


def test_exception_gives_500_and_failed_lines(console_host: RunningHost) -> None:
    status, _, body = console_host.request("GET", "/custom/boom")
    assert (status, body) == (500, b"")
    out = console_host.wait_for_output('kaboom from user code")')
    lines = unstamped(out)
    i = next(n for n, line in enumerate(lines) if line.startswith("Executed 'Functions.Boom' (Failed, Id="))
    assert re.fullmatch(r"Executed 'Functions.Boom' \(Failed, Id=" + UUID + r", Duration=\d+ms\)", lines[i])
    assert lines[i + 1] == "Exception while executing function: Functions.Boom. Result: Failure"
    assert lines[i + 2] == "Exception: ValueError: kaboom from user code"
    assert lines[i + 3].startswith("Stack:   File ")
    assert any("e2e_console/function_app.py" in line and "in Boom" in line for line in lines[i:])


def test_untriggerable_function_warns_once_and_runs_via_admin(console_host: RunningHost) -> None:
    out = console_host.wait_for_output("For detailed output, run funchost with --verbose flag.")
    assert (
        out.count(
            "No installed binding plugin handles trigger type 'eventHubTrigger' of function 'gamma_queue'"
        )
        == 1
    )
    status, _, body = console_host.request("POST", "/admin/functions/gamma_queue", '{"input": "hey"}')
    assert (status, body) == (202, b"")
    out = console_host.wait_for_output("Executed 'Functions.gamma_queue' (Succeeded")
    assert re.search(STAMP + "queue got hey$", out, re.M)
    assert f"Executing 'Functions.gamma_queue' (Reason='{HOST_CALL}'" in out


def test_admin_api(console_host: RunningHost) -> None:
    listed = console_host.json("GET", "/admin/functions")
    assert isinstance(listed, list)
    assert sorted(f["name"] for f in listed) == ["Alpha", "Boom", "Retired", "beta", "gamma_queue", "zeta"]
    one = console_host.json("GET", "/admin/functions/ZETA")
    assert isinstance(one, dict)
    assert one["name"] == "zeta"
    assert one["invoke_url_template"] == f"http://localhost:{console_host.port}/custom/items/{{id}}"
    assert one["config"]["bindings"][0]["type"] == "httpTrigger"
    assert console_host.json("GET", "/admin/functions/zeta/status") == {}
    assert console_host.request("GET", "/admin/functions/nope")[0] == 404
    assert console_host.request("GET", "/admin/functions/nope/status")[0] == 404
    status = console_host.json("GET", "/admin/host/status")
    assert isinstance(status, dict) and status["state"] == "Running"
    assert console_host.request("GET", "/admin/host/ping")[:3:2] == (200, b"")
    assert console_host.request("POST", "/admin/host/ping")[0] == 200
    code, _, text = console_host.request("POST", "/admin/functions/gamma_queue")
    assert code == 400
    assert b'needs a JSON body like {"input": "..."}' in text
    assert console_host.request("POST", "/admin/functions/nope", '{"input": "x"}')[0] == 404


def test_homepage(console_host: RunningHost) -> None:
    status, headers, body = console_host.request("GET", "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"up and running" in body


def test_verbose_shows_system_logs_and_no_hint() -> None:
    with running(APPS / "e2e_console", "--store", "memory", "--verbose") as host:
        host.request("GET", "/custom/hello")
        out = host.wait_for_output("Executed 'Functions.Alpha' (Succeeded")
    assert "For detailed output" not in out
    assert re.search(STAMP + re.escape("[asyncio] Using selector"), out)  # a library's debug line, tagged


def test_functions_allow_list() -> None:
    with running(APPS / "e2e_console", "--store", "memory", "--functions", "zeta", "GAMMA_QUEUE") as host:
        out = host.wait_for_output("For detailed output")
        assert host.request("GET", "/custom/hello")[0] == 404
        assert host.request("GET", "/custom/items/1")[0] == 200
    assert (
        "A function allow list has been specified, excluding all but the following functions: "
        "[zeta, GAMMA_QUEUE]" in out
    )
    block = out[out.index("Functions:") :]
    assert "\tzeta: [GET,POST]" in block and "\tgamma_queue: eventHubTrigger" in block
    assert "Alpha" not in block and "Boom" not in block


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = spawn(APPS / "e2e_console", "--no-reload", port=port)
        code = host.proc.wait(30)
        host.stop()
    assert code != 0
    assert (
        f"Port {port} is unavailable. Close the process using that port, or specify another port "
        "using --port [-p]."
    ) in host.output


def test_script_root_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = run_cli("start", "--script-root", str(missing))
    assert result.returncode != 0
    assert f"\"{missing}\" doesn't exist: --script-root takes the function app's folder" in result.stderr


@pytest.mark.parametrize(
    ("host_json", "message"),
    [
        (
            '{"version": "3.0"}',
            "'3.0' is an invalid value for host.json 'version' property. We recommend you set "
            "the 'version' property to '2.0'.",
        ),
        ('{"logging": {}}', "The host.json file is missing the required 'version' property."),
    ],
)
def test_invalid_host_json_version(tmp_path: Path, host_json: str, message: str) -> None:
    app = copy_app("e2e_auth", tmp_path)
    (app / "host.json").write_text(host_json)
    result = run_cli("start", "--script-root", str(app), "--port", str(free_port()), "--no-reload")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


# -- local.settings.json ------------------------------------------------------------------------------------
def test_local_settings_port_env_and_warning(tmp_path: Path) -> None:
    app = copy_app("e2e_http", tmp_path)
    port = free_port()
    settings = json.loads((app / "local.settings.json").read_text())
    settings["Host"] = {"LocalHttpPort": port}
    (app / "local.settings.json").write_text(json.dumps(settings))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "funchost",
            "start",
            "--script-root",
            str(app),
            "--no-reload",
            "--store",
            "memory",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OVERRIDDEN": "from the environment"},
    )
    host = RunningHost(proc, port)
    try:
        host.wait_for_output("For detailed output")
        assert host.request("GET", "/api/env/GREETING")[2] == b"hello from settings"
        assert host.request("GET", "/api/env/OVERRIDDEN")[2] == b"from the environment"
    finally:
        host.stop()
    assert (
        "Skipping 'OVERRIDDEN' from local settings as it's already defined in current environment variables."
    ) in host.output


def test_local_settings_invalid_json_warns(tmp_path: Path) -> None:
    app = copy_app("e2e_auth", tmp_path)
    (app / "local.settings.json").write_text('{"Values": {')
    with running(app, "--store", "memory") as host:
        out = host.wait_for_output("For detailed output")
    assert (
        f"Failed to read app settings file at '{app / 'local.settings.json'}'. Ensure it is a valid JSON "
        "file." in out
    )


def test_local_settings_encrypted_is_refused(tmp_path: Path) -> None:
    app = copy_app("e2e_auth", tmp_path)
    (app / "local.settings.json").write_text('{"IsEncrypted": true, "Values": {"A": "b3Blbg=="}}')
    result = run_cli("start", "--script-root", str(app), "--port", str(free_port()), "--no-reload")
    assert result.returncode != 0
    assert (
        'local.settings.json has "IsEncrypted": true; encrypted settings are not supported by funchost.'
        in result.stdout + result.stderr
    )


# -- HTTP ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def http_host() -> Iterator[RunningHost]:
    args = (
        "--store",
        "memory",
        "--cors",
        "http://good.example",
        "--cors-credentials",
        "--max-request-body-size",
        "1000",
    )
    with running(APPS / "e2e_http", *args) as host:
        yield host


def echo(
    host: RunningHost, method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
) -> dict[str, object]:
    status, _, payload = raw_request(host, method, path, headers or [], body)
    assert status == 200, (status, payload)
    result = json.loads(payload)
    assert isinstance(result, dict)
    return result


def test_route_templates_and_constraints(http_host: RunningHost) -> None:
    got = echo(http_host, "GET", "/api/echo/5/a/b/c")
    assert (got["fn"], got["route_params"]) == ("echo_int", {"id": "5", "rest": "a/b/c"})
    assert http_host.request("GET", "/api/echo/0/a")[0] == 404  # min(1) fails, alpha fails: no route
    got = echo(http_host, "GET", "/api/echo/abc")
    assert (got["fn"], got["route_params"]) == ("echo_alpha", {"name": "abc"})  # unmatched optional omitted
    assert http_host.request("GET", "/api/echo/ab1")[0] == 404
    guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    assert http_host.request("GET", f"/api/guid/{guid}")[2] == guid.encode()
    assert http_host.request("GET", "/api/guid/not-a-guid")[0] == 404
    assert http_host.request("GET", "/api/defaults")[2] == b"plain"
    assert http_host.request("GET", "/api/defaults/x")[2] == b"x"


def test_literals_case_insensitive_first_match_wins_and_method_mismatch(http_host: RunningHost) -> None:
    assert http_host.request("GET", "/API/Shadow/special")[2] == b"A_first"
    assert http_host.request("GET", "/api/shadow/other")[2] == b"A_first"
    status, _, body = http_host.request("DELETE", "/api/echo/abc")
    assert (status, body) == (404, b"")


def test_http_request_fields(http_host: RunningHost) -> None:
    got = echo(
        http_host,
        "POST",
        "/api/echo/abc/more?a=&b=1&b=2&c=3",
        b'{"k": "v"}',
        [("X-Multi", "one"), ("X-Multi", "two"), ("Content-Type", "application/json")],
    )
    assert got["method"] == "POST"
    assert got["url"] == f"http://127.0.0.1:{http_host.port}/api/echo/abc/more?a=&b=1&b=2&c=3"
    headers = got["headers"]
    assert isinstance(headers, dict)
    assert headers["x-multi"] == "one,two"
    assert all(k == k.lower() for k in headers)
    assert got["params"] == {"b": "1,2", "c": "3"}
    assert got["route_params"] == {"name": "abc", "opt": "more"}
    assert (got["body"], got["body_type"], got["json"]) == ('{"k": "v"}', "bytes", {"k": "v"})
    got = echo(http_host, "GET", "/api/echo/abc")
    assert got["json"] == "ValueError: HTTP request does not contain valid JSON data"
    assert (got["body"], got["body_type"]) == ("", "bytes")


def test_responses(http_host: RunningHost) -> None:
    status, headers, body = http_host.request("GET", "/api/resp/custom")
    assert (status, body, headers["X-Fn"]) == (201, b"created!", "yes")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["X-Shared"] == "from-function"  # the function's header wins over host.json customHeaders
    assert headers["X-Custom"] == "from-host"
    status, headers, body = http_host.request("GET", "/api/resp/json")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b'{"a": 1}')
    assert http_host.request("GET", "/api/resp/html")[1]["Content-Type"] == "text/html; charset=latin-1"
    status, headers, body = http_host.request("GET", "/api/resp/str")
    assert (status, headers["Content-Type"], body) == (200, "text/plain; charset=utf-8", b"plain string")
    status, _, body = http_host.request("GET", "/api/resp/out")
    assert (status, body) == (202, b"via Out")
    status, headers, body = http_host.request("GET", "/api/resp/none")
    assert (status, body) == (500, b"")
    assert headers["X-Custom"] == "from-host"
    out = http_host.wait_for_output('unsupported type "http" for Python type "NoneType"')
    assert "Executed 'Functions.resp_none' (Failed" in out
    assert http_host.request("GET", "/api/resp/raise")[::2] == (500, b"")


def test_context_fields(http_host: RunningHost) -> None:
    status, _, body = http_host.request("GET", "/api/context")
    assert status == 200
    ctx = json.loads(body)
    out = http_host.wait_for_output(f"Executed 'Functions.context_fn' (Succeeded, Id={ctx['invocation_id']}")
    assert f"Executing 'Functions.context_fn' (Reason='{HOST_CALL}', Id={ctx['invocation_id']})" in out
    assert ctx["function_name"] == "context_fn"
    assert ctx["function_directory"] == str((APPS / "e2e_http").resolve())
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", ctx["trace_parent"])
    assert (ctx["retry_count"], ctx["max_retry_count"]) == (0, 0)
    assert ctx["thread_local"] == ctx["invocation_id"]


def test_incoming_traceparent_reaches_context(http_host: RunningHost) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    _, _, body = http_host.request("GET", "/api/context", headers={"traceparent": parent})
    received = json.loads(body)["trace_parent"]
    # The worker continues the caller's trace: same trace id and flags, a new span id of its own.
    assert re.fullmatch(r"00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01", received)
    assert received != parent


def test_async_function_runs_on_the_loop(http_host: RunningHost) -> None:
    assert http_host.request("GET", "/api/async")[2] == b"async on MainThread"


def _two_sleeps(host: RunningHost) -> tuple[dict[str, float], dict[str, float]]:
    results: dict[str, dict[str, float]] = {}

    def call(tag: str) -> None:
        results[tag] = json.loads(host.request("GET", f"/api/sleep/{tag}")[2])

    threads = [threading.Thread(target=call, args=(t,)) for t in ("one", "two")]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    first, second = sorted(results.values(), key=lambda r: r["start"])
    return first, second


def test_sync_functions_overlap_in_the_thread_pool(http_host: RunningHost) -> None:
    first, second = _two_sleeps(http_host)
    assert second["start"] < first["end"]


def test_thread_count_one_serializes_sync_functions() -> None:
    with running(APPS / "e2e_http", "--store", "memory", env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"}) as host:
        first, second = _two_sleeps(host)
    assert second["start"] >= first["end"]


def test_function_timeout_gives_500_and_host_keeps_serving(http_host: RunningHost) -> None:
    status, _, body = http_host.request("GET", "/api/slow")
    assert (status, body) == (500, b"")
    out = http_host.wait_for_output("Initiating cancellation.")
    assert re.search(
        r"Timeout value of 00:00:02 exceeded by function 'Functions.slow' \(Id: '"
        + UUID
        + r"'\)\. Initiating cancellation\.",
        out,
    )
    assert "Timeout value of 00:00:02 was exceeded by function: Functions.slow" in out
    assert http_host.request("GET", "/api/resp/str")[2] == b"plain string"


def test_cors_preflight_and_simple_with_credentials(http_host: RunningHost) -> None:
    status, headers, _ = http_host.request(
        "OPTIONS",
        "/api/resp/str",
        headers={"Origin": "http://good.example", "Access-Control-Request-Method": "GET"},
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "http://good.example"
    assert headers["Access-Control-Allow-Methods"] == "GET"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    _, headers, _ = http_host.request("GET", "/api/resp/str", headers={"Origin": "http://good.example"})
    assert headers["Access-Control-Allow-Origin"] == "http://good.example"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    _, headers, _ = http_host.request("GET", "/api/resp/str", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers


def test_body_over_the_limit_is_413(http_host: RunningHost) -> None:
    status, _, _ = raw_request(http_host, "POST", "/api/echo/abc", [], b"x" * 2000)
    assert status == 413
    assert echo(http_host, "POST", "/api/echo/abc", b"x" * 500)["body"] == "x" * 500


def test_settings_values_are_environment(http_host: RunningHost) -> None:
    assert http_host.request("GET", "/api/env/GREETING")[2] == b"hello from settings"
    assert http_host.request("GET", "/api/env/AzureWebJobsScriptRoot")[0] == 200


# -- v1 and routePrefix "" -----------------------------------------------------------------------------------
def test_v1_app_with_empty_route_prefix() -> None:
    with running(APPS / "e2e_v1", "--store", "memory") as host:
        status, _, body = host.request("GET", "/greet/ann")
        assert (status, body) == (200, b"v1 says hello to ann")
        assert host.request("GET", "/api/greet/ann")[0] == 404
        out = host.output
    assert f"\tHttpV1: [GET] http://localhost:{host.port}/greet/{{who}}\n" in out


# -- binding expressions and the registry -------------------------------------------------------------------
@pytest.fixture(scope="module")
def bindings_host() -> Iterator[RunningHost]:
    with running(APPS / "e2e_bindings", "--store", "memory") as host:
        assert host.request("PUT", "/api/team/team")[0] == 201  # fan-out: team-one and team-two
        yield host


def state_id(host: RunningHost, method: str, path: str, body: str | None = None) -> tuple[str, bool]:
    status, _, payload = host.request(method, path, body)
    assert status == 200, (status, payload)
    state = json.loads(payload)
    return state["id"], state["exists"]


def test_json_array_output_fans_out(bindings_host: RunningHost) -> None:
    assert state_id(bindings_host, "GET", "/api/state/team-one") == ("team-one", True)
    assert state_id(bindings_host, "GET", "/api/state/team-two") == ("team-two", True)
    assert state_id(bindings_host, "GET", "/api/state/team-three") == ("team-three", False)


def test_expressions_resolve_from_query_setting_and_body(bindings_host: RunningHost) -> None:
    assert state_id(bindings_host, "GET", "/api/byquery?x=team-two") == ("team-two", True)
    assert state_id(bindings_host, "GET", "/api/bysetting") == ("team-one", True)
    assert state_id(bindings_host, "POST", "/api/bybody", '{"who": "team-two"}') == ("team-two", True)


def test_missing_setting_fails_that_function(bindings_host: RunningHost) -> None:
    assert bindings_host.request("GET", "/api/missing")[::2] == (500, b"")
    out = bindings_host.wait_for_output("'%NOT_THERE%' does not resolve to a value.")
    assert "Executed 'Functions.query_missing' (Failed" in out
    assert bindings_host.request("GET", "/api/ok")[2] == b"ok"


def test_admin_input_json_is_binding_data(bindings_host: RunningHost) -> None:
    body = json.dumps({"input": json.dumps({"who": "team-one"})})
    assert bindings_host.request("POST", "/admin/functions/queue_fn", body)[0] == 202
    out = bindings_host.wait_for_output("exists=True")
    assert re.search(STAMP + re.escape('queue_fn msg={"who": "team-one"} exists=True'), out)


def test_unknown_binding_type_puts_only_that_function_in_error(bindings_host: RunningHost) -> None:
    out = bindings_host.output
    assert (
        "The 'unknown_input' function is in error: The binding type 'madeUpInput' of binding 'thing' is not "
        "registered"
    ) in out
    assert "Installed binding types: assistantCreate, assistantPost, assistantQuery" in out
    status = bindings_host.json("GET", "/admin/functions/unknown_input/status")
    assert isinstance(status, dict) and "madeUpInput" in status["errors"][0]
    assert bindings_host.request("GET", "/api/unknown")[0] == 404
    assert "\tunknown_input:" not in out
    assert bindings_host.request("GET", "/api/ok")[2] == b"ok"


def test_misspelled_property_names_the_property(bindings_host: RunningHost) -> None:
    status = bindings_host.json("GET", "/admin/functions/typo_prop/status")
    assert isinstance(status, dict)
    assert "unknown property 'colectionName' for binding type 'assistantQuery'" in status["errors"][0]
    bindings_host.wait_for_output(
        "The 'typo_prop' function is in error: Binding 'state' (assistantQuery): unknown property 'colectionName'"
    )


# -- auth ---------------------------------------------------------------------------------------------------
def test_enable_auth(tmp_path: Path) -> None:
    app = copy_app("e2e_auth", tmp_path)
    host = spawn(app, "--no-reload", "--store", "memory", "--enable-auth", "--host", "0.0.0.0")
    try:
        out = host.wait_for_output("For detailed output")
        keys_file = app / ".funchost" / "keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        keys = json.loads(keys_file.read_text())
        master, function = keys["masterKey"], keys["functionKeys"]["default"]
        assert host.request("GET", "/api/open")[::2] == (200, b"anonymous")
        assert host.request("GET", "/api/fn")[::2] == (401, b"")
        assert host.request("GET", "/api/fn?code=wrong")[::2] == (401, b"")
        assert host.request("GET", f"/api/fn?code={function}")[::2] == (200, b"function level")
        assert host.request("GET", "/api/fn", headers={"x-functions-key": function})[2] == b"function level"
        assert host.request("GET", "/api/fn", headers={"x-functions-key": master})[2] == b"function level"
        assert host.request("GET", "/api/adm", headers={"x-functions-key": function})[::2] == (401, b"")
        assert host.request("GET", "/api/adm", headers={"x-functions-key": master})[2] == b"admin level"
        assert host.request("GET", "/admin/host/status")[0] == 401
        assert host.request("GET", "/admin/host/status", headers={"x-functions-key": function})[0] == 401
        status, _, body = host.request("GET", "/admin/host/status", headers={"x-functions-key": master})
        assert (status, json.loads(body)["state"]) == (200, "Running")
        assert host.request("GET", "/admin/host/ping")[0] == 200
    finally:
        host.stop()
    assert "Listening on 0.0.0.0: the app is reachable from other machines." in out
    printed = run_command("keys", "--script-root", str(app))
    assert printed.returncode == 0
    assert f"Master key: {master}" in printed.stdout
    assert f"Function key (default): {function}" in printed.stdout


def test_host_0000_without_auth_warns_keys_not_enforced() -> None:
    with running(APPS / "e2e_v1", "--store", "memory", "--host", "0.0.0.0") as host:
        out = host.wait_for_output("For detailed output")
    assert (
        "Listening on 0.0.0.0: the app is reachable from other machines and keys are not enforced (add "
        "--enable-auth)."
    ) in out


SAMPLE_APP = Path(__file__).resolve().parents[1] / "sample_app"


@pytest.mark.parametrize("verbose", [False, True])
def test_plugin_information_lines_only_with_verbose(verbose: bool) -> None:
    """Without --verbose a plugin's Information records are not shown (funchost sets the system loggers to
    Warning, so they are not even built); its warnings are; --verbose shows both, tagged with the logger."""
    flags = ("--verbose",) if verbose else ()
    with running(SAMPLE_APP, "--store", "memory", *flags) as host:
        assert host.request("PUT", "/api/assistants/quiet")[0] == 202
        assert host.request("GET", "/api/assistants/ghost?timestampUTC=2024-01-01T00:00:00Z")[0] == 200
        out = host.wait_for_output("No assistant exists with ID = 'ghost'")  # a plugin's Warning
        host.wait_for_output("Executed 'Functions.GetChatState' (Succeeded")
    assert "Worker process started and initialized." in out  # announced whatever the level
    info = "[quiet] Creating new chat session with instructions"
    assert (info in out) is verbose, out
