"""The per-request fast paths keep behaviour: Expect: 100-continue on the low-level server, console lines written
directly or through a LogRecord when something else listens, the worker pool's outcomes and cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.console import CaptureHandler, Console, ConsoleHandler, log_info
from funchost.invocation import new_invocation_id
from funchost.workers import WorkerPool
from tests.cli import RunningHost, running

APPS = Path(__file__).parent / "apps"
STAMP = r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]"


@pytest.fixture(scope="module")
def http_host() -> Iterator[RunningHost]:
    with running(APPS / "e2e_http", "--store", "memory") as host:
        yield host


@pytest.mark.slow
def test_expect_100_continue_is_answered_before_the_body(http_host: RunningHost) -> None:
    body = b'{"big": "' + b"x" * 2000 + b'"}'
    with socket.create_connection(("127.0.0.1", http_host.port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/echo/5/rest HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        interim = conn.recv(100)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"  # no body sent yet: the host asked for it
        conn.sendall(body)
        answer = b""
        while b'"body_type"' not in answer:
            chunk = conn.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"x" * 2000 in answer


@pytest.mark.slow
def test_unknown_expectation_is_417(http_host: RunningHost) -> None:
    with socket.create_connection(("127.0.0.1", http_host.port), timeout=10) as conn:
        conn.sendall(b"GET /api/resp/str HTTP/1.1\r\nHost: localhost\r\nExpect: teapot\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 417")


@pytest.fixture
def root_handlers() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.setLevel(logging.DEBUG)
    try:
        yield root
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


class _Redact(logging.Filter):
    """Like the CLI's RedactSecrets: ``redact(text)``, and the record's message redacted in place."""

    def redact(self, text: str) -> str:
        return text.replace("s3cret", "[Hidden Credential]")

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        return True


def test_console_lines_are_the_same_written_directly_or_as_records(root_handlers: logging.Logger) -> None:
    stream = io.StringIO()
    handler = ConsoleHandler(Console(stream, color=False))
    handler.addFilter(_Redact())
    root_handlers.handlers[:] = [handler]
    log = logging.getLogger("Function.hot_path_direct")
    template = "Executing 'Functions.%s' (Reason='%s', Id=%s)"
    reason = "because s3cret\x1b[2J"  # a secret and a control character, both in an argument
    log_info(log, template, "fn", reason, "id-1", plain="id-1")  # the console alone: written directly
    capture = CaptureHandler()
    root_handlers.addHandler(capture)  # another listener: the LogRecord path, seen by both
    log_info(log, template, "fn", reason, "id-2", plain="id-2")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    for line, ident in zip(lines, ("id-1", "id-2"), strict=True):
        assert re.fullmatch(
            STAMP + rf" Executing 'Functions.fn' \(Reason='because \[Hidden Credential\]\\x1b\[2J', Id={ident}\)",
            line,
        )
    assert [r.getMessage() for r in capture.records] == [
        "Executing 'Functions.fn' (Reason='because [Hidden Credential]\x1b[2J', Id=id-2)"
    ]  # the handler's filter redacted the record before the capture saw it (filters run per handler)


def test_console_direct_path_respects_the_user_level_and_a_logger_handler(
    root_handlers: logging.Logger,
) -> None:
    stream = io.StringIO()
    root_handlers.handlers[:] = [ConsoleHandler(Console(stream, color=False), user_level=logging.WARNING)]
    log = logging.getLogger("Function.hot_path_levels")
    log_info(log, "Executed 'Functions.%s'", "quiet")
    assert stream.getvalue() == ""  # --user-log-level Warning hides Information lines, as before
    own = CaptureHandler()
    log.addHandler(own)
    try:
        log_info(log, "Executed 'Functions.%s'", "seen")
    finally:
        log.removeHandler(own)
    assert own.lines == ["Executed 'Functions.seen'"]


async def test_worker_pool_results_errors_context_and_queued_cancellation() -> None:
    loop = asyncio.get_running_loop()
    pool = WorkerPool(1, "hot-path-test")
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("from the caller")
    try:
        assert await pool.run(loop, contextvars.copy_context(), var.get) == "from the caller"

        def boom() -> None:
            raise StopIteration("stop")

        with pytest.raises(RuntimeError, match="raised StopIteration"):
            await pool.run(loop, contextvars.copy_context(), boom)
        gate = threading.Event()
        ran: list[str] = []
        holding = pool.run(loop, contextvars.copy_context(), gate.wait, 10)
        queued = pool.run(loop, contextvars.copy_context(), ran.append, "should not run")
        queued.cancel()  # cancelled while every thread is busy: never runs
        gate.set()
        assert await holding is True
        assert await pool.run(loop, contextvars.copy_context(), ran.append, "runs") is None
        assert ran == ["runs"]
        assert [t.name for t in threading.enumerate() if t.name.startswith("hot-path-test")] == [
            "hot-path-test_0"
        ]
    finally:
        pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.run(loop, contextvars.copy_context(), print)


async def test_worker_pool_hands_back_every_outcome_when_calls_end_in_bursts() -> None:
    """Outcomes go back to the loop in batches: calls that end together, from many threads, while the loop is
    busy, each still get their own result or error, none lost or crossed."""
    loop = asyncio.get_running_loop()
    pool = WorkerPool(8, "hot-path-burst")
    start = threading.Barrier(8)

    def work(n: int) -> int:
        if n < 8:
            start.wait(5)  # the first eight end at the same moment
        if n % 7 == 0:
            raise ValueError(f"call {n}")
        return n * n

    try:
        for _ in range(3):
            calls = [pool.run(loop, contextvars.copy_context(), work, n) for n in range(400)]
            time.sleep(0.05)  # the loop is blocked: outcomes pile up for one delivery
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            for n, outcome in enumerate(outcomes):
                if n % 7 == 0:
                    assert isinstance(outcome, ValueError) and str(outcome) == f"call {n}"
                else:
                    assert outcome == n * n
    finally:
        pool.close()


def test_invocation_ids_are_distinct_version_4_guids() -> None:
    ids = [new_invocation_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        guid = uuid.UUID(text)
        assert (str(guid), guid.version, guid.variant) == (text, 4, uuid.RFC_4122)
