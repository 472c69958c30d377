"""Issue 11 items 3 and 4: log levels and categories as the worker emits them, and the ``context`` surface
(worker bindings/context.py, tracecontext.py, retrycontext.py; tests test_return_context, test_debug_logging,
check_log_hijack_current_event_loop)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from funchost.console import Console, ConsoleHandler, shown
from funchost.context import Context, child_traceparent

APP = "tests/apps/fidelity_http"
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def record(name: str, level: int, msg: str = "m") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_worker_root_level_hides_user_debug_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_ENABLE_DEBUG_LOGGING", raising=False)
    assert not shown(record("root", logging.DEBUG), user_level=logging.DEBUG)  # host.json Trace is not enough
    assert shown(record("root", logging.INFO), user_level=logging.DEBUG)
    monkeypatch.setenv("PYTHON_ENABLE_DEBUG_LOGGING", "1")
    assert shown(record("root", logging.DEBUG), user_level=logging.DEBUG)
    assert not shown(
        record("root", logging.DEBUG), user_level=logging.INFO
    )  # and the host level still applies


def test_sdk_and_worker_loggers_are_system_logs() -> None:
    for name in ["azure.functions", "azure.functions.sdk", "azure_functions_worker.disguised_logger"]:
        assert not shown(record(name, logging.ERROR))
        assert shown(record(name, logging.ERROR), verbose=True)
    assert shown(record("custom_logger", logging.INFO))  # a user's own named logger is a user log


def test_library_lines_are_tagged_so_they_never_look_like_the_apps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = ConsoleHandler(Console(color=False), verbose=True)
    handler.handle(record("httpx", logging.INFO, 'HTTP Request: POST http://127.0.0.1/v1 "HTTP/1.1 200 OK"'))
    handler.handle(record("root", logging.INFO, "my line"))
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith('] [httpx] HTTP Request: POST http://127.0.0.1/v1 "HTTP/1.1 200 OK"')
    assert out[1].endswith("] my line")
    assert not shown(record("httpx", logging.INFO))  # without --verbose, below Warning


async def test_worker_logging_functions(funchost: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    host = await funchost(APP, strict=False)
    r = await host.client.get("/api/debug_logging")  # worker: test_debug_logging
    assert (r.status, await r.text()) == (200, "OK-debug")
    user = [rec.getMessage() for rec in host.records if shown(rec, user_level=logging.DEBUG)]
    for line in ["logging critical", "logging info", "logging warning", "logging error"]:
        assert line in user
    assert "logging debug" not in user  # the worker's root logger is at INFO
    r = await host.client.get("/api/debug_user_logging")  # a logger with its own DEBUG level still emits
    assert (r.status, await r.text()) == (200, "OK-user-debug")
    r = await host.client.get("/api/system_logging")
    assert (r.status, await r.text()) == (200, "OK-system")
    user = [rec.getMessage() for rec in host.records if shown(rec, user_level=logging.DEBUG)]
    assert "logging debug from a logger with its own level" in user
    assert "parallelly_log_custom at custom_logger" in user  # worker: check_log_hijack_current_event_loop
    assert "parallelly_log_system at disguised_logger" not in user  # worker: system logs not in host output
    assert "sdk warning line" not in user


async def test_debug_logging_enabled(funchost: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    host = await funchost(APP, strict=False, settings={"PYTHON_ENABLE_DEBUG_LOGGING": "1"})
    await host.client.get("/api/debug_logging")
    assert "logging debug" in [
        rec.getMessage() for rec in host.records if shown(rec, user_level=logging.DEBUG)
    ]


async def test_worker_return_context(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    r = await host.client.get("/api/return_context")  # worker: test_return_context
    assert r.status == 200
    data = json.loads(await r.text())
    assert data["method"] == "GET"
    assert data["ctx_func_name"] == "return_context"
    assert "fidelity_http" in data["ctx_func_dir"]
    assert "ctx_invocation_id" in data
    assert "ctx_trace_context_Tracestate" in data
    assert "ctx_trace_context_Traceparent" in data
    assert (
        TRACEPARENT.match(data["trace_parent"])
        and data["trace_parent"] == data["ctx_trace_context_Traceparent"]
    )
    assert (data["trace_state"], data["attributes"], data["ctx_trace_context_Attributes"]) == ("", {}, {})
    assert (data["retry_count"], data["max_retry_count"], data["retry_exception_message"]) == (0, 0, "")
    assert data["tls_invocation_id"] == data["ctx_invocation_id"]
    assert data["is_func_context"] is False  # the worker's Context is a plain class too


async def test_incoming_trace_is_continued(funchost: Any) -> None:
    host = await funchost(APP, strict=False)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = await host.client.get(
        "/api/return_context", headers={"traceparent": parent, "tracestate": "congo=t61rcWkgMzE"}
    )
    data = json.loads(await r.text())
    trace_id, span = data["trace_parent"].split("-")[1:3]
    assert trace_id == "0af7651916cd43dd8448eb211c80319c" and span != "b7ad6b7169203331"
    assert data["trace_parent"].endswith("-01")
    assert data["trace_state"] == "congo=t61rcWkgMzE"


def test_context_surface() -> None:
    ctx = Context("id-1", "f", "/d", "garbage", "")
    assert TRACEPARENT.match(ctx.trace_context.trace_parent)
    assert ctx.retry_context.rpc_exception is ctx.retry_context.exception
    assert child_traceparent("00-" + "0" * 32 + "-b7ad6b7169203331-01").split("-")[1] != "0" * 32
