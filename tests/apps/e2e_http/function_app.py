"""HTTP behaviour end to end: routing, request/response conversion, threading, context, timeout."""

import asyncio
import json
import os
import threading
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(req: func.HttpRequest, **extra: object) -> func.HttpResponse:
    try:
        parsed: object = req.get_json()
    except ValueError as exc:
        parsed = f"ValueError: {exc}"
    payload = {
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body": req.get_body().decode("utf-8"),
        "body_type": type(req.get_body()).__name__,
        "json": parsed,
        **extra,
    }
    return func.HttpResponse(json.dumps(payload), mimetype="application/json")


# -- routing: names sort A_first < B_second, so A_first's template shadows B_second's literal route
@app.route(route="shadow/{thing}", methods=["GET"])
def A_first(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("A_first")


@app.route(route="shadow/special", methods=["GET"])
def B_second(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("B_second")


@app.route(route="echo/{id:int:min(1)}/{*rest}", methods=["GET", "POST"])
def echo_int(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, fn="echo_int")


@app.route(route="echo/{name:alpha}/{opt?}", methods=["GET", "POST", "PUT"])
def echo_alpha(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, fn="echo_alpha")


@app.route(route="guid/{g:guid}", methods=["GET"])
def guid_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params["g"])


@app.route(route="defaults/{kind=plain}", methods=["GET"])
def defaults_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("kind", "<none>"))


# -- responses
@app.route(route="resp/custom", methods=["GET"])
def resp_custom(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        "created!", status_code=201, headers={"X-Fn": "yes", "X-Shared": "from-function"}
    )


@app.route(route="resp/json", methods=["GET"])
def resp_json(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"a": 1}', mimetype="application/json")


@app.route(route="resp/html", methods=["GET"])
def resp_html(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<b>x</b>", mimetype="text/html", charset="latin-1")


@app.route(route="resp/str", methods=["GET"])
def resp_str(req: func.HttpRequest) -> str:
    return "plain string"


@app.route(route="resp/none", methods=["GET"])
def resp_none(req: func.HttpRequest) -> func.HttpResponse:
    return None  # type: ignore[return-value]


@app.route(route="resp/raise", methods=["GET"])
def resp_raise(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("this should be a 500 with an empty body")


@app.function_name("resp_out")
@app.route(route="resp/out", methods=["GET"], binding_arg_name="outresp")
def resp_out(req: func.HttpRequest, outresp: func.Out[func.HttpResponse]) -> None:
    outresp.set(func.HttpResponse("via Out", status_code=202))


# -- threading: each call records when it started and ended
@app.route(route="sleep/{tag}", methods=["GET"])
def sleeper(req: func.HttpRequest) -> func.HttpResponse:
    start = time.monotonic()
    time.sleep(0.4)
    end = time.monotonic()
    body = {"tag": req.route_params["tag"], "start": start, "end": end, "thread": threading.current_thread().name}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="async", methods=["GET"])
async def async_fn(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0.01)
    return func.HttpResponse(f"async on {threading.current_thread().name}")


# -- context and environment
@app.route(route="context", methods=["GET"])
def context_fn(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    body = {
        "invocation_id": context.invocation_id,
        "function_name": context.function_name,
        "function_directory": context.function_directory,
        "trace_parent": context.trace_context.trace_parent,
        "retry_count": context.retry_context.retry_count,
        "max_retry_count": context.retry_context.max_retry_count,
        "thread_local": getattr(context.thread_local_storage, "invocation_id", None),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="env/{name}", methods=["GET"])
def env_fn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))


# -- timeout (host.json functionTimeout is 2 s)
@app.route(route="slow", methods=["GET"])
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(3)
    return func.HttpResponse("too late")
