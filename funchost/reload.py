"""Hot reload: watch the app folder and swap in a freshly imported Host with no downtime.

A reload builds a new :class:`~funchost.host.Host` beside the serving one (indexing re-imports the app's
modules in a worker thread, so the loop keeps serving), and swaps it in only when it indexed and started
cleanly. The old version finishes its in-flight requests, then stops; shared stores are left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from watchfiles import Change, awatch

from funchost.console import Console, announce
from funchost.host import Host, HostOptions
from funchost.settings import ConfigError

if TYPE_CHECKING:
    from funchost.web.app import Server

__all__ = ["IGNORED_DIRS", "WATCHED_NAMES", "Reloader", "watched"]

log = logging.getLogger("funchost.reload")

WATCHED_NAMES = frozenset({"function.json", "host.json", "local.settings.json", "requirements.txt"})
"""File names that trigger a reload (besides ``*.py``); ``requirements.txt`` is only announced."""
IGNORED_DIRS = frozenset(
    {
        ".funchost",
        "__pycache__",
        ".venv",
        "venv",
        ".git",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".python_packages",
    }
)
"""Folder names whose contents never trigger a reload (plus any folder holding a ``pyvenv.cfg``)."""
KEEPING = "Keeping the last good version running; fix the error and save again."
RETIRE_GRACE = 0.05
"""A moment for requests accepted just before the swap to reach the old version's dispatch."""
SLOW_IMPORT_SECONDS = float(os.environ.get("FUNCHOST_RELOAD_SLOW_SECONDS") or 10)
"""A reload still importing the app after this long is reported (where it is stuck); the next save abandons it."""
_KINDS = {Change.added: "Created", Change.modified: "Changed", Change.deleted: "Deleted"}


def watched(root: Path, path: str) -> bool:
    """Whether a change to ``path`` (inside ``root``) is one the reloader acts on."""
    target = Path(path)
    name = target.name
    if not (name.endswith(".py") or name in WATCHED_NAMES):
        return False
    try:
        parts = target.relative_to(root).parts[:-1]
    except ValueError:
        return False
    folder = root
    for part in parts:
        if part in IGNORED_DIRS:
            return False
        folder = folder / part
        if (folder / "pyvenv.cfg").exists():
            return False
    return True


