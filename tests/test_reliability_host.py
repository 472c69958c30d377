"""Issue 10, host core: thread-pool exhaustion, bounded shutdown, blocked loop, clear errors, headers, console.

Each test starts the real CLI (tests/apps/reliability_app: functionTimeout 4 s, PYTHON_THREADPOOL_THREAD_COUNT=4).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.cli import RunningHost, running, spawn, wait_running
from tests.waiting import wait_until

SAMPLE_APP = Path(__file__).resolve().parents[1] / "sample_app"
pytestmark = pytest.mark.slow
APP = Path(__file__).parent / "apps" / "reliability_app"


def _in_background(host: RunningHost, path: str) -> threading.Thread:
    def call() -> None:
        with contextlib.suppress(OSError):  # the host stopped before answering (shutdown tests)
            host.request("GET", path)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_exhausted_thread_pool_is_named_and_the_host_stays_usable() -> None:
    with running(APP) as host:
        for _ in range(4):
            _in_background(host, "/api/hang?s=60")
        wait_until(lambda: host.output.count("Executing 'Functions.hang'") == 4)
        status, _, body = host.request("GET", "/api/ahello")  # async functions do not need a thread
        assert (status, body) == (200, b"async hello")
        assert host.request("GET", "/admin/host/ping")[0] == 200
        status, _, body = host.request("GET", "/api/hello")  # queued; functionTimeout (4 s) then applies
        assert (status, body) == (500, b"")
        out = host.wait_for_output("Executed 'Functions.hello' (Failed")
        assert "All 4 worker threads (PYTHON_THREADPOOL_THREAD_COUNT) are busy with sync functions" in out
        assert "'Functions.hang' (Id=" in out and "running for" in out
        assert "It never started: it waited the whole time for a worker thread, all 4 were busy with" in out


def test_sigterm_stops_within_the_bound_behind_a_hung_function_and_an_app_thread() -> None:
    host = spawn(APP, "--no-reload")
    wait_running(host)
    assert host.request("GET", "/api/spawn")[0] == 200
    _in_background(host, "/api/hang?s=600")
    wait_until(lambda: "Executing 'Functions.hang'" in host.output)
    host.proc.send_signal(signal.SIGTERM)
    code = host.proc.wait(30)  # without the bound it never exits
    host._reader.join(2)
    assert code == 0
    assert "Stopping: running invocations get up to 5s" in host.output
    assert "abandoning what did not finish: sync invocation 'Functions.hang' (Id=" in host.output
    assert "thread 'app-forever' (not a daemon thread" in host.output
    assert "Traceback" not in host.output


def test_second_sigint_exits_at_once_without_a_traceback() -> None:
    host = spawn(APP, "--no-reload")
    wait_running(host)
    _in_background(host, "/api/hang?s=600")
    wait_until(lambda: "Executing 'Functions.hang'" in host.output)
    host.proc.send_signal(signal.SIGINT)
    host.wait_for_output("Stopping:")
    host.proc.send_signal(signal.SIGINT)
    code = host.proc.wait(30)
    host._reader.join(2)
    assert code == 130
    assert "SIGINT again: exiting at once" in host.output
    assert "Traceback" not in host.output and "threading._shutdown" not in host.output


def test_an_async_function_blocking_the_loop_is_named_with_a_hint() -> None:
    with running(APP) as host:
        assert host.request("GET", "/api/block?s=3")[0] == 200
        out = host.wait_for_output("blocked the event loop for 3.")
        assert "'Functions.block' (Id=" in out and "has blocked the event loop for 1." in out
        assert "await asyncio.sleep(...)" in out and "asyncio.to_thread" in out


def test_console_lines_pending_while_the_loop_is_blocked_show_with_the_warning() -> None:
    """The console writes once per loop iteration; a blocked loop must not hide the Executing line of the
    function that blocks it: the watch thread's warning is written at once and takes the pending lines along."""
    with running(APP) as host:
        thread = _in_background(host, "/api/block?s=4")
        out = host.wait_for_output("has blocked the event loop for 1.")
        assert "Executing 'Functions.block'" in out  # shown while the loop is still blocked
        assert "Executed 'Functions.block'" not in out
        thread.join(30)
        host.wait_for_output("Executed 'Functions.block' (Succeeded")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/surrogate", "UnicodeEncodeError: 'utf-8' codec can't encode character '\\ud800'"),
        ("/api/status?code=0", "ValueError: invalid HTTP status code 0: use a number from 100 to 999"),
        ("/api/status?code=-1", "ValueError: invalid HTTP status code -1"),
        ("/api/status?code=1000", "ValueError: invalid HTTP status code 1000"),
        ("/api/cancel", "Exception: CancelledError: "),
    ],
)
def test_unsendable_results_fail_the_invocation_with_an_empty_500(path: str, message: str) -> None:
    with running(APP) as host:
        status, _, body = host.request("GET", path)
        assert (status, body) == (500, b"")
        name = path.split("/")[2].split("?")[0]
        out = host.wait_for_output(f"Executed 'Functions.{name}' (Failed")
        assert message in out
        assert f"Executed 'Functions.{name}' (Succeeded" not in out
        assert "Error handling request" not in out


