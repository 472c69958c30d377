"""Load generation: wrk when installed, else a Python aiohttp client in its own process (``python loadgen.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import client_cpu, percentile, pin


@dataclass
class Load:
    """What one load run measured."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    method: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")


_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local path = string.gsub("%(pattern)s", "{n}", tostring(counter %% %(ids)d))
  return wrk.format("%(method)s", path)
end
"""


def run(
    url: str,
    method: str,
    pattern: str,
    *,
    concurrency: int,
    seconds: float,
    ids: int = 1_000_000,
    count: int | None = None,
    tool: str = "auto",
) -> Load:
    """Load ``url + pattern`` (``{n}`` = request number modulo ``ids``) for ``seconds`` (or ``count`` requests,
    Python generator only) from the client core; wrk unless ``tool`` is ``python`` or wrk is missing."""
    if tool != "python" and count is None and shutil.which("wrk"):
        return _wrk(url, method, pattern, concurrency, seconds, ids)
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--url",
        url,
        "--method",
        method,
        "--pattern",
        pattern,
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
        "--ids",
        str(ids),
    ]
    if count is not None:
        argv += ["--count", str(count)]
    out = subprocess.run(
        [*pin(client_cpu()), *argv], capture_output=True, text=True, check=True, timeout=seconds + 120
    )
    data = json.loads(out.stdout)
    return Load(
        data["requests"],
        data["seconds"],
        data["errors"],
        data["p50_ms"],
        data["p99_ms"],
        f"python aiohttp client, {concurrency} connections",
    )


def _wrk(url: str, method: str, pattern: str, concurrency: int, seconds: float, ids: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA % {"pattern": pattern, "ids": ids, "method": method})
    try:
        argv = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            script.name,
            url,
        ]
        out = subprocess.run(
            [*pin(client_cpu()), *argv], capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return Load(
        int(total.group(1)),
        _seconds(total.group(2), total.group(3)),
        errors,
        _latency(out, "50%"),
        _latency(out, "99%"),
        f"wrk -t1 -c{concurrency}",
    )


def _seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def _latency(out: str, label: str) -> float:
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    return _seconds(found.group(1), found.group(2)) * 1000 if found else float("nan")


async def _python_load(
    url: str, method: str, pattern: str, concurrency: int, seconds: float, ids: int, count: int | None
) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds
    limit = count if count is not None else 10_000_000

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal issued, errors
        while issued < limit and time.perf_counter() < deadline:
            issued += 1
            path = pattern.replace("{n}", str(issued % ids))
            t0 = time.perf_counter()
            try:
                async with session.request(method, url + path) as resp:
                    await resp.read()
                    if resp.status >= 400:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - t0)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="bounded HTTP load from a Python aiohttp client")
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--pattern", default="/")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--count", type=int)
    a = parser.parse_args()
    result = asyncio.run(_python_load(a.url, a.method, a.pattern, a.concurrency, a.seconds, a.ids, a.count))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