class Reloader:
    """Watches an app folder and reloads the Host a :class:`Server` serves; reloads run one at a time."""

    def __init__(
        self,
        server: Server,
        options: HostOptions,
        *,
        console: Console | None = None,
        step_ms: int = 10,
        debounce_ms: int = 300,
    ) -> None:
        self.server = server
        self.options = options
        self.root = Path(options.script_root).resolve()
        self.console = console or Console()
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        """Successful reloads so far."""
        self._pending: set[tuple[Change, str]] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._retiring: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start watching; says so on the console."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._watch()), loop.create_task(self._work())]
        for _ in range(3):  # let the watch task create its inotify watcher before we report being on
            await asyncio.sleep(0)
        announce(log, "Watching %s for changes; --no-reload turns it off.", self.root)

    async def stop(self) -> None:
        """Stop watching, let a running reload finish, then retire old versions."""
        self._stop.set()
        self._wake.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    # -- the two tasks ---------------------------------------------------------------------------------------
    async def _watch(self) -> None:
        root = self.root
        try:
            async for changes in awatch(
                root,
                watch_filter=lambda _change, path: watched(root, path),
                debounce=self.debounce_ms,
                step=self.step_ms,
                stop_event=self._stop,
                rust_timeout=500,
                yield_on_timeout=False,
            ):
                self._pending.update(changes)
                self._wake.set()
        except Exception:
            log.exception("Watching %s for changes failed; reload is off until funchost restarts.", root)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            changes, self._pending = self._pending, set()
            if changes:
                await self._supervise(asyncio.get_running_loop().create_task(self.handle(changes)))

    async def _supervise(self, task: asyncio.Task[bool]) -> None:
        """Wait for one reload; report an import that hangs, and abandon it when the app is saved again (or the
        host stops), so that a later reload works."""
        reported = False
        again = False
        try:
            while True:
                waker = asyncio.get_running_loop().create_task(self._wake.wait())
                done, _ = await asyncio.wait(
                    {task, waker}, timeout=SLOW_IMPORT_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                waker.cancel()
                if task in done:
                    if not task.cancelled() and task.exception() is not None:
                        self._report(f"Reloading {self.root} failed.", task.exception())
                    return
                hung = _importing_threads()
                if not done and hung and not reported:
                    reported = True
                    where = "; ".join(_where(frame, self.root) for frame in hung.values())
                    message = (
                        f"Importing the app has not finished after {SLOW_IMPORT_SECONDS:g}s; it is at {where}. "
                        "Module-level code must not block (no waits, no servers, no input()). The last good "
                        "version keeps serving; save again to abandon this import and reload."
                    )
                    log.error(message)
                    self.server.reload_errors = [message]
                if waker in done:
                    self._wake.clear()
                    again = True
                    if self._stop.is_set() or (reported and hung):
                        task.cancel()
                        _release_import_locks(hung)
                        if not self._stop.is_set():
                            log.warning(
                                "Abandoned the hung import (its thread runs on until it returns; its result is "
                                "dropped). Reloading with the latest changes."
                            )
                        return
        finally:
            if again:
                self._wake.set()

    # -- one batch of changes --------------------------------------------------------------------------------
    async def handle(self, changes: Iterable[tuple[Change, str]]) -> bool:
        """Log a batch of changes and reload unless only requirements.txt changed; True when swapped."""
        batch = sorted(changes, key=lambda c: c[1])
        for change, path in batch:
            announce(log, "File change of type '%s' detected for '%s'", _KINDS.get(change, "Changed"), path)
        code = [path for _, path in batch if Path(path).name != "requirements.txt"]
        if len(code) < len(batch):
            log.warning(
                "requirements.txt changed: install the new packages with `pip install -r %s` (into the "
                "environment funchost runs in); the host was not reloaded for it.",
                self.root / "requirements.txt",
            )
        if not code:
            return False
        announce(log, "Host configuration has changed. Signaling restart")
        _forget_bytecode(code)
        return await self.reload()

    def _report(self, message: str, exc: BaseException | None = None) -> None:
        """Log a failed reload and show it in /admin/host/status until a good reload."""
        if exc is not None:
            message += "\n" + "".join(traceback.format_exception(exc)).rstrip()
        log.error("%s\n%s", message, KEEPING)
        self.server.reload_errors = [message]

    async def reload(self) -> bool:
        """Load a new version and swap it in if it is healthy; a broken one is reported and dropped."""
        started = time.perf_counter()
        try:
            new = await Host.load(self.options)
        except ConfigError as exc:
            self._report(str(exc))
            return False
        except BaseException as exc:  # KeyboardInterrupt, GeneratorExit ... raised by the app's module code
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling():
                raise
            kind = "" if isinstance(exc, Exception) else f" (importing the app raised {type(exc).__name__})"
            self._report(f"Reloading {self.root} failed{kind}.", exc)
            return False
        if new.index.errors:
            self._report("\n".join(new.index.errors))
            await _discard(new)
            return False
        old = self.server.current
        if not new.index.functions and old.index.functions:
            script = old.index.script_file
            why = (
                f"{script.name} was deleted or renamed"
                if script is not None and not script.exists()
                else "the app now defines no function"
            )
            self._report(
                f"The reloaded app has no functions: {why}. An empty app would answer 404 everywhere, so this is "
                f"treated as a broken edit ({len(old.index.functions)} functions stay served); restore it, or "
                "restart funchost to serve an empty app."
            )
            await _discard(new)
            return False
        new.keys = old.keys
        try:
            await new.start()
        except Exception as exc:
            self._report("Starting the reloaded app failed.", exc)
            await _discard(new)
            return False
        self.server.reload_errors = []
        self.server.swap(new)
        task = asyncio.get_running_loop().create_task(_retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        self.console.functions_block(new.summaries(f"http://localhost:{new.port}"))
        for line in new.describe():
            announce(log, line)
        announce(log, "Reloaded in %d ms", (time.perf_counter() - started) * 1000)
        return True


async def _retire(old: Host) -> None:
    """Let requests already routed to ``old`` finish, then stop it (shared resources stay open)."""
    await asyncio.sleep(RETIRE_GRACE)
    await old.drain()
    await old.stop()


async def _discard(new: Host) -> None:
    try:
        await new.stop()
    except Exception:
        log.exception("Discarding the failed version of %s raised.", new.script_root)


def _importing_threads() -> dict[int, FrameType]:
    """Threads now inside ``index_app`` (importing the app), with their innermost frame."""
    found: dict[int, FrameType] = {}
    for ident, frame in sys._current_frames().items():
        walk: FrameType | None = frame
        while walk is not None:
            if walk.f_code.co_name == "index_app" and walk.f_code.co_filename.endswith("indexing.py"):
                found[ident] = frame
                break
            walk = walk.f_back
    return found


def _where(frame: FrameType, root: Path) -> str:
    """The innermost line of the app's own code in a stack (else the innermost line)."""
    stack = traceback.extract_stack(frame)
    mine = [f for f in stack if f.filename.startswith(str(root))] or stack[-1:]
    last = mine[-1]
    return f"{last.filename}:{last.lineno} in {last.name}: {(last.line or '').strip()}"


def _release_import_locks(threads: Iterable[int]) -> None:
    """Forget the module import locks held by abandoned import threads, so that importing the app again does
    not wait for them forever (CPython keeps one lock per module name being imported)."""
    import importlib._bootstrap as bootstrap

    owners = set(threads)
    locks = getattr(bootstrap, "_module_locks", {})
    for name, ref in list(locks.items()):
        lock = ref() if callable(ref) else ref
        if getattr(lock, "owner", None) in owners:
            locks.pop(name, None)


def _forget_bytecode(paths: Iterable[str]) -> None:
    """Drop cached bytecode of changed sources: a same-size edit within one second would look unchanged."""
    for path in paths:
        if not path.endswith(".py"):
            continue
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            os.unlink(importlib.util.cache_from_source(path))
