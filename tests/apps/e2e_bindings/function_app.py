"""Binding expressions and the binding registry through real bindings (assistantCreate / assistantQuery)."""

import json
import logging

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="team/{prefix}", methods=["PUT"])
@app.assistant_create_output(arg_name="requests")
def create_many(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    prefix = req.route_params["prefix"]
    requests.set(json.dumps([
        {"id": f"{prefix}-one", "instructions": "first"},
        {"id": f"{prefix}-two", "instructions": "second"},
    ]))
    return func.HttpResponse("created", status_code=201)


def _state(state: str) -> func.HttpResponse:
    return func.HttpResponse(state, mimetype="application/json")


@app.route(route="state/{assistantId}", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="{assistantId}", timestamp_utc="2000-01-01T00:00:00Z")
def query_route(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return _state(state)


@app.route(route="byquery", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="{Query.x}", timestamp_utc="2000-01-01T00:00:00Z")
def query_query(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return _state(state)


@app.route(route="bysetting", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="%FIXED_ID%", timestamp_utc="2000-01-01T00:00:00Z")
def query_setting(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return _state(state)


@app.route(route="bybody", methods=["POST"])
@app.assistant_query_input(arg_name="state", id="{who}", timestamp_utc="2000-01-01T00:00:00Z")
def query_body(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return _state(state)


@app.route(route="missing", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="%NOT_THERE%", timestamp_utc="2000-01-01T00:00:00Z")
def query_missing(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return _state(state)


@app.event_hub_message_trigger(arg_name="msg", event_hub_name="jobs", connection="EventHubConnection")
@app.assistant_query_input(arg_name="state", id="{who}", timestamp_utc="2000-01-01T00:00:00Z")
def queue_fn(msg: str, state: str) -> None:
    logging.info("queue_fn msg=%s exists=%s", msg, json.loads(state)["exists"])


@app.route(route="unknown", methods=["GET"])
@app.generic_input_binding(arg_name="thing", type="madeUpInput")
def unknown_input(req: func.HttpRequest, thing: str) -> func.HttpResponse:
    return func.HttpResponse(thing)


@app.route(route="typo", methods=["GET"])
@app.generic_input_binding(arg_name="state", type="assistantQuery", id="x", colectionName="ChatState")
def typo_prop(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return func.HttpResponse(state)


@app.route(route="ok", methods=["GET"])
def ok_fn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")
