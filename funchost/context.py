"""Concrete ``azure.functions.Context`` objects, as the Python worker builds them."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import azure.functions as func
from azure.functions import _abc


class TraceContext(_abc.TraceContext):
    def __init__(self, trace_parent: str, trace_state: str = "", attributes: dict[str, str] | None = None):
        self._trace_parent = trace_parent
        self._trace_state = trace_state
        self._attributes = attributes or {}

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes


class RetryContext(_abc.RetryContext):
    def __init__(self, retry_count: int = 0, max_retry_count: int = 0, exception: Any = None) -> None:
        self._retry_count = retry_count
        self._max_retry_count = max_retry_count
        self._exception = exception

    @property
    def retry_count(self) -> int:
        return self._retry_count

    @property
    def max_retry_count(self) -> int:
        return self._max_retry_count

    @property
    def exception(self) -> Any:
        return self._exception


thread_local = threading.local()
"""The worker's thread-local storage; ``invocation_id`` is set on the thread running an invocation."""


class Context(func.Context):
    """What a function receives as ``context``."""

    def __init__(
        self, invocation_id: str, function_name: str, function_directory: str, traceparent: str = ""
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace = TraceContext(traceparent or new_traceparent())
        self._retry = RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace

    @property
    def retry_context(self) -> RetryContext:
        return self._retry

    @property
    def thread_local_storage(self) -> Any:
        return thread_local


def new_traceparent() -> str:
    """A W3C traceparent for an invocation with no incoming one."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"
