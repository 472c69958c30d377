"""httpTrigger: routes requests to functions; http: the response a function produces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import azure.functions as func
from aiohttp import web

from funchost.plugin import (
    BindingError,
    BindingSpec,
    CallContext,
    FunctionSpec,
    HostApi,
    InvocationError,
    OutputBinding,
    Trigger,
    TriggerData,
)
from funchost_http.convert import (
    Converter,
    annotation_error,
    check_output,
    output_converter,
    request_headers,
    to_http_request,
    to_response,
)
from funchost_http.data import LazyBindingData, http_binding_data
from funchost_http.options import HttpOutputOptions, HttpTriggerOptions
from funchost_http.routing import RouteError, Router, RouteTemplate, RouteValues
from funchost_http.streaming import (
    StreamingApp,
    app_imports_extension,
    extension_loaded,
    missing_extension_error,
    streaming_load_error,
)


class Streaming:
    """Whether this app version uses the HTTP streaming extension (decided once, after the app is imported)."""

    def __init__(self, host: HostApi) -> None:
        self.host = host
        self._enabled: bool | None = None
        self._app: StreamingApp | None = None

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = extension_loaded() and app_imports_extension(self.host.script_root)
        return self._enabled

    @property
    def app(self) -> StreamingApp:
        if self._app is None:
            self._app = StreamingApp(self.host)
        return self._app


class HttpTrigger(Trigger[HttpTriggerOptions]):
    type = "httpTrigger"
    options = HttpTriggerOptions

    def __init__(self, host: HostApi, streaming: Streaming) -> None:
        self.host = host
        self.streaming = streaming
        self.router: Router[Any] = Router(prefix=host.route_prefix)

    def check(self, function: FunctionSpec, binding: BindingSpec, options: HttpTriggerOptions) -> None:
        try:
            RouteTemplate.parse(_route(function, options))
        except RouteError as exc:
            raise BindingError(str(exc)) from None
        if self.streaming.enabled:
            error = streaming_load_error(function, binding.name)
        else:
            error = missing_extension_error(function, binding.name)
        if error:
            raise BindingError(f"cannot load the {function.name} function: {error}")

    def admin_input(self, function: FunctionSpec, options: HttpTriggerOptions, value: Any) -> TriggerData:
        if isinstance(value, func.HttpRequest) and self.streaming.enabled:
            route = dict(value.route_params)
            request = self.streaming.app.request_from(value, route)
            data = http_binding_data(
                body=b"",
                content_length=None,
                query=list(value.params.items()),
                route=route,
                headers={k.lower(): v for k, v in value.headers.items()},
                request=request,
            )
            return TriggerData(request, data)
        if isinstance(value, func.HttpRequest):  # a test's host.invoke(name, func.HttpRequest(...))
            body = value.get_body()
            headers = {k.lower(): v for k, v in value.headers.items()}
            data = http_binding_data(
                body=body,
                content_length=len(body),
                query=list(value.params.items()),
                route=dict(value.route_params),
                headers=headers,
                request=value,
            )
            return TriggerData(value, data)
        raise BindingError(
            "An HttpRequest is required: HTTP functions cannot be run through the admin API. "
            "Call the function's URL instead (see the Functions: list), or pass a func.HttpRequest."
        )

    def summary(self, function: FunctionSpec, options: HttpTriggerOptions, base_url: str) -> str:
        methods = "[" + ",".join(options.methods) + "]" if options.methods else ""
        return f"{methods} {self.invoke_url(function, options, base_url)}"

    def invoke_url(self, function: FunctionSpec, options: HttpTriggerOptions, base_url: str) -> str:
        prefix = f"{self.host.route_prefix}/" if self.host.route_prefix else ""
        return f"{base_url}/{prefix}{_route(function, options)}"

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        for fn in functions:
            options = self.host.binding_options(fn, fn.trigger.name)
            assert isinstance(options, HttpTriggerOptions)
            self.router.add(_route(fn, options), options.methods, self._handler(fn, options))
        self.host.serve_http(self._dispatch)

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse | None:
        match = self.router.match(request.method, request.rel_url.raw_path)
        if match is None:
            return None
        handler, values = match
        response: web.StreamResponse = await handler(request, values)
        return response

    def _handler(self, fn: FunctionSpec, options: HttpTriggerOptions) -> Any:
        host = self.host
        output = next((b.name for b in fn.outputs if b.kind == "http"), None)

        async def handle(request: web.BaseRequest, route: RouteValues) -> web.StreamResponse:
            if not host.authorize(request, options.auth_level):
                return web.Response(status=401)
            if self.streaming.enabled:
                return await self.streaming.app.handle(request, route, fn, output)
            body = await request.read() if request.body_exists else b""
            if body and not request.content_length:
                # The host passes a body to the worker only when Content-Length > 0 (reference §8.1).
                host.log.warning(
                    "Request to %s has a body but no Content-Length (chunked transfer encoding); Azure Functions "
                    "hands Python an empty body in that case, and so does funchost. Send a Content-Length.",
                    request.path,
                )
                body = b""
            headers = request_headers(request)
            req = to_http_request(request, body, headers, route)
            data = LazyBindingData(
                lambda: http_binding_data(
                    body=body,
                    content_length=request.content_length,
                    query=list(request.query.items()),
                    route=route,
                    headers=headers,
                    request=req,
                )
            )
            try:
                result = await host.invoke(fn, TriggerData(req, data))
            except InvocationError as exc:
                return web.Response(status=exc.status)
            value = result.outputs.get(output) if output else None
            if value is None:
                return web.Response(status=204)
            return to_response(value)

        return handle


def _route(fn: FunctionSpec, options: HttpTriggerOptions) -> str:
    return options.route if options.route is not None else fn.name


class HttpOutput(OutputBinding[HttpOutputOptions]):
    type = "http"
    options = HttpOutputOptions
    fan_out: ClassVar[bool] = False
    writes: ClassVar[bool] = False  # the trigger answers the request with the value

    def __init__(self, streaming: Streaming) -> None:
        self.streaming = streaming
        self._converters: dict[int, tuple[FunctionSpec, list[Converter]]] = {}
        """Per function (by identity; this plugin lives as long as its host version): its http outputs'
        converters, found once instead of per response."""

    def _converters_of(self, function: FunctionSpec) -> list[Converter]:
        cached = self._converters.get(id(function))
        if cached is not None and cached[0] is function:
            return cached[1]
        names = [b.name for b in function.outputs if b.kind == "http"] or ["$return"]
        converters = [output_converter(function.func, name) for name in names]
        self._converters[id(function)] = (function, converters)
        return converters

    @property
    def none_is_error(self) -> bool:  # type: ignore[override]
        """The worker's http converter cannot encode None; with the streaming extension FastAPI gets it instead."""
        return not self.streaming.enabled

    def check(self, function: FunctionSpec, binding: BindingSpec, options: HttpOutputOptions) -> None:
        if self.streaming.enabled:
            return  # the return annotation is checked with the trigger (the extension's response types)
        error = annotation_error(function.func, binding.name, binding.data_type)
        if error:
            raise BindingError(f"cannot load the {function.name} function: {error}")

    def parse(self, item: Any, options: HttpOutputOptions, call: CallContext) -> Any:
        """Refuse what the worker cannot encode, with its TypeError (the invocation fails as on Azure)."""
        if self.streaming.enabled:
            return item  # handed to FastAPI as the route's return value
        converters = self._converters_of(call.function)
        check_output(
            item, "generic" if "generic" in converters and not isinstance(item, str) else converters[0]
        )
        return item

    async def write(self, items: Sequence[Any], options: HttpOutputOptions, call: CallContext) -> None:
        """Not called (``writes`` is False): the host hands the value back to the trigger, which answers the
        request with it."""
