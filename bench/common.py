"""Shared helpers for the benchmarks: statistics, tables, temp app copies, host processes, RSS, CPU pinning."""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_APP = REPO / "sample_app"
BENCH = Path(__file__).resolve().parent


def median(values: Sequence[float]) -> float:
    """Median of ``values`` (NaN when empty)."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]], note: str = "") -> str:
    """A Markdown table with a heading and an optional note under it."""
    cells = [[_cell(c) for c in row] for row in rows]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def app_copy(source: Path = SAMPLE_APP) -> Iterator[Path]:
    """A throwaway copy of an app folder (so .funchost/ data never lands in the repo)."""
    tmp = Path(tempfile.mkdtemp(prefix="funchost-bench-"))
    try:
        target = tmp / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
        yield target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cores() -> list[int]:
    """CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def pin(cpu: int | None) -> list[str]:
    """A ``taskset -c cpu`` prefix when pinning is possible (2+ cores and taskset installed), else nothing."""
    if cpu is None or len(cores()) < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


def server_cpu() -> int | None:
    """The core servers run on (the first), or None when there is only one."""
    return cores()[0] if len(cores()) >= 2 else None


def client_cpu() -> int | None:
    """The core load generators run on (the last), or None when there is only one."""
    return cores()[-1] if len(cores()) >= 2 else None


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Server:
    """A server process on a loopback port, with its output in a log file."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def tree(side: str) -> Path:
    """The funchost source tree a bench side runs: ``before``/``after`` name a git revision each through
    FUNCHOST_BENCH_BEFORE / FUNCHOST_BENCH_AFTER (checked out once into a throwaway worktree), else the working
    tree (the ``after`` default). Both sides share the installed dependencies and entry points."""
    rev = os.environ.get(f"FUNCHOST_BENCH_{side.upper()}")
    if not rev:
        if side == "before":
            raise LookupError("FUNCHOST_BENCH_BEFORE is not set")
        return REPO
    sha = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"funchost-bench-tree-{sha}"
    if not (path / "funchost").is_dir():
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-f", str(path), sha],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    return path


def has_before() -> bool:
    """Whether this run compares against an earlier revision (FUNCHOST_BENCH_BEFORE)."""
    return bool(os.environ.get("FUNCHOST_BENCH_BEFORE"))


def code_env(source: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a process running funchost from ``source`` (its package and plugin folders first on
    PYTHONPATH). Byte-code caching is on, as on a user's machine (the sandbox sets PYTHONDONTWRITEBYTECODE)."""
    source = source or tree("after")
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full.pop("PYTHONDONTWRITEBYTECODE", None)
    full["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(source), str(source / "bindings"), str(REPO), full.get("PYTHONPATH", "")) if p
    )
    return full


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    port: int,
    cpu: int | None = None,
    source: Path | None = None,
) -> Server:
    """Start ``argv`` (pinned to ``cpu`` when possible), stdout+stderr to ``log``; funchost from ``source``."""
    full_env = code_env(source, env)
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*pin(cpu), *argv], stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=full_env
        )
    return Server(proc, port, log, started)


def spawn_host(
    app: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    cpu: int | None = None,
    source: Path | None = None,
    prefix: Sequence[str] = (),
) -> Server:
    """Start ``python -m funchost start --no-reload`` on a free port for ``app`` (funchost from ``source``),
    under ``prefix`` (e.g. valgrind) when given."""
    port = free_port()
    argv = [
        *prefix,
        sys.executable,
        "-m",
        "funchost",
        "start",
        "--script-root",
        str(app),
        "--port",
        str(port),
        "--no-reload",
        *args,
    ]
    return spawn(
        argv, log=results_dir() / f"host-{port}.log", cwd=app, env=env, port=port, cpu=cpu, source=source
    )


def results_dir() -> Path:
    """bench/results/ (ignored by git): host logs and other run output."""
    path = Path(__file__).resolve().parent / "results"
    path.mkdir(exist_ok=True)
    return path


def wait_running(server: Server, timeout: float = 60.0, interval: float = 0.01) -> float:
    """Poll /admin/host/status until Running; seconds since the process was started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the host exited with {server.proc.returncode}:\n{server.tail()}")
        try:
            with urllib.request.urlopen(server.url + "/admin/host/status", timeout=2) as resp:
                if json.loads(resp.read()).get("state") == "Running":
                    return time.perf_counter() - server.started
        except (OSError, ValueError):
            pass
        time.sleep(interval)
    raise RuntimeError(f"the host did not reach Running in {timeout}s:\n{server.tail()}")


def wait_http(server: Server, path: str, timeout: float = 30.0) -> None:
    """Poll ``path`` until it answers (any HTTP status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server exited with {server.proc.returncode}:\n{server.tail()}")
        try:
            urllib.request.urlopen(server.url + path, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{server.url}{path} did not answer in {timeout}s:\n{server.tail()}")


def request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    """One blocking HTTP request; (status, body)."""
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@dataclass
class Result:
    """One benchmark's Markdown section and its rows for the summary table."""

    text: str
    summary: list[tuple[str, str, str, str]]
    """(measure, figure, target, verdict)."""


def verdict(ok: bool) -> str:
    """``met`` / ``MISSED``."""
    return "met" if ok else "MISSED"
