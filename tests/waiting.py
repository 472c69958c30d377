"""One way for tests to wait: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float = 20.0,
    interval: float = 0.02,
    message: str | Callable[[], str] = "the condition did not hold",
) -> T:
    """Call ``check`` until it returns a truthy value (returned) or ``timeout`` seconds pass (AssertionError
    with ``message``, called if it is a function, so it can show the latest state)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout}s: {text}")
        time.sleep(interval)
