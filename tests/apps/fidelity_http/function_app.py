"""HTTP functions shaped like the Python worker's own test apps (tests/unittests/http_functions)."""

import json
import logging

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _cookie_response(*cookies: str) -> func.HttpResponse:
    resp = func.HttpResponse("This HTTP triggered function executed successfully.")
    for cookie in cookies:
        resp.headers.add("Set-Cookie", cookie)
    return resp


@app.route(route="multiple_set_cookie_resp_headers")
def multiple_set_cookie_resp_headers(req: func.HttpRequest) -> func.HttpResponse:
    resp = _cookie_response(
        "foo3=42; Domain=example.com; Expires=Thu, 12-Jan-2017 13:55:08 GMT; Path=/; Max-Age=10000000; Secure; HttpOnly",
        "foo3=43; Domain=example.com; Expires=Thu, 12-Jan-2018 13:55:08 GMT; Path=/; Max-Age=10000000; Secure; HttpOnly",
    )
    resp.headers.add("HELLO", "world")
    return resp


@app.route(route="set_cookie_resp_header_default_values")
def set_cookie_resp_header_default_values(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response("foo=bar")


@app.route(route="set_cookie_resp_header_empty")
def set_cookie_resp_header_empty(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response("")


@app.route(route="response_cookie_header_nullable_bool_err")
def response_cookie_header_nullable_bool_err(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response(
        "foo3=42; Domain=example.com; Expires=Thu, 12-Jan-2017 13:55:08 GMT; Path=/; Max-Age=10000000; SecureFalse; HttpOnly"
    )


@app.route(route="response_cookie_header_nullable_double_err")
def response_cookie_header_nullable_double_err(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response(
        "foo3=42; Domain=example.com; Expires=Thu, 12-Jan-2017 13:55:08 GMT; Path=/; Max-Age=Dummy; SecureFalse; HttpOnly"
    )


@app.route(route="response_cookie_header_nullable_timestamp_err")
def response_cookie_header_nullable_timestamp_err(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response("foo=bar; Domain=123; Expires=Dummy")


@app.route(route="cookie_bad_max_age")
def cookie_bad_max_age(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response("foo=bar; Max-Age=Dummy")


@app.route(route="cookie_same_site")
def cookie_same_site(req: func.HttpRequest) -> func.HttpResponse:
    return _cookie_response('a="x y"; SameSite=Strict; Path=/p', 'b="q"; SameSite=None; Secure', "c=1; c2=2")


@app.route(route="return_str")
def return_str(req: func.HttpRequest) -> str:
    return "Hello World!"


@app.route(route="return_bytes")
def return_bytes(req: func.HttpRequest):  # type: ignore[no-untyped-def]
    return b"Hello World!"


@app.route(route="return_dict")
def return_dict(req: func.HttpRequest):  # type: ignore[no-untyped-def]
    return {"a": 1}


@app.route(route="return_http")
def return_http(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<h1>Hello World™</h1>", mimetype="text/html")


@app.route(route="return_http_404")
def return_http_404(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("bye", status_code=404)


@app.route(route="return_http_no_body")
def return_http_no_body(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse()


@app.function_name(name="return_out")
@app.generic_trigger(arg_name="req", type="httpTrigger", route="return_out", auth_level=func.AuthLevel.ANONYMOUS)
@app.generic_output_binding(arg_name="foo", type="http")
def return_out(req: func.HttpRequest, foo: func.Out[func.HttpResponse]) -> None:
    foo.set(func.HttpResponse(body="hello", status_code=201))


@app.function_name(name="out_bytes_generic")
@app.generic_trigger(arg_name="req", type="httpTrigger", route="out_bytes_generic", auth_level=func.AuthLevel.ANONYMOUS)
@app.generic_output_binding(arg_name="foo", type="http")
def out_bytes_generic(req: func.HttpRequest, foo: func.Out[bytes]) -> None:
    foo.set(b"raw")


@app.function_name(name="out_bytes_http")
@app.generic_trigger(arg_name="req", type="httpTrigger", route="out_bytes_http", auth_level=func.AuthLevel.ANONYMOUS)
@app.generic_output_binding(arg_name="foo", type="http")
def out_bytes_http(req: func.HttpRequest, foo: func.Out[func.HttpResponse]) -> None:
    foo.set(b"raw")  # type: ignore[arg-type]


@app.route(route="return_none_annotated")
def return_none_annotated(req: func.HttpRequest) -> None:
    """A route function's $return is http: the worker refuses a None return annotation at load."""


@app.route(route="return_context")
def return_context(req: func.HttpRequest, context: func.Context) -> str:
    trace = context.trace_context
    retry = context.retry_context
    return json.dumps(
        {
            "method": req.method,
            "ctx_func_name": context.function_name,
            "ctx_func_dir": context.function_directory,
            "ctx_invocation_id": context.invocation_id,
            "ctx_trace_context_Traceparent": trace.Traceparent,  # type: ignore[attr-defined]
            "ctx_trace_context_Tracestate": trace.Tracestate,  # type: ignore[attr-defined]
            "ctx_trace_context_Attributes": trace.Attributes,  # type: ignore[attr-defined]
            "trace_parent": trace.trace_parent,
            "trace_state": trace.trace_state,
            "attributes": trace.attributes,
            "retry_count": retry.retry_count,
            "max_retry_count": retry.max_retry_count,
            "retry_exception_message": retry.exception.message,  # type: ignore[attr-defined]
            "tls_invocation_id": context.thread_local_storage.invocation_id,
            "is_func_context": isinstance(context, func.Context),
        }
    )


@app.route(route="debug_logging")
def debug_logging(req: func.HttpRequest) -> str:
    logging.critical("logging critical")
    logging.info("logging info")
    logging.warning("logging warning")
    logging.debug("logging debug")
    logging.error("logging error")
    return "OK-debug"


@app.route(route="debug_user_logging")
def debug_user_logging(req: func.HttpRequest) -> str:
    logger = logging.getLogger("my function")
    logger.setLevel(logging.DEBUG)
    logger.debug("logging debug from a logger with its own level")
    return "OK-user-debug"


@app.route(route="system_logging")
def system_logging(req: func.HttpRequest) -> str:
    logging.getLogger("azure_functions_worker.disguised_logger").error("parallelly_log_system at disguised_logger")
    logging.getLogger("azure.functions.sdk").warning("sdk warning line")
    logging.getLogger("custom_logger").info("parallelly_log_custom at custom_logger")
    logging.getLogger("httpx").warning('HTTP Request: POST http://127.0.0.1/v1 "HTTP/1.1 500"')
    return "OK-system"
