"""Console output in the style of ``func start``: banner, ``Functions:`` block, timestamped log lines."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from funchost.spec import FunctionSpec

SYSTEM_PREFIXES = (
    "funchost",
    "aiohttp",
    "azure",
    "azure_functions_worker",
    "openai",
    "httpx",
    "httpcore",
    "asyncio",
    "watchfiles",
    "urllib3",
    "requests",
)
"""Logger names shown at Warning and above unless --verbose (host internals and libraries)."""
WORKER_SYSTEM_PREFIXES = ("azure.functions", "azure_functions_worker")
"""The SDK's and the worker's loggers: system logs the worker never shows as function logs (only --verbose)."""
DEBUG_LOGGING_SETTING = "PYTHON_ENABLE_DEBUG_LOGGING"
"""The worker sets the root logger to DEBUG only when this is true; otherwise INFO, whatever host.json says."""

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
"""A record with this attribute set is shown whatever the level filter (see :func:`announce`)."""
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""Characters a terminal acts on (ESC sequences, carriage return, backspace, C1) or a log viewer splits at."""


def escape_controls(text: str) -> str:
    """Control characters as visible escapes (``\\x1b``), so printed text cannot move the cursor, colour or
    overwrite the console, or start a line of its own; ``\\r\\n`` counts as a newline, tabs stay."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escaped, text.replace("\r\n", "\n"))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_second: tuple[int, str] = (-1, "")
_milli: tuple[int, str] = (-1, "")


def stamp_of(created: float) -> str:
    """``timestamp()`` of an epoch time, cached per millisecond and per second (it is on every log line)."""
    global _second
    global _milli
    millis = int(created * 1000)
    last = _milli
    if last[0] == millis:  # under load, consecutive lines share the millisecond
        return last[1]
    whole, milli = divmod(millis, 1000)
    second, prefix = _second
    if whole != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(whole))
        _second = (whole, prefix)
    stamp = f"{prefix}{milli:03d}Z"
    _milli = (millis, stamp)
    return stamp


def is_system(logger_name: str) -> bool:
    return logger_name.split(".", 1)[0] in SYSTEM_PREFIXES


def is_worker_system(logger_name: str) -> bool:
    """``azure.functions*`` and ``azure_functions_worker*``: the worker sends these as system logs."""
    return any(logger_name == p or logger_name.startswith(p + ".") for p in WORKER_SYSTEM_PREFIXES)


def is_library(logger_name: str) -> bool:
    """A third-party library's logger (not funchost's own, not the app's)."""
    return is_system(logger_name) and logger_name.split(".", 1)[0] != "funchost"


def _true_like(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "t", "yes", "y")


def worker_root_level(environ: Mapping[str, str] | None = None) -> int:
    """The root logger level the Python worker sets: INFO, or DEBUG with PYTHON_ENABLE_DEBUG_LOGGING=1."""
    value = (os.environ if environ is None else environ).get(DEBUG_LOGGING_SETTING)
    return logging.DEBUG if _true_like(value) else logging.INFO


def _worker_emits(record: logging.LogRecord) -> bool:
    """Whether the worker would have created this record: its root logger is at INFO unless debug logging is
    enabled, so a user's debug record exists only if a logger below root has a level of its own that allows it."""
    if record.levelno >= logging.INFO:
        return True
    logger: logging.Logger | None = logging.getLogger(record.name) if record.name != "root" else None
    while logger is not None and logger.name != "root":
        if logger.level:
            return record.levelno >= logger.level
        logger = logger.parent
    return record.levelno >= worker_root_level()


def shown(record: logging.LogRecord, *, verbose: bool = False, user_level: int = logging.INFO) -> bool:
    """Core Tools' console filter, with the worker's: system loggers at Warning unless verbose, the SDK's and
    the worker's loggers only when verbose, user loggers at the user level and as the worker emits them."""
    if getattr(record, ALWAYS, False):
        return True
    name = record.name
    if is_worker_system(name):
        return verbose
    if is_system(name):
        return record.levelno >= (logging.DEBUG if verbose else logging.WARNING)
    return record.levelno >= user_level and _worker_emits(record)


