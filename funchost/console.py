"""Console output in the style of ``func start``: banner, ``Functions:`` block, timestamped log lines."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from funchost.spec import FunctionSpec

SYSTEM_PREFIXES = ("funchost", "aiohttp", "azure", "openai", "httpx", "httpcore", "asyncio", "watchfiles")
"""Logger names shown at Warning and above unless --verbose (host internals and libraries)."""

COLORS = {
    "gray": "\x1b[90m",
    "darkyellow": "\x1b[33m",
    "yellow": "\x1b[93m",
    "darkgreen": "\x1b[32m",
    "darkcyan": "\x1b[36m",
    "red": "\x1b[91m",
    "reset": "\x1b[0m",
}
LEVEL_COLORS = {
    logging.ERROR: "red",
    logging.CRITICAL: "red",
    logging.WARNING: "darkyellow",
    logging.INFO: "darkcyan",
    logging.DEBUG: "darkgreen",
}
ALWAYS = "funchost_always"
"""Set ``extra={ALWAYS: True}`` on a record to show it whatever the level filter."""


def timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_second: tuple[int, str] = (-1, "")


def stamp_of(created: float) -> str:
    """``timestamp()`` of an epoch time, with the seconds part cached (it is on every log line)."""
    global _second
    whole = int(created)
    second, prefix = _second
    if whole != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(whole))
        _second = (whole, prefix)
    return f"{prefix}{int((created - whole) * 1000):03d}Z"


def is_system(logger_name: str) -> bool:
    return logger_name.split(".", 1)[0] in SYSTEM_PREFIXES


class Console:
    """Writes to a stream, with colours only on a terminal."""

    def __init__(self, stream: TextIO | None = None, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty() if color is None else color
        self._flush_scheduled = False

    def _flush_soon(self) -> None:
        """Flush once per event-loop iteration (a burst of requests shares one write), at once elsewhere."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.stream.flush()
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        with contextlib.suppress(OSError, ValueError):  # a closed pipe must not break the host
            self.stream.flush()

    def paint(self, text: str, color: str | None) -> str:
        if not self.color or not color:
            return text
        return f"{COLORS[color]}{text}{COLORS['reset']}"

    def write(self, text: str = "", color: str | None = None) -> None:
        self.stream.write(self.paint(text, color) + "\n")
        self._flush_soon()

    def log_lines(self, message: str, level: int = logging.INFO, created: float | None = None) -> None:
        """One timestamped line per line of ``message``, like Core Tools."""
        stamp = self.paint(f"[{stamp_of(time.time() if created is None else created)}]", "gray")
        if "\n" not in message and not self.color:
            self.stream.write(f"{stamp} {message}\n")
        else:
            color = LEVEL_COLORS.get(level) if level != logging.INFO else None
            out = [f"{stamp} {self.paint(line, color)}" for line in message.split("\n")]
            self.stream.write("\n".join(out) + "\n")
        self._flush_soon()

    def functions_block(self, functions: Sequence[FunctionSpec], base_url: str, route_prefix: str) -> None:
        """The ``Functions:`` block: HTTP functions, then the others, then disabled ones; name order.

        Functions in error are left out, as the host has no descriptor for them (their error is logged)."""
        functions = sorted((f for f in functions if not f.errors), key=lambda f: f.name.lower())
        shown = [f for f in functions if not f.disabled]
        if not shown and not functions:
            return
        self.write()
        self.write("Functions:", "darkyellow")
        self.write()
        for fn in [f for f in shown if f.is_http]:
            trigger = fn.trigger
            methods = trigger.get("methods")
            methods_text = "[" + ",".join(str(m).upper() for m in methods) + "]" if methods else ""
            route = trigger.get("route") or fn.name
            url = f"{base_url}/{route_prefix}/{route}" if route_prefix else f"{base_url}/{route}"
            line = (
                self.paint(f"{fn.name}:", "darkyellow")
                + " "
                + self.paint(f"{methods_text} {url}", "darkgreen")
            )
            self.write("\t" + line)
            self.write()
        for fn in [f for f in shown if not f.is_http]:
            self.write("\t" + self.paint(f"{fn.name}:", "yellow") + f" {fn.trigger.type}")
            self.write()
        for fn in functions:
            if fn.disabled:
                self.write(f"Function {fn.name} is disabled.", "darkyellow")


class ConsoleHandler(logging.Handler):
    """Routes log records to the console with Core Tools' filtering: system loggers at Warning unless verbose,
    user and function loggers at the configured user level."""

    def __init__(self, console: Console, *, verbose: bool = False, user_level: int = logging.INFO) -> None:
        super().__init__(logging.DEBUG)
        self.console = console
        self.verbose = verbose
        self.user_level = user_level

    def wanted(self, record: logging.LogRecord) -> bool:
        if getattr(record, ALWAYS, False):
            return True
        if is_system(record.name):
            return record.levelno >= (logging.DEBUG if self.verbose else logging.WARNING)
        return record.levelno >= self.user_level

    def emit(self, record: logging.LogRecord) -> None:
        if not self.wanted(record):
            return
        try:
            message = record.getMessage()
            if (
                record.exc_info
                and record.exc_info[1] is not None
                and not getattr(record, "stack_shown", False)
            ):
                import traceback

                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.console.log_lines(message, record.levelno, record.created)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


class CaptureHandler(logging.Handler):
    """Keeps every record (for tests and tools)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [r.getMessage() for r in self.records]


class PrintToLog(io.TextIOBase):
    """A ``sys.stdout`` that logs each printed line on ``Host.Function.Console``, as the worker's stdout is."""

    def __init__(self, logger_name: str = "Host.Function.Console") -> None:
        super().__init__()
        self.logger = logging.getLogger(logger_name)
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        key = threading.get_ident()
        with self._lock:
            *lines, rest = (self._pending.pop(key, "") + text).split("\n")
            if rest:
                self._pending[key] = rest
        for line in lines:
            self.logger.info(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest = self._pending.pop(threading.get_ident(), "")
        if rest:
            self.logger.info(rest)


def level_from_name(name: str | None, default: int = logging.INFO) -> int:
    """A .NET log level name (Trace, Debug, Information, Warning, Error, Critical, None) as a logging level."""
    if not name:
        return default
    table = {
        "trace": logging.DEBUG,
        "debug": logging.DEBUG,
        "information": logging.INFO,
        "info": logging.INFO,
        "warning": logging.WARNING,
        "error": logging.ERROR,
        "critical": logging.CRITICAL,
        "none": logging.CRITICAL + 10,
    }
    return table.get(name.lower(), default)
