"""``funchost start | functions | keys``, plus the start flags and commands that plugins contribute."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from funchost import DEFAULT_MAX_BODY, DEFAULT_PORT, __version__
from funchost.plugin import Command, PluginInfo, add_app_argument, load_object

if TYPE_CHECKING:  # asyncio and socket cost ~0.1 s to import: only `start` needs them
    import asyncio
    import socket

    from funchost.console import Console
    from funchost.host import HostOptions
    from funchost.settings import AppConfig
    from funchost.web.app import Cors

log = logging.getLogger("funchost.cli")
STATE_DIR = ".funchost"
SHUTDOWN_SECONDS = 5.0
"""How long a stop (SIGINT/SIGTERM) waits for running requests, plugins and threads before it abandons them."""


def build_parser(
    plugins: Sequence[PluginInfo] = (), commands: Mapping[str, tuple[PluginInfo, Command]] | None = None
) -> argparse.ArgumentParser:
    """The CLI's parser; ``commands``: :func:`plugin_commands` of ``plugins`` when already computed."""
    parser = argparse.ArgumentParser(prog="funchost", description="Run Azure Functions Python apps locally.")
    parser.add_argument("--version", action="version", version=f"funchost {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    common = add_app_argument

    start = sub.add_parser("start", help="serve the function app, like `func start`")
    common(start)
    start.add_argument("--port", "-p", type=int, help="port (default: Host.LocalHttpPort, else 7071)")
    start.add_argument(
        "--host",
        "--address",
        dest="bind",
        default=None,
        help="address to bind (default: Host.LocalHttpAddress, else 127.0.0.1)",
    )
    start.add_argument("--cors", help="comma-separated allowed origins, * for any")
    start.add_argument(
        "--cors-credentials", action="store_true", default=None, help="allow credentials in CORS"
    )
    start.add_argument("--functions", nargs="+", help="only load these functions")
    start.add_argument("--verbose", action="store_true", help="show host logs at Information level")
    start.add_argument(
        "--no-reload", dest="reload", action="store_false", help="do not reload on file changes"
    )
    start.add_argument(
        "--enable-auth",
        "--enableAuth",
        dest="enable_auth",
        action="store_true",
        help="enforce function and admin keys (.funchost/keys.json)",
    )
    start.add_argument(
        "--max-request-body-size",
        type=int,
        default=DEFAULT_MAX_BODY,
        help="largest request body in bytes (default 100 MiB, like Core Tools)",
    )
    for info in plugins:
        for flag in info.flags:
            start.add_argument(
                flag.flag,
                dest=_flag_dest(flag.flag),
                choices=flag.choices or None,
                metavar=flag.metavar,
                help=f"{flag.help} [{info.name} plugin; setting {flag.setting}]",
            )
    start.add_argument("--user-log-level", help="minimum level of user logs (Trace..None)")

    functions = sub.add_parser("functions", help="list the app's functions and their bindings")
    common(functions)

    keys = sub.add_parser("keys", help="show the keys used with --enable-auth")
    common(keys)

    for name, (info, command) in (plugin_commands(plugins) if commands is None else commands).items():
        cmd = sub.add_parser(name, help=f"{command.help} [{info.name} plugin]", add_help=False)
        cmd.add_argument("argv", nargs=argparse.REMAINDER)
    return parser


BUILT_IN_COMMANDS = ("start", "functions", "keys")


def plugin_commands(plugins: Sequence[PluginInfo]) -> dict[str, tuple[PluginInfo, Command]]:
    """The commands plugins add, by name; one taking a built-in's or an earlier plugin's name is ignored."""
    found: dict[str, tuple[PluginInfo, Command]] = {}
    for info in plugins:
        for command in info.commands:
            if command.name in BUILT_IN_COMMANDS or command.name in found:
                print(
                    f"funchost: plugin '{info.name}' adds a command '{command.name}', which is taken; ignored.",
                    file=sys.stderr,
                )
                continue
            found[command.name] = (info, command)
    return found


def _flag_dest(flag: str) -> str:
    return "plugin_" + flag.lstrip("-").replace("-", "_")


def _manifests() -> tuple[PluginInfo, ...]:
    from funchost.plugin import manifests

    infos, errors = manifests()
    for error in errors:
        print(f"funchost: {error}", file=sys.stderr)
    return infos


def main(argv: Sequence[str] | None = None) -> int:
    plugins = _manifests()
    commands = plugin_commands(plugins)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in commands:
        # A plugin's command parses its own arguments, its --help included: argparse would take that for ours.
        code: int = load_object(commands[argv[0]][1].main)(argv[1:])
        return code
    args = build_parser(plugins, commands).parse_args(argv)
    root = Path(args.script_root)
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "doesn't exist"
        print(
            f'"{args.script_root}" {problem}: --script-root takes the function app\'s folder (the one holding '
            "host.json).",
            file=sys.stderr,
        )
        return 1
    if args.command == "start" and args.port is not None and not 0 < args.port < 65536:
        print(f"--port {args.port} is not a port: use a number from 1 to 65535.", file=sys.stderr)
        return 1
    root = root.resolve()
    if args.command == "start":
        overrides = {
            flag.setting: str(Path(value).resolve()) if flag.path else value
            for info in plugins
            for flag in info.flags
            if (value := getattr(args, _flag_dest(flag.flag), None)) is not None
        }
        os.chdir(root)  # the worker runs in the app folder
        return start(args, root, overrides)
    if args.command == "functions":
        return list_functions(root)
    from funchost.web.keys import KeyRing, KeysFileError

    try:
        ring = KeyRing.load_or_create(root / STATE_DIR)
    except KeysFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Master key: {ring.master}\nFunction key (default): {ring.function}\nFile: {ring.path}")
    return 0


class RedactSecrets(logging.Filter):
    """Masks secret setting values (keys, connection strings) in every console log record."""

    def __init__(self, config: AppConfig) -> None:
        from funchost.settings import Redactor

        super().__init__()
        self.redact = Redactor(config.settings)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = self.redact(message), None
        return True


def start(args: argparse.Namespace, root: Path, overrides: dict[str, str]) -> int:
    import asyncio

    from funchost.console import (
        Console,
        ConsoleHandler,
        PrintToLog,
        batched,
        level_from_name,
        quiet_system_loggers,
    )
    from funchost.host import HostOptions
    from funchost.settings import ConfigError, load_settings
    from funchost.web.app import Cors

    console = Console(batched(sys.stdout))
    try:
        config = load_settings(root, {**os.environ, **overrides})
    except ConfigError as exc:
        console.write(str(exc), "red")
        return 1
    port = args.port or config.local.local_http_port or DEFAULT_PORT
    bind = args.bind or config.local.local_http_address or "127.0.0.1"
    cors_origins = [o for o in (args.cors.split(",") if args.cors else config.local.cors) if o]
    credentials = (
        args.cors_credentials if args.cors_credentials is not None else config.local.cors_credentials
    )
    if not 0 < port < 65536:
        console.write(f"Port {port} (Host.LocalHttpPort) is not a port: use a number from 1 to 65535.", "red")
        return 1
    try:
        sock = _listen(bind, port)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            console.write(
                f"Port {port} is unavailable. Close the process using that port, or specify another port "
                "using --port [-p].",
                "red",
            )
        else:
            console.write(
                f"Cannot listen on {bind} port {port}: {exc.strerror or exc}. --host takes an address of this "
                "machine (default 127.0.0.1; 0.0.0.0 for every interface).",
                "red",
            )
        return 1
    user_level = level_from_name(
        args.user_log_level or os.environ.get("FUNCTIONS_USER_LOG_LEVEL") or config.host.log_level_default
    )
    handler = ConsoleHandler(console, verbose=args.verbose, user_level=user_level)
    handler.addFilter(RedactSecrets(config))
    # The console shows neither thread nor process names: skip looking them up for every record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [handler]
    root_logger.setLevel(logging.DEBUG if args.verbose else min(user_level, logging.INFO))
    if args.verbose:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    else:
        quiet_system_loggers()
    options = HostOptions(
        script_root=root,
        port=port,
        bind=bind,
        functions=args.functions,
        verbose=args.verbose,
        overrides=overrides,
        enable_auth=args.enable_auth,
    )
    cors = Cors(tuple(cors_origins), bool(credentials)) if cors_origins else None
    if cors and cors.credentials and "*" in cors.origins:
        console.write(
            "CORS: '*' cannot be combined with --cors-credentials; credentials are not allowed.", "darkyellow"
        )
        cors = Cors(cors.origins, False)
    stdout, sys.stdout = sys.stdout, PrintToLog()  # print() in functions becomes timestamped log lines
    try:
        return asyncio.run(_serve(options, sock, console, cors, args))
    except KeyboardInterrupt:
        return 0
    finally:
        sys.stdout = stdout
        console.stream.flush()


async def _serve(
    options: HostOptions, sock: socket.socket, console: Console, cors: Cors | None, args: argparse.Namespace
) -> int:
    import asyncio

    from aiohttp import web

    from funchost.console import announce
    from funchost.host import Host
    from funchost.settings import ConfigError
    from funchost.web.app import HANDLER_LIMITS, Server
    from funchost.web.keys import KeyRing, KeysFileError

    console.write()
    console.write(f"funchost {__version__}  (Azure Functions host, Python worker semantics)", "gray")
    console.write("Function Runtime Version: 4.x (emulated, no .NET)", "gray")
    console.write()
    if not _is_loopback(options.bind):
        log.warning(
            "Listening on %s: the app is reachable from other machines%s.",
            options.bind,
            "" if options.enable_auth else " and keys are not enforced (add --enable-auth)",
        )
    try:
        host = await Host.load(options)
    except ConfigError as exc:
        console.write(str(exc), "red")
        return 1
    try:
        keys = KeyRing.load_or_create(options.script_root / STATE_DIR) if options.enable_auth else None
    except KeysFileError as exc:
        console.write(str(exc), "red")
        return 1
    host.keys = keys
    server = Server(
        host,
        max_body=args.max_request_body_size,
        cors=cors,
        keys=keys,
    )
    announce(log, "Worker process started and initialized.")
    for error in host.index.errors:
        log.error("%s", error)
    await host.start()
    runner = web.ServerRunner(
        server.low_level(
            access_log=None,
            max_line_size=HANDLER_LIMITS["max_line_size"],
            max_field_size=HANDLER_LIMITS["max_field_size"],
        ),
        handle_signals=False,
    )
    await runner.setup()
    site = web.SockSite(runner, sock, shutdown_timeout=SHUTDOWN_SECONDS * 0.6)
    await site.start()
    base = f"http://localhost:{host.port}"
    console.functions_block(host.summaries(base))
    for line in host.describe():
        announce(log, line)
    if keys is not None:
        announce(
            log, "Auth is on. Master key: %s  Function key: %s  (%s)", keys.master, keys.function, keys.path
        )
    if not options.verbose:
        console.write("For detailed output, run funchost with --verbose flag.", "darkcyan")
    stop = asyncio.Event()
    _on_stop_signals(asyncio.get_running_loop(), stop)
    watcher = None
    if args.reload:
        from funchost.reload import Reloader

        watcher = Reloader(server, options, console=console)
        await watcher.start()
    await stop.wait()
    announce(
        log,
        "Stopping: running invocations get up to %gs; press Ctrl+C again to exit at once.",
        SHUTDOWN_SECONDS,
    )
    started = asyncio.get_running_loop().time()

    async def teardown() -> None:
        if watcher is not None:
            await watcher.stop()
        await runner.cleanup()
        await server.current.close()
        await asyncio.get_running_loop().shutdown_default_executor()

    try:
        await asyncio.wait_for(teardown(), SHUTDOWN_SECONDS)
    except TimeoutError:
        pass
    except Exception:
        log.exception("Stopping the host failed.")
    abandoned = _abandoned(server.current.invoker.busy(), asyncio.get_running_loop().time() - started)
    if abandoned:
        log.warning("%s", abandoned)
        _exit_now(0)
    return 0


def _on_stop_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM start a bounded stop; a second one exits at once (Python handlers, so a signal is seen
    even while a function blocks the event loop). A backstop ends the process if the stop itself hangs."""
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            _exit_now(130, f"{signal.Signals(signum).name} again: exiting at once, abandoning the stop.")
        loop.call_soon_threadsafe(stop.set)

        def backstop() -> None:
            time.sleep(SHUTDOWN_SECONDS + 3)
            _exit_now(
                1,
                f"The host did not stop within {SHUTDOWN_SECONDS + 3:g}s (is the event loop blocked?); exiting.",
            )

        threading.Thread(target=backstop, name="funchost-stop-backstop", daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


_POOL_THREADS = ("funchost-fn", "AnyIO worker thread")
"""Pool threads that end by themselves: funchost's (busy ones are reported as invocations) and AnyIO's workers
(hot reload's file watcher, the openai SDK, Starlette), which AnyIO stops when the main task ends."""


def _abandoned(busy: list[str], elapsed: float) -> str:
    """What a stop leaves running (sync invocations, the app's non-daemon threads), as one message; '' if
    nothing: the process can end normally."""
    main = threading.main_thread()
    deadline = time.monotonic() + 0.5
    for thread in threading.enumerate():  # idle pool threads are on their way out
        if thread is not main and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    threads = [
        t
        for t in threading.enumerate()
        if t is not main and not t.daemon and not t.name.startswith(_POOL_THREADS)
    ]
    if not busy and not threads and not any(t.name.startswith("funchost-fn") for t in threading.enumerate()):
        return ""
    parts = [f"sync invocation {b}" for b in busy]
    parts += [f"thread '{t.name}' (not a daemon thread; started by the app or a library)" for t in threads]
    return (
        f"Stopped after {elapsed:.1f}s, abandoning what did not finish: {'; '.join(parts) or 'worker threads'}. "
        "Threads cannot be stopped from outside, so the process exits without waiting for them."
    )


def _exit_now(code: int, message: str | None = None) -> None:
    """Flush what was printed and end the process now, without waiting for threads (no threading._shutdown)."""
    with contextlib.suppress(Exception):
        if message:
            logging.getLogger("funchost.cli").warning("%s", message)
        for handler in logging.getLogger().handlers:  # the console's own buffered stdout
            handler.flush()
        for stream in (sys.stdout, sys.__stdout__, sys.stderr):
            if stream is not None:
                stream.flush()
    os._exit(code)


def _is_loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _listen(bind: str, port: int) -> socket.socket:
    import socket

    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
    except OSError:
        sock.close()
        raise
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def list_functions(root: Path) -> int:
    from funchost.indexing import index_app
    from funchost.settings import ConfigError, load_settings

    try:
        config = load_settings(root, dict(os.environ))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    result = index_app(root, config.settings)
    for error in result.errors:
        print(error, file=sys.stderr)
    if not result.functions and not result.errors:
        print(
            f"No functions found in {root}: it has no {result.script_file.name if result.script_file else 'function_app.py'} (v2 model) and no "
            "<function>/function.json folder (v1 model). Run funchost in the function app's folder, or pass "
            "--script-root.",
            file=sys.stderr,
        )
        return 1
    for fn in result.functions:
        print(f"{fn.name}: {fn.trigger.type if any(b.is_trigger for b in fn.bindings) else '(no trigger)'}")
        for b in fn.bindings:
            print(f"    {b.direction:<3} {b.type:<24} {b.name}")
        for err in fn.errors:
            print(f"    error: {err}")
    return 1 if result.errors else 0