def batched(stream: TextIO) -> TextIO:
    """``stream`` (the process's stdout) as a block-buffered writer on the same file descriptor. The console
    flushes once per event-loop iteration (and at once from other threads), but a terminal's line buffering or
    PYTHONUNBUFFERED would make every line a write(2) of its own; a stream that is no file is returned as is."""
    if not (getattr(stream, "line_buffering", False) or getattr(stream, "write_through", False)):
        return stream
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream
    stream.flush()
    return open(  # lives as long as the process; flushed by the console and at exit
        fd, "w", buffering=1 << 16, encoding=stream.encoding, errors=stream.errors, closefd=False
    )


class Console:
    """Writes to a stream, with colours only on a terminal."""

    def __init__(self, stream: TextIO | None = None, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty() if color is None else color
        self._flush_scheduled = False
        self._flush_thread = 0

    def _flush_soon(self) -> None:
        """Flush once per event-loop iteration (a burst of requests shares one write), at once elsewhere: a line
        from another thread (a sync function, the blocked-loop watch) also writes what the loop has pending, as
        the loop's own flush may be far off (a function blocking it)."""
        if self._flush_scheduled and threading.get_ident() == self._flush_thread:
            return  # the usual case, decided without asking for the running loop (a getpid() in Python 3.11)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        self._flush_thread = threading.get_ident()
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

    def log_lines(
        self, message: str, level: int = logging.INFO, created: float | None = None, *, escaped: bool = False
    ) -> None:
        """One timestamped line per line of ``message``, like Core Tools; control characters are escaped (unless
        the caller did), so every line on the console starts with the host's own timestamp."""
        if not escaped:
            message = escape_controls(message)
        stamp = self.paint(f"[{stamp_of(time.time() if created is None else created)}]", "gray")
        if "\n" not in message and not self.color:
            self.stream.write(f"{stamp} {message}\n")
        else:
            color = LEVEL_COLORS.get(level) if level != logging.INFO else None
            out = [f"{stamp} {self.paint(line, color)}" for line in message.split("\n")]
            self.stream.write("\n".join(out) + "\n")
        self._flush_soon()

    def functions_block(self, rows: Sequence[tuple[FunctionSpec, str, bool]]) -> None:
        """The ``Functions:`` block from (function, summary, has a URL) rows: functions with a URL (HTTP) first,
        then the others, then disabled ones; name order.

        Functions in error are left out, as the host has no descriptor for them (their error is logged)."""
        rows = sorted((r for r in rows if not r[0].errors), key=lambda r: r[0].name.lower())
        shown = [r for r in rows if not r[0].disabled]
        if not shown and not rows:
            return
        self.write()
        self.write("Functions:", "darkyellow")
        self.write()
        for fn, summary, _ in [r for r in shown if r[2]]:
            self.write(
                "\t" + self.paint(f"{fn.name}:", "darkyellow") + " " + self.paint(summary, "darkgreen")
            )
            self.write()
        for fn, summary, _ in [r for r in shown if not r[2]]:
            self.write("\t" + self.paint(f"{fn.name}:", "yellow") + f" {summary}")
            self.write()
        for fn, _, _ in rows:
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
        self._cleaned_texts: tuple[Callable[[str], str] | None, dict[str, str]] = (None, {})

    def wanted(self, record: logging.LogRecord) -> bool:
        return shown(record, verbose=self.verbose, user_level=self.user_level)

    def flush(self) -> None:
        """What the console buffered is written (logging calls this at exit)."""
        with contextlib.suppress(OSError, ValueError):  # a closed pipe must not break the host
            self.console.stream.flush()

    def _cleaned(self, known: dict[str, str], redact: Callable[[str], str] | None, text: str) -> str:
        """``text`` redacted (when ``redact`` is set) and with control characters escaped, remembered in
        ``known`` for the first texts seen (function names and reasons repeat on every line; the cache stops
        growing when full)."""
        found = escape_controls(text if redact is None else redact(text))
        if len(known) < 1024:
            known[text] = found
        return found

    def handle(self, record: logging.LogRecord) -> bool:
        """Records the console does not show skip the filters (the secret redaction formats the message)."""
        if not self.wanted(record):
            return False
        return bool(super().handle(record))

    def direct_info(self, msg: str, args: tuple[object, ...], plain: object = None) -> bool:
        """Write an INFO line of a user-category logger (``Function.<name>``) without a ``LogRecord``: same text
        and timestamp as :meth:`emit`. ``msg`` is the host's own template: the secret redaction runs on the text
        arguments only (a whole-line pass would scan the template's ``Id=`` on every line), as does the escaping
        of control characters, except for ``plain``, a host-made argument that holds neither (the invocation id:
        new on every line, so never in the cache). False (nothing written) when a filter it does not know is set:
        the caller then logs the usual way."""
        redact: Callable[[str], str] | None = None
        for f in self.filters:
            redact = getattr(f, "redact", None)
            if redact is None:
                return False
        created = time.time()
        if max(self.user_level, self.level) > logging.INFO:
            return True
        cache = self._cleaned_texts
        if cache[0] != redact:  # a bound method is a new object per lookup, equal to the last
            cache = self._cleaned_texts = (redact, {})
        known = cache[1]
        message = msg % tuple(
            [
                (known.get(a) or self._cleaned(known, redact, a)) if type(a) is str and a is not plain else a
                for a in args
            ]
        )
        # No handler lock: log_lines writes a line (or a line block) with one write() call, which no other
        # thread's line can split; the lock only costs the loop thread (~1 us a line).
        self.console.log_lines(message, logging.INFO, created, escaped=True)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        if not self.wanted(record):  # emit() called directly, not through handle()
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
            if is_library(record.name) and not getattr(record, ALWAYS, False):
                message = f"[{record.name}] {message}"  # never mistaken for the app's own log lines
            self.console.log_lines(message, record.levelno, record.created)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def log_info(log: logging.Logger, msg: str, *args: object, plain: object = None) -> None:
    """``log.info(msg, *args)`` for a host line of a user-category logger (``Executing``/``Executed``): written
    straight to the console when the console is the only listener (no ``LogRecord``, no handler chain, no caller
    lookup); any other handler, filter or logger setup (the test harness's capture, a user's handler) gets the
    usual record. ``plain`` is an argument the direct path need not redact (see :meth:`ConsoleHandler.direct_info`)."""
    if not log.isEnabledFor(logging.INFO):
        return
    root = logging.root
    handlers = root.handlers
    if (
        len(handlers) == 1
        and type(handlers[0]) is ConsoleHandler
        and log.parent is root
        and log.propagate
        and not log.handlers
        and not log.filters
        and not root.filters
        and handlers[0].direct_info(msg, args, plain)
    ):
        return
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, msg, args, None))


