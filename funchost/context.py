"""The ``context`` a function receives, with the Python worker's surface (bindings/context.py, tracecontext.py,
retrycontext.py): like the worker's, these are plain classes, not subclasses of ``azure.functions.Context``."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Mapping
from typing import Any

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


class TraceContext:
    """W3C trace context of the invocation: snake_case names, and the deprecated PascalCase ones."""

    def __init__(self, trace_parent: str, trace_state: str = "", attributes: dict[str, str] | None = None):
        self.__trace_parent = trace_parent
        self.__trace_state = trace_state
        self.__attributes = attributes if attributes is not None else {}

    @property
    def trace_parent(self) -> str:
        return self.__trace_parent

    @property
    def trace_state(self) -> str:
        return self.__trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return self.__attributes

    @property
    def Traceparent(self) -> str:  # the worker keeps these deprecated names
        return self.__trace_parent

    @property
    def Tracestate(self) -> str:
        return self.__trace_state

    @property
    def Attributes(self) -> dict[str, str]:
        return self.__attributes


class RpcException:
    """The exception of the previous attempt as the host sends it (empty strings when there was none)."""

    def __init__(self, source: str = "", stack_trace: str = "", message: str = "") -> None:
        self.source = source
        self.stack_trace = stack_trace
        self.message = message


class RetryContext:
    """Retry state: 0 and 0 with an empty exception when the function has no retry policy."""

    def __init__(
        self, retry_count: int = 0, max_retry_count: int = 0, exception: RpcException | None = None
    ) -> None:
        self.__retry_count = retry_count
        self.__max_retry_count = max_retry_count
        self.__exception = exception if exception is not None else RpcException()

    @property
    def retry_count(self) -> int:
        return self.__retry_count

    @property
    def max_retry_count(self) -> int:
        return self.__max_retry_count

    @property
    def exception(self) -> RpcException:
        return self.__exception

    @property
    def rpc_exception(self) -> RpcException:
        """The name newer workers' dataclass uses for ``exception``."""
        return self.__exception


thread_local = threading.local()
"""The worker's thread-local storage; ``invocation_id`` is set on the thread running an invocation."""


class Context:
    """What a function receives as ``context``."""

    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        function_directory: str,
        traceparent: str = "",
        tracestate: str = "",
        retry: RetryContext | None = None,
    ) -> None:
        self.__invocation_id = invocation_id
        self.__function_name = function_name
        self.__function_directory = function_directory
        self.__trace = TraceContext(child_traceparent(traceparent), tracestate, {})
        self.__retry = retry or RetryContext()

    @classmethod
    def for_trigger(
        cls,
        invocation_id: str,
        function_name: str,
        function_directory: str,
        binding_data: Mapping[str, Any],
        retry: RetryContext | None = None,
    ) -> Context:
        """A context whose trace continues the caller's ``traceparent``/``tracestate`` headers, if any."""
        headers = binding_data.get("Headers") if isinstance(binding_data, Mapping) else None
        parent = state = ""
        if isinstance(headers, Mapping):
            parent = _header(headers, "traceparent")
            state = _header(headers, "tracestate")
        return cls(invocation_id, function_name, function_directory, parent, state, retry)

    @property
    def invocation_id(self) -> str:
        return self.__invocation_id

    @property
    def function_name(self) -> str:
        return self.__function_name

    @property
    def function_directory(self) -> str:
        return self.__function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self.__trace

    @property
    def retry_context(self) -> RetryContext:
        return self.__retry

    @property
    def thread_local_storage(self) -> Any:
        return thread_local


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return value if isinstance(value, str) else ""


def new_traceparent() -> str:
    """A W3C traceparent for an invocation with no incoming one (not sampled)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


def child_traceparent(incoming: str) -> str:
    """The host's invocation Activity: a child of a valid incoming traceparent (same trace id and flags, a new
    span id), else a new trace."""
    match = _TRACEPARENT.match(incoming.strip().lower()) if incoming else None
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"
