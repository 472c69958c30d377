"""Start the real ``funchost`` CLI in a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningHost:
    """A ``funchost start`` process: its base URL and everything it printed so far."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self._lines)

    def wait_for_output(self, text: str, timeout: float = 15.0) -> str:
        """Block until ``text`` appears in the output; returns the output."""

        def seen() -> bool:
            if text in self.output:
                return True
            if self.proc.poll() is not None:
                self._reader.join(2)
                if text not in self.output:
                    raise AssertionError(f"funchost exited before printing {text!r}:\n{self.output}")
            return text in self.output

        wait_until(
            seen, timeout=timeout, message=lambda: f"{text!r} did not appear in the output:\n{self.output}"
        )
        return self.output

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()

    def json(self, method: str, path: str, body: bytes | str | None = None) -> object:
        status, _, payload = self.request(method, path, body)
        assert status == 200, (status, payload)
        return json.loads(payload)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)
        return int(self.proc.returncode)


def spawn(
    app: Path, *args: str, env: Mapping[str, str] | None = None, port: int | None = None
) -> RunningHost:
    """Start ``python -m funchost start`` without waiting for it."""
    port = port or free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("OPENAI_API_KEY", None) if "OPENAI_API_KEY" not in (env or {}) else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "funchost", "start", "--script-root", str(app), "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )
    return RunningHost(proc, port)


def wait_running(host: RunningHost, timeout: float = 30.0) -> None:
    def running() -> bool:
        if host.proc.poll() is not None:
            host._reader.join(2)
            raise AssertionError(f"funchost exited with {host.proc.returncode}:\n{host.output}")
        try:  # ping needs no key even with --enable-auth, and answers 200 only once the host is Running
            with urllib.request.urlopen(host.url + "/admin/host/ping", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    wait_until(
        running,
        timeout=timeout,
        interval=0.05,
        message=lambda: f"funchost did not reach Running:\n{host.output}",
    )


@contextmanager
def running(
    app: Path, *args: str, env: Mapping[str, str] | None = None, reload: bool = False
) -> Iterator[RunningHost]:
    """A started host (state Running), stopped with SIGINT at the end."""
    extra: Sequence[str] = args if reload else ("--no-reload", *args)
    host = spawn(app, *extra, env=env)
    try:
        wait_running(host)
        yield host
    finally:
        host.stop()


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def run_command(*argv: str) -> CommandResult:
    """Run a ``funchost`` command in this process (no subprocess: the command itself is what is tested)."""
    from funchost.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refusals
            code = exc.code if isinstance(exc.code, int) else 2
    return CommandResult(code, out.getvalue(), err.getvalue())