def announce(log: logging.Logger, msg: str, *args: object) -> None:
    """An INFO line the console always shows (the banner, the reload lines), whatever the level filter: logged
    even where :func:`quiet_system_loggers` set the logger to Warning."""
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, msg, args, None, extra={ALWAYS: True}))


def quiet_system_loggers() -> None:
    """Without --verbose the console shows system loggers (funchost, its plugins, aiohttp, the SDKs) from
    Warning up only: set them to Warning (where nobody set a level), so that their Information records are not
    even built (a plugin's hidden ``log.info`` per request cost a ``LogRecord`` with its caller lookup)."""
    for name in SYSTEM_PREFIXES:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


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
    """A ``sys.stdout`` that logs each printed line on ``Host.Function.Console``, as the worker's stdout is.

    Text without a newline is kept per thread as a list of pieces (joined once, at the newline): a loop of
    ``print(..., end="")`` costs linear time. ``buffer`` takes bytes (UTF-8), like a real stdout's."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, logger_name: str = "Host.Function.Console") -> None:
        super().__init__()
        self.logger = logging.getLogger(logger_name)
        self._lock = threading.Lock()
        self._pending: dict[int, list[str]] = {}
        self.buffer = _BytesToText(self)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        key = threading.get_ident()
        if "\n" not in text:
            with self._lock:
                self._pending.setdefault(key, []).append(text)
            return len(text)
        first, *lines = text.split("\n")
        rest = lines.pop()
        with self._lock:
            pieces = self._pending.pop(key, None)
            if rest:
                self._pending[key] = [rest]
        if pieces:
            pieces.append(first)
            first = "".join(pieces)
        for line in (first, *lines):
            self.logger.info(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            pieces = self._pending.pop(threading.get_ident(), None)
        if pieces:
            self.logger.info("".join(pieces))


class _BytesToText(io.RawIOBase):
    """``sys.stdout.buffer`` for :class:`PrintToLog`: bytes decoded as UTF-8 (a sequence split across writes is
    kept until complete)."""

    def __init__(self, text: PrintToLog) -> None:
        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        with self._lock:
            text = self._decoder.decode(raw)
        if text:
            self._text.write(text)
        return len(raw)

    def flush(self) -> None:
        self._text.flush()


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
