"""pytest fixtures for function apps (``pytest11`` entry point ``funchost``): ``funchost`` starts an app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from funchost.testing import TestHost

StartApp = Callable[..., Awaitable["TestHost"]]
"""``await funchost(app, *, settings=None, strict=True, max_body=None, **plugin_options)``: see
:meth:`funchost.testing.Harness.start`."""

NEEDS_ASYNCIO = (
    "The funchost fixture needs pytest-asyncio (and pytest-aiohttp), which are not installed: "
    "pip install 'funchost[test]'."
)


async def _start_apps(request: pytest.FixtureRequest) -> AsyncIterator[StartApp]:
    """Start function apps in-process on the test's event loop; everything is undone after the test."""
    from funchost.testing import Harness

    def tmp_dir() -> Path:
        path: Path = request.getfixturevalue("tmp_path")
        return path

    harness = Harness(request.config.rootpath, tmp_dir)
    try:
        yield harness.start
    finally:
        await harness.close()


def _unavailable() -> Iterator[StartApp]:
    """Unavailable without pytest-asyncio."""
    pytest.fail(NEEDS_ASYNCIO, pytrace=False)
    yield  # pragma: no cover


funchost: Any
try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - the fixture explains what to install
    funchost = pytest.fixture(_unavailable, name="funchost")
else:
    funchost = _async_fixture(_start_apps, name="funchost")
