"""HTTP streaming: apps that import the ``azurefunctions-extensions-http-fastapi`` extension.

As in the Python worker (``http_v2.py``), importing the extension switches every HTTP function of the app to
FastAPI: the function takes a Starlette ``Request`` whose body streams in, and its return value is what a FastAPI
route returns (a ``Response`` such as ``StreamingResponse`` is sent as is, chunk by chunk as produced; any other
value is encoded by FastAPI as JSON). The request runs through the extension's own FastAPI app (its catch-all
route), which calls the function through the host's one invocation path; the ASGI exchange is bridged to aiohttp
here, in-process, instead of the worker's uvicorn server behind the host's proxy.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web

from funchost.plugin import FunctionSpec, HostApi, InvocationError, TriggerData
from funchost_http.convert import request_headers, type_hints
from funchost_http.data import http_binding_data

EXTENSION = "azurefunctions.extensions.http.fastapi"
PACKAGE = "azurefunctions-extensions-http-fastapi"
_SYSTEM_PATH_PARTS = frozenset({"site-packages", "dist-packages", ".venv", "venv", ".python_packages"})

Route = Mapping[str, str | None]


# ---------------------------------------------------------------- is the extension on (per app version)


def app_imports_extension(script_root: Path) -> bool:
    """Whether a module of the app (a file under the app folder, not a package installed there) imports the
    extension. The worker turns streaming on when the extension is imported in its process; funchost decides per
    app, so that apps tested in one pytest process do not switch each other."""
    root = script_root.resolve()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        path = Path(file)
        try:
            relative = path.resolve().relative_to(root)
        except (ValueError, OSError):
            continue
        if _SYSTEM_PATH_PARTS.intersection(relative.parts):
            continue
        if _imports_extension(path):
            return True
    return False


def _imports_extension(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "azurefunctions" not in text:
        return False
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name == EXTENSION or a.name.startswith(EXTENSION + ".") for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == EXTENSION or node.module.startswith(EXTENSION + "."):
                return True
            if node.module == EXTENSION.rpartition(".")[0] and any(a.name == "fastapi" for a in node.names):
                return True
    return False


def extension_loaded() -> bool:
    """Whether the extension is imported in this process (the worker's ``HttpV2FeatureChecker``)."""
    base = sys.modules.get("azurefunctions.extensions.base")
    return base is not None and bool(base.HttpV2FeatureChecker.http_v2_enabled())


# ---------------------------------------------------------------- index-time checks (worker bindings/meta.py)


def _is_starlette(anno: Any, qualified: str) -> bool:
    return isinstance(anno, type) and any(
        f"{c.__module__}.{c.__qualname__}" == qualified for c in anno.__mro__
    )


def is_starlette_request(anno: Any) -> bool:
    return _is_starlette(anno, "starlette.requests.Request")


def is_starlette_response(anno: Any) -> bool:
    return _is_starlette(anno, "starlette.responses.Response")


def streaming_load_error(function: FunctionSpec, trigger_param: str) -> str | None:
    """With the extension on: the worker's load error for annotations FastAPI functions cannot have."""
    base = sys.modules["azurefunctions.extensions.base"]
    hints = type_hints(function.func)
    if trigger_param in hints:
        anno = hints[trigger_param]
        if not base.RequestTrackerMeta.check_type(anno):
            shown = getattr(anno, "__name__", repr(anno))
            return (
                f'type of {trigger_param} binding in function.json "httpTrigger" does not match its Python '
                f'annotation "{shown}". The app imports {EXTENSION}, so its HTTP functions take a FastAPI '
                "Request (from azurefunctions.extensions.http.fastapi import Request)."
            )
    if "return" in hints and any(b.name == "$return" for b in function.bindings):
        anno = hints["return"]
        if not isinstance(anno, type):
            return f"has invalid non-type return annotation {anno!r}"
        if not base.ResponseTrackerMeta.check_type(anno):
            return (
                f'Python return annotation "{anno.__name__}" does not match binding type "http". The app imports '
                f"{EXTENSION}: return a FastAPI/Starlette Response (StreamingResponse, JSONResponse, ...) or a "
                "str, dict, list, int, float, bool or pydantic model."
            )
    return None


def missing_extension_error(function: FunctionSpec, trigger_param: str) -> str | None:
    """Without the extension: a function written for it (a Starlette Request or Response annotation) cannot load."""
    hints = type_hints(function.func)
    anno = hints.get(trigger_param)
    returned = hints.get("return")
    if is_starlette_request(anno):
        what = f'its parameter {trigger_param!r} is a Starlette/FastAPI "{getattr(anno, "__name__", anno)}"'
    elif is_starlette_response(returned):
        what = f'it returns a Starlette/FastAPI "{getattr(returned, "__name__", returned)}"'
    else:
        return None
    return (
        f'type of {trigger_param} binding in function.json "httpTrigger" does not match its Python annotation: '
        f"{what}, which needs the HTTP streaming extension. "
        + (
            "The app does not import it: add 'from azurefunctions.extensions.http.fastapi import Request, "
            "StreamingResponse' to function_app.py."
            if _installed()
            else f"It is not installed: pip install {PACKAGE} (and add it to requirements.txt), then import "
            "Request and StreamingResponse from azurefunctions.extensions.http.fastapi in function_app.py."
        )
    )


def _installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(EXTENSION) is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------- serving


class StreamingApp:
    """The extension's FastAPI app with the worker's catch-all route; one per app version."""

    def __init__(self, host: HostApi) -> None:
        self.host = host
        base = sys.modules["azurefunctions.extensions.base"]
        extension = importlib.import_module(base.ModuleTrackerMeta.get_module())
        web_app = extension.WebApp()

        async def catch_all(request: Any) -> Any:
            call: Callable[[Any], Any] = request.scope["funchost.call"]
            return await call(request)

        catch_all.__annotations__ = {"request": base.RequestTrackerMeta.get_request_type(), "return": Any}
        web_app.route(catch_all)
        self.asgi: Any = web_app.get_app()
        self.request_type: Any = base.RequestTrackerMeta.get_request_type()

    async def handle(
        self, request: web.BaseRequest, route: Route, function: FunctionSpec, output: str | None
    ) -> web.StreamResponse:
        """Serve one request: run the FastAPI app, return an aiohttp response that streams the body."""
        host = self.host
        failure: list[BaseException] = []

        async def call(req: Any) -> Any:
            req.path_params.clear()  # the extension's RequestSynchronizer: the host's route values
            req.path_params.update({k: v for k, v in route.items() if v is not None})
            headers = request_headers(request)
            data = http_binding_data(
                body=b"",  # the body streams to the function: it is not read for binding data
                content_length=None,
                query=list(request.query.items()),
                route=route,
                headers=headers,
                request=req,
            )
            try:
                result = await host.invoke(function, TriggerData(req, data))
            except InvocationError as exc:
                failure.append(exc)
                raise  # FastAPI answers 500, as the worker's catch-all re-raising the function's exception
            value = result.outputs.get(output) if output else None
            if value is None:
                # the worker's HttpCoordinator has no response to hand to FastAPI
                raise ValueError(f"No http response found for invocation {result.invocation_id}")
            return value

        exchange = _Exchange(request, self._scope(request, call))
        return await exchange.run(self.asgi, host.log, function.name, failure)

    def _scope(self, request: web.BaseRequest, call: Callable[[Any], Any]) -> dict[str, Any]:
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport else None
        sock = transport.get_extra_info("sockname") if transport else None
        raw_path = request.raw_path.split("?", 1)[0]
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": f"{request.version.major}.{request.version.minor}",
            "method": request.method,
            "scheme": request.scheme,
            "path": request.path,
            "raw_path": raw_path.encode("latin-1", "replace"),
            "query_string": request.query_string.encode("latin-1", "replace"),
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.raw_headers],
            "client": tuple(peer[:2]) if isinstance(peer, tuple) else None,
            "server": tuple(sock[:2]) if isinstance(sock, tuple) else None,
            "state": {},
            "funchost.call": call,
        }

    def request_from(
        self, req: func.HttpRequest, route: Route, call: Callable[[Any], Any] | None = None
    ) -> Any:
        """A FastAPI Request for a ``func.HttpRequest`` (a test's ``host.invoke``), its body sent in one piece."""
        from urllib.parse import urlencode, urlsplit

        url = urlsplit(req.url)
        query = url.query or urlencode(list(req.params.items()))
        body = req.get_body() or b""
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect: the caller holds the request until it is done
            return {"type": "http.disconnect"}

        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers.items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": req.method,
            "scheme": url.scheme or "http",
            "path": url.path or "/",
            "raw_path": (url.path or "/").encode("latin-1", "replace"),
            "query_string": query.encode("latin-1", "replace"),
            "root_path": "",
            "headers": headers,
            "client": None,
            "server": (url.hostname or "localhost", url.port or 80),
            "state": {},
            "path_params": {k: v for k, v in route.items() if v is not None},
        }
        return self.request_type(scope, receive)