def test_large_headers_up_to_kestrels_limits() -> None:
    with running(APP) as host:
        status, _, body = host.request("GET", "/api/hello", headers={"Cookie": "session=" + "x" * 9000})
        assert (status, body) == (200, b"hello")
        jwt = {"Authorization": "Bearer " + "j" * 12000, "X-Other": "o" * 12000}
        assert host.request("GET", "/api/hello", headers=jwt)[0] == 200
        too_much = {f"X-H{i}": "v" * 9000 for i in range(4)}  # 36 KB in total
        assert host.request("GET", "/api/hello", headers=too_much)[0] == 431
        host.wait_for_output("headers take more than 32768 bytes in total (431)")


def test_malformed_requests_and_disconnects_print_no_traceback() -> None:
    with running(APP) as host:
        for raw in (b"GARBAGE \x01\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", host.port)) as s:
                s.sendall(raw)
                assert s.recv(100).startswith(b"HTTP/1.")
        with socket.create_connection(("127.0.0.1", host.port)) as s:  # body cut short
            s.sendall(b"POST /api/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        with socket.create_connection(("127.0.0.1", host.port)) as s:  # gone before the answer
            s.sendall(b"GET /api/hang?s=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        host.wait_for_output("Executed 'Functions.hang' (Succeeded")
        assert host.request("GET", "/api/hello")[0] == 200
        assert "Traceback" not in host.output and "Error handling request" not in host.output


def test_print_without_newlines_bytes_and_forged_lines() -> None:
    with running(APP) as host:
        assert host.request("GET", "/api/printer")[0] == 200
        out = host.wait_for_output("bytes café")
        assert "x" * 200_000 in out
        assert host.request("GET", "/api/forge")[0] == 200
        out = host.wait_for_output("Executed 'Functions.forge'")
        assert "\x1b" not in out.split("Executing 'Functions.forge'")[1]
        assert "\\x1b[31mred\\x1b[0m and a bell\\x07" in out
        assert "before\\x0d[2020-01-01T00:00:00.000Z] Executed 'Functions.fake'" in out
        lines = out.splitlines()
        assert not any(
            line.startswith("[2020-01-01") for line in lines
        )  # every line starts with the real time
        forged = next(line for line in lines if "Executing 'Functions.fake'" in line)
        assert forged.startswith("[20") and "] [2020-01-01T00:00:00.000Z] Executing" in forged


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "funchost", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("start", "--port", "70000"), "--port 70000 is not a port: use a number from 1 to 65535."),
        (("start", "--host", "999.1.1.1", "--port", "7989"), "Cannot listen on 999.1.1.1 port 7989"),
        (("start", "--script-root", "README.md"), '"README.md" is not a folder: --script-root takes'),
    ],
)
def test_bad_start_arguments_are_one_clear_line(args: tuple[str, ...], expected: str) -> None:
    root = Path(__file__).parent.parent
    full = args if "--script-root" in args else (*args, "--script-root", str(APP), "--no-reload")
    result = _cli(*full, cwd=root)
    assert result.returncode == 1
    text = result.stdout + result.stderr
    assert expected in text
    assert "Traceback" not in text


def test_corrupt_keys_file_at_start_is_one_clear_line(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for name in ("host.json", "function_app.py"):
        (app / name).write_text((APP / name).read_text())
    (app / ".funchost").mkdir()
    (app / ".funchost" / "keys.json").write_text("{not json")
    result = _cli("start", "--script-root", str(app), "--enable-auth", "--no-reload", "--port", "7990")
    assert result.returncode == 1
    assert f"The keys file {app / '.funchost' / 'keys.json'} cannot be used (JSONDecodeError" in result.stdout
    assert "delete it to get new keys" in result.stdout and "Traceback" not in result.stdout + result.stderr
    keys = _cli("keys", "--script-root", str(app))
    assert keys.returncode == 1 and "cannot be used" in keys.stderr and "Traceback" not in keys.stderr


def test_functions_in_a_folder_without_an_app_says_so(tmp_path: Path) -> None:
    result = _cli("functions", cwd=tmp_path)
    assert result.returncode == 1
    assert f"No functions found in {tmp_path}: it has no function_app.py (v2 model)" in result.stderr


def test_function_key_in_upper_case_query(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text((APP / "host.json").read_text())
    (app / "function_app.py").write_text(
        (APP / "function_app.py").read_text().replace("func.AuthLevel.ANONYMOUS", "func.AuthLevel.FUNCTION")
    )
    with running(app, "--enable-auth") as host:
        key = host.wait_for_output("Function key: ").split("Function key: ")[1].split()[0]
        assert host.request("GET", "/api/hello")[0] == 401
        for name in ("code", "CODE", "Code"):
            assert host.request("GET", f"/api/hello?{name}={key}")[0] == 200, name


def test_a_plain_stop_after_requests_reports_nothing_abandoned(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, app, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    host = spawn(app)  # with hot reload, as the quick start runs it: watchfiles watches from an AnyIO thread
    try:
        wait_running(host)
        host.wait_for_output("for changes")
        assert host.request("PUT", "/api/assistants/a1")[0] == 202
        assert host.request("GET", "/api/hello?name=x")[0] == 200
        assert host.request("GET", "/api/assistants/a1?timestampUTC=2024-01-01T00:00:00Z")[0] == 200
    finally:
        code = host.stop()
    assert code == 0
    assert "abandoning" not in host.output, host.output  # idle library pool threads are not "abandoned" work
