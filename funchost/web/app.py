"""The HTTP front: CORS, the homepage, the admin API, then function routes (the host's order), on aiohttp's
low-level server (funchost routes itself: no Application, router or middleware chain per request)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

from funchost import __version__

if TYPE_CHECKING:
    from funchost.host import Host
    from funchost.web.keys import KeyRing

log = logging.getLogger("funchost.web")

MAX_HEADERS_TOTAL = 32 * 1024
"""Kestrel's MaxRequestHeadersTotalSize: names and values of all request headers together (more: 431)."""
HANDLER_LIMITS = {"max_line_size": 8192, "max_field_size": 2 * MAX_HEADERS_TOTAL}
"""aiohttp parser limits for the server (``funchost start`` and the test harness): Kestrel's 8 KB request line; a
single header may take the whole 32 KB total (aiohttp's default is 8,190 bytes per header), larger fields are a
400."""


class QuietProtocolErrors(logging.Filter):
    """A malformed request or a client that went away is the client's business: one debug line (shown with
    --verbose), not an ERROR with a traceback on the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not _is_client_fault(exc):
            return True
        record.msg = f"{record.getMessage()}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _is_client_fault(exc: BaseException) -> bool:
    from aiohttp.http_exceptions import HttpProcessingError

    return isinstance(exc, HttpProcessingError | ConnectionError | TimeoutError)


def quiet_protocol_errors() -> None:
    """Install :class:`QuietProtocolErrors` once on aiohttp's server logger."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietProtocolErrors) for f in server_log.filters):
        server_log.addFilter(QuietProtocolErrors())


HOMEPAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Your Functions 4.0 app is up and running</title></head>
<body style="font-family: sans-serif; margin: 3em;">
<h1>Your Functions 4.0 app is up and running</h1>
<p>Served locally by funchost {version}. Functions live under <code>/{prefix}</code>.</p>
</body></html>
"""


@dataclass(frozen=True)
class Cors:
    origins: tuple[str, ...]
    credentials: bool

    def allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin in self.origins


class Server:
    """Holds the current Host; a reload swaps it while requests keep flowing."""

    def __init__(self, host: Host, *, max_body: int, cors: Cors | None = None, keys: KeyRing | None = None):
        self.current = host
        self.started = time.monotonic()
        self.cors = cors
        self.keys = keys
        self.reload_errors: list[str] = []
        """The last failed reload's errors (shown in /admin/host/status until a good reload)."""
        self.max_body = max_body
        quiet_protocol_errors()
        self._app: web.Application | None = None

    def low_level(self, **kwargs: Any) -> web.Server:
        """aiohttp's low-level server running :meth:`handle` (call on the event loop); ``kwargs`` go to aiohttp's
        request handler (parser limits, ``access_log``)."""
        loop = asyncio.get_running_loop()
        max_body = self.max_body

        def request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
            return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=max_body)

        return web.Server(self.handle, request_factory=request, loop=loop, **kwargs)

    @property
    def app(self) -> web.Application:
        """The same pipeline as an aiohttp Application (one catch-all route), for aiohttp's own test fixtures
        (``aiohttp_client``); ``funchost start`` and ``funchost.testing`` serve :meth:`low_level`."""
        if self._app is None:
            self._app = web.Application(client_max_size=self.max_body)
            self._app.router.add_route("*", "/{tail:.*}", self.handle, expect_handler=_expect_in_handle)
        return self._app

    def swap(self, host: Host) -> Host:
        old, self.current = self.current, host
        return old

    # -- pipeline --------------------------------------------------------------------------------------------
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """CORS, then the host's dispatch, then custom headers (one handler: no middleware chain per request)."""
        if hdrs.EXPECT in request.headers:
            await _expect(request)
        if sum([len(k) + len(v) for k, v in request.raw_headers]) > MAX_HEADERS_TOTAL:
            log.warning(
                "Request to %s refused: its headers take more than %d bytes in total (431), Kestrel's limit.",
                request.path,
                MAX_HEADERS_TOTAL,
            )
            return web.Response(status=431)
        origin = request.headers.get("Origin")
        cors = self.cors if origin and self.cors and self.cors.allowed(origin) else None
        if (
            cors is not None
            and request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers
        ):
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = request.headers[
                "Access-Control-Request-Method"
            ]
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
        else:
            try:
                response = await self._dispatch(request)
            except web.HTTPRequestEntityTooLarge as exc:
                log.warning(
                    "Request to %s refused: body larger than the limit of %d bytes (413). Raise it with "
                    "--max-request-body-size.",
                    request.path,
                    self.max_body,
                )
                response = web.Response(status=413)
                del exc
        if cors is not None and origin:
            response.headers["Access-Control-Allow-Origin"] = (
                "*" if "*" in cors.origins and not cors.credentials else origin
            )
            if cors.credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if "*" not in cors.origins or cors.credentials:
                response.headers.add("Vary", "Origin")
        for name, value in self.current.config.host.custom_headers.items():
            if name not in response.headers:
                response.headers[name] = value
        return response

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        host = self.current
        path = request.path
        lowered = path.lower()
        if host.state != "Running":
            return web.Response(status=503, text="Function host is not running.")
        if lowered.startswith("/admin/"):
            anonymous = lowered.rstrip("/") == "/admin/host/ping"  # the host's ping has no auth attribute
            if self.keys is not None and not anonymous and not self.keys.is_admin(request):
                return web.Response(status=401)
            return await self._admin(request, host, lowered)
        if host.http_handlers:
            host.active_requests += 1  # counted before the first await: a reload drains exactly these
            try:
                for handler in host.http_handlers:
                    response = await handler(request)
                    if response is not None:
                        return response
            finally:
                host.active_requests -= 1
        if path == "/" and request.method in ("GET", "HEAD"):
            if (host.setting("AzureWebJobsDisableHomepage") or "").lower() == "true":
                return web.Response(status=204)
            page = HOMEPAGE.format(version=__version__, prefix=host.route_prefix)
            return web.Response(text=page, content_type="text/html")
        return web.Response(status=404)

    # -- admin API ---------------------------------------------------------------------------------------------
    async def _admin(self, request: web.BaseRequest, host: Host, path: str) -> web.StreamResponse:
        parts = path.strip("/").split("/")
        method = request.method
        extra = host.admin_handlers.get((method, path.rstrip("/")))
        if extra is not None:
            return await extra(request)
        if parts[1:] == ["host", "status"] and method == "GET":
            return _json(self._status(host))
        if parts[1:] == ["host", "ping"] and method in ("GET", "POST"):
            return web.Response(status=200)
        if len(parts) >= 2 and parts[1] == "functions":
            if len(parts) == 2 and method == "GET":
                return _json([self._metadata(host, b.spec.name) for b in host.bound.values()])
            original = request.path.strip("/").split("/")[2] if len(parts) >= 3 else ""
            bound = host.find(original)
            if len(parts) == 3 and method == "POST":
                return await self._admin_invoke(request, host, original)
            if bound is None:
                return web.Response(status=404)
            if len(parts) == 3 and method == "GET":
                return _json(self._metadata(host, bound.spec.name))
            if len(parts) == 4 and parts[3] == "status" and method == "GET":
                return _json({"errors": bound.spec.errors} if bound.spec.errors else {})
        return web.Response(status=404)

    async def _admin_invoke(self, request: web.BaseRequest, host: Host, name: str) -> web.StreamResponse:
        if host.find(name) is None:
            return web.Response(status=404)
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _problem(
                400,
                f'POST /admin/functions/{name} needs a JSON body like {{"input": "..."}}; '
                f"got {'an empty body' if not raw else 'something else'}.",
            )
        value = next((v for k, v in body.items() if k.lower() == "input"), "")
        text = value if isinstance(value, str) else json.dumps(value)
        host.run_in_background(name, text)
        return web.Response(status=202)

    def _status(self, host: Host) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": f"funchost-{host.port}",
            "state": host.state,
            "version": __version__,
            "versionDetails": f"funchost {__version__}",
            "processUptime": int((time.monotonic() - self.started) * 1000),
        }
        errors = [*self.reload_errors, *host.index.errors, *host.registry.errors]
        if errors:
            status["errors"] = errors
        return status

    def _metadata(self, host: Host, name: str) -> dict[str, Any]:
        bound = host.find(name)
        assert bound is not None
        spec = bound.spec
        base = f"http://localhost:{host.port}"
        data: dict[str, Any] = {
            "name": spec.name,
            "script_root_path_href": f"{base}/admin/vfs/{spec.name}/",
            "script_href": f"{base}/admin/vfs/{spec.script_file.name}",
            "config_href": f"{base}/admin/vfs/{spec.name}/function.json",
            "test_data_href": None,
            "href": f"{base}/admin/functions/{spec.name}",
            "language": "python",
            "config": {"bindings": [dict(b.raw) for b in spec.bindings]},
            "files": None,
            "test_data": None,
            "isDisabled": spec.disabled,
            "isDirect": False,
            "isProxy": False,
        }
        url = host.invoke_url(bound, base)
        if url is not None:
            data["invoke_url_template"] = url
        return data


async def _expect(request: web.BaseRequest) -> None:
    """``Expect: 100-continue`` answered before the body is read, as aiohttp's router does (curl sends it for
    bodies over 1 KB and waits a second without the answer); another expectation is a 417."""
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version == HttpVersion11:
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the response has not started


async def _expect_in_handle(request: web.Request) -> None:
    """The Application route leaves ``Expect`` to :meth:`Server.handle` (answered once, on both paths)."""


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(value), content_type="application/json")


def _problem(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")