class _Exchange:
    """One ASGI exchange bridged to aiohttp: request body chunks in, response start and body chunks out."""

    def __init__(self, request: web.BaseRequest, scope: dict[str, Any]) -> None:
        self.request = request
        self.scope = scope
        self.limit: int = getattr(request, "_client_max_size", 0) or 0
        self.received = 0
        self.too_large = False
        self.body_done = False
        self.complete = False
        self.started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)  # backpressure: one chunk ahead

    async def receive(self) -> dict[str, Any]:
        if not self.body_done:
            chunk = await self.request.content.readany()
            self.received += len(chunk)
            if self.limit and self.received > self.limit:
                self.too_large = True
                raise web.HTTPRequestEntityTooLarge(max_size=self.limit, actual_size=self.received)
            self.body_done = self.request.content.at_eof()
            return {"type": "http.request", "body": chunk, "more_body": not self.body_done}
        transport = self.request.transport
        if transport is None or transport.is_closing():
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # cancelled by Starlette once the response is sent
        return {"type": "http.disconnect"}

    async def send(self, message: Mapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            self.started.set_result((int(message["status"]), headers))
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if body:
                await self.chunks.put(body)
            if not message.get("more_body", False):
                self.complete = True
                await self.chunks.put(None)

    async def run(
        self, asgi: Any, log: logging.Logger, function: str, failure: list[BaseException]
    ) -> web.StreamResponse:
        task = asyncio.get_running_loop().create_task(self._app(asgi, log, function, failure))
        started: asyncio.Future[Any] = asyncio.ensure_future(asyncio.shield(self.started))
        waiting: list[asyncio.Future[Any]] = [task, started]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if (
            not self.started.done()
        ):  # the app ended without a response (cannot happen with FastAPI's middleware)
            started.cancel()
            return web.Response(status=500)
        status, headers = self.started.result()
        if self.too_large and status == 500:
            task.cancel()
            return web.Response(status=413)
        response = _StreamedResponse(status, headers, self, task)
        return response

    async def _app(self, asgi: Any, log: logging.Logger, function: str, failure: list[BaseException]) -> None:
        try:
            await asgi(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # FastAPI has already answered 500 if nothing was sent; a failure the host logged is not repeated.
            if not any(exc is f or exc is getattr(f, "cause", None) for f in failure) and not isinstance(
                exc, InvocationError | web.HTTPRequestEntityTooLarge
            ):
                where = (
                    "while streaming (the client gets a truncated body)" if self.started.done() else "(500)"
                )
                log.error(
                    "The response of 'Functions.%s' failed %s: %s: %s",
                    function,
                    where,
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
            if self.started.done() and not self.complete:
                await self.chunks.put(_ABORT)
        finally:
            if self.started.done():
                await self.chunks.put(None)  # the end, if the app did not say so (read only after an abort)

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.chunks.get()
            if chunk is None:
                return
            if chunk is _ABORT:
                raise _Aborted
            yield chunk


_ABORT = b"\x00funchost-abort"


class _Aborted(Exception):
    """The response body failed after it started."""


class _StreamedResponse(web.StreamResponse):
    """Headers known when the function's response starts; the body is written chunk by chunk as the app
    produces it, after the host has added its headers (CORS, customHeaders) and aiohttp has prepared it."""

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], exchange: _Exchange, task: asyncio.Task[None]
    ) -> None:
        super().__init__(status=status)
        for name, value in headers:
            self.headers.add(name.decode("latin-1"), value.decode("latin-1"))
        self._exchange = exchange
        self._task = task

    async def write_eof(self, data: bytes = b"") -> None:
        try:
            async for chunk in self._exchange.body():
                await self.write(chunk)
        except _Aborted:
            transport = self._exchange.request.transport
            if transport is not None:
                transport.close()  # the client sees the body cut short, as when the worker's stream fails
            return
        except BaseException:
            self._task.cancel()  # the client went away: stop the function's generator
            raise
        await super().write_eof(data)
        await asyncio.gather(self._task, return_exceptions=True)
