"""Console: the Functions: block, timestamped lines, level filtering, print() capture."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

from funchost.console import (
    SYSTEM_PREFIXES,
    Console,
    ConsoleHandler,
    PrintToLog,
    level_from_name,
    quiet_system_loggers,
    timestamp,
)
from funchost.spec import BindingSpec, FunctionSpec

MOMENT = datetime(2024, 10, 24, 10, 0, 0, 123456, tzinfo=UTC)


def spec(
    name: str, trigger: dict[str, object], *, disabled: bool = False, errors: list[str] | None = None
) -> FunctionSpec:
    raw = {"name": "req", "direction": "in", **trigger}
    binding = BindingSpec(name="req", type=str(trigger["type"]), direction="in", raw=raw)
    return FunctionSpec(
        name=name,
        bindings=(binding,),
        func=None,
        directory=Path("."),
        script_file=Path("function_app.py"),
        errors=list(errors or []),
        disabled=disabled,
    )


def http(route: str, methods: list[str] | None = None) -> dict[str, object]:
    data: dict[str, object] = {"type": "httpTrigger", "route": route}
    if methods is not None:
        data["methods"] = methods
    return data


def test_timestamp_format() -> None:
    assert timestamp(MOMENT) == "2024-10-24T10:00:00.123Z"


def test_functions_block_exact() -> None:
    out = io.StringIO()
    base = "http://localhost:7071/api"
    rows = [
        (spec("zeta", http("items/{id}", ["get", "post"])), f"[GET,POST] {base}/items/{{id}}", True),
        (spec("AddTodo", {"type": "assistantSkillTrigger"}), "assistantSkillTrigger", False),
        (spec("hello", http("hello")), f" {base}/hello", True),
        (spec("Create", http("assistants/{assistantId}", ["PUT"])), f"[PUT] {base}/assistants/{{assistantId}}", True),
        (spec("Old", http("old"), disabled=True), "", True),
        (spec("Broken", http("broken"), errors=["bad"]), "", True),
    ]
    Console(out).functions_block(rows)
    assert out.getvalue() == (
        "\nFunctions:\n\n"
        "\tCreate: [PUT] http://localhost:7071/api/assistants/{assistantId}\n\n"
        "\thello:  http://localhost:7071/api/hello\n\n"
        "\tzeta: [GET,POST] http://localhost:7071/api/items/{id}\n\n"
        "\tAddTodo: assistantSkillTrigger\n\n"
        "Function Old is disabled.\n"
    )


def test_functions_block_nothing_to_show() -> None:
    empty = io.StringIO()
    Console(empty).functions_block([])
    assert empty.getvalue() == ""


def test_colours_only_when_asked() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    Console(plain).write("Functions:", "darkyellow")
    Console(coloured, color=True).write("Functions:", "darkyellow")
    assert plain.getvalue() == "Functions:\n"
    assert coloured.getvalue() == "\x1b[33mFunctions:\x1b[0m\n"


def test_multi_line_message_gets_a_stamp_per_line() -> None:
    out = io.StringIO()
    Console(out).log_lines("one\ntwo", logging.ERROR, MOMENT.timestamp())
    assert out.getvalue() == "[2024-10-24T10:00:00.123Z] one\n[2024-10-24T10:00:00.123Z] two\n"


def _record(name: str, level: int, msg: str = "m") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_handler_filters_system_logs_unless_verbose() -> None:
    quiet = ConsoleHandler(Console(io.StringIO()))
    loud = ConsoleHandler(Console(io.StringIO()), verbose=True)
    assert not quiet.wanted(_record("funchost.host", logging.INFO))
    assert quiet.wanted(_record("funchost.host", logging.WARNING))
    assert loud.wanted(_record("aiohttp.server", logging.DEBUG))
    assert quiet.wanted(_record("Function.hello", logging.INFO))
    assert quiet.wanted(_record("root", logging.INFO))
    assert not quiet.wanted(_record("root", logging.DEBUG))
    strict = ConsoleHandler(Console(io.StringIO()), user_level=level_from_name("Warning"))
    assert not strict.wanted(_record("Function.hello", logging.INFO))


def test_print_to_log_emits_whole_lines() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("Host.Function.Console.test")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    stream = PrintToLog("Host.Function.Console.test")
    print("partial", end="", file=stream)
    assert records == []
    print(" line\nsecond", file=stream)
    assert records == ["partial line", "second"]


def test_level_names() -> None:
    assert level_from_name("Trace") == logging.DEBUG
    assert level_from_name("None") > logging.CRITICAL
    assert level_from_name(None) == logging.INFO


def test_quiet_system_loggers_keeps_a_level_someone_set() -> None:
    """Without --verbose the system loggers go to Warning (their Information records are never built), but a
    level the user set, e.g. to see the openai SDK's debug lines, is kept."""
    saved = {name: logging.getLogger(name).level for name in SYSTEM_PREFIXES}
    try:
        for name in SYSTEM_PREFIXES:
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger("openai").setLevel(logging.DEBUG)
        quiet_system_loggers()
        assert logging.getLogger("openai").level == logging.DEBUG
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("funchost.host").isEnabledFor(logging.WARNING)
        assert not logging.getLogger("funchost.host").isEnabledFor(logging.INFO)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
