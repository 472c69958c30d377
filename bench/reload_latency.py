"""Save -> new code served, for the sample app under ``funchost start`` with reload on, under a concurrent load."""

from __future__ import annotations

import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import app_copy, median, percentile, table
from tests.cli import running

EDITS = 10
POLL = 0.005
WATCHING = "for changes; --no-reload turns it off."


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class Load:
    """Threads requesting /api/hello continuously; counts requests and failures."""

    def __init__(self, url: str, threads: int = 2) -> None:
        self.url = url
        self.done = threading.Event()
        self.requests = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                status, body = _get(self.url)
                if status != 200 or not body.endswith("Ada!"):
                    self.failures.append(f"{status} {body!r}")
            except OSError as exc:
                self.failures.append(repr(exc))
            self.requests += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(30)


def main() -> int:
    latencies: list[float] = []
    reported: list[str] = []
    with app_copy() as app, running(app, "--store", "memory", reload=True) as host:
        host.wait_for_output(WATCHING)
        script = app / "function_app.py"
        original = script.read_text()
        assert 'f"Hello, {name}!"' in original
        url = host.url + "/api/hello?name=Ada"
        with Load(url) as load:
            time.sleep(0.5)  # let the load settle
            for i in range(1, EDITS + 1):
                expected = f"Hello v{i}, Ada!"
                saved = time.perf_counter()
                script.write_text(original.replace('f"Hello, {name}!"', f'f"Hello v{i}, {{name}}!"'))
                while _get(url) != (200, expected):
                    if time.perf_counter() - saved > 30:
                        raise SystemExit(f"edit {i} was not served within 30 s:\n{host.output}")
                    time.sleep(POLL)
                latencies.append((time.perf_counter() - saved) * 1000)
                time.sleep(0.3)  # one edit at a time, as a person saves
        reported = [
            line.rsplit("Reloaded in ", 1)[1] for line in host.output.splitlines() if "Reloaded in " in line
        ]
    rows = [
        [
            "save -> new code served (ms)",
            median(latencies),
            percentile(latencies, 90),
            min(latencies),
            max(latencies),
        ],
    ]
    print(
        table(
            f"Hot reload latency, sample app, {EDITS} edits (poll every {POLL * 1000:.0f} ms)",
            ["measure", "median", "p90", "min", "max"],
            rows,
            note=(
                f"Concurrent load on GET /api/hello: {load.requests} requests, {len(load.failures)} failed.  "
                f"Host-reported reload times: {', '.join(reported)}.  Target: median < 500 ms."
            ),
        )
    )
    for failure in load.failures[:5]:
        print("failure:", failure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
