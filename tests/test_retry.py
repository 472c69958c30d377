"""Retry policies (``@app.retry``): parsing and delays, then the host rerunning timer functions of the unchanged
v2 app ``tests/apps/retry_app`` (in-process, and once through the real CLI)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from funchost.retry import RetryPolicy, RetryPolicyError
from tests.cli import running

APP = Path(__file__).parent / "apps" / "retry_app"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "retry_app"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    return target


# -- policies ---------------------------------------------------------------------------------------------


def test_policy_reads_python_and_function_json_spellings() -> None:
    v2 = RetryPolicy.parse({"strategy": "fixed_delay", "max_retry_count": "3", "delay_interval": "00:00:05"})
    v1 = RetryPolicy.parse({"strategy": "fixedDelay", "maxRetryCount": 3, "delayInterval": "00:00:05"})
    assert v2 == v1 == RetryPolicy("fixed_delay", 3, delay_interval=timedelta(seconds=5))
    backoff = RetryPolicy.parse(
        {
            "strategy": "exponentialBackoff",
            "maxRetryCount": -1,
            "minimumInterval": "00:00:04",
            "maximumInterval": "00:15:00",
        }
    )
    assert backoff.max_retry_count == -1
    assert (backoff.minimum_interval, backoff.maximum_interval) == (
        timedelta(seconds=4),
        timedelta(minutes=15),
    )


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"strategy": "linear", "max_retry_count": "3"}, "'linear' is not supported"),
        (
            {"strategy": "fixed_delay", "max_retry_count": "three", "delay_interval": "00:00:01"},
            "not an integer",
        ),
        ({"strategy": "fixed_delay", "max_retry_count": "-2", "delay_interval": "00:00:01"}, "below -1"),
        ({"strategy": "fixed_delay", "max_retry_count": "1"}, "delay_interval is required"),
        ({"strategy": "fixed_delay", "max_retry_count": "1", "delay_interval": "soon"}, "not a time span"),
        (
            {
                "strategy": "exponential_backoff",
                "max_retry_count": "1",
                "minimum_interval": "00:01:00",
                "maximum_interval": "00:00:10",
            },
            "greater than maximum_interval",
        ),
    ],
)
def test_bad_policies_name_the_property(raw: dict[str, Any], names: str) -> None:
    with pytest.raises(RetryPolicyError, match=re.escape(names)):
        RetryPolicy.parse(raw)


def test_fixed_delay_repeats_and_backoff_grows_to_its_maximum() -> None:
    fixed = RetryPolicy("fixed_delay", 3, delay_interval=timedelta(seconds=2)).delays()
    assert [next(fixed) for _ in range(3)] == [timedelta(seconds=2)] * 3
    policy = RetryPolicy(
        "exponential_backoff",
        -1,
        minimum_interval=timedelta(seconds=4),
        maximum_interval=timedelta(minutes=1),
    )
    delays = policy.delays(random.Random(7))
    got = [next(delays).total_seconds() for _ in range(7)]
    assert got[0] == 4  # the first retry waits the minimum
    assert 4 + 4 * 0.8 <= got[1] <= 4 + 4 * 1.2  # then min + min * 2^(n-1), randomized by 20 %
    assert 4 + 8 * 0.8 <= got[2] <= 4 + 8 * 1.2
    assert got == sorted(got)
    assert got[-1] == 60  # capped at the maximum


# -- the host reruns timer functions ----------------------------------------------------------------------


async def wait_for(
    check: Callable[[], bool], what: str, logs: Callable[[], list[str]], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout}s; logs:\n" + "\n".join(logs()))
        await asyncio.sleep(0.05)


def messages(host: Any) -> list[str]:
    return [r.getMessage() for r in host.records]


def lines(host: Any, text: str) -> list[str]:
    return [m for m in messages(host) if text in m]


async def test_timer_failing_twice_runs_three_times_with_delays_and_retry_context(
    funchost: Any, app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="funchost.retry")  # the wait line is Debug, as in the runtime
    host = await funchost(app)
    logs = lambda: messages(host)  # noqa: E731
    await wait_for(lambda: bool(lines(host, "flaky succeeded")), "flaky's third run", logs)
    attempts = lines(host, "flaky attempt")
    assert attempts == [
        "flaky attempt retry_count=0 max_retry_count=3 previous=''",
        "flaky attempt retry_count=1 max_retry_count=3 previous='RuntimeError: flaky is not ready yet'",
        "flaky attempt retry_count=2 max_retry_count=3 previous='RuntimeError: flaky is not ready yet'",
    ]
    executed = [m.split(" (")[1].split(",")[0] for m in lines(host, "Executed 'Functions.flaky'")]
    assert executed == ["Failed", "Failed", "Succeeded"]
    waits = lines(host, "before retrying function execution")
    flaky_waits = [w for w in waits if "Max retry count: '3'" in w]
    assert flaky_waits == [
        "Waiting for `00:00:01` before retrying function execution. Next attempt: '1'. Max retry count: '3'.",
        "Waiting for `00:00:01` before retrying function execution. Next attempt: '2'. Max retry count: '3'.",
    ]
    # The waits are real: each rerun starts about a second after the previous failure (order of magnitude only).
    starts = [r.created for r in host.records if r.getMessage().startswith("Executing 'Functions.flaky'")]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 2 and all(0.5 < g < 10 for g in gaps), gaps
    assert "Function execution failed after '3' retries." not in messages(host)


async def test_exhausted_retries_fail_with_the_hosts_error_and_infinite_keeps_going(
    funchost: Any, app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="funchost.retry")
    host = await funchost(app)
    logs = lambda: messages(host)  # noqa: E731
    await wait_for(lambda: bool(lines(host, "Function execution failed after")), "exhausted's last run", logs)
    await wait_for(lambda: bool(lines(host, "forever succeeded")), "forever's success", logs)
    assert len(lines(host, "exhausted attempt")) == 3  # the first run and max_retry_count = 2 reruns
    assert lines(host, "Function execution failed after") == ["Function execution failed after '2' retries."]
    failed = [r for r in host.records if r.getMessage() == "Function execution failed after '2' retries."]
    assert failed[0].levelname == "ERROR"
    # -1: rerun until success, well past any default; the context says -1 too.
    forever = lines(host, "forever attempt")
    assert len(forever) == 7
    assert forever[-1].startswith("forever attempt retry_count=6 max_retry_count=-1")
    assert "Next attempt: '6'. Max retry count: '-1'." in "\n".join(lines(host, "Waiting for `00:00:00`"))


async def test_http_and_admin_calls_never_retry(funchost: Any, app: Path) -> None:
    host = await funchost(app)
    warning = "Retries are not supported for function 'Functions.http_fails'."
    assert warning in host.logs  # the runtime's warning, shown at load
    response = await host.client.get("/api/fails")
    assert response.status == 500
    assert len(lines(host, "http_fails attempt")) == 1
    await wait_for(
        lambda: bool(lines(host, "Function execution failed after")),
        "exhausted's retries",
        lambda: messages(host),
    )
    before = len(lines(host, "Executing 'Functions.exhausted'"))
    response = await host.client.post("/admin/functions/exhausted", json={"input": ""})
    assert response.status == 202
    await wait_for(
        lambda: len(lines(host, "Executing 'Functions.exhausted'")) > before,
        "the admin run",
        lambda: messages(host),
    )
    await asyncio.sleep(0.5)
    assert len(lines(host, "Executing 'Functions.exhausted'")) == before + 1
    assert len(lines(host, "Function execution failed after")) == 1


async def test_a_bad_policy_puts_the_function_in_error(funchost: Any, app: Path) -> None:
    source = (app / "function_app.py").read_text()
    (app / "function_app.py").write_text(
        source.replace('delay_interval="00:00:01")\ndef flaky', 'delay_interval="soon")\ndef flaky')
    )
    host = await funchost(app, strict=False)
    errors = [m for m in messages(host) if "The 'flaky' function is in error" in m]
    assert errors and "retry delay_interval 'soon' is not a time span; write it as HH:MM:SS" in errors[0]
    await wait_for(
        lambda: bool(lines(host, "forever succeeded")), "the other functions", lambda: messages(host)
    )
    assert not lines(host, "flaky attempt")


@pytest.mark.slow
def test_retries_through_the_real_cli(app: Path) -> None:
    with running(app, "--verbose", "--functions", "flaky") as host:
        out = host.wait_for_output("flaky succeeded", timeout=30)
    assert out.count("Executing 'Functions.flaky'") == 3
    assert (
        "Waiting for `00:00:01` before retrying function execution. Next attempt: '2'. Max retry count: '3'."
        in out
    )
