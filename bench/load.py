"""Load test: create/query/plain HTTP requests against the real ``funchost start``; zero errors, RSS sampled.

python bench/load.py            # 20,000 requests at concurrency 64
python bench/load.py --quick    # 2,000 requests at concurrency 32 (the CI size)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "apps" / "hard_app"


@dataclass
class Result:
    requests: int
    concurrency: int
    store: str
    errors: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    rss_kib: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def rss_after_warmup(self) -> int:
        return self.rss_kib[len(self.rss_kib) // 10] if self.rss_kib else 0

    @property
    def rss_end(self) -> int:
        return self.rss_kib[-1] if self.rss_kib else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _request(i: int) -> tuple[str, str, str, int]:
    """Request ``i`` of the mix: a create, a query of an earlier create, or a plain HTTP function."""
    kind = i % 3
    if kind == 0:
        return "create", "PUT", f"/api/assistants/load-{i}", 202
    if kind == 1:
        return "query", "GET", f"/api/assistants/load-{max(0, i - 4) // 3 * 3}?timestampUTC=2000-01-01", 200
    return "http", "GET", f"/api/hello?name=n{i}", 200


async def drive(url: str, result: Result, pid: int | None) -> None:
    """Send ``result.requests`` requests with ``result.concurrency`` clients; count every non-expected answer."""
    counter = iter(range(result.requests))
    connector = aiohttp.TCPConnector(limit=result.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in counter:
            kind, method, path, expected = _request(i)
            result.by_kind[kind] = result.by_kind.get(kind, 0) + 1
            try:
                async with session.request(method, url + path) as resp:
                    await resp.read()
                    ok = resp.status == expected
                    detail = f"{method} {path} -> {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok, detail = False, f"{method} {path} -> {type(exc).__name__}: {exc}"
            if not ok:
                result.errors += 1
                if len(result.failures) < 10:
                    result.failures.append(detail)

    async def sample() -> None:
        while pid is not None:
            result.rss_kib.append(_rss_kib(pid))
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(result.concurrency)))
    result.seconds = time.perf_counter() - started
    sampler.cancel()
    if pid is not None:
        result.rss_kib.append(_rss_kib(pid))


def run(requests: int, concurrency: int, store: str) -> Result:
    """Start the CLI on a copy of the test app, drive it, stop it."""
    result = Result(requests, concurrency, store)
    with tempfile.TemporaryDirectory(prefix="funchost-load-") as tmp:
        app = Path(tmp) / "app"
        shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
        port = _free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "FUNCHOST_CHAT": "scripted"}
        log = (Path(tmp) / "funchost.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "funchost", "start", "--script-root", str(app), "--port", str(port),
             "--no-reload", "--store", store],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_running(url, proc, Path(log.name))
            asyncio.run(drive(url, result, proc.pid))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
    return result


def _wait_running(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log.read_text(errors="replace")
            raise SystemExit(f"funchost exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(url + "/admin/host/status", timeout=2) as resp:
                if json.loads(resp.read()).get("state") == "Running":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise SystemExit("funchost did not reach Running in 30 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 requests at concurrency 32")
    parser.add_argument("--requests", type=int, help="total requests (default 20,000; 2,000 with --quick)")
    parser.add_argument("--concurrency", type=int, help="concurrent clients (default 64; 32 with --quick)")
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "memory"])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    requests = args.requests or (2_000 if args.quick else 20_000)
    concurrency = args.concurrency or (32 if args.quick else 64)
    result = run(requests, concurrency, args.store)
    if args.json:
        print(json.dumps({**asdict(result), "rss_after_warmup": result.rss_after_warmup,
                          "rss_end": result.rss_end}))  # fmt: skip
    else:
        growth = result.rss_end - result.rss_after_warmup
        print(f"{'requests':<22}{result.requests:>12,}")
        print(f"{'concurrency':<22}{result.concurrency:>12}")
        print(f"{'store':<22}{result.store:>12}")
        for kind, count in sorted(result.by_kind.items()):
            print(f"{'  ' + kind:<22}{count:>12,}")
        print(f"{'errors':<22}{result.errors:>12}")
        print(f"{'requests/s':<22}{result.requests / result.seconds:>12,.0f}")
        print(f"{'RSS after warm-up':<22}{result.rss_after_warmup / 1024:>10.1f} MiB")
        print(f"{'RSS at end':<22}{result.rss_end / 1024:>10.1f} MiB")
        print(
            f"{'RSS growth':<22}{growth / 1024:>10.1f} MiB ({growth / max(1, result.rss_after_warmup):.1%})"
        )
        for failure in result.failures:
            print("  failed:", failure)
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
