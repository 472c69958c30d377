"""httpTrigger: routes requests to functions; http: the response a function produces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import azure.functions as func
from aiohttp import web

from funchost.expressions import http_binding_data
from funchost.invocation import InvocationError
from funchost.registry import (
    BindingError,
    BindingOptions,
    CallContext,
    HostApi,
    OutputBinding,
    Trigger,
    TriggerData,
)
from funchost.spec import BindingSpec, FunctionSpec
from funchost.web.routing import RouteError, RouteTemplate
from funchost_http.convert import request_headers, to_http_request, to_response
from funchost_http.options import HttpOutputOptions, HttpTriggerOptions


class HttpTrigger(Trigger):
    type = "httpTrigger"
    options = HttpTriggerOptions

    def __init__(self, host: HostApi) -> None:
        self.host = host

    def check(self, function: FunctionSpec, binding: BindingSpec, options: BindingOptions) -> None:
        assert isinstance(options, HttpTriggerOptions)
        try:
            RouteTemplate.parse(options.route if options.route is not None else function.name)
        except RouteError as exc:
            raise BindingError(str(exc)) from None

    def admin_input(self, function: FunctionSpec, options: BindingOptions, text: str) -> TriggerData:
        raise BindingError(
            "An HttpRequest is required: HTTP functions cannot be run through the admin API. "
            "Call the function's URL instead (see the Functions: list)."
        )

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        for fn in functions:
            options = fn_options(fn, self.host)
            route = options.route if options.route is not None else fn.name
            self.host.routes.add(route, options.methods, self._handler(fn, options))

    def _handler(self, fn: FunctionSpec, options: HttpTriggerOptions) -> Any:
        host = self.host
        output = next((b.name for b in fn.outputs if b.kind == "http"), None)

        async def handle(request: web.Request, route: dict[str, str | None]) -> web.StreamResponse:
            if not host.authorize(request, options.auth_level):
                return web.Response(status=401)
            body = await request.read()
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
            data = http_binding_data(
                body=body,
                content_length=request.content_length,
                query=list(request.query.items()),
                route=route,
                headers=headers,
                request=req,
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


def fn_options(fn: FunctionSpec, host: HostApi) -> HttpTriggerOptions:
    options = host.binding_options(fn, fn.trigger.name)
    assert isinstance(options, HttpTriggerOptions)
    return options


class HttpOutput(OutputBinding):
    type = "http"
    options = HttpOutputOptions
    fan_out: ClassVar[bool] = False
    none_is_error: ClassVar[bool] = True

    def parse(self, item: Any, options: BindingOptions, call: CallContext) -> Any:
        if not isinstance(item, func.HttpResponse | str | bytes | bytearray):
            raise BindingError(
                'unable to encode outgoing TypedData: unsupported type "http" for Python type '
                f'"{type(item).__name__}". Return a func.HttpResponse or a str.'
            )
        return item

    async def write(self, items: Sequence[Any], options: BindingOptions, call: CallContext) -> None:
        """The host hands the value back to the trigger, which answers the request with it."""
